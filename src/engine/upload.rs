//! The upload driver: simple or multipart, with retries, verification, checkpoints and progress.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;

use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use futures_util::future::{Either, select};
use futures_util::stream::FuturesUnordered;

use super::checkpoint::{Checkpoint, CheckpointStore, DonePart, Session};
use super::digest::{PartDigests, WholeHash, hash_part};
use super::plan::PartPlan;
use super::progress::{Progress, ProgressTracker};
use super::retry::is_retryable;
use super::{
    Control, DEFAULT_PART_SIZE, LARGEST_PART, Runtime, Source, Target, TokenProvider, Transport, UploadOptions,
};
use crate::hash::{Hasher, Md5, Sha1, UfileEtag, WcsEtag};
use crate::service::ufile::UfileUpload;
use crate::service::wantu::{self, MAX_PART_SIZE, MAX_PARTS, MIN_PART_SIZE, WantuUpload};
use crate::service::wcs::WcsUpload;
use crate::service::{HttpRequest, HttpResponse, ServiceKind, SourceRange, UploadResult, key_problem};
use crate::{Error, ErrorKind, Result};

/// Uploads files with a transport, a token provider, a checkpoint store and a runtime.
#[derive(Clone, Debug)]
pub struct Uploader<T, P, C, R> {
    pub transport: T,
    pub tokens: P,
    pub checkpoints: C,
    pub runtime: R,
}

impl<T: Transport, P: TokenProvider, C: CheckpointStore, R: Runtime> Uploader<T, P, C, R> {
    pub fn new(transport: T, tokens: P, checkpoints: C, runtime: R) -> Self {
        Uploader { transport, tokens, checkpoints, runtime }
    }

    /// Upload `source` to `target`. `on_progress` is called whenever confirmed bytes grow.
    ///
    /// A resumable upload (the source has a fingerprint and `options.resume`) keeps a checkpoint
    /// while it runs and picks it up when started again; a checkpoint that no longer fits (the
    /// file changed, the service forgot the session) is dropped and the upload starts over.
    pub async fn upload<S: Source>(
        &self,
        source: &mut S,
        target: &Target,
        options: &UploadOptions,
        control: &Control,
        on_progress: &mut dyn FnMut(Progress),
    ) -> Result<UploadResult> {
        validate(target, options)?;
        let job = Job { up: self, target, options, control, token: futures_util::lock::Mutex::new((0, None)) };
        let mut floor = Progress::default();
        let mut on_progress = |p: Progress| {
            floor = p.at_least(&floor);
            on_progress(floor)
        };
        let result = job.run(source, &mut on_progress, true).await;
        // Stopped from outside: whatever the interrupted request reported, say what happened.
        if let (Err(_), Err(stopped)) = (&result, control.check()) {
            return Err(stopped);
        }
        match result {
            Err(e) if e.code() == Some(STALE) => {
                // The checkpoint did not survive contact with the service or the file: start
                // over once, from nothing. (Only a resumed upload can fail this way.)
                job.run(source, &mut on_progress, false).await
            }
            other => other,
        }
    }

    /// Give up the saved upload of the source with `fingerprint` to `target`: abort its multipart
    /// session on the service (best effort) and remove its checkpoint. What cancelling an upload
    /// does, for one that already stopped (paused, failed) and would otherwise resume. Returns
    /// whether there was a saved upload to give up; an error while it is uploading (elsewhere).
    pub async fn discard(&self, fingerprint: &str, target: &Target, options: &UploadOptions) -> Result<bool> {
        let id = Checkpoint::id(target, fingerprint);
        let _lock = self.checkpoints.lock(&id).await.ok_or_else(|| in_progress(target))?;
        let Some(text) = self.checkpoints.load(&id).await else { return Ok(false) };
        if let Ok(checkpoint) = Checkpoint::from_json(&text) {
            let control = Control::new();
            let job =
                Job { up: self, target, options, control: &control, token: futures_util::lock::Mutex::new((0, None)) };
            job.abort(&checkpoint.session).await;
        }
        self.checkpoints.remove(&id).await;
        Ok(true)
    }

    /// The saved uploads to `service`/`endpoint`/`bucket` that [`upload`](Self::upload) would
    /// resume, oldest first: uploads paused, failed or cut off by a reload or a crash. Each can
    /// be resumed by uploading the same source to its key again, or given up with
    /// [`discard`](Self::discard) (its `key` and `fingerprint`) without the source at hand.
    /// Checkpoints too old to resume or unreadable are left out. An upload running right now is
    /// listed too (its checkpoint is saved as it goes), marked [`PendingUpload::running`].
    pub async fn pending(&self, service: ServiceKind, endpoint: &str, bucket: &str) -> Vec<PendingUpload> {
        let now = self.runtime.now_ms();
        let mut found = Vec::new();
        for id in self.checkpoints.ids().await {
            let Some(text) = self.checkpoints.load(&id).await else { continue };
            let Ok(c) = Checkpoint::from_json(&text) else { continue };
            let target = Target {
                service,
                endpoint: endpoint.to_owned(),
                bucket: bucket.to_owned(),
                key: c.key.clone(),
                mime: String::new(),
            };
            // Stored under its own id: a copied or edited entry could name another upload.
            if Checkpoint::id(&target, &c.fingerprint) == id && c.matches(&target, &c.fingerprint, c.size, now) {
                // Oldest first, kept in order as found: a sort here would add 5 kB of wasm.
                let at = found.partition_point(|f: &PendingUpload| {
                    (f.checkpoint.created_ms, &f.checkpoint.key) <= (c.created_ms, &c.key)
                });
                found.insert(at, PendingUpload { checkpoint: c, running: self.checkpoints.in_use(&id).await });
            }
        }
        found
    }
}

/// A saved upload, as [`Uploader::pending`] lists it.
#[derive(Clone, Debug)]
pub struct PendingUpload {
    pub checkpoint: Checkpoint,
    /// Its upload is running now, here or elsewhere (another tab of the origin, another process
    /// over the same checkpoint directory): not one to offer to resume. Uploading its source
    /// again or discarding it is refused with [`IN_PROGRESS`] until it stops.
    pub running: bool,
}

/// How long a cancelled upload waits for the service to forget its multipart session.
const ABORT_WAIT_MS: u64 = 10_000;

/// Error code for "this source is being uploaded to this target right now, by someone else".
pub const IN_PROGRESS: &str = "upload-in-progress";

fn in_progress(target: &Target) -> Error {
    Error::invalid_input(format!(
        "this file is already being uploaded to {:?} (by another task, tab or process): wait for that upload to end, or cancel it",
        target.key
    ))
    .with_code(IN_PROGRESS)
}

/// Error code for "the commit's reply was lost and the upload may or may not be stored": check
/// the object before uploading it again (a token that does not allow overwriting would refuse).
pub const COMMIT_UNCONFIRMED: &str = "commit-unconfirmed";

/// Error code for "the object was stored, but with other bytes than sent, and may not be
/// replaced with this token": it must be deleted before it is uploaded again.
pub const STORED_DAMAGED: &str = "stored-damaged";

/// Error code for "the upload token is for another bucket, key or folder".
pub const TOKEN_TARGET: &str = "token-target";

