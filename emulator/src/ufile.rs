//! The emulated UFile (US3) object API (protocols/ufile.md §1–§6, §8, §10–§12).
//!
//! One fallback handler serves every path: the bucket comes from the leftmost Host label when it
//! names a UFile bucket (virtual-host style, as the official SDKs address it, also for
//! absolute-form request targets sent through `http_proxy`), from a `Bucket:` header on the UVideo
//! proxy paths (`/(init/|finish/)?uvideoUploads/<key>`, §11), or else from the first path segment
//! (path style, `/bucket/key`). The operation is chosen from the method and the query flags.
//!
//! * `objects.rs`: PUT, form POST, upload-hit, GET/HEAD, DELETE;
//! * `multipart.rs`: initiate, parts (and part copy), finish, abort, list parts, list uploads;
//! * `listing.rs`: the prefix list (`?list`) and ListObjects (`?listobjects`);
//! * `auth.rs`: header, form-field and query-string signatures;
//! * `callback.rs`: the put-policy callback (a small HTTP/1.1 client);
//! * `api.rs`: the UCloud API's bucket actions (§7), for `/?Action=...` when the Host names no
//!   bucket.
//!
//! Every reply carries `X-SessionId`; every error is `{ "RetCode": n, "ErrMsg": "..." }` with
//! `Content-Type: application/json` exactly (the Python SDK reads nothing else).

mod api;
mod auth;
mod callback;
mod listing;
mod multipart;
mod objects;

use std::net::IpAddr;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;

use crate::http::{AppState, ServiceCode, percent_decode};
use crate::store::{Service, StoreError};

/// The block size every UFile multipart upload uses (§5.1): the JS SDK slices at exactly this.
pub const BLK_SIZE: u64 = 4 * 1024 * 1024;

/// RetCodes. Only the first two are documented or observed (§8); the others are the emulator's
/// own choice (the real values are UNVERIFIED), kept apart from each other so that logs and
/// clients can tell the cases apart.
pub mod retcode {
    /// Observed: HTTP 403, "invalid signature".
    pub const INVALID_SIGNATURE: i64 = -148658;
    /// Documented: HTTP 404, "bucket not exist".
    pub const BUCKET_NOT_EXIST: i64 = -30010;
    /// A malformed or unsupported request (400).
    pub const BAD_REQUEST: i64 = -148600;
    /// The object does not exist (404; upload-hit miss).
    pub const NO_SUCH_KEY: i64 = -148601;
    /// The upload id is unknown, finished or aborted (404).
    pub const NO_SUCH_UPLOAD: i64 = -148602;
    /// Content-MD5 does not match the body (400).
    pub const BAD_DIGEST: i64 = -148603;
    /// The finish body does not match the uploaded parts (400).
    pub const BAD_PART_LIST: i64 = -148604;
    /// A body over the size limit (400).
    pub const TOO_LARGE: i64 = -148605;
    /// Range outside the object (416).
    pub const BAD_RANGE: i64 = -148606;
    /// The put-policy callback failed; the object is stored (502).
    pub const CALLBACK_FAILED: i64 = -148607;
    /// Storage trouble (500).
    pub const INTERNAL: i64 = -148699;
}

pub fn router(state: AppState) -> Router {
    Router::new().fallback(handle).with_state(state)
}

/// An error reply in UFile's shape.
#[derive(Debug)]
pub struct UfileError {
    pub status: StatusCode,
    pub code: i64,
    pub message: String,
    /// A precise reason when `message` must stay the service's fixed text (signature failures,
    /// missing buckets): sent as `X-Yunup-Detail`.
    pub detail: Option<String>,
}

pub type UfileResult<T> = Result<T, UfileError>;

impl UfileError {
    pub fn new(status: StatusCode, code: i64, message: impl Into<String>) -> Self {
        UfileError { status, code, message: message.into(), detail: None }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, retcode::BAD_REQUEST, message)
    }

    /// 403 with the exact body the real service sends; `detail` says why.
    pub fn invalid_signature(detail: impl Into<String>) -> Self {
        UfileError {
            status: StatusCode::FORBIDDEN,
            code: retcode::INVALID_SIGNATURE,
            message: "invalid signature".into(),
            detail: Some(detail.into()),
        }
    }

    pub fn no_such_key() -> Self {
        Self::new(StatusCode::NOT_FOUND, retcode::NO_SUCH_KEY, "file not exist")
    }

    pub fn no_such_upload(id: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            retcode::NO_SUCH_UPLOAD,
            format!("upload id {id:?} does not exist for this bucket and key (never started, finished or aborted)"),
        )
    }

    fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }
}

