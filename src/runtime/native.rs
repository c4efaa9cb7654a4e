//! Native runtime: `reqwest` over rustls, tokio files and timers, checkpoints in a directory, and
//! a token provider that asks the user's backend over HTTP.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Once};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use crate::engine::{CHECKPOINT_PREFIX, CheckpointLock, CheckpointStore, Runtime, Source, Transport};
use crate::service::{HttpRequest, HttpResponse, MAX_REPLY};
use crate::{Error, ErrorKind, Result};

/// HTTP through `reqwest`. One client (and its connection pool) per transport.
///
/// A request fails when its exchange makes no progress for the idle timeout (by default
/// [`IDLE_TIMEOUT`]): no frame of the body taken by the connection, no reply, no chunk of the reply
/// body. Progress, not total time: a 1 GiB part on a slow link takes as long as it takes, and a
/// stalled connection or server is still noticed. (reqwest's `read_timeout` would not do: until the
/// reply's headers arrive, it bounds the whole exchange, body upload included.) Reply bodies are
/// read up to [`MAX_REPLY`] or the request's [`HttpRequest::max_reply`].
#[derive(Clone, Debug)]
pub struct ReqwestTransport {
    client: reqwest::Client,
    idle: Duration,
}

pub use super::IDLE_TIMEOUT;

/// Bytes per frame of a request body: each frame the connection takes counts as progress.
const FRAME: usize = 64 * 1024;

static CRYPTO: Once = Once::new();

impl ReqwestTransport {
    pub fn new() -> Result<Self> {
        Self::with_idle_timeout(IDLE_TIMEOUT)
    }

    /// A transport whose requests fail after `idle` without progress.
    pub fn with_idle_timeout(idle: Duration) -> Result<Self> {
        CRYPTO.call_once(|| {
            // Another part of the process may have installed a provider already; either is fine.
            let _ = rustls::crypto::ring::default_provider().install_default();
        });
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| Error::new(ErrorKind::Network, format!("cannot set up the HTTP client: {e}")))?;
        Ok(ReqwestTransport { client, idle })
    }
}

fn network(e: reqwest::Error, host: &str) -> Error {
    // Without the URL: it may carry a presigned signature. reqwest's own text is generic ("error
    // sending request"); its causes say what happened (refused, DNS, TLS, a bad URL).
    let builder = e.is_builder();
    let e = e.without_url();
    let mut message = e.to_string();
    let mut cause = std::error::Error::source(&e);
    while let Some(c) = cause {
        let text = c.to_string();
        if !message.contains(&text) {
            message = format!("{message}: {text}");
        }
        cause = c.source();
    }
    if builder {
        Error::invalid_input(format!("cannot make a request to {host}: {message}"))
    } else {
        Error::new(ErrorKind::Network, format!("request to {host} failed: {message}"))
    }
}

/// When an exchange last made progress, for the idle timeout.
#[derive(Debug)]
struct Progress {
    start: Instant,
    last_ms: AtomicU64,
}

impl Progress {
    fn new() -> Self {
        Progress { start: Instant::now(), last_ms: AtomicU64::new(0) }
    }