/// Refuse a token whose policy puts the file somewhere else than `target`: the service stores it
/// where the token says (WCS `scope`, Wantu `namespace`, `dir`, `name`), whatever the request
/// names, and its reply does not tell, so the upload would succeed with the wrong key. Read
/// without the secret key; a token of another shape is left to the service. Wantu folders and
/// names with magic variables (`${uuid}`) are the service's to choose and are not compared.
fn check_token_target(target: &Target, token: &str) -> Result<()> {
    let elsewhere = match target.service {
        ServiceKind::Wcs => crate::sign::wcs::token_scope(token).and_then(|(bucket, key)| {
            if bucket != target.bucket {
                Some(format!("bucket {bucket:?}"))
            } else {
                key.filter(|k| *k != target.key).map(|k| format!("the key {k:?} only"))
            }
        }),
        ServiceKind::Wantu => crate::sign::wantu::token_place(token).and_then(|place| {
            let (dir, name) = crate::service::split_key(&target.key);
            let literal = |v: Option<String>| v.filter(|v| !v.contains("${"));
            if let Some(namespace) = place.namespace.filter(|n| *n != target.bucket) {
                Some(format!("namespace {namespace:?}"))
            } else if let Some(d) = literal(place.dir).filter(|d| d.trim_matches('/') != dir.trim_matches('/')) {
                Some(format!("the folder {d:?}"))
            } else {
                literal(place.name).filter(|n| *n != name).map(|n| format!("the file name {n:?}"))
            }
        }),
        ServiceKind::Ufile => None,
    };
    match elsewhere {
        None => Ok(()),
        Some(place) => Err(Error::auth(format!(
            "the upload token is for {place}, but this upload is {:?} in {:?}, and the service would store the file where the token says: have the token backend sign for this bucket and key",
            target.key, target.bucket
        ))
        .with_code(TOKEN_TARGET)),
    }
}

/// Error code for "the checkpoint is unusable; start over".
const STALE: &str = "stale-checkpoint";

fn validate(target: &Target, options: &UploadOptions) -> Result<()> {
    if target.key.is_empty() {
        return Err(Error::invalid_input("the object key is empty: give every upload a key"));
    }
    if let Some(problem) = key_problem(target.service, &target.key) {
        return Err(Error::invalid_input(format!("the key {:?} {problem}", target.key)));
    }
    if target.mime.chars().any(|c| c.is_control() || !c.is_ascii()) {
        // It goes out in a header (UFile) or a form part's header: a line break there would
        // end the header, and fetch refuses bytes outside Latin-1 with a bare TypeError.
        return Err(Error::invalid_input(format!(
            "the MIME type {:?} has line breaks, control or non-ASCII characters: give a type like image/png",
            target.mime
        )));
    }
    check_setup(target.service, &target.endpoint, &target.bucket, options)
}

/// Check where uploads go and how they are made, before there is anything to upload: an
/// uploader can refuse a mistyped endpoint or a part size the service would refuse when it is
/// made, not at the first upload (which also checks this).
pub fn check_setup(service: ServiceKind, endpoint: &str, bucket: &str, options: &UploadOptions) -> Result<()> {
    if let Some(problem) = crate::service::url_problem(endpoint) {
        return Err(Error::invalid_input(format!(
            "the endpoint {endpoint:?} {problem}: give the service's upload URL, like https://upload.example.com"
        )));
    }
    if bucket.is_empty() {
        let what = if service == ServiceKind::Wantu { "namespace" } else { "bucket" };
        return Err(Error::invalid_input(format!(
            "the {what} is empty: give the {what} the files go to (the token's must match it)"
        )));
    }
    if service == ServiceKind::Ufile
        && let Some(named) = path_bucket(endpoint).filter(|named| *named != bucket)
    {
        // UFile signs the bucket given; a path naming another one fails every request as a bad
        // signature, which would send the user to their keys and clock.
        return Err(Error::invalid_input(format!(
            "the endpoint {endpoint:?} is for bucket {named:?}, but the bucket given is {bucket:?}: make them the same"
        )));
    }
    if options.concurrency == 0 {
        return Err(Error::invalid_input("concurrency must be at least 1"));
    }
    if options.retry.max_attempts == 0 {
        return Err(Error::invalid_input("the number of attempts must be at least 1 (1: no retries)"));
    }
    if options.chunk_size == Some(0) {
        return Err(Error::invalid_input("the chunk size must be at least 1 byte (leave it unset for whole blocks)"));
    }
    if options.multipart_threshold > LARGEST_PART {
        return Err(Error::invalid_input(format!(
            "the multipart threshold {} is over {LARGEST_PART} bytes (1 GiB): larger files go in parts",
            options.multipart_threshold
        )));
    }
    if let (ServiceKind::Wcs, Some(size)) = (service, options.part_size)
        && (size == 0 || size % DEFAULT_PART_SIZE != 0 || size > LARGEST_PART)
    {
        return Err(Error::invalid_input(
            "the WCS block size must be a multiple of 4 MiB (4194304 bytes), up to 1 GiB",
        ));
    }
    if let (ServiceKind::Wantu, Some(size)) = (service, options.part_size)
        && !(MIN_PART_SIZE..=MAX_PART_SIZE).contains(&size)
    {
        return Err(Error::invalid_input(format!(
            "the Wantu part size must be {MIN_PART_SIZE} to {MAX_PART_SIZE} bytes"
        )));
    }
    Ok(())
}

/// The bucket a path-style UFile endpoint (`http://host/bucket`) names.
fn path_bucket(endpoint: &str) -> Option<&str> {
    let (_, rest) = endpoint.split_once("://")?;
    let (_, path) = rest.split_once('/')?;
    path.split('/').next().filter(|b| !b.is_empty())
}

/// Does the service's etag name the bytes we sent?
fn etag_matches(service: ServiceKind, remote: &str, local: &str, size: u64) -> bool {
    match service {
        ServiceKind::Wantu => remote.eq_ignore_ascii_case(local),
        // The Python SDK and maybe the service write the empty file's UFile etag as `AAAAAA==`.
        ServiceKind::Ufile if size == 0 => remote == local || remote == "AAAAAA==",
        _ => remote == local,
    }
}

fn changed_meanwhile() -> Error {
    Error::new(
        ErrorKind::InvalidInput,
        "the file changed while it was being uploaded (its size or modification time moved), so the bytes sent are not one version of it; nothing was stored: upload it again once it is complete",
    )
}

/// A Wantu upload with more parts than the service takes; said before the part is sent.
fn too_many_wantu_parts(part_size: u64) -> Error {
    Error::invalid_input(format!(
        "a Wantu upload takes at most {MAX_PARTS} parts, and parts of {part_size} bytes need more: choose a larger part size (up to {MAX_PART_SIZE} bytes)"
    ))
}

fn integrity(what: &str, remote: &str, local: &str) -> Error {
    Error::new(
        ErrorKind::Integrity,
        format!(
            "{what}: the service reports etag {remote:?} but the bytes sent hash to {local:?}; the upload is not accepted"
        ),
    )
}

