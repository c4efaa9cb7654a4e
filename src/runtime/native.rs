//! Native runtime: `reqwest` over rustls, tokio files and timers, checkpoints in a directory, and
//! a token provider that asks the user's backend over HTTP.

use std::path::{Path, PathBuf};
use std::sync::Once;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use crate::engine::{CheckpointStore, Runtime, Source, Transport};
use crate::service::{HttpRequest, HttpResponse};
use crate::{Error, ErrorKind, Result};

/// HTTP through `reqwest`. One client (and its connection pool) per transport.
#[derive(Clone, Debug)]
pub struct ReqwestTransport {
    client: reqwest::Client,
}

static CRYPTO: Once = Once::new();

impl ReqwestTransport {
    pub fn new() -> Result<Self> {
        CRYPTO.call_once(|| {
            // Another part of the process may have installed a provider already; either is fine.
            let _ = rustls::crypto::ring::default_provider().install_default();
        });
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(30))
            .read_timeout(Duration::from_secs(120))
            .build()
            .map_err(|e| Error::new(ErrorKind::Network, format!("cannot set up the HTTP client: {e}")))?;
        Ok(ReqwestTransport { client })
    }
}

fn network(e: reqwest::Error) -> Error {
    // The URL may carry a presigned signature: report the host only.
    let host = e.url().and_then(|u| u.host_str().map(str::to_owned)).unwrap_or_default();
    let e = e.without_url();
    Error::new(ErrorKind::Network, format!("request to {host} failed: {e}"))
}

impl Transport for ReqwestTransport {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse> {
        let method = reqwest::Method::from_bytes(request.method.as_str().as_bytes())
            .map_err(|_| Error::invalid_input("bad HTTP method"))?;
        let mut builder = self.client.request(method, &request.url);
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        let response = builder.body(request.body).send().await.map_err(network)?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_ascii_lowercase(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect();
        let body = response.bytes().await.map_err(network)?;
        Ok(HttpResponse { status, headers, body })
    }
}

/// A local file, read at offsets. Its fingerprint is path, size and modification time.
#[derive(Debug)]
pub struct FileSource {
    file: tokio::fs::File,
    size: u64,
    /// Modification time when opened, to tell whether the file changed during the upload.
    modified: Option<std::time::SystemTime>,
    fingerprint: String,
    position: u64,
}

impl FileSource {
    pub async fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let io = |e: std::io::Error| Error::new(ErrorKind::Io, format!("cannot read {}: {e}", path.display()));
        let file = tokio::fs::File::open(path).await.map_err(io)?;
        let meta = file.metadata().await.map_err(io)?;
        if !meta.is_file() {
            return Err(Error::invalid_input(format!("{} is not a file", path.display())));
        }
        let modified_at = meta.modified().ok();
        let modified = modified_at.and_then(|t| t.duration_since(UNIX_EPOCH).ok()).map_or(0, |d| d.as_nanos());
        let absolute = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned());
        Ok(FileSource {
            file,
            size: meta.len(),
            modified: modified_at,
            fingerprint: format!("{}:{}:{modified}", absolute.display(), meta.len()),
            position: 0,
        })
    }
}

impl Source for FileSource {
    fn size(&self) -> Option<u64> {
        Some(self.size)
    }
    fn fingerprint(&self) -> Option<String> {
        Some(self.fingerprint.clone())
    }
    async fn read(&mut self, offset: u64, len: u64) -> Result<Bytes> {
        let io = |e: std::io::Error| Error::new(ErrorKind::Io, format!("cannot read the file at byte {offset}: {e}"));
        if self.position != offset {
            self.file.seek(std::io::SeekFrom::Start(offset)).await.map_err(io)?;
        }
        let want = len.min(self.size.saturating_sub(offset));
        let mut buf = vec![0u8; want as usize];
        let mut filled = 0;
        while filled < buf.len() {
            let n = self.file.read(&mut buf[filled..]).await.map_err(io)?;
            if n == 0 {
                break;
            }
            filled += n;
        }
        buf.truncate(filled);
        self.position = offset + filled as u64;
        Ok(Bytes::from(buf))
    }

