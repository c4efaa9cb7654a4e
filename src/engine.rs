//! The upload engine: one implementation of simple and multipart upload for every service and
//! every runtime.
//!
//! The services differ in how a part is sent and how an upload is finished ([`crate::service`]);
//! they do not differ in how parts are planned, scheduled, retried, verified and resumed, which is
//! all here. The engine is generic over four small traits that the runtime shells implement
//! (`fetch`, `Blob` and `localStorage` in wasm; `reqwest`, files and a directory natively):
//!
//! * [`Transport`] sends one request;
//! * [`TokenProvider`] supplies upload tokens (WCS, Wantu) and request signatures (UFile);
//! * [`Source`] reads the bytes being uploaded;
//! * [`CheckpointStore`] keeps [`Checkpoint`]s so that an upload can resume after a crash;
//!
//! plus [`Runtime`] for time and randomness. Futures are polled on one task (no `Send` needed,
//! as wasm requires): concurrency comes from polling several part futures at once.

mod checkpoint;
mod digest;
mod plan;
mod progress;
mod retry;
mod upload;

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use bytes::Bytes;

pub use checkpoint::{
    CHECKPOINT_PREFIX, Checkpoint, CheckpointLock, CheckpointStore, DonePart, HeldLocks, MAX_CHECKPOINT_AGE_MS,
    MemoryCheckpoints, NoCheckpoints, Session,
};
pub use plan::PartPlan;
pub use progress::Progress;
pub use retry::{RetryPolicy, RetryReads, is_retryable};
pub use upload::{COMMIT_UNCONFIRMED, IN_PROGRESS, PendingUpload, STORED_DAMAGED, TOKEN_TARGET, Uploader, check_setup};

use crate::service::{HttpRequest, HttpResponse, ServiceKind};
use crate::sign::Credentials;
use crate::sign::ufile::SignRequest;
use crate::{Error, ErrorKind, Result};

/// Sends one HTTP request and returns the whole reply. Network failures are
/// [`ErrorKind::Network`] errors; any HTTP status is a reply, not an error.
#[allow(async_fn_in_trait)] // wasm futures are not Send; the engine never needs Send.
pub trait Transport {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse>;

    /// Like [`Transport::send`], calling `on_sent(bytes)` as the body goes out. Transports that
    /// cannot see upload progress (fetch, reqwest) report nothing, which is this default.
    async fn send_reporting(&self, request: HttpRequest, on_sent: &dyn Fn(u64)) -> Result<HttpResponse> {
        let _ = on_sent;
        self.send(request).await
    }
}

/// Where tokens and signatures come from: usually the user's backend.
#[allow(async_fn_in_trait)]
pub trait TokenProvider {
    /// An upload token for `target` (WCS, Wantu). `refresh` is true when the service refused the
    /// previous one (expired): return a new one.
    async fn upload_token(&self, target: &Target, refresh: bool) -> Result<String>;

    /// The `Authorization` value for one UFile request.
    async fn sign(&self, request: &SignRequest) -> Result<String>;
}

/// The bytes being uploaded.
#[allow(async_fn_in_trait)]
pub trait Source {
    /// Total size, when known (files, blobs, buffers); `None` for a stream.
    fn size(&self) -> Option<u64>;

    /// Something that changes when the content may have (name, size, modification time);
    /// `None` when there is no such thing, which turns resume off.
    fn fingerprint(&self) -> Option<String>;

    /// Up to `len` bytes at `offset`: exactly `len` unless the source ends first. The engine
    /// reads in increasing offsets, each range once, so a stream can serve it; only a resumed
    /// upload of a random-access source starts past 0.
    async fn read(&mut self, offset: u64, len: u64) -> Result<Bytes>;

    /// Whether the content may have changed since the source was opened (a file's size or
    /// modification time moved). Asked after the last read and before the upload is committed,
    /// so that a file rewritten meanwhile fails the upload instead of storing a mix of old and
    /// new bytes: the etags match what was sent, so they cannot tell. By default: never.
    async fn changed(&mut self) -> Result<bool> {
        Ok(false)
    }
}