/// The progress tracker and the caller's callback, shared by the part futures (byte-level
/// progress arrives inside them).
struct Reporter<'a> {
    tracker: RefCell<ProgressTracker>,
    callback: RefCell<&'a mut dyn FnMut(Progress)>,
}

impl<'a> Reporter<'a> {
    fn new(tracker: ProgressTracker, callback: &'a mut dyn FnMut(Progress)) -> Self {
        Reporter { tracker: RefCell::new(tracker), callback: RefCell::new(callback) }
    }

    fn update(&self, change: impl FnOnce(&mut ProgressTracker)) {
        let snapshot = {
            let mut tracker = self.tracker.borrow_mut();
            change(&mut tracker);
            tracker.snapshot()
        };
        // A callback that (wrongly) triggers another report re-entrantly is skipped, not a panic.
        if let Ok(mut callback) = self.callback.try_borrow_mut() {
            callback(snapshot);
        }
    }
}

/// Per-upload state shared by its requests.
struct Job<'a, T, P, C, R> {
    up: &'a Uploader<T, P, C, R>,
    target: &'a Target,
    options: &'a UploadOptions,
    control: &'a Control,
    /// `(generation, token)`: WCS and Wantu fetch a token once per file, and again only when the
    /// service refuses the current generation. An async lock, so that parts refused at the same
    /// time wait for one new token instead of each asking for their own.
    token: futures_util::lock::Mutex<(u64, Option<String>)>,
}

/// One part read from the source, with the hashes taken on the way.
struct PartData {
    index: u64,
    /// Where the part starts in the source.
    offset: u64,
    bytes: Bytes,
    digests: PartDigests,
}

impl PartData {
    fn locate(&self, request: HttpRequest) -> HttpRequest {
        locate(request, &self.bytes, self.offset)
    }
}

/// `request` with its `source_range` set where its body holds `bytes`, which were read from the
/// source at `offset`: all of them where the service says it embedded them (a form), or the
/// slice of them that the body is (a WCS chunk, a UFile part).
fn locate(mut request: HttpRequest, bytes: &Bytes, offset: u64) -> HttpRequest {
    let len = bytes.len();
    if let Some(at) = request.data_at {
        if len > 0 && at + len <= request.body.len() {
            request.source_range = Some(SourceRange { at, start: offset, end: offset + len as u64 });
        }
        return request;
    }
    let (read, body) = (bytes.as_ptr() as usize, request.body.as_ptr() as usize);
    let within = body >= read && body + request.body.len() <= read + len;
    if within && !request.body.is_empty() {
        let start = offset + (body - read) as u64;
        request.source_range = Some(SourceRange { at: 0, start, end: start + request.body.len() as u64 });
    }
    request
}

/// Reads the parts in order and hashes each once (feeding the whole-object hash): the one
/// producer of [`PartData`]. It is moved into the future that reads the next part and handed
/// back by it, so that reading ahead can run while parts are being sent.
struct PartReader<'s, S> {
    source: &'s mut S,
    /// Bytes read ahead of `offset` (a stream's probe).
    pending: BytesMut,
    whole: WholeHash,
    plan: Option<PartPlan>,
    part_size: u64,
    index: u64,
    offset: u64,
    done: bool,
}

impl<S: Source> PartReader<'_, S> {
    async fn next<R: Runtime>(
        mut self,
        runtime: &R,
        service: ServiceKind,
        chunk: u64,
    ) -> (Self, Result<Option<PartData>>) {
        let part = self.read(runtime, service, chunk).await;
        if part.is_err() {
            self.done = true;
        }
        (self, part)
    }

    async fn read<R: Runtime>(&mut self, runtime: &R, service: ServiceKind, chunk: u64) -> Result<Option<PartData>> {
        let want = match self.plan {
            Some(p) if self.index >= p.count() => {
                self.done = true;
                return Ok(None);
            }
            Some(p) => p.part(self.index).1,
            None => self.part_size,
        };
        let bytes = next_part(self.source, &mut self.pending, self.offset, want).await?;
        if self.plan.is_some() && bytes.len() as u64 != want {
            return Err(Error::new(ErrorKind::Io, "the source ended before its announced size"));
        }
        // A stream ends with a short (or empty) part; an empty part after the first carries
        // nothing.
        if self.plan.is_none() && (bytes.len() as u64) < want {
            self.done = true;
        }
        if bytes.is_empty() && self.index > 0 {
            self.done = true;
            return Ok(None);
        }
        let chunk = if service == ServiceKind::Wcs { chunk.min(bytes.len() as u64).max(1) } else { chunk };
        let last = match self.plan {
            Some(p) => self.index + 1 == p.count(),
            None => self.done,
        };
        let digests = hash_part(runtime, service, &bytes, &mut self.whole, chunk, last).await;
        let part = PartData { index: self.index, offset: self.offset, bytes, digests };
        self.offset += part.bytes.len() as u64;
        self.index += 1;
        Ok(Some(part))
    }
}

/// What the multipart loop waits for.
// One lives for one turn of the loop, on its stack: boxing the reader would only add an allocation.
#[allow(clippy::large_enum_variant)]
enum Event<'s, S> {
    /// The next part was read and hashed (or the source ended).
    Read(PartReader<'s, S>, Result<Option<PartData>>),
    /// A part's requests finished.
    Sent(PartData, Result<String>),
}

