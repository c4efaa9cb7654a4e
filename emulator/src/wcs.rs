//! The emulated Wangsu WCS (protocols/wcs.md): uploads, management, async jobs and downloads.
//!
//! | request | what |
//! |---|---|
//! | `POST /file/upload` | form upload (§3): any field order, key scope > `key` > `saveKey` > filename |
//! | `POST /append/<position>` | append upload (§3.3), `x-wcs-next-append-position` in the reply |
//! | `POST /mkblk/<blockSize>/<blockOrder>` | slice upload (§5): a block and its first chunk |
//! | `POST /bput/<ctx>/<offset>` | the next chunk of a block |
//! | `POST /mkfile/<fileSize>[/key/<b64>][/x:name/<b64>]...` | the object from the last ctx of each block |
//! | `GET /stat/<EncodedEntryURI>` | object metadata (§7), management token |
//! | `GET /bucket/list`, `GET /list?...`, `POST /delete/<entry>`, `POST /copy/<src>/<dst>`, `POST /move/<src>/<dst>`, `POST /setdeadline`, `GET /wslive/list?...` | management (§7, §10), see `manage.rs` |
//! | `POST /fmgr/<op>`, `POST /fops`; `GET /fmgr/status`, `GET /status/get/prefop` (no auth) | async jobs (§8, §9), see `jobs.rs` |
//! | `GET`/`HEAD /<bucket>/<key>` | download with `Range`; **emulator only**: the real service serves from a bucket-bound CDN domain. Public buckets need no auth; private buckets need a management token (`Authorization: AK:sig` over `/<bucket>/<key>[?query]\n`, as for `stat`) |
//!
//! The upload, management and download hosts of the real service are one port here; the
//! management paths win over a bucket with the same name (`GET /stat/...` is always `stat`).
//!
//! Every reply carries `X-Reqid`; every error is JSON `{"code": <status>, "message", "error"}`
//! with that HTTP status (§12). Upload tokens are verified on every call, including each
//! `bput` and `mkfile`; block state lives in the [`Store`](crate::store::Store), so a ctx survives
//! restarts.
//!
//! Choices where the protocol notes say UNVERIFIED: `fsizeLimit` exceeded is 401 (docs; Java says
//! 413); with a `returnUrl`, failures redirect to `?code=&message=`; a form `key` that differs from
//! a `bucket:key` scope is ignored (the scope wins); `mkfile` accepts blocks of any size as long
//! as each is complete and they add up to `<fileSize>` (the ETag is computed over the assembled
//! bytes); uncommitted blocks are kept until used (no monthly purge); `$(ip)` comes from
//! `X-Forwarded-For`/`X-Real-IP`, else `127.0.0.1`; `persistentOps` start an fops job (see
//! `jobs.rs`) whose id is `$(persistentId)`, for form and slice uploads alike.

mod callback;
mod form;
mod jobs;
mod manage;
mod objects;
mod slice;
mod template;
mod zip;

use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use yunup::sign::wcs::{PutPolicy, verify_upload_token};

use crate::http::{AppState, ServiceCode, header_text};
use crate::store::{Service, StoreError, new_id, now_ms};

pub fn router(state: AppState) -> Router {
    jobs::resume_all(&state);
    Router::new().fallback(dispatch).with_state(state)
}

/// An error reply: the HTTP status is also the body's `code`.
#[derive(Debug)]
pub(crate) struct WcsError {
    pub status: u16,
    pub message: String,
}

impl WcsError {
    pub fn new(status: u16, message: impl Into<String>) -> Self {
        WcsError { status, message: message.into() }
    }
}

impl From<StoreError> for WcsError {
    fn from(e: StoreError) -> Self {
        let status = match &e {
            StoreError::Exists => 406,
            StoreError::NotFound(_) => 404,
            StoreError::Body(_) => 400,
            StoreError::Internal(_) => 500,
        };
        let message = match e {
            StoreError::Exists => "file exists: the key is taken and the token does not allow overwrite".to_owned(),
            other => other.to_string(),
        };
        WcsError::new(status, message)
    }
}

impl IntoResponse for WcsError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "code": self.status, "message": self.message, "error": self.message });
        json_reply(self.status, body.to_string())
    }
}

pub(crate) type WcsResult<T> = Result<T, WcsError>;