impl From<StoreError> for UfileError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound("the upload") => {
                UfileError::new(StatusCode::NOT_FOUND, retcode::NO_SUCH_UPLOAD, "the upload no longer exists")
            }
            StoreError::NotFound(what) => {
                UfileError::new(StatusCode::NOT_FOUND, retcode::NO_SUCH_KEY, format!("{what} does not exist"))
            }
            StoreError::Body(m) if m.contains("larger than allowed") => {
                UfileError::new(StatusCode::BAD_REQUEST, retcode::TOO_LARGE, m)
            }
            StoreError::Body(m) => UfileError::bad_request(format!("could not read the request body: {m}")),
            StoreError::Exists => UfileError::new(StatusCode::CONFLICT, retcode::BAD_REQUEST, "the object exists"),
            StoreError::Internal(m) => {
                UfileError::new(StatusCode::INTERNAL_SERVER_ERROR, retcode::INTERNAL, format!("storage error: {m}"))
            }
        }
    }
}

/// `{ "RetCode": n, "ErrMsg": "..." }`, spaced as the real service writes it (the observed
/// invalid-signature body is exactly 53 bytes).
pub fn error_body(code: i64, message: &str) -> String {
    let message = serde_json::to_string(message).unwrap_or_else(|_| "\"\"".into());
    format!("{{ \"RetCode\": {code}, \"ErrMsg\": {message} }}")
}

impl IntoResponse for UfileError {
    fn into_response(self) -> Response {
        let mut response = (self.status, error_body(self.code, &self.message)).into_response();
        let h = response.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if let Some(detail) = &self.detail
            && let Ok(v) = HeaderValue::from_str(&header_safe(detail))
        {
            h.insert("x-yunup-detail", v);
        }
        response.extensions_mut().insert(ServiceCode(self.code.to_string()));
        response
    }
}

/// Printable ASCII only (header values), other characters as `?`.
fn header_safe(text: &str) -> String {
    text.chars().map(|c| if (' '..='~').contains(&c) { c } else { '?' }).collect()
}

/// A JSON reply with `Content-Type: application/json` exactly.
pub fn json_response(status: StatusCode, value: &serde_json::Value) -> Response {
    let mut response = (status, value.to_string()).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// `"<etag>"`: UFile quotes ETags, and the JS SDK drops the first and last character blindly.
pub fn quoted(etag: &str) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{etag}\"")).unwrap_or_else(|_| HeaderValue::from_static("\"\""))
}

/// What a handler knows about the request, once the bucket and key are resolved.
pub struct Ctx {
    pub state: AppState,
    pub method: Method,
    pub headers: HeaderMap,
    pub bucket: String,
    pub private: bool,
    /// Percent-decoded (`%2F` included); empty for bucket-level requests.
    pub key: String,
    /// Decoded query pairs (§3.2: `+` kept in `Signature` and `UCloudPublicKey`).
    pub query: Vec<(String, String)>,
}

impl Ctx {
    pub fn q(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    pub fn has(&self, name: &str) -> bool {
        self.query.iter().any(|(k, _)| k == name)
    }

    /// A request header as text, "" when absent (the first one when repeated).
    pub fn header(&self, name: &str) -> &str {
        crate::http::header_text(&self.headers, name)
    }

    /// The request headers as text pairs (values that are not text are skipped).
    pub fn header_pairs(&self) -> Vec<(String, String)> {
        self.headers
            .iter()
            .filter_map(|(k, v)| v.to_str().ok().map(|v| (k.as_str().to_owned(), v.to_owned())))
            .collect()
    }

    /// Object operations need a key.
    pub fn require_key(&self) -> UfileResult<()> {
        if self.key.is_empty() {
            Err(UfileError::bad_request("the object key is empty: name the object in the path, e.g. PUT /<key>"))
        } else {
            Ok(())
        }
    }

    /// The declared `Content-Length`, when there is a valid one.
    pub fn content_length(&self) -> Option<u64> {
        self.header("content-length").trim().parse().ok()
    }
}

/// Query pairs: `+` is a space (form encoding, as Go's `url.Values` and Python's `urlencode`
/// write it), except in the two signature parameters, where it is a literal `+` (Python and
/// PHP append raw signatures, §3.2).
fn parse_query(raw: &str) -> Vec<(String, String)> {
    raw.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let k = percent_decode(&k.replace('+', " "));
            let v = if k == "Signature" || k == "UCloudPublicKey" {
                percent_decode(v)
            } else {
                percent_decode(&v.replace('+', " "))
            };
            (k, v)
        })
        .collect()
}