/// Time and randomness, from whatever the runtime has.
#[allow(async_fn_in_trait)]
pub trait Runtime {
    async fn sleep(&self, ms: u64);
    /// Let the event loop run (requests in flight, a page's input) between two pieces of CPU
    /// work such as hashing a part. A no-op where other threads move the bytes (native).
    async fn yield_now(&self) {}
    /// Start a SHA-1 of `data` outside this wasm instance, when the platform can: WebCrypto's
    /// native SHA-1 (about twice as fast as wasm; Node runs it on its thread pool, while Chromium
    /// computes it inside the `digest` call, on the calling thread: 64 MiB blocked the page for
    /// 120 ms); natively, a blocking-pool thread, so that it overlaps the hashing done here.
    /// `None`: the engine hashes here; the future gives `None` if the platform failed.
    fn sha1_elsewhere(&self, data: &Bytes) -> Option<futures_util::future::LocalBoxFuture<'static, Option<[u8; 20]>>> {
        let _ = data;
        None
    }
    /// The CRC-32 (IEEE) of `data` continuing `crc` (the CRC of the bytes before; 0 at the
    /// start), by the platform where it has a faster one than this crate's: Node's `zlib.crc32`,
    /// about 3× the wasm one. `None`: the engine computes it here.
    fn crc32_update(&self, crc: u32, data: &[u8]) -> Option<u32> {
        let _ = (crc, data);
        None
    }
    fn now_ms(&self) -> u64;
    /// Uniform in [0, 1), for backoff jitter and ids. Need not be cryptographic.
    fn random(&self) -> f64;
}

/// Where an upload goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub service: ServiceKind,
    /// WCS and Wantu: the upload host. UFile: scheme, host and (path style) `/bucket`.
    pub endpoint: String,
    /// The bucket (WCS, UFile) or namespace (Wantu): UFile signs it; for the others the token
    /// decides, and this names the upload for checkpoints and token providers.
    pub bucket: String,
    pub key: String,
    /// MIME type to store ("" for none given).
    pub mime: String,
}

/// How to upload. The defaults suit every service.
#[derive(Clone, Debug)]
pub struct UploadOptions {
    /// Files up to this size go in one request; larger ones in parts. At most [`LARGEST_PART`].
    /// Files over what one request of the service takes go in parts anyway (WCS 500 MB, UFile
    /// 512 MB, Wantu 10 MiB: `service::{wcs, ufile, wantu}`).
    pub multipart_threshold: u64,
    /// WCS block size (a multiple of 4 MiB, at most [`LARGEST_PART`]) or Wantu part size (100 KB
    /// to 10 MB; by default 4 MiB, or larger where the file would need over Wantu's 10 000 parts).
    /// UFile's part size is the service's `BlkSize`.
    pub part_size: Option<u64>,
    /// WCS: bytes per `mkblk`/`bput` request inside a block, at least 1 (default: the whole block).
    pub chunk_size: Option<u64>,
    /// Parts in flight at once.
    pub concurrency: usize,
    pub retry: RetryPolicy,
    /// Keep a checkpoint and resume from one when the source has a fingerprint.
    pub resume: bool,
}

impl Default for UploadOptions {
    fn default() -> Self {
        UploadOptions {
            multipart_threshold: DEFAULT_PART_SIZE,
            part_size: None,
            chunk_size: None,
            concurrency: 3,
            retry: RetryPolicy::default(),
            resume: true,
        }
    }
}

/// 4 MiB: the etag block of WCS and UFile, UFile's `BlkSize`, the Wantu JS SDK's default part.
pub const DEFAULT_PART_SIZE: u64 = 4 * 1024 * 1024;

/// 1 GiB: the most the engine reads into memory at once, as one part or one simple upload. A
/// few parts in flight must fit a browser's wasm memory (4 GiB at most), and lengths must fit
/// wasm32's `usize`: part sizes, thresholds and a UFile `BlkSize` above this are refused.
pub const LARGEST_PART: u64 = 1024 * 1024 * 1024;

/// Pause or cancel an upload from elsewhere (another task, a signal handler, an `AbortSignal`).
///
/// The engine checks it before every request, and waits that are not requests (for a token, a
/// signature, a backoff) end as soon as it is set: a token backend that never answers must not
/// keep a cancelled upload pending. *Pause* keeps the checkpoint, so the same upload resumes
/// later; *cancel* also aborts the multipart upload on the service and forgets it.
#[derive(Clone, Debug, Default)]
pub struct Control(Arc<ControlState>);

#[derive(Debug, Default)]
struct ControlState {
    state: AtomicU8,
    /// The tasks waiting in [`Control::stopped`], by waiter id, woken when the state leaves
    /// RUNNING; each waiter removes itself when dropped.
    waiters: Mutex<(u64, Vec<(u64, Waker)>)>,
}

const RUNNING: u8 = 0;
const PAUSED: u8 = 1;
const CANCELLED: u8 = 2;