/// A reply with a JSON body and `code` for the log.
pub(crate) fn json_reply(status: u16, body: String) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let length = body.len();
    let mut response = (status, body).into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    response
}

/// What a verified upload token allows.
#[derive(Debug)]
pub(crate) struct UploadAuth {
    pub access_key: String,
    pub policy: PutPolicy,
    pub bucket: String,
}

impl UploadAuth {
    /// The key fixed by a `bucket:key` scope.
    pub fn scope_key(&self) -> Option<&str> {
        self.policy.key().filter(|k| !k.is_empty())
    }

    pub fn overwrite(&self) -> bool {
        self.policy.overwrite == Some(1)
    }

    /// `fsizeLimit`: 0 or absent is no limit. Docs: exceeding it is a 401 (Java javadoc says
    /// 413; UNVERIFIED which — the emulator follows the docs).
    pub fn check_size(&self, size: u64) -> WcsResult<()> {
        match self.policy.fsize_limit {
            Some(limit) if limit > 0 && size > limit => Err(WcsError::new(
                401,
                format!("the file is {size} bytes, over the token's fsizeLimit of {limit} bytes"),
            )),
            _ => Ok(()),
        }
    }
}

/// Verify an upload token (form field or `Authorization`, with or without `UpToken `) and that
/// its scope bucket exists.
pub(crate) fn check_upload_token(state: &AppState, token: Option<&str>) -> WcsResult<UploadAuth> {
    let token = token.map(str::trim).filter(|t| !t.is_empty()).ok_or_else(|| {
        WcsError::new(401, "no upload token: send it as the form field `token` or the Authorization header")
    })?;
    let verified = verify_upload_token(token, &*state.credentials, now_ms())
        .map_err(|e| WcsError::new(401, format!("bad upload token: {}", e.message())))?;
    let bucket = verified.policy.bucket().to_owned();
    match state.store.bucket(Service::Wcs, &bucket)? {
        Some(_) => Ok(UploadAuth { access_key: verified.access_key, policy: verified.policy, bucket }),
        None => Err(WcsError::new(631, format!("bucket {bucket:?} does not exist"))),
    }
}

/// Object keys (wcs.md §7 key rules): not empty, at most 1000 bytes, not starting or ending
/// with `/`, no `/../` or `/./` in them. Checked for every key an upload, copy, move or job
/// writes to.
pub(crate) fn check_key(key: &str) -> WcsResult<()> {
    if key.is_empty() {
        return Err(WcsError::new(400, "no object key: set it in the token scope (bucket:key) or the request"));
    }
    if key.len() > 1000 {
        return Err(WcsError::new(400, format!("the key is {} bytes; at most 1000 are allowed", key.len())));
    }
    if key.starts_with('/') {
        return Err(WcsError::new(400, format!("the key {key:?} must not start with '/'")));
    }
    if key.ends_with('/') {
        return Err(WcsError::new(400, format!("the key {key:?} must not end with '/'")));
    }
    if let Some(part) = ["/../", "/./"].into_iter().find(|p| key.contains(p)) {
        return Err(WcsError::new(400, format!("the key {key:?} must not contain {part:?}")));
    }
    Ok(())
}

/// The client address for `$(ip)`: the server does not see the socket address (the listener
/// is served without connect info), so forwarding headers are used, else loopback.
pub(crate) fn client_ip(headers: &HeaderMap) -> String {
    let forwarded = header_text(headers, "x-forwarded-for").split(',').next().unwrap_or("").trim();
    let real = header_text(headers, "x-real-ip").trim();
    [forwarded, real].into_iter().find(|s| !s.is_empty()).unwrap_or("127.0.0.1").to_owned()
}

/// Per-request facts handlers need besides the request itself.
pub(crate) struct Call {
    pub started: Instant,
}

async fn dispatch(State(state): State<AppState>, req: Request) -> Response {
    let call = Call { started: Instant::now() };
    let mut response = match route(&state, req, &call).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    };
    stamp(&mut response);
    if response.extensions().get::<ServiceCode>().is_none() {
        let code = response.status().as_u16().to_string();
        response.extensions_mut().insert(ServiceCode(code));
    }
    response
}

/// Every reply carries an `X-Reqid`.
fn stamp(response: &mut Response) {
    let reqid = new_id();
    if let Ok(v) = HeaderValue::from_str(&reqid[..24]) {
        response.headers_mut().insert("x-reqid", v);
    }
}