/// UVideo proxy paths (§11): which one, and the raw key after it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Uvideo {
    Init,
    Part,
    Finish,
}

fn uvideo_path(path: &str) -> Option<(Uvideo, &str)> {
    if let Some(rest) = path.strip_prefix("/init/uvideoUploads/") {
        Some((Uvideo::Init, rest))
    } else if let Some(rest) = path.strip_prefix("/finish/uvideoUploads/") {
        Some((Uvideo::Finish, rest))
    } else {
        path.strip_prefix("/uvideoUploads/").map(|rest| (Uvideo::Part, rest))
    }
}

/// The host the request was sent to: the authority of an absolute-form target (what a client
/// sends through a proxy), else the Host header. Without the port.
fn request_host(parts: &axum::http::request::Parts) -> String {
    let raw = parts
        .uri
        .authority()
        .map(|a| a.as_str().to_owned())
        .unwrap_or_else(|| crate::http::header_text(&parts.headers, "host").to_owned());
    let raw = raw.rsplit_once('@').map_or(raw.as_str(), |(_, h)| h).trim().to_ascii_lowercase();
    if raw.starts_with('[') {
        return raw.split(']').next().unwrap_or("").trim_start_matches('[').to_owned();
    }
    match raw.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host.to_owned(),
        _ => raw,
    }
}

/// The leftmost label of a DNS host name with at least two labels (IP addresses have none).
fn vhost_label(host: &str) -> Option<&str> {
    if host.parse::<IpAddr>().is_ok() {
        return None;
    }
    let (label, rest) = host.split_once('.')?;
    (!label.is_empty() && !rest.is_empty()).then_some(label)
}

/// Where the request goes: bucket (with its privacy), key, and the UVideo path kind.
fn resolve(
    state: &AppState,
    parts: &axum::http::request::Parts,
) -> UfileResult<(String, bool, String, Option<Uvideo>)> {
    let path = parts.uri.path();
    let bucket_of = |name: &str| state.store.bucket(Service::Ufile, name).map_err(UfileError::from);

    let header_bucket = crate::http::header_text(&parts.headers, "bucket").trim();
    if !header_bucket.is_empty()
        && let Some((kind, raw_key)) = uvideo_path(path)
    {
        return match bucket_of(header_bucket)? {
            Some(private) => Ok((header_bucket.to_owned(), private, percent_decode(raw_key), Some(kind))),
            None => Err(bucket_not_exist(format!("the Bucket header names {header_bucket:?}, which does not exist"))),
        };
    }

    let host = request_host(parts);
    let label = vhost_label(&host);
    if let Some(label) = label
        && let Some(private) = bucket_of(label)?
    {
        let key = percent_decode(path.strip_prefix('/').unwrap_or(path));
        return Ok((label.to_owned(), private, key, None));
    }

    let rest = path.strip_prefix('/').unwrap_or(path);
    let (raw_bucket, raw_key) = rest.split_once('/').unwrap_or((rest, ""));
    let bucket = percent_decode(raw_bucket);
    if !bucket.is_empty()
        && let Some(private) = bucket_of(&bucket)?
    {
        return Ok((bucket, private, percent_decode(raw_key), None));
    }
    let host_part = match label {
        Some(label) => format!("the Host label {label:?}"),
        None => format!("the Host {host:?}"),
    };
    Err(bucket_not_exist(format!(
        "neither {host_part} nor the first path segment {bucket:?} names a UFile bucket (virtual-host style: \
         http://<bucket>.<suffix>/<key>; path style: /<bucket>/<key>)"
    )))
}

/// The Host's leftmost label names a UFile bucket (so `/` is that bucket, not the API).
fn host_names_bucket(state: &AppState, parts: &axum::http::request::Parts) -> UfileResult<bool> {
    let host = request_host(parts);
    match vhost_label(&host) {
        Some(label) => Ok(state.store.bucket(Service::Ufile, label)?.is_some()),
        None => Ok(false),
    }
}

fn bucket_not_exist(detail: String) -> UfileError {
    UfileError::new(StatusCode::NOT_FOUND, retcode::BUCKET_NOT_EXIST, "bucket not exist").with_detail(detail)
}