    async fn changed(&mut self) -> Result<bool> {
        // The open handle's metadata: a file replaced by a rename is another inode, and this one,
        // which was read, is intact.
        let meta =
            self.file.metadata().await.map_err(|e| Error::new(ErrorKind::Io, format!("cannot stat the file: {e}")))?;
        Ok(meta.len() != self.size || meta.modified().ok() != self.modified)
    }
}

/// Checkpoints as JSON files in a directory, written atomically (temporary file, then rename).
#[derive(Clone, Debug)]
pub struct DirCheckpoints {
    dir: PathBuf,
}

impl DirCheckpoints {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        DirCheckpoints { dir: dir.into() }
    }

    fn path(&self, id: &str) -> PathBuf {
        // Ids are made by `Checkpoint::id` (hex); keep anything else path-safe too.
        let safe: String = id.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect();
        self.dir.join(format!("{safe}.json"))
    }
}

impl CheckpointStore for DirCheckpoints {
    async fn load(&self, id: &str) -> Option<String> {
        tokio::fs::read_to_string(self.path(id)).await.ok()
    }

    async fn save(&self, id: &str, value: &str) -> Result<()> {
        let io = |e: std::io::Error| {
            Error::new(ErrorKind::Io, format!("cannot write a checkpoint in {}: {e}", self.dir.display()))
        };
        tokio::fs::create_dir_all(&self.dir).await.map_err(io)?;
        let path = self.path(id);
        let tmp = path.with_extension("json.tmp");
        tokio::fs::write(&tmp, value).await.map_err(io)?;
        tokio::fs::rename(&tmp, &path).await.map_err(io)
    }

    async fn remove(&self, id: &str) {
        let _ = tokio::fs::remove_file(self.path(id)).await;
    }
}

/// Tokio timers, the system clock, and a small xorshift generator for jitter.
#[derive(Debug)]
pub struct TokioRuntime {
    state: AtomicU64,
}

impl Default for TokioRuntime {
    fn default() -> Self {
        let seed = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0x9E37_79B9, |d| d.as_nanos() as u64);
        TokioRuntime { state: AtomicU64::new(seed | 1) }
    }
}

impl Clone for TokioRuntime {
    fn clone(&self) -> Self {
        TokioRuntime { state: AtomicU64::new(self.state.load(Ordering::Relaxed)) }
    }
}

impl Runtime for TokioRuntime {
    async fn sleep(&self, ms: u64) {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    fn sha1_elsewhere(&self, data: &Bytes) -> Option<futures_util::future::LocalBoxFuture<'static, Option<[u8; 20]>>> {
        // On tokio's blocking pool: another core takes the SHA-1 while this task takes the MD5
        // or CRC-32 of the same part. (No runtime, no offload: the engine hashes itself.)
        use crate::hash::{Hasher, Sha1};
        let handle = tokio::runtime::Handle::try_current().ok()?;
        let data = data.clone();
        let task = handle.spawn_blocking(move || Sha1::digest(&data).0);
        Some(Box::pin(async move { task.await.ok() }))
    }
    fn now_ms(&self) -> u64 {
        SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
    }
    fn random(&self) -> f64 {
        let mut x = self.state.load(Ordering::Relaxed);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.state.store(x, Ordering::Relaxed);
        (x >> 11) as f64 / (1u64 << 53) as f64
    }
}

pub use crate::engine::BackendTokens;

impl BackendTokens<ReqwestTransport> {
    /// Ask the backend at `base_url` (see [`BackendTokens`] for the protocol) over reqwest.
    pub fn new(base_url: impl Into<String>) -> Result<Self> {
        Ok(BackendTokens::with_transport(base_url, ReqwestTransport::new()?))
    }
}