impl<T: Transport, P: TokenProvider, C: CheckpointStore, R: Runtime> Job<'_, T, P, C, R> {
    fn needs_token(&self) -> bool {
        self.target.service != ServiceKind::Ufile
    }

    async fn token(&self, refused_generation: Option<u64>) -> Result<(u64, String)> {
        let mut cached = self.token.lock().await;
        if let Some(token) = &cached.1
            && refused_generation.is_none_or(|g| cached.0 > g)
        {
            return Ok((cached.0, token.clone()));
        }
        let fresh = self.up.tokens.upload_token(self.target, refused_generation.is_some()).await?;
        check_token_target(self.target, &fresh)?;
        cached.0 += 1;
        cached.1 = Some(fresh.clone());
        Ok((cached.0, fresh))
    }

    /// Send one logical request with retries: `build` makes it from the current token (again
    /// for every attempt), `parse` judges the reply. Network failures and 5xx replies are retried
    /// with backoff; a refused token is replaced once; other errors return at once.
    async fn call<V>(
        &self,
        build: impl Fn(&str) -> Result<HttpRequest>,
        parse: impl Fn(&HttpResponse) -> Result<V>,
    ) -> Result<V> {
        self.call_reporting(build, parse, &|_| {}).await
    }

    /// [`Job::call`], with `on_sent(bytes)` reporting how much of the request body went out.
    async fn call_reporting<V>(
        &self,
        build: impl Fn(&str) -> Result<HttpRequest>,
        parse: impl Fn(&HttpResponse) -> Result<V>,
        on_sent: &dyn Fn(u64),
    ) -> Result<V> {
        let mut value = None;
        self.call_dyn(&build, &mut |response| parse(response).map(|v| value = Some(v)), on_sent).await?;
        value.ok_or_else(|| Error::new(ErrorKind::Server, "no reply was accepted"))
    }

    /// The retry loop of [`Job::call`], through trait objects: one copy of this state machine
    /// serves every request kind (generic closures would make one per call site, which costs tens
    /// of KB in the wasm bundle).
    async fn call_dyn(
        &self,
        build: &dyn Fn(&str) -> Result<HttpRequest>,
        accept: &mut dyn FnMut(&HttpResponse) -> Result<()>,
        on_sent: &dyn Fn(u64),
    ) -> Result<()> {
        let mut attempt = 0u32;
        let mut refused: Option<u64> = None;
        // The service's refusal of the token, kept until a new token is had: when the provider
        // cannot give one (a fixed token), the error is still the service's (status, code,
        // request id), with the provider's reason added.
        let mut refusal: Option<Error> = None;
        loop {
            self.control.check()?;
            attempt += 1;
            // The token or signature first: waits on the user's backend end when the upload is
            // paused or cancelled, and a backend that fails for a moment is asked again, with
            // the same backoff as the service (UFile signs every request: one blip would
            // otherwise end a long upload).
            let credentials = self.control.unless_stopped(self.credentials(build, refused)).await;
            let (generation, request) = match credentials {
                Ok(v) => {
                    refusal = None;
                    v
                }
                Err(e) if is_retryable(&e) && attempt < self.retries() => {
                    self.backoff(attempt).await?;
                    continue;
                }
                Err(e) => {
                    return Err(match refusal {
                        Some(service) if e.kind() == ErrorKind::Auth => service.and(&e),
                        _ => e,
                    });
                }
            };
            let outcome = match self.up.transport.send_reporting(request, on_sent).await {
                Ok(response) => accept(&response),
                Err(e) => Err(e),
            };
            let err = match outcome {
                Ok(()) => return Ok(()),
                Err(e) => e,
            };
            if err.kind() == ErrorKind::Auth && refused.is_none() {
                // An expired token (WCS, Wantu) or a signature from a clock that moved (UFile):
                // ask the provider again, once.
                refused = Some(generation);
                refusal = Some(err);
                continue;
            }
            if !is_retryable(&err) || attempt >= self.retries() {
                return Err(err);
            }
            self.backoff(attempt).await?;
        }
    }

    fn retries(&self) -> u32 {
        self.options.retry.max_attempts
    }

    /// The wait before attempt `attempt + 1`; cut short (with its error) by a pause or cancel.
    async fn backoff(&self, attempt: u32) -> Result<()> {
        let delay = self.options.retry.delay_ms(attempt, self.up.runtime.random());
        self.control
            .unless_stopped(async {
                self.up.runtime.sleep(delay).await;
                Ok(())
            })
            .await
    }

    /// The request `build` makes, with the current token in it (WCS, Wantu) or signed (UFile),
    /// and the token's generation.
    async fn credentials(
        &self,
        build: &dyn Fn(&str) -> Result<HttpRequest>,
        refused: Option<u64>,
    ) -> Result<(u64, HttpRequest)> {
        let (generation, token) = if self.needs_token() { self.token(refused).await? } else { (0, String::new()) };
        let mut request = build(&token)?;
        if let Some(sign) = request.sign.take() {
            let authorization = self.up.tokens.sign(&sign).await?;
            request.headers.push(("Authorization".to_owned(), authorization));
        }
        Ok((generation, request))
    }

    async fn run<S: Source>(
        &self,
        source: &mut S,
        on_progress: &mut dyn FnMut(Progress),
        may_resume: bool,
    ) -> Result<UploadResult> {
        self.control.check()?;
        // Each service caps what one request may carry: above that, parts whatever the option says.
        let threshold = self.options.multipart_threshold.min(match self.target.service {
            ServiceKind::Wcs => crate::service::wcs::LARGEST_FORM_UPLOAD,
            ServiceKind::Ufile => crate::service::ufile::LARGEST_PUT,
            ServiceKind::Wantu => MAX_PART_SIZE,
        });
        match source.size() {
            Some(size) if size <= threshold => {
                let data = source.read(0, size).await?;
                if data.len() as u64 != size {
                    return Err(Error::new(ErrorKind::Io, "the source ended before its announced size"));
                }
                if source.changed().await? {
                    return Err(changed_meanwhile());
                }
                self.simple(data, on_progress).await
            }
            Some(size) => self.multipart(source, Some(size), BytesMut::new(), on_progress, may_resume).await,
            None => {
                // A stream: read just past the threshold to choose.
                let head = read_full(source, 0, threshold + 1).await?;
                if head.len() as u64 <= threshold {
                    self.simple(head, on_progress).await
                } else {
                    self.multipart(source, None, BytesMut::from(&head[..]), on_progress, false).await
                }
            }
        }
    }

    async fn simple(&self, data: Bytes, on_progress: &mut dyn FnMut(Progress)) -> Result<UploadResult> {
        let size = data.len() as u64;
        let reporter = Reporter::new(ProgressTracker::new(Some(size), Some(1)), on_progress);
        reporter.update(|t| t.start_part(0, size));
        let on_sent = |bytes: u64| reporter.update(|t| t.part_sent(0, bytes));
        // Each hash once: WCS needs only its etag; Wantu's etag is the MD5 it sends.
        let (local, md5) = match self.target.service {
            ServiceKind::Wcs => (WcsEtag::digest(&data), String::new()),
            ServiceKind::Ufile => (UfileEtag::digest(&data), Md5::digest(&data).to_hex()),
            ServiceKind::Wantu => {
                let md5 = Md5::digest(&data);
                (md5.to_hex_upper(), md5.to_hex())
            }
        };
        let t = self.target;
        // A reply that shows other bytes than sent (or a service that says the body arrived
        // damaged) means the request is sent again, as a part would be. An attempt whose reply
        // never came may have stored the object, so its retry may find the key taken.
        let lost = Unanswered::default();
        let mut damaged = false;
        let mut attempt = 0;
        let err = loop {
            attempt += 1;
            let err = match self.send_whole(&data, &md5, &lost, &on_sent).await {
                Ok((remote, response)) if etag_matches(t.service, &remote, &local, size) => {
                    reporter.update(|t| t.finish_part(0, size, true));
                    return Ok(UploadResult {
                        service: t.service,
                        key: t.key.clone(),
                        size,
                        etag: remote,
                        local_etag: local,
                        response,
                    });
                }
                Ok((remote, _)) => {
                    damaged = true;
                    Error::new(
                        ErrorKind::Integrity,
                        format!(
                            "{:?} was stored with etag {remote:?}, but the bytes sent hash to {local:?}: the object may hold other bytes than sent; upload it again (with a token that allows replacing it), or delete it",
                            t.key
                        ),
                    )
                    .with_code(STORED_DAMAGED)
                }
                Err(err) => err,
            };
            if err.kind() == ErrorKind::Integrity && attempt < self.retries() {
                continue;
            }
            break err;
        };
        if !key_taken(&err) {
            return Err(err);
        }
        if damaged {
            return Err(Error::new(
                ErrorKind::Integrity,
                format!(
                    "{:?} was stored with other bytes than those sent (the reply showed another etag than {local:?}), and sending it again was refused because the token does not allow replacing the object ({}); delete the object and upload it again",
                    t.key,
                    err.message()
                ),
            )
            .with_code(STORED_DAMAGED));
        }
        if lost.any() {
            return Err(unconfirmed(&t.key, "upload", "the key taken", &err));
        }
        Err(err)
    }

    /// One whole-object upload (with the retries of [`Job::call`]): the service's etag and reply.
    async fn send_whole(
        &self,
        data: &Bytes,
        md5: &str,
        lost: &Unanswered,
        on_sent: &dyn Fn(u64),
    ) -> Result<(String, String)> {
        match self.target.service {
            ServiceKind::Wcs => {
                let wcs = self.wcs(String::new());
                self.call_reporting(
                    |token| lost.sent(Ok(locate(wcs.simple_request(token, data), data, 0))),
                    |r| lost.answered(r, wcs.parse_simple(r)),
                    on_sent,
                )
                .await
            }
            ServiceKind::Ufile => {
                let ufile = self.ufile();
                self.call_reporting(
                    |_| lost.sent(Ok(locate(ufile.put_request(data.clone(), md5), data, 0))),
                    |r| lost.answered(r, ufile.parse_put(r)),
                    on_sent,
                )
                .await
                .map(|etag| (etag, String::new()))
            }
            ServiceKind::Wantu => {
                let wantu = self.wantu();
                self.call_reporting(
                    |token| lost.sent(Ok(locate(wantu.upload_request(token, data, md5), data, 0))),
                    |r| lost.answered(r, wantu.parse_upload(r)),
                    on_sent,
                )
                .await
            }
        }
    }

    fn wcs(&self, batch: String) -> WcsUpload {
        WcsUpload {
            endpoint: self.target.endpoint.clone(),
            key: self.target.key.clone(),
            mime: self.target.mime.clone(),
            batch,
        }
    }

    fn ufile(&self) -> UfileUpload {
        UfileUpload {
            base_url: self.target.endpoint.clone(),
            bucket: self.target.bucket.clone(),
            key: self.target.key.clone(),
            mime: self.target.mime.clone(),
        }
    }

    /// The caller's part size, or one that fits the file in Wantu's [`MAX_PARTS`].
    fn wantu_part_size(&self, size: Option<u64>) -> Result<u64> {
        match (self.options.part_size, size) {
            (Some(part_size), _) => Ok(part_size),
            (None, None) => Ok(DEFAULT_PART_SIZE),
            (None, Some(size)) => wantu::part_size_for(size, DEFAULT_PART_SIZE).ok_or_else(|| {
                Error::invalid_input(format!(
                    "{size} bytes do not fit one Wantu upload: at most {MAX_PARTS} parts of {MAX_PART_SIZE} bytes"
                ))
            }),
        }
    }

    fn wantu(&self) -> WantuUpload {
        WantuUpload {
            endpoint: self.target.endpoint.clone(),
            key: self.target.key.clone(),
            mime: self.target.mime.clone(),
        }
    }

    fn new_batch(&self) -> String {
        // An integer, not `{}` of the f64: float printing costs ~15 KB of wasm.
        let r = (self.up.runtime.random() * (1u64 << 53) as f64) as u64;
        let seed = format!("{}:{}:{r}", self.up.runtime.now_ms(), self.target.key);
        Sha1::digest(seed.as_bytes()).to_hex()[..32].to_owned()
    }

    async fn multipart<S: Source>(
        &self,
        source: &mut S,
        size: Option<u64>,
        pending: BytesMut,
        on_progress: &mut dyn FnMut(Progress),
        may_resume: bool,
    ) -> Result<UploadResult> {
        let t = self.target;
        // Resume only what can be resumed: known size, a fingerprint, a store.
        let fingerprint = match size {
            Some(_) if self.options.resume => source_fingerprint(source),
            _ => None,
        };
        let checkpoint_id = fingerprint.as_ref().map(|f| Checkpoint::id(t, f));
        // Held until this returns: paused, failed or done, the checkpoint is free for the next.
        let _lock = match &checkpoint_id {
            Some(id) => Some(self.up.checkpoints.lock(id).await.ok_or_else(|| in_progress(t))?),
            None => None,
        };
        let mut checkpoint: Option<Checkpoint> = None;
        if let (true, Some(id), Some(f), Some(size)) = (may_resume, &checkpoint_id, &fingerprint, size) {
            if let Some(text) = self.up.checkpoints.load(id).await {
                match Checkpoint::from_json(&text) {
                    Ok(c) if c.matches(t, f, size, self.up.runtime.now_ms()) => checkpoint = Some(c),
                    _ => self.up.checkpoints.remove(id).await,
                }
            }
        } else if let Some(id) = &checkpoint_id {
            self.up.checkpoints.remove(id).await;
        }
        let resumed = checkpoint.is_some();

        // The session and the part size.
        let (mut session, part_size) = match (&checkpoint, t.service) {
            (Some(c), _) => (Some(c.session.clone()), c.part_size),
            (None, ServiceKind::Wcs) => {
                (Some(Session::Wcs { batch: self.new_batch() }), self.options.part_size.unwrap_or(DEFAULT_PART_SIZE))
            }
            (None, ServiceKind::Ufile) => {
                let ufile = self.ufile();
                let (upload_id, blk_size) = self.call(|_| Ok(ufile.init_request()), |r| ufile.parse_init(r)).await?;
                if blk_size > LARGEST_PART {
                    return Err(Error::new(
                        ErrorKind::Server,
                        format!(
                            "UFile asked for parts of {blk_size} bytes: yunup holds each part in memory and takes parts of up to {LARGEST_PART} bytes (1 GiB)"
                        ),
                    ));
                }
                (Some(Session::Ufile { upload_id }), blk_size)
            }
            // Wantu opens its session with part 1 (below).
            (None, ServiceKind::Wantu) => (None, self.wantu_part_size(size)?),
        };
        let plan = size.map(|s| PartPlan::new(s, part_size)).transpose()?;
        if let (ServiceKind::Wantu, Some(plan)) = (t.service, plan)
            && plan.count() > MAX_PARTS
        {
            return Err(too_many_wantu_parts(part_size));
        }
        if checkpoint.is_none()
            && let (Some(f), Some(size), Some(session)) = (&fingerprint, size, &session)
        {
            checkpoint = Some(Checkpoint::new(t, f, size, part_size, session.clone(), self.up.runtime.now_ms()));
        }
        self.save(&checkpoint_id, &checkpoint).await;

        let reporter = Reporter::new(ProgressTracker::new(size, plan.map(|p| p.count())), on_progress);
        reporter.update(|_| {});
        let chunk = self.options.chunk_size.unwrap_or(part_size).max(1);
        let mut reader = Some(PartReader {
            source,
            pending,
            whole: WholeHash::new(t.service),
            plan,
            part_size,
            index: 0,
            offset: 0,
            done: false,
        });
        // The next part being read and hashed while earlier ones are sent, and a part read but
        // waiting for room in flight: hashing overlaps the network, one part ahead.
        type Reading<'f, 's, S> = Pin<Box<dyn Future<Output = (PartReader<'s, S>, Result<Option<PartData>>)> + 'f>>;
        let mut reading: Option<Reading<'_, '_, S>> = None;
        let mut ready: Option<PartData> = None;
        let mut results: Vec<Option<String>> = Vec::new();
        let mut in_flight = FuturesUnordered::new();
        let outcome: Result<()> = async {
            loop {
                if ready.is_none()
                    && reading.is_none()
                    && let Some(r) = reader.take_if(|r| !r.done)
                {
                    reading = Some(Box::pin(r.next(&self.up.runtime, t.service, chunk)));
                }
                if in_flight.len() < self.options.concurrency
                    && let Some(part) = ready.take()
                {
                    if t.service == ServiceKind::Wantu && part.index >= MAX_PARTS {
                        // Only a stream gets here: a sized file was planned to fit.
                        return Err(too_many_wantu_parts(part_size));
                    }
                    let len = part.bytes.len() as u64;
                    results.push(None);
                    if let Some(done) = checkpoint.as_ref().and_then(|c| c.done(part.index)) {
                        if done.md5 != part.digests.check || done.size != len {
                            return Err(Error::new(
                                ErrorKind::InvalidInput,
                                "the file changed since the upload was paused",
                            )
                            .with_code(STALE));
                        }
                        results[part.index as usize] = Some(done.result.clone());
                        reporter.update(|t| t.finish_part(part.index, len, false));
                        continue;
                    }
                    if t.service == ServiceKind::Wantu && session.is_none() {
                        // blockInit: part 1 opens the session; everything else waits for it.
                        reporter.update(|t| t.start_part(part.index, len));
                        let wantu = self.wantu();
                        let md5 = &part.digests.md5;
                        let on_sent = |bytes: u64| reporter.update(|t| t.part_sent(part.index, bytes));
                        let (new_session, etag) = self
                            .call_reporting(
                                |token| Ok(part.locate(wantu.init_request(token, &part.bytes, md5))),
                                |r| wantu.parse_init(r),
                                &on_sent,
                            )
                            .await?;
                        if !etag.eq_ignore_ascii_case(md5) {
                            return Err(integrity("Wantu part 1", &etag, md5));
                        }
                        session = Some(Session::Wantu(new_session));
                        if let (Some(f), Some(size), Some(s)) = (&fingerprint, size, &session) {
                            checkpoint =
                                Some(Checkpoint::new(t, f, size, part_size, s.clone(), self.up.runtime.now_ms()));
                        }
                        self.part_done(&mut checkpoint, &checkpoint_id, &part, etag.clone()).await;
                        results[part.index as usize] = Some(etag);
                        reporter.update(|t| t.finish_part(part.index, len, true));
                        continue;
                    }
                    reporter.update(|t| t.start_part(part.index, len));
                    let session = session.clone().ok_or_else(|| Error::new(ErrorKind::Server, "no upload session"))?;
                    let reporter = &reporter;
                    in_flight.push(async move {
                        let result = self.send_part(&session, &part, reporter).await;
                        (part, result)
                    });
                    continue;
                }
                // Wait for the read ahead or for a part, whichever comes first.
                let event = match (reading.as_mut(), in_flight.is_empty()) {
                    (None, true) => break,
                    (Some(read), true) => {
                        let (r, part) = read.await;
                        Event::Read(r, part)
                    }
                    (None, false) => match in_flight.next().await {
                        Some((part, result)) => Event::Sent(part, result),
                        None => continue,
                    },
                    (Some(read), false) => match select(read, in_flight.next()).await {
                        Either::Left(((r, part), _)) => Event::Read(r, part),
                        Either::Right((Some((part, result)), _)) => Event::Sent(part, result),
                        Either::Right((None, _)) => continue,
                    },
                };
                match event {
                    Event::Read(r, part) => {
                        reading = None;
                        reader = Some(r);
                        ready = part?;
                    }
                    Event::Sent(part, result) => {
                        let len = part.bytes.len() as u64;
                        match result {
                            Ok(value) => {
                                self.part_done(&mut checkpoint, &checkpoint_id, &part, value.clone()).await;
                                results[part.index as usize] = Some(value);
                                reporter.update(|t| t.finish_part(part.index, len, true));
                            }
                            Err(e) => {
                                reporter.update(|t| t.drop_part(part.index, len));
                                return Err(e);
                            }
                        }
                    }
                }
            }
            Ok(())
        }
        .await;
        drop(in_flight);

        if let Err(err) = outcome {
            return Err(self.stopped(err, &session, &checkpoint_id, resumed).await);
        }
        drop(reading);
        let Some(reader) = reader else {
            return Err(Error::new(ErrorKind::Server, "the upload stopped while reading the source"));
        };
        if reader.source.changed().await? {
            if let Some(session) = &session {
                self.abort(session).await;
            }
            if let Some(id) = &checkpoint_id {
                self.up.checkpoints.remove(id).await;
            }
            return Err(changed_meanwhile());
        }
        let (total, index) = (reader.offset, reader.index);
        reporter.update(|t| t.set_total(total, index));
        let results: Vec<String> = results.into_iter().map(|r| r.unwrap_or_default()).collect();
        let local = reader.whole.finish();
        let session = session.ok_or_else(|| Error::new(ErrorKind::Server, "no upload session"))?;
        let finished = self.complete(&session, total, &results, &local, resumed).await;
        let (remote, response) = match finished {
            Ok(v) => v,
            Err(err) => return Err(self.stopped(err, &Some(session), &checkpoint_id, resumed).await),
        };
        if let Some(id) = &checkpoint_id {
            self.up.checkpoints.remove(id).await;
        }
        if !etag_matches(t.service, &remote, &local, total) {
            return Err(integrity("the assembled object", &remote, &local));
        }
        reporter.update(|_| {});
        Ok(UploadResult {
            service: t.service,
            key: t.key.clone(),
            size: total,
            etag: remote,
            local_etag: local,
            response,
        })
    }

    async fn save(&self, id: &Option<String>, checkpoint: &Option<Checkpoint>) {
        if let (Some(id), Some(c)) = (id, checkpoint)
            && let Ok(json) = c.to_json()
        {
            // A checkpoint that cannot be written costs only the ability to resume.
            let _ = self.up.checkpoints.save(id, &json).await;
        }
    }

    async fn part_done(
        &self,
        checkpoint: &mut Option<Checkpoint>,
        id: &Option<String>,
        part: &PartData,
        result: String,
    ) {
        if let Some(c) = checkpoint.as_mut() {
            c.record(DonePart {
                index: part.index,
                size: part.bytes.len() as u64,
                md5: part.digests.check.clone(),
                result,
            });
        }
        self.save(id, checkpoint).await;
    }

    /// What to do when a multipart upload stops early: on cancel, abort it on the service and
    /// forget the checkpoint; when a resumed session turns out dead, say so (the caller starts
    /// over); otherwise keep the checkpoint for a later resume.
    async fn stopped(
        &self,
        err: Error,
        session: &Option<Session>,
        checkpoint_id: &Option<String>,
        resumed: bool,
    ) -> Error {
        if self.control.is_cancelled() {
            if let Some(session) = session {
                self.abort(session).await;
            }
            if let Some(id) = checkpoint_id {
                self.up.checkpoints.remove(id).await;
            }
            return err;
        }
        if err.code() == Some(COMMIT_UNCONFIRMED) {
            // The session is closed: a resume could only fail.
            if let Some(id) = checkpoint_id {
                self.up.checkpoints.remove(id).await;
            }
            return err;
        }
        if err.code() == Some(STALE) || (resumed && session_gone(&err)) {
            if let Some(id) = checkpoint_id {
                self.up.checkpoints.remove(id).await;
            }
            return Error::new(
                ErrorKind::InvalidInput,
                format!("the saved upload cannot be resumed: {}", err.message()),
            )
            .with_code(STALE);
        }
        err
    }

    /// Abort a multipart upload on the service, best effort (it is being given up anyway): two
    /// tries, and no more than [`ABORT_WAIT_MS`] in all, so that a cancelled upload settles soon
    /// even when the network does not answer.
    async fn abort(&self, session: &Session) {
        let abort = self.abort_unbounded(session);
        let deadline = self.up.runtime.sleep(ABORT_WAIT_MS);
        let _ = select(std::pin::pin!(abort), std::pin::pin!(deadline)).await;
    }

    async fn abort_unbounded(&self, session: &Session) {
        // The upload's own control says "cancelled": abort with a fresh one.
        let quick = Control::new();
        let token = self.token.lock().await.clone();
        let mut options = self.options.clone();
        options.retry.max_attempts = options.retry.max_attempts.min(2);
        let job = Job {
            up: self.up,
            target: self.target,
            options: &options,
            control: &quick,
            token: futures_util::lock::Mutex::new(token),
        };
        match session {
            Session::Ufile { upload_id } => {
                let ufile = self.ufile();
                let build = |_: &str| Ok(HttpRequest { after_cancel: true, ..ufile.abort_request(upload_id) });
                let _ = job.call(build, |r| ufile.parse_abort(r)).await;
            }
            Session::Wantu(s) => {
                let wantu = self.wantu();
                let build = |token: &str| Ok(HttpRequest { after_cancel: true, ..wantu.cancel_request(token, s) });
                let _ = job.call(build, |r| wantu.parse_cancel(r)).await;
            }
            Session::Wcs { .. } => {} // uncommitted WCS blocks expire on their own.
        }
    }

    /// Send one part (not Wantu's first); return what `complete` needs from it. A part whose
    /// reply shows other bytes than sent is sent again, from the start, a few times.
    async fn send_part(&self, session: &Session, part: &PartData, reporter: &Reporter<'_>) -> Result<String> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let result = self.send_part_once(session, part, reporter).await;
            match result {
                Err(e) if e.kind() == ErrorKind::Integrity && attempt < self.options.retry.max_attempts => continue,
                other => return other,
            }
        }
    }

    async fn send_part_once(&self, session: &Session, part: &PartData, reporter: &Reporter<'_>) -> Result<String> {
        // Say which range of the source a body is, when it is a slice of the part's bytes.
        let located = |request: HttpRequest| part.locate(request);
        // Bytes sent by a request that starts `base` bytes into the part.
        let report = |base: u64| move |bytes: u64| reporter.update(|t| t.part_sent(part.index, base + bytes));
        match session {
            Session::Wcs { batch } => {
                let chunk = self.options.chunk_size.unwrap_or(part.bytes.len() as u64).max(1);
                let block = RefCell::new(self.wcs(batch.clone()).block_with_crcs(
                    part.index,
                    part.bytes.clone(),
                    chunk,
                    part.digests.chunks.clone(),
                ));
                loop {
                    if block.borrow().next_request("").is_none() {
                        break;
                    }
                    let confirmed = block.borrow().confirmed();
                    self.call_reporting(
                        |token| {
                            block
                                .borrow()
                                .next_request(token)
                                .map(located)
                                .ok_or_else(|| Error::new(ErrorKind::Server, "block already complete"))
                        },
                        |r| block.borrow_mut().on_response(r),
                        &report(confirmed),
                    )
                    .await?;
                }
                let ctx = block.borrow().ctx().map(str::to_owned);
                ctx.ok_or_else(|| Error::new(ErrorKind::Server, "WCS block finished without a ctx"))
            }
            Session::Ufile { upload_id } => {
                let ufile = self.ufile();
                let etag = self
                    .call_reporting(
                        |_| {
                            Ok(located(ufile.part_request(
                                upload_id,
                                part.index,
                                part.bytes.clone(),
                                &part.digests.md5,
                            )))
                        },
                        |r| ufile.parse_part(r),
                        &report(0),
                    )
                    .await?;
                let sha1 = part.digests.sha1.unwrap_or_else(|| Sha1::digest(&part.bytes).0);
                let local = crate::encoding::urlsafe_b64(sha1);
                if etag != local {
                    return Err(integrity(&format!("UFile part {}", part.index), &etag, &local));
                }
                Ok(etag)
            }
            Session::Wantu(s) => {
                let wantu = self.wantu();
                let etag = self
                    .call_reporting(
                        |token| Ok(located(wantu.part_request(token, s, part.index, &part.bytes, &part.digests.md5))),
                        |r| wantu.parse_part(r),
                        &report(0),
                    )
                    .await?;
                if !etag.eq_ignore_ascii_case(&part.digests.md5) {
                    return Err(integrity(&format!("Wantu part {}", part.index + 1), &etag, &part.digests.md5));
                }
                Ok(etag)
            }
        }
    }

    /// Commit the upload: `(object etag, reply text)`. A commit whose reply was lost may have
    /// been carried out, so its retry (ours, or the browser's) can find the session already
    /// closed; then the object is looked at where the service lets this side do so (UFile, with
    /// a signed `HEAD`; the reply text is then empty), and otherwise the error says the object
    /// may exist (code [`COMMIT_UNCONFIRMED`]).
    async fn complete(
        &self,
        session: &Session,
        total: u64,
        results: &[String],
        local: &str,
        resumed: bool,
    ) -> Result<(String, String)> {
        let lost = Unanswered::default();
        let committed = match session {
            Session::Wcs { batch } => {
                let wcs = self.wcs(batch.clone());
                let build = |token: &str| lost.sent(Ok(wcs.mkfile_request(token, total, results)));
                self.call(build, |r| lost.answered(r, wcs.parse_mkfile(r))).await
            }
            Session::Ufile { upload_id } => {
                let ufile = self.ufile();
                let build = |_: &str| lost.sent(Ok(ufile.finish_request(upload_id, results)));
                self.call(build, |r| lost.answered(r, ufile.parse_finish(r))).await
            }
            Session::Wantu(s) => {
                let wantu = self.wantu();
                let md5 = local.to_ascii_lowercase();
                let build = |token: &str| lost.sent(wantu.complete_request(token, s, results, &md5));
                self.call(build, |r| lost.answered(r, wantu.parse_complete(r))).await.map(|(etag, response)| {
                    // Wantu's whole-object eTag format is not documented; the service checked
                    // the `md5` we sent. An MD5-shaped eTag must still be ours.
                    let looks_like_md5 = etag.len() == 32 && etag.bytes().all(|b| b.is_ascii_hexdigit());
                    (if looks_like_md5 { etag } else { local.to_owned() }, response)
                })
            }
        };
        match committed {
            // A browser may resend a POST whose reply was cut off without telling the page, so
            // a session found closed at the commit of an upload started in this run (not one
            // resumed, whose session may have expired meanwhile) also means a lost reply.
            Err(err) if (lost.any() || !resumed) && session_gone(&err) => {
                self.after_lost_reply(err, session, total, local).await
            }
            other => other,
        }
    }

    /// The commit's retry found the session closed after an attempt whose reply never came.
    async fn after_lost_reply(
        &self,
        err: Error,
        session: &Session,
        total: u64,
        local: &str,
    ) -> Result<(String, String)> {
        if let Session::Ufile { .. } = session {
            let ufile = self.ufile();
            // A refused signature or a missing object leaves the question open: say so below.
            if let Ok(etag) = self.call(|_| Ok(ufile.head_request()), |r| ufile.parse_head(r)).await
                && etag_matches(ServiceKind::Ufile, &etag, local, total)
            {
                return Ok((etag, String::new()));
            }
        }
        Err(unconfirmed(&self.target.key, "commit", "the upload already closed", &err))
    }
}