async fn handle(State(state): State<AppState>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let headers = parts.headers.clone();
    let mut body = Some(body);
    let result = dispatch(state, parts, &mut body).await;
    // A reply sent while the client is still writing its body reaches it as a broken pipe, not as
    // the reply (a refused 4 MiB part, a bad signature on a big PUT): read what is left first, as
    // nginx in front of UFile does.
    if let Some(body) = body.take() {
        crate::http::drain_unread(&headers, body).await;
    }
    let mut response = match result {
        Ok(r) => r,
        Err(e) => e.into_response(),
    };
    stamp(&mut response);
    if response.extensions().get::<ServiceCode>().is_none() {
        response.extensions_mut().insert(ServiceCode("0".into()));
    }
    response
}

/// Every reply carries an `X-SessionId`.
fn stamp(response: &mut Response) {
    let session = crate::store::new_id();
    let session =
        format!("{}-{}-{}-{}-{}", &session[..8], &session[8..12], &session[12..16], &session[16..20], &session[20..32]);
    if let Ok(v) = HeaderValue::from_str(&session) {
        response.headers_mut().insert("x-sessionid", v);
    }
}

/// An injected error (the fault switch), as UFile answers errors.
pub(crate) fn fault_reply(status: StatusCode, message: &str) -> Response {
    let mut response = UfileError::new(status, -1, message).into_response();
    stamp(&mut response);
    response
}

async fn dispatch(
    state: AppState,
    parts: axum::http::request::Parts,
    body: &mut Option<Body>,
) -> UfileResult<Response> {
    let query = parts.uri.query().unwrap_or("");
    let content_type = crate::http::header_text(&parts.headers, "content-type");
    if api::is_api_request(&parts.method, parts.uri.path(), query, content_type) && !host_names_bucket(&state, &parts)?
    {
        return Ok(api::handle(&state, &parts.method, query, body).await);
    }
    let (bucket, private, key, uvideo) = resolve(&state, &parts)?;
    let query = parse_query(parts.uri.query().unwrap_or(""));
    let ctx = Ctx { state, method: parts.method.clone(), headers: parts.headers, bucket, private, key, query };
    let m = &ctx.method;

    match uvideo {
        Some(Uvideo::Init) if *m == Method::POST => return multipart::initiate(&ctx).await,
        Some(Uvideo::Finish) if *m == Method::POST => return multipart::finish(&ctx, body).await,
        Some(Uvideo::Init | Uvideo::Finish) => {
            return Err(UfileError::bad_request("UVideo init and finish paths take POST"));
        }
        _ => {}
    }

    if *m == Method::GET || *m == Method::HEAD {
        if ctx.key.is_empty() {
            if ctx.has("list") {
                return listing::prefix_list(&ctx).await;
            }
            if ctx.has("listobjects") {
                return listing::list_objects(&ctx).await;
            }
            if ctx.has("muploadpart") {
                return multipart::list_parts(&ctx).await;
            }
            if ctx.has("muploadid") {
                return multipart::list_uploads(&ctx).await;
            }
        }
        return objects::get(&ctx).await;
    }
    if *m == Method::PUT {
        if ctx.has("uploadId") {
            return multipart::upload_part(&ctx, body).await;
        }
        for unsupported in ["restore", "storageClass", "newFileName", "tagging", "acl", "append"] {
            if ctx.has(unsupported) {
                return Err(not_emulated(&format!("PUT ?{unsupported}")));
            }
        }
        if !ctx.header("x-ufile-copy-source").is_empty() {
            return Err(not_emulated("Copy (PUT with X-Ufile-Copy-Source)"));
        }
        return objects::put(&ctx, body).await;
    }
    if *m == Method::POST {
        if ctx.has("uploads") {
            return multipart::initiate(&ctx).await;
        }
        if ctx.has("uploadId") {
            return multipart::finish(&ctx, body).await;
        }
        if ctx.key == "uploadhit" && ctx.has("Hash") {
            return objects::upload_hit(&ctx).await;
        }
        if crate::multipart::boundary(ctx.header("content-type")).is_some() {
            return objects::post_form(&ctx, body).await;
        }
        if ctx.has("opmeta") {
            return Err(not_emulated("POST ?opmeta"));
        }
        return Err(UfileError::bad_request(
            "unsupported POST: expected ?uploads, ?uploadId=, /uploadhit?Hash=, or a multipart/form-data upload",
        ));
    }
    if *m == Method::DELETE {
        if ctx.has("uploadId") {
            return multipart::abort(&ctx).await;
        }
        if ctx.has("tagging") {
            return Err(not_emulated("DELETE ?tagging"));
        }
        return objects::delete(&ctx).await;
    }
    if *m == Method::OPTIONS {
        return Ok(StatusCode::OK.into_response());
    }
    Err(UfileError::new(StatusCode::METHOD_NOT_ALLOWED, retcode::BAD_REQUEST, format!("method {m} is not supported")))
}