impl Control {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn pause(&self) {
        let _ = self.0.state.compare_exchange(RUNNING, PAUSED, Ordering::SeqCst, Ordering::SeqCst);
        self.wake();
    }
    pub fn cancel(&self) {
        self.0.state.store(CANCELLED, Ordering::SeqCst);
        self.wake();
    }
    pub fn is_cancelled(&self) -> bool {
        self.0.state.load(Ordering::SeqCst) == CANCELLED
    }
    pub fn is_stopped(&self) -> bool {
        self.0.state.load(Ordering::SeqCst) != RUNNING
    }

    /// An [`ErrorKind::Aborted`] error when paused or cancelled.
    pub fn check(&self) -> Result<()> {
        match self.0.state.load(Ordering::SeqCst) {
            RUNNING => Ok(()),
            PAUSED => {
                Err(Error::new(ErrorKind::Aborted, "the upload was paused; start it again to resume")
                    .with_code("paused"))
            }
            _ => Err(Error::new(ErrorKind::Aborted, "the upload was cancelled").with_code("cancelled")),
        }
    }

    /// Completes, with [`Control::check`]'s error, once the upload is paused or cancelled.
    pub fn stopped(&self) -> Stopped<'_> {
        Stopped { control: self, id: None }
    }

    /// `work`, unless the upload is paused or cancelled first: then [`Control::check`]'s error,
    /// and `work` is dropped.
    pub async fn unless_stopped<T>(&self, work: impl Future<Output = Result<T>>) -> Result<T> {
        let work = std::pin::pin!(work);
        match futures_util::future::select(work, self.stopped()).await {
            futures_util::future::Either::Left((result, _)) => result,
            futures_util::future::Either::Right((stopped, _)) => Err(stopped),
        }
    }

    fn waiters(&self) -> std::sync::MutexGuard<'_, (u64, Vec<(u64, Waker)>)> {
        // A panic while the lock was held cannot leave the list inconsistent: keep using it.
        self.0.waiters.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn wake(&self) {
        let waiting = std::mem::take(&mut self.waiters().1);
        for (_, waker) in waiting {
            waker.wake();
        }
    }
}

/// The future of [`Control::stopped`].
#[derive(Debug)]
pub struct Stopped<'a> {
    control: &'a Control,
    id: Option<u64>,
}

impl Future for Stopped<'_> {
    type Output = Error;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Error> {
        if let Err(e) = self.control.check() {
            return Poll::Ready(e);
        }
        // No waker is dropped while the list is locked: dropping the last waker of a task drops
        // its future, which may hold a `Stopped` of this control, whose `drop` locks the list (a
        // second lock panics, or deadlocks).
        let replaced = {
            let mut waiters = self.control.waiters();
            let (next, list) = &mut *waiters;
            match self.id.and_then(|id| list.iter_mut().find(|(i, _)| *i == id)) {
                Some((_, waker)) => Some(std::mem::replace(waker, cx.waker().clone())),
                None => {
                    *next += 1;
                    list.push((*next, cx.waker().clone()));
                    self.id = Some(*next);
                    None
                }
            }
        };
        drop(replaced);
        // Set between the check and the registration: its wake may have missed this waker.
        match self.control.check() {
            Err(e) => Poll::Ready(e),
            Ok(()) => Poll::Pending,
        }
    }
}

impl Drop for Stopped<'_> {
    fn drop(&mut self) {
        if let Some(id) = self.id {
            // Dropped after the lock is released (see `poll`).
            let removed = {
                let mut waiters = self.control.waiters();
                let list = &mut waiters.1;
                list.iter().position(|(i, _)| *i == id).map(|at| list.swap_remove(at))
            };
            drop(removed);
        }
    }
}

impl<P: TokenProvider> TokenProvider for std::rc::Rc<P> {
    async fn upload_token(&self, target: &Target, refresh: bool) -> Result<String> {
        (**self).upload_token(target, refresh).await
    }
    async fn sign(&self, request: &SignRequest) -> Result<String> {
        (**self).sign(request).await
    }
}

/// A token provider that always answers the same upload token (WCS, Wantu). It cannot refresh
/// and cannot sign UFile requests.
#[derive(Clone, Debug)]
pub struct FixedToken(pub String);

impl TokenProvider for FixedToken {
    async fn upload_token(&self, _target: &Target, refresh: bool) -> Result<String> {
        if refresh {
            return Err(Error::auth(
                "a fixed token cannot be replaced: give the uploader a token provider that fetches new ones (in JS: tokenUrl or getToken)",
            ));
        }
        Ok(self.0.clone())
    }