/// The error for a request (`what`: the upload, the commit) whose reply was lost and whose
/// retry then `found` what a stored object leaves (`err`): code [`COMMIT_UNCONFIRMED`].
fn unconfirmed(key: &str, what: &str, found: &str, err: &Error) -> Error {
    Error::new(
        ErrorKind::Network,
        format!(
            "{key:?} may have been stored after all: the reply to the {what} was lost, and the {what} sent again found {found} ({}); check the object before uploading it again",
            err.message()
        ),
    )
    .with_code(COMMIT_UNCONFIRMED)
}

/// Counts the attempts of one call that got no clear answer: no reply (a network error, a body
/// cut off on the way), or a success status whose body cannot be read (a browser may hand over
/// a cut-off body as it is). The service may have carried those out.
#[derive(Default)]
struct Unanswered {
    sent: std::cell::Cell<u32>,
    answered: std::cell::Cell<u32>,
}

impl Unanswered {
    fn sent<T>(&self, request: T) -> T {
        self.sent.set(self.sent.get() + 1);
        request
    }

    fn answered<T>(&self, response: &HttpResponse, reply: Result<T>) -> Result<T> {
        if reply.is_ok() || !response.is_success() {
            self.answered.set(self.answered.get() + 1);
        }
        reply
    }

    fn any(&self) -> bool {
        self.sent.get() > self.answered.get()
    }
}