fn not_emulated(what: &str) -> UfileError {
    UfileError::new(
        StatusCode::NOT_IMPLEMENTED,
        retcode::BAD_REQUEST,
        format!("{what} is a real UFile operation that yunup-emulator does not emulate"),
    )
}

/// The request body, for a handler that consumes it (once every check that does not need it
/// has passed: a body left in the slot is drained before the reply).
pub fn take_body(slot: &mut Option<Body>) -> Body {
    slot.take().unwrap_or_else(Body::empty)
}

/// Read a small body (finish lists, callback answers) with a cap.
pub async fn read_small(body: Body, limit: usize) -> UfileResult<Vec<u8>> {
    let mut stream = body.into_data_stream();
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| UfileError::bad_request(format!("could not read the request body: {e}")))?;
        if out.len() + chunk.len() > limit {
            return Err(UfileError::new(
                StatusCode::BAD_REQUEST,
                retcode::TOO_LARGE,
                format!("the request body is larger than {limit} bytes"),
            ));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// Removes a committed blob that no row references yet, unless [`BlobGuard::keep`] is called:
/// an upload refused after its bytes were stored (bad signature on a form, MD5 mismatch) leaves
/// nothing behind.
pub struct BlobGuard {
    path: Option<std::path::PathBuf>,
}

impl BlobGuard {
    pub fn new(store: &crate::store::Store, blob: &crate::store::Blob) -> Self {
        BlobGuard { path: Some(store.blob_path(&blob.id)) }
    }

    /// The blob is (about to be) referenced by a row: the store owns it from now on.
    pub fn keep(mut self) {
        self.path = None;
    }
}

impl Drop for BlobGuard {
    fn drop(&mut self) {
        if let Some(path) = self.path.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// A `Content-MD5` header must be the hex MD5 (§2.3).
pub fn check_md5_syntax(md5: &str) -> UfileResult<()> {
    if md5.is_empty() || (md5.len() == 32 && md5.bytes().all(|b| b.is_ascii_hexdigit())) {
        Ok(())
    } else {
        Err(UfileError::new(
            StatusCode::BAD_REQUEST,
            retcode::BAD_DIGEST,
            format!("Content-MD5 {md5:?} is not 32 hex characters: UFile wants the hex MD5 of the body, not base64"),
        ))
    }
}

/// Compare a sent hex Content-MD5 with the body's.
pub fn check_md5(sent: &str, actual_hex: &str) -> UfileResult<()> {
    if sent.is_empty() || sent.eq_ignore_ascii_case(actual_hex) {
        Ok(())
    } else {
        Err(UfileError::new(
            StatusCode::BAD_REQUEST,
            retcode::BAD_DIGEST,
            format!("Content-MD5 mismatch: the header says {sent}, the body's MD5 is {actual_hex}"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_body_is_the_observed_53_bytes() {
        let body = error_body(retcode::INVALID_SIGNATURE, "invalid signature");
        assert_eq!(body, r#"{ "RetCode": -148658, "ErrMsg": "invalid signature" }"#);
        assert_eq!(body.len(), 53);
    }

    #[test]
    fn query_keeps_plus_only_in_signatures() {
        let q = parse_query("Signature=a+b%2F&UCloudPublicKey=k+1&prefix=a+b%2Bc&uploads&newKey=");
        let get = |n: &str| q.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str());
        assert_eq!(get("Signature"), Some("a+b/"));
        assert_eq!(get("UCloudPublicKey"), Some("k+1"));
        assert_eq!(get("prefix"), Some("a b+c"));
        assert_eq!(get("uploads"), Some(""));
        assert_eq!(get("newKey"), Some(""));
    }

    #[test]
    fn vhost_labels() {
        assert_eq!(vhost_label("public.localhost"), Some("public"));
        assert_eq!(vhost_label("b.cn-bj.ufileos.com"), Some("b"));
        assert_eq!(vhost_label("127.0.0.1"), None);
        assert_eq!(vhost_label("localhost"), None);
        assert_eq!(vhost_label("::1"), None);
        assert_eq!(vhost_label(".x"), None);
    }

    #[test]
    fn uvideo_paths() {
        assert_eq!(uvideo_path("/init/uvideoUploads/a%2Fb"), Some((Uvideo::Init, "a%2Fb")));
        assert_eq!(uvideo_path("/finish/uvideoUploads/k"), Some((Uvideo::Finish, "k")));
        assert_eq!(uvideo_path("/uvideoUploads/k"), Some((Uvideo::Part, "k")));
        assert_eq!(uvideo_path("/k"), None);
    }
}