    async fn sign(&self, _request: &SignRequest) -> Result<String> {
        Err(Error::invalid_input(
            "UFile signs every request: give the uploader a token provider that signs, not a fixed token",
        ))
    }
}

/// Mints tokens and signatures locally with the secret key: for backends, the CLI and tests —
/// never for code that runs in a browser. `lifetime_secs` bounds each token.
#[derive(Clone, Debug)]
pub struct LocalSigner<R> {
    pub credentials: Credentials,
    pub lifetime_secs: u64,
    pub runtime: R,
}

impl<R: Runtime> LocalSigner<R> {
    /// An upload token for `target` valid until `deadline_ms` (Unix ms), whatever `lifetime_secs`
    /// says: for a backend with its own deadlines, and for tests that need one already past.
    pub fn upload_token_until(&self, target: &Target, deadline_ms: u64) -> Result<String> {
        match target.service {
            ServiceKind::Wcs => {
                let scope = format!("{}:{}", target.bucket, target.key);
                crate::sign::wcs::upload_token(&self.credentials, &crate::sign::wcs::PutPolicy::new(scope, deadline_ms))
            }
            ServiceKind::Wantu => {
                let (dir, name) = crate::service::split_key(&target.key);
                let policy = crate::sign::wantu::UploadPolicy {
                    namespace: Some(target.bucket.clone()),
                    expiration: Some(i64::try_from(deadline_ms).unwrap_or(i64::MAX)),
                    dir: Some(dir),
                    name: Some(name),
                    ..Default::default()
                };
                crate::sign::wantu::upload_token(&self.credentials, &policy)
            }
            ServiceKind::Ufile => {
                Err(Error::invalid_input("UFile has no upload token; its requests are signed one by one"))
            }
        }
    }
}

impl<R: Runtime> TokenProvider for LocalSigner<R> {
    async fn upload_token(&self, target: &Target, _refresh: bool) -> Result<String> {
        // Saturating: an absurd lifetime means "as late as can be said", not an overflow panic.
        self.upload_token_until(target, self.runtime.now_ms().saturating_add(self.lifetime_secs.saturating_mul(1000)))
    }

    async fn sign(&self, request: &SignRequest) -> Result<String> {
        crate::sign::ufile::authorization(&self.credentials, request)
    }
}

/// A [`Source`] over bytes in memory.
#[derive(Clone, Debug)]
pub struct BytesSource {
    data: Bytes,
    fingerprint: Option<String>,
}

impl BytesSource {
    pub fn new(data: impl Into<Bytes>) -> Self {
        BytesSource { data: data.into(), fingerprint: None }
    }

    /// Allow resume, naming the content (e.g. its hash).
    pub fn with_fingerprint(mut self, fingerprint: impl Into<String>) -> Self {
        self.fingerprint = Some(fingerprint.into());
        self
    }
}

impl Source for BytesSource {
    fn size(&self) -> Option<u64> {
        Some(self.data.len() as u64)
    }
    fn fingerprint(&self) -> Option<String> {
        self.fingerprint.clone()
    }
    async fn read(&mut self, offset: u64, len: u64) -> Result<Bytes> {
        // Not `as usize`: on wasm32 an offset past 4 GiB would wrap to the start of the buffer.
        let clamp = |n: u64| usize::try_from(n).map_or(self.data.len(), |n| n.min(self.data.len()));
        let start = clamp(offset);
        Ok(self.data.slice(start..clamp(offset.saturating_add(len)).max(start)))
    }
}

/// Asks the user's backend for tokens and signatures over HTTP, through any [`Transport`], in
/// the protocol the emulator's demo host speaks:
///
/// * `GET {base}/api/token/wcs?bucket=B&key=K` → `{"token": "..."}`
/// * `GET {base}/api/token/wantu?namespace=N&dir=D&name=N` → `{"token": "..."}`
/// * `GET {base}/api/token/ufile?method=&bucket=&key=&content_md5=&content_type=&date=` → the
///   `Authorization` text (the UFile JS SDK's token-server shape)
#[derive(Clone, Debug)]
pub struct BackendTokens<T> {
    base_url: String,
    transport: T,
}

impl<T: Transport> BackendTokens<T> {
    pub fn with_transport(base_url: impl Into<String>, transport: T) -> Self {
        BackendTokens { base_url: base_url.into().trim_end_matches('/').to_owned(), transport }
    }