/// Does the error say the key is taken and the token may not replace what is there (WCS 406,
/// Wantu 409 with `insertOnly`)?
fn key_taken(err: &Error) -> bool {
    matches!(err.code(), Some("406" | "FileAlreadyExists"))
}

/// Does the error say the multipart session (WCS blocks, a UFile or Wantu upload id) is gone?
fn session_gone(err: &Error) -> bool {
    matches!(err.code(), Some("701" | "412" | "NoSuchUpload"))
        || (err.status() == Some(404) && err.code() != Some(super::TOKEN_BACKEND))
}

fn source_fingerprint<S: Source>(source: &S) -> Option<String> {
    source.fingerprint().filter(|f| !f.is_empty())
}

/// Read exactly `len` bytes at `offset` unless the source ends first (a source may return
/// fewer bytes per call).
async fn read_full<S: Source>(source: &mut S, offset: u64, len: u64) -> Result<Bytes> {
    let first = source.read(offset, len).await?;
    if first.len() as u64 >= len || first.is_empty() {
        return Ok(first);
    }
    let mut buf = BytesMut::from(&first[..]);
    while (buf.len() as u64) < len {
        let more = source.read(offset + buf.len() as u64, len - buf.len() as u64).await?;
        if more.is_empty() {
            break;
        }
        buf.extend_from_slice(&more);
    }
    Ok(buf.freeze())
}