    fn touch(&self) {
        self.last_ms.store(self.start.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    /// Resolves once nothing has happened for `idle`.
    async fn stalled(&self, idle: Duration) {
        loop {
            let quiet =
                self.start.elapsed().saturating_sub(Duration::from_millis(self.last_ms.load(Ordering::Relaxed)));
            if quiet >= idle {
                return;
            }
            tokio::time::sleep(idle - quiet).await;
        }
    }
}

/// A request body handed to the connection [`FRAME`] bytes at a time; each frame taken is
/// progress. Its exact length makes it a `Content-Length` body, as the bytes themselves would be.
struct ProgressBody {
    data: Bytes,
    progress: Arc<Progress>,
}

impl http_body::Body for ProgressBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<std::result::Result<http_body::Frame<Bytes>, Self::Error>>> {
        if self.data.is_empty() {
            return std::task::Poll::Ready(None);
        }
        self.progress.touch();
        let n = self.data.len().min(FRAME);
        std::task::Poll::Ready(Some(Ok(http_body::Frame::data(self.data.split_to(n)))))
    }

    fn is_end_stream(&self) -> bool {
        self.data.is_empty()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        http_body::SizeHint::with_exact(self.data.len() as u64)
    }
}

impl Transport for ReqwestTransport {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse> {
        let method = reqwest::Method::from_bytes(request.method.as_str().as_bytes())
            .map_err(|_| Error::invalid_input("bad HTTP method"))?;
        let host = request.host().to_owned();
        let limit = request.max_reply.map_or(MAX_REPLY, |n| n.max(MAX_REPLY));
        let too_long = |len: u64| {
            Error::new(
                ErrorKind::Server,
                format!("the reply from {host} is longer than this request allows ({len} bytes, at most {limit})"),
            )
        };
        let mut builder = self.client.request(method, &request.url);
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        let progress = Arc::new(Progress::new());
        builder = if request.body.is_empty() {
            builder.body(request.body)
        } else {
            builder.body(reqwest::Body::wrap(ProgressBody { data: request.body, progress: progress.clone() }))
        };
        let exchange = async {
            let mut response = builder.send().await.map_err(|e| network(e, &host))?;
            progress.touch();
            let status = response.status().as_u16();
            let headers = response
                .headers()
                .iter()
                .map(|(k, v)| (k.as_str().to_ascii_lowercase(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
                .collect();
            if let Some(len) = response.content_length().filter(|&len| len > limit) {
                return Err(too_long(len));
            }
            let mut body = bytes::BytesMut::new();
            while let Some(chunk) = response.chunk().await.map_err(|e| network(e, &host))? {
                progress.touch();
                let len = (body.len() + chunk.len()) as u64;
                if len > limit {
                    return Err(too_long(len));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(HttpResponse { status, headers, body: body.freeze() })
        };
        let stalled = progress.stalled(self.idle);
        match futures_util::future::select(std::pin::pin!(exchange), std::pin::pin!(stalled)).await {
            futures_util::future::Either::Left((outcome, _)) => outcome,
            futures_util::future::Either::Right(_) => Err(Error::new(
                ErrorKind::Network,
                format!("request to {host} timed out: no progress for {} s", self.idle.as_secs_f64()),
            )
            .with_code("timeout")),
        }
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

    /// An exclusive lock on `ID.lock` next to the checkpoint, which the system releases when
    /// the process ends however it ends. Without a directory to lock in (it cannot be created),
    /// or on a file system without locks, only this process's uploads are kept apart.
    async fn lock(&self, id: &str) -> Option<CheckpointLock> {
        let path = self.path(id).with_extension("lock");
        let _ = tokio::fs::create_dir_all(&self.dir).await;
        // A holder removes the file as it releases it: one opened just before that is no
        // longer the one at `path` once locked, so try again with the new one.
        for _ in 0..3 {
            let Ok(file) = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&path) else {
                return CheckpointLock::in_process(id);
            };
            match file.try_lock() {
                Ok(()) if is_at(&file, &path) => {
                    return Some(CheckpointLock::new(move || {
                        // Removed while still locked, so that lock files do not pile up.
                        if cfg!(unix) {
                            let _ = std::fs::remove_file(&path);
                        }
                        drop(file);
                    }));
                }
                Ok(()) => continue,
                Err(std::fs::TryLockError::WouldBlock) => return None,
                Err(std::fs::TryLockError::Error(_)) => return CheckpointLock::in_process(id),
            }
        }
        None
    }

    /// Tries a shared lock on `ID.lock` and lets it go at once: the system offers no way to look
    /// without taking. For those two system calls a holder's `lock` would be refused, a window
    /// too short to matter next to an upload's start.
    async fn in_use(&self, id: &str) -> bool {
        if CheckpointLock::is_held_in_process(id) {
            return true;
        }
        // Holders create the file: without one, no one holds the lock.
        let Ok(file) = std::fs::File::open(self.path(id).with_extension("lock")) else { return false };
        matches!(file.try_lock_shared(), Err(std::fs::TryLockError::WouldBlock))
    }

    async fn ids(&self) -> Vec<String> {
        let mut ids = Vec::new();
        let Ok(mut entries) = tokio::fs::read_dir(&self.dir).await else { return ids };
        while let Ok(Some(entry)) = entries.next_entry().await {
            let name = entry.file_name();
            if let Some(id) = name.to_str().and_then(|n| n.strip_suffix(".json"))
                && id.starts_with(CHECKPOINT_PREFIX)
            {
                ids.push(id.to_owned());
            }
        }
        ids
    }
}

/// Whether `file` is the file at `path` (not one removed from there since it was opened).
fn is_at(file: &std::fs::File, path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt as _;
        match (file.metadata(), std::fs::metadata(path)) {
            (Ok(a), Ok(b)) => (a.dev(), a.ino()) == (b.dev(), b.ino()),
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (file, path); // never removed there (see `lock`)
        true
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

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};

    use super::*;
    use crate::service::Method;

    /// A one-connection HTTP server on loopback, played by `serve`: the URL to reach it.
    fn server(serve: impl FnOnce(TcpStream) + Send + 'static) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/x", listener.local_addr().unwrap());
        std::thread::spawn(move || serve(listener.accept().unwrap().0));
        url
    }

    /// Read the request head, then `body` bytes of body, `step` at a time with `pause` between.
    fn read_request(conn: &mut TcpStream, body: usize, step: usize, pause: Duration) {
        let mut head = Vec::new();
        let mut byte = [0u8];
        while !head.ends_with(b"\r\n\r\n") {
            conn.read_exact(&mut byte).unwrap();
            head.push(byte[0]);
        }
        let mut buf = vec![0u8; step];
        let mut left = body;
        while left > 0 {
            std::thread::sleep(pause);
            let n = conn.read(&mut buf[..step.min(left)]).unwrap();
            assert!(n > 0, "the client closed the connection with {left} bytes to send");
            left -= n;
        }
    }

    fn run<T>(work: impl std::future::Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(work)
    }

    fn put(url: &str, body: usize) -> HttpRequest {
        HttpRequest::new(Method::Put, url).body(vec![7u8; body])
    }

    #[test]
    fn a_slow_body_that_keeps_moving_is_not_timed_out() {
        // 32 MiB at 256 KiB per 20 ms: about 2.6 s in all, against an idle timeout of 1.5 s. (Large
        // enough that the loopback connection's buffers, which take frames ahead of the server,
        // hold a small part of it.)
        let url = server(|mut conn| {
            read_request(&mut conn, 32 << 20, 256 << 10, Duration::from_millis(20));
            conn.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok").unwrap();
        });
        let transport = ReqwestTransport::with_idle_timeout(Duration::from_millis(1500)).unwrap();
        let reply = run(transport.send(put(&url, 32 << 20))).unwrap();
        assert_eq!((reply.status, &reply.body[..]), (200, &b"ok"[..]));
    }

    #[test]
    fn a_server_that_stops_answering_is_timed_out() {
        let url = server(|mut conn| {
            read_request(&mut conn, 10, 10, Duration::ZERO);
            std::thread::sleep(Duration::from_secs(5));
        });
        let transport = ReqwestTransport::with_idle_timeout(Duration::from_millis(300)).unwrap();
        let err = run(transport.send(put(&url, 10))).unwrap_err();
        assert_eq!((err.kind(), err.code()), (ErrorKind::Network, Some("timeout")), "{err}");
    }

    #[test]
    fn replies_longer_than_allowed_are_refused() {
        // Declared too long, and too long without a declared length.
        let declared = server(|mut conn| {
            read_request(&mut conn, 0, 1, Duration::ZERO);
            let _ = conn.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 10737418240\r\n\r\n");
            let _ = conn.write_all(&[0u8; 4096]);
        });
        let streamed = server(|mut conn| {
            read_request(&mut conn, 0, 1, Duration::ZERO);
            let _ = conn.write_all(b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n");
            let chunk = vec![0u8; 1 << 20];
            for _ in 0..(MAX_REPLY >> 20) + 2 {
                if conn.write_all(&chunk).is_err() {
                    return;
                }
            }
        });
        let transport = ReqwestTransport::new().unwrap();
        for url in [declared, streamed] {
            let err = run(transport.send(HttpRequest::new(Method::Get, &url))).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Server, "{err}");
            assert!(err.to_string().contains("longer than this request allows"), "{err}");
        }
        // A request may allow more.
        let url = server(|mut conn| {
            read_request(&mut conn, 0, 1, Duration::ZERO);
            let _ = conn.write_all(format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n", MAX_REPLY + 1).as_bytes());
            let _ = conn.write_all(&vec![1u8; MAX_REPLY as usize + 1]);
        });
        let reply = run(transport.send(HttpRequest::new(Method::Get, &url).max_reply(MAX_REPLY + 1))).unwrap();
        assert_eq!(reply.body.len() as u64, MAX_REPLY + 1);
    }

    #[test]
    fn network_errors_say_what_happened() {
        let closed = {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let transport = ReqwestTransport::new().unwrap();
        let err =
            run(transport.send(HttpRequest::new(Method::Get, format!("http://127.0.0.1:{closed}/k?Signature=s3cr3t"))))
                .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Network);
        assert!(err.to_string().to_ascii_lowercase().contains("refused"), "{err}");
        assert!(!err.to_string().contains("s3cr3t"), "no URL in the message: {err}");
        let err = run(transport.send(HttpRequest::new(Method::Get, "http://127.0.0.1:99999/k"))).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "a bad URL is not retried as a network error: {err}");
    }

    /// A checkpoint locked through one store is seen as in use through another over the same
    /// directory (another process), without the look taking the lock from anyone.
    #[test]
    fn a_locked_checkpoint_is_seen_in_use_from_another_store() {
        let dir = std::env::temp_dir().join(format!("yunup-in-use-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let (one, two) = (DirCheckpoints::new(&dir), DirCheckpoints::new(&dir));
        let id = format!("{CHECKPOINT_PREFIX}in-use");
        run(async {
            assert!(!two.in_use(&id).await, "no lock file yet");
            let held = one.lock(&id).await.expect("free");
            assert!(two.in_use(&id).await && one.in_use(&id).await);
            assert!(two.lock(&id).await.is_none(), "still held after the looks");
            drop(held);
            assert!(!two.in_use(&id).await, "released");
            let again = two.lock(&id).await.expect("free again");
            assert!(one.in_use(&id).await);
            drop(again);
        });
        let _ = std::fs::remove_dir_all(&dir);
    }
}