    /// `GET` a route (`/api/token/...?...`) under the base URL; a query in the base URL (a
    /// tenant, an API key) is kept and follows the route's own.
    async fn get(&self, path_and_query: String) -> Result<String> {
        let url = match self.base_url.split_once('?') {
            Some((base, query)) => {
                format!("{}{path_and_query}&{query}", base.trim_end_matches('/'))
            }
            None => format!("{}{path_and_query}", self.base_url),
        };
        let response = self.transport.send(HttpRequest::new(crate::service::Method::Get, url)).await?;
        if !response.is_success() {
            let (status, body) = (response.status, crate::service::excerpt(response.text(), 300));
            // A backend that is down or busy for a moment is asked again (the engine retries
            // what is retryable); any other refusal is final.
            let error = if crate::service::status_says_later(status) {
                Error::new(ErrorKind::Server, format!("the token backend failed: HTTP {status} {body}"))
            } else {
                Error::auth(format!("the token backend refused: HTTP {status} {body}"))
            };
            return Err(error.with_status(status).with_code(TOKEN_BACKEND));
        }
        Ok(response.text())
    }

    /// The error for a success reply that is not what the route answers (an HTML page: the
    /// base URL is probably the site's, not the backend's).
    fn not_a_token(text: &str, expected: &str) -> Error {
        Error::auth(format!(
            "the token backend's reply is not {expected}: {} (is tokenUrl the backend's base URL, under which /api/token/... answers?)",
            crate::service::excerpt(text.to_owned(), 200)
        ))
        .with_code(TOKEN_BACKEND)
    }
}

/// The code of [`BackendTokens`]' errors: their status is the backend's, not the service's (a
/// 404 there says nothing about an upload session).
pub const TOKEN_BACKEND: &str = "token-backend";

fn query_value(value: &str) -> String {
    crate::encoding::percent_encode(value, false)
}

impl<T: Transport> TokenProvider for BackendTokens<T> {
    async fn upload_token(&self, target: &Target, _refresh: bool) -> Result<String> {
        let q = query_value;
        let path = match target.service {
            ServiceKind::Wcs => format!("/api/token/wcs?bucket={}&key={}", q(&target.bucket), q(&target.key)),
            ServiceKind::Wantu => {
                let (dir, name) = crate::service::split_key(&target.key);
                format!("/api/token/wantu?namespace={}&dir={}&name={}", q(&target.bucket), q(&dir), q(&name))
            }
            ServiceKind::Ufile => return Err(Error::invalid_input("UFile has no upload token")),
        };
        #[derive(serde::Deserialize)]
        struct Reply {
            token: String,
        }
        let text = self.get(path).await?;
        let reply: Reply = crate::json::from_str(&text, "the token backend's reply")
            .map_err(|_| Self::not_a_token(&text, "JSON with a token, {\"token\": \"...\"}"))?;
        Ok(reply.token)
    }

    async fn sign(&self, r: &SignRequest) -> Result<String> {
        let q = query_value;
        let path = format!(
            "/api/token/ufile?method={}&bucket={}&key={}&content_md5={}&content_type={}&date={}",
            q(&r.method),
            q(&r.bucket),
            q(&r.key),
            q(&r.content_md5),
            q(&r.content_type),
            q(&r.date)
        );
        let text = self.get(path).await?;
        let authorization = text.trim();
        // `UCloud <public key>:<signature>`: one line, no markup.
        if authorization.is_empty() || authorization.contains(['<', '\n', '{']) {
            return Err(Self::not_a_token(&text, "an Authorization value (UCloud <public key>:<signature>)"));
        }
        Ok(authorization.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::block_on;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn a_bytes_source_reads_within_its_bytes_whatever_it_is_asked() {
        let mut source = BytesSource::new(b"0123456789".to_vec());
        let mut read = |offset: u64, len: u64| block_on(source.read(offset, len)).unwrap();
        assert_eq!(read(2, 3), &b"234"[..]);
        assert_eq!(read(8, 100), &b"89"[..]);
        assert_eq!(read(10, 1), &b""[..]);
        // Past 4 GiB: nothing, not the start again (`as usize` wraps on wasm32).
        assert_eq!(read((1 << 32) + 2, 3), &b""[..]);
        // An end that wraps a 32-bit usize below the start: the rest, not a panic.
        assert_eq!(read(5, (1 << 32) - 3), &b"56789"[..]);
        assert_eq!(read(u64::MAX, u64::MAX), &b""[..]);
    }
}