/// The next part: first from bytes already read ahead (a stream's probe), then the source.
async fn next_part<S: Source>(source: &mut S, pending: &mut BytesMut, offset: u64, len: u64) -> Result<Bytes> {
    if pending.is_empty() {
        return read_full(source, offset, len).await;
    }
    let from_pending = usize::try_from(len).map_or(pending.len(), |len| len.min(pending.len()));
    let head = pending.split_to(from_pending);
    if head.len() as u64 == len {
        return Ok(head.freeze());
    }
    let rest = read_full(source, offset + head.len() as u64, len - head.len() as u64).await?;
    let mut buf = head;
    buf.extend_from_slice(&rest);
    Ok(buf.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn setup_error(service: ServiceKind, endpoint: &str, bucket: &str, options: &UploadOptions) -> String {
        check_setup(service, endpoint, bucket, options).expect_err(endpoint).message().to_owned()
    }

    #[test]
    fn a_setup_that_could_only_fail_later_is_refused_at_once() {
        let ok = UploadOptions::default();
        for endpoint in ["https://up.example.com", "HTTP://127.0.0.1:9101/", "http://h/public"] {
            check_setup(ServiceKind::Ufile, endpoint, "public", &ok).unwrap_or_else(|e| panic!("{endpoint}: {e}"));
        }
        for (endpoint, problem) in [
            ("", "is empty"),
            ("not a url", "not an http"),
            ("ftp://h", "not an http"),
            ("https://", "no host"),
            ("http:///path", "no host"),
            ("http://h st", "spaces"),
        ] {
            assert!(setup_error(ServiceKind::Wcs, endpoint, "b", &ok).contains(problem), "{endpoint}");
        }
        assert!(setup_error(ServiceKind::Ufile, "http://h/other", "public", &ok).contains("for bucket \"other\""));
        assert!(setup_error(ServiceKind::Wantu, "http://h", "", &ok).contains("namespace is empty"));
        assert!(setup_error(ServiceKind::Wcs, "http://h", "", &ok).contains("bucket is empty"));
        let zero_concurrency = UploadOptions { concurrency: 0, ..Default::default() };
        assert!(setup_error(ServiceKind::Wcs, "http://h", "b", &zero_concurrency).contains("concurrency"));
        let mut no_attempts = UploadOptions::default();
        no_attempts.retry.max_attempts = 0;
        assert!(setup_error(ServiceKind::Wcs, "http://h", "b", &no_attempts).contains("attempts"));
        let odd_block = UploadOptions { part_size: Some(5 << 20), ..Default::default() };
        assert!(setup_error(ServiceKind::Wcs, "http://h", "b", &odd_block).contains("multiple of 4 MiB"));
    }

    #[test]
    fn a_mime_type_that_cannot_be_a_header_is_refused() {
        let target = |mime: &str| Target {
            service: ServiceKind::Ufile,
            endpoint: "http://h/b".into(),
            bucket: "b".into(),
            key: "k".into(),
            mime: mime.into(),
        };
        for ok in ["", "image/png", "text/plain; charset=utf-8"] {
            validate(&target(ok), &UploadOptions::default()).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        for bad in ["text/plain\r\nX-Evil: 1", "image/\u{e9}", "a\tb"] {
            let e = validate(&target(bad), &UploadOptions::default()).unwrap_err();
            assert!(e.message().contains("MIME type"), "{bad}: {e}");
        }
    }
}