/// An injected error (the fault switch), as WCS answers errors.
pub(crate) fn fault_reply(status: u16, message: &str) -> Response {
    let mut response = WcsError::new(status, message).into_response();
    stamp(&mut response);
    response
}

async fn route(state: &AppState, req: Request, call: &Call) -> WcsResult<Response> {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let post = method == Method::POST;
    let get = method == Method::GET || method == Method::HEAD;
    match segments.as_slice() {
        ["file", "upload"] if post => form::upload(state, req, None, call).await,
        ["append", position] if post => {
            let position = position
                .parse::<u64>()
                .map_err(|_| WcsError::new(400, format!("append position {position:?} is not a number")))?;
            form::upload(state, req, Some(position), call).await
        }
        ["mkblk", ..] if post => slice::mkblk(state, req, &segments[1..]).await,
        ["bput", ..] if post => slice::bput(state, req, &segments[1..]).await,
        ["mkfile", ..] if post => slice::mkfile(state, req, &segments[1..], call).await,
        ["stat", entry] if get => objects::stat(state, &req.into_parts().0, entry),
        ["bucket", "list"] if get => manage::bucket_list(state, &req.into_parts().0),
        ["list"] if get => manage::list(state, &req.into_parts().0),
        ["wslive", "list"] if get => manage::wslive_list(state, &req.into_parts().0),
        ["fmgr", "status"] if get => jobs::status(state, &req.into_parts().0, "fmgr"),
        ["status", "get", "prefop"] if get => jobs::status(state, &req.into_parts().0, "fops"),
        ["delete", entry] if post => {
            let (parts, body) = read_small(req).await?;
            manage::delete(state, &parts, &body, entry)
        }
        [op @ ("copy" | "move"), src, dst] if post => {
            let (parts, body) = read_small(req).await?;
            manage::copy_or_move(state, &parts, &body, src, dst, *op == "move").await
        }
        ["setdeadline"] if post => {
            let (parts, body) = read_small(req).await?;
            manage::set_deadline(state, &parts, &body).await
        }
        ["fmgr", op] if post && *op != "status" => {
            let (parts, body) = read_small(req).await?;
            jobs::submit_fmgr(state, &parts, &body, op).await
        }
        ["fops"] if post => {
            let (parts, body) = read_small(req).await?;
            jobs::submit_fops(state, &parts, &body).await
        }
        [bucket, _, ..] if get && !bucket.is_empty() => objects::download(state, &req.into_parts().0, &segments).await,
        ["file" | "append" | "mkblk" | "bput" | "mkfile" | "stat", ..]
        | ["list" | "delete" | "copy" | "move" | "setdeadline" | "fmgr" | "fops", ..]
        | ["bucket", "list"]
        | ["wslive", "list"]
        | ["status", "get", "prefop"] => Err(WcsError::new(405, format!("{method} {path} is not supported"))),
        _ => Err(WcsError::new(404, format!("no such endpoint: {method} {path}"))),
    }
}

/// The head and (small) body of a management request; 413 over [`manage::MAX_BODY`].
async fn read_small(req: Request) -> WcsResult<(axum::http::request::Parts, bytes::Bytes)> {
    let (parts, body) = req.into_parts();
    match axum::body::to_bytes(body, manage::MAX_BODY).await {
        Ok(bytes) => Ok((parts, bytes)),
        Err(_) => Err(WcsError::new(413, format!("management request bodies are at most {} bytes", manage::MAX_BODY))),
    }
}

/// Reply with a body and content type (success paths).
pub(crate) fn body_reply(status: StatusCode, content_type: &str, body: impl Into<Body>) -> Response {
    let mut response = Response::new(body.into());
    *response.status_mut() = status;
    if let Ok(v) = HeaderValue::from_str(content_type) {
        response.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    response
}

/// Deletes a committed blob that no row will point at (a refused upload), unless kept.
pub(crate) struct BlobGuard {
    store: crate::store::Store,
    blob: Option<String>,
}

impl BlobGuard {
    pub fn new(store: &crate::store::Store, blob: &str) -> Self {
        BlobGuard { store: store.clone(), blob: Some(blob.to_owned()) }
    }

    /// A row now points at the blob (or the store already removed it): leave it.
    pub fn keep(&mut self) {
        self.blob = None;
    }
}

impl Drop for BlobGuard {
    fn drop(&mut self) {
        if let Some(blob) = self.blob.take() {
            let _ = std::fs::remove_file(self.store.blob_path(&blob));
        }
    }
}

/// How a successful upload is answered when there is no callback.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ReplyStyle {
    /// Form and append uploads: `returnUrl` → 303, else URL-safe base64 of the query string.
    Form,
    /// `mkfile`: plain JSON.
    Slice,
}

/// The reply to a stored upload (§3.2, §5.5, §11): the relayed callback answer when the policy
/// has a `callbackUrl` (579 when the callback fails), else the style's own reply.
pub(crate) async fn upload_reply(
    state: &AppState,
    auth: &UploadAuth,
    vars: &template::Vars<'_>,
    style: ReplyStyle,
) -> WcsResult<Response> {
    let policy = &auth.policy;
    if let Some(url) = policy.callback_url.as_deref().filter(|u| !u.is_empty()) {
        let body = template::render(policy.callback_body.as_deref().unwrap_or(""), vars);
        let authorization = state
            .credentials
            .iter()
            .find(|c| c.access_key() == auth.access_key)
            .map(|c| yunup::sign::wcs::sign(c, format!("{url}\n{body}").as_bytes()))
            .unwrap_or_default();
        return match callback::post(url, &body, &authorization).await {
            Ok(answer) if (200..300).contains(&answer.status) => {
                // A callback that names no type is relayed as JSON, which is what WCS expects back.
                let content_type = answer.content_type.as_deref().unwrap_or("application/json");
                Ok(body_reply(StatusCode::OK, content_type, answer.body))
            }
            Ok(answer) => Err(WcsError::new(
                579,
                format!("the file was stored but the callback failed: {url} answered {}", answer.status),
            )),
            Err(e) => Err(WcsError::new(579, format!("the file was stored but the callback failed: {e}"))),
        };
    }
    match style {
        ReplyStyle::Form => {
            let encoded = yunup::encoding::urlsafe_b64(template::query_body(policy.return_body.as_deref(), vars));
            match policy.return_url.as_deref().filter(|u| !u.is_empty()) {
                Some(url) => Ok(redirect(url, &format!("upload_ret={encoded}"))),
                None => Ok(body_reply(StatusCode::OK, "text/plain; charset=utf-8", encoded)),
            }
        }
        ReplyStyle::Slice => Ok(json_reply(200, template::json_body(policy.return_body.as_deref(), vars))),
    }
}

/// 303 to `url` with `query` appended. The body is empty on purpose: the Python SDK reads
/// `Location` only from a 303 whose body is empty.
pub(crate) fn redirect(url: &str, query: &str) -> Response {
    let separator = if url.contains('?') { '&' } else { '?' };
    let location = format!("{url}{separator}{query}");
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::SEE_OTHER;
    if let Ok(v) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    response
}

/// Start the token's `persistentOps` (an fops job on the new object, §11); its id for
/// `$(persistentId)`, "" when there are none.
pub(crate) fn start_persistent_ops(
    state: &AppState,
    auth: &UploadAuth,
    object: &crate::store::Object,
    headers: &HeaderMap,
) -> String {
    let Some(ops) = auth.policy.persistent_ops.as_deref().filter(|o| !o.trim().is_empty()) else {
        return String::new();
    };
    let base_url = match header_text(headers, "host") {
        "" => "http://127.0.0.1".to_owned(),
        h => format!("http://{h}"),
    };
    let notify = auth.policy.persistent_notify_url.as_deref();
    jobs::submit_persistent_ops(state, &auth.access_key, object, ops, notify, &base_url).unwrap_or_default()
}

/// `$(url)`: URL-safe base64 of this emulator's download URL of the object.
pub(crate) fn access_url(headers: &HeaderMap, bucket: &str, key: &str) -> String {
    let host = match header_text(headers, "host") {
        "" => "127.0.0.1",
        h => h,
    };
    let url = format!(
        "http://{host}/{}/{}",
        yunup::encoding::percent_encode(bucket, false),
        yunup::encoding::percent_encode(key, true)
    );
    yunup::encoding::urlsafe_b64(url)
}
