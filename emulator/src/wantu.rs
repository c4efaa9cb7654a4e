//! The emulated Wantu (顽兔, Alibaba Baichuan media) upload service (wantu.md §1–§6, §9, §13).
//!
//! * `POST /api/proxy/upload` — simple upload; `blockInit`, `blockUpload`, `blockComplete`,
//!   `blockCancel` — multipart; each also with a `.json` suffix. The body is a multipart form,
//!   the file streamed straight into a blob; the token comes from the `Authorization` header, the
//!   `Authorization` query parameter or an `Authorization` form field (§3).
//! * `GET`/`HEAD /{namespace}/{dir}/{name}` — the bytes back (with `Range`), standing in for the
//!   `*.alimmdn.com` CDN.
//! * `/3.0/files…` and `/3.0/folders…` — the management API of the manage host (§7), signed with
//!   `ACL_TOP` manage tokens: see `manage.rs`.
//!
//! Every reply is JSON (`application/json;charset=UTF-8`) over HTTP/1.1 with reason phrase `OK`
//! on success, as the browser SDK insists (§10); errors are `{"code","message","requestId"}` with
//! the §9 catalogue's status and code.
//!
//! Decisions where the sources are silent (all [P] in wantu.md): storage key = dir without its
//! leading `/` + `/` + name; `url` points at this emulator's download route (the request's `Host`)
//! rather than the unreachable CDN; the whole-file `eTag` is the upper-case hex MD5; a file is at
//! most 100 MiB in a simple upload and a part at most 10 MiB; without a `sizeLimit`, images are
//! capped at the documented 10 MiB system default; `size` is checked against the bytes for simple
//! uploads only (what the JS SDK sends as `size` for parts is unclear); text fields after the file
//! part are kept, not dropped; sessions expire after 7 days.

mod manage;
mod mime;
mod vars;

use std::collections::BTreeMap;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header, request::Parts};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use tokio::io::AsyncReadExt;
use yunup::encoding::{decode_base64_lenient, percent_encode, urlsafe_b64};
use yunup::sign::wantu::{UploadPolicy, verify_upload_token};

use crate::http::{
    AppState, RangeRequest, ServiceCode, header_text, parse_pairs, parse_range, percent_decode, serve_object,
};
use crate::multipart::{self, FormError};
use crate::store::{Blob, DigestSet, ObjectAttrs, Service, Store, StoreError, Upload, new_id, now_ms};
use vars::Vars;

const SERVICE: Service = Service::Wantu;
const JSON_TYPE: &str = "application/json;charset=UTF-8";
/// Largest file of a simple upload.
const SIMPLE_MAX: u64 = 100 << 20;
/// Largest part (PHP 2.x `BLOCK_MAX_SIZE`, the Python SDK's per-part check).
const PART_MAX: u64 = 10 << 20;
/// Smallest part but the last (§6.5).
const PART_MIN: u64 = 102_400;
const MAX_PARTS: u64 = 10_000;
/// The system size limit for images when the policy has no `sizeLimit` (§2.1, documented).
const IMAGE_DEFAULT_LIMIT: u64 = 10_485_760;
const SESSION_TTL_MS: u64 = 7 * 24 * 3600 * 1000;
/// The upload callback (wantu.md §2.1 `callbackUrl`, §5): how long it may take, how much it may
/// answer.
const CALLBACK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);
const CALLBACK_MAX_REPLY: usize = 4 << 20;

pub fn router(state: AppState) -> Router {
    Router::new().fallback(dispatch).with_state(state)
}

// ---- errors and replies --------------------------------------------------------------------------

/// A §9 error: status, code and a message a developer can act on.
#[derive(Debug)]
struct WantuError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl WantuError {
    fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        WantuError { status, code, message: message.into() }
    }

    fn invalid(message: impl Into<String>) -> Self {
        Self::new(400, "InvalidArgument", message)
    }

    fn no_upload() -> Self {
        Self::new(
            404,
            "NoSuchUpload",
            "no such multipart upload: the id/uploadId pair is unknown, finished or cancelled",
        )
    }

    fn internal(e: impl std::fmt::Display) -> Self {
        Self::new(500, "InternalError", format!("internal error: {e}"))
    }

    fn into_response(self, request_id: &str) -> Response {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct ErrorBody<'a> {
            code: &'a str,
            message: &'a str,
            request_id: &'a str,
        }
        let body = serde_json::to_string(&ErrorBody { code: self.code, message: &self.message, request_id })
            .unwrap_or_else(|_| {
                format!("{{\"code\":\"{}\",\"message\":\"\",\"requestId\":\"{request_id}\"}}", self.code)
            });
        json_response(self.status, self.code, body)
    }
}

/// An injected error (the fault switch), as Wantu answers errors.
pub(crate) fn fault_reply(status: u16, message: &str) -> Response {
    WantuError::new(status, "InjectedFault", message).into_response(&crate::store::new_id())
}

impl From<StoreError> for WantuError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Exists => {
                Self::new(409, "FileAlreadyExists", "the file exists and the policy has insertOnly=1")
            }
            StoreError::Body(m) => Self::invalid(format!("could not read the request body: {m}")),
            other => Self::internal(other),
        }
    }
}

type Result<T> = std::result::Result<T, WantuError>;

fn json_response(status: StatusCode, code: &str, body: String) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON_TYPE));
    response.extensions_mut().insert(ServiceCode(code.to_owned()));
    response
}

fn ok_json(value: &impl Serialize) -> Result<Response> {
    let body = serde_json::to_string(value).map_err(WantuError::internal)?;
    Ok(json_response(StatusCode::OK, "OK", body))
}

/// The §5 success object; multipart complete adds `id` and `uploadId` (§6.3).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct FileReply {
    code: &'static str,
    request_id: String,
    name: String,
    dir: String,
    url: String,
    uri: String,
    is_image: bool,
    file_size: u64,
    file_modified: u64,
    e_tag: String,
    mime_type: String,
    file_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    upload_id: Option<String>,
}

/// blockInit / blockUpload (§6.1, §6.2).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PartReply<'a> {
    code: &'static str,
    request_id: &'a str,
    id: &'a str,
    upload_id: String,
    part_number: u64,
    e_tag: String,
    dir: &'a str,
    name: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CancelReply<'a> {
    code: &'static str,
    request_id: &'a str,
}

// ---- routing -------------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Upload,
    Init,
    Part,
    Complete,
    Cancel,
}

async fn dispatch(State(state): State<AppState>, req: Request) -> Response {
    let request_id = new_id().to_ascii_uppercase();
    let path = req.uri().path().to_owned();
    let result = if let Some(op) = path.strip_prefix("/api/proxy/") {
        api(&state, op, req, &request_id).await
    } else if path.starts_with("/3.0/") {
        manage::handle(&state, req, &request_id).await
    } else if req.method() == Method::GET || req.method() == Method::HEAD {
        download(&state, &path, req.headers(), req.method() == Method::HEAD).await
    } else {
        Err(WantuError::new(405, "MethodNotAllowed", format!("{} is not supported on {path}", req.method())))
    };
    result.unwrap_or_else(|e| e.into_response(&request_id))
}

/// What every upload operation gets: the verified policy, its namespace, the form, and the
/// request's `Host` (for `url`).
struct Call {
    policy: UploadPolicy,
    namespace: String,
    fields: Vec<(String, String)>,
    file: Option<FileIn>,
    host: String,
    request_id: String,
}

/// The file part, its blob deleted unless [`PendingBlob::keep`] is called.
struct FileIn {
    filename: Option<String>,
    content_type: Option<String>,
    blob: PendingBlob,
}

/// A committed blob that no row points at yet: discarded on drop unless kept.
struct PendingBlob {
    store: Store,
    blob: Blob,
    armed: bool,
}

impl PendingBlob {
    fn new(store: &Store, blob: Blob) -> Self {
        PendingBlob { store: store.clone(), blob, armed: true }
    }

    /// A row now points at the blob: it must stay.
    fn keep(mut self) {
        self.armed = false;
    }
}

impl Drop for PendingBlob {
    fn drop(&mut self) {
        if self.armed {
            self.store.discard_blob(&self.blob);
        }
    }
}

impl Call {
    fn field(&self, name: &str) -> Option<&str> {
        self.fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.trim()).filter(|v| !v.is_empty())
    }

    fn prefixed(&self, prefix: &str) -> Vec<(String, String)> {
        self.fields
            .iter()
            .filter_map(|(k, v)| k.strip_prefix(prefix).filter(|k| !k.is_empty()).map(|k| (k.to_owned(), v.clone())))
            .collect()
    }

    fn take_file(&mut self) -> Result<FileIn> {
        self.file.take().ok_or_else(|| {
            WantuError::invalid("content is empty: send the file as the last form part, named \"content\"")
        })
    }
}

async fn api(state: &AppState, op: &str, req: Request, request_id: &str) -> Result<Response> {
    let op = match op.strip_suffix(".json").unwrap_or(op) {
        "upload" => Op::Upload,
        "blockInit" => Op::Init,
        "blockUpload" => Op::Part,
        "blockComplete" => Op::Complete,
        "blockCancel" => Op::Cancel,
        other => {
            return Err(WantuError::new(404, "NotFound", format!("no such operation /api/proxy/{other}")));
        }
    };
    let (parts, body) = req.into_parts();
    let early_token = token_outside_body(&parts);
    if parts.method != Method::POST {
        // A GET with just the token is how some pages check a token (§3): answer its verdict.
        authorize(state, early_token.as_deref())?;
        return Err(WantuError::new(405, "MethodNotAllowed", "use POST with a multipart/form-data body"));
    }
    let early = match early_token.map(|token| authorize(state, Some(&token))) {
        Some(Err(refused)) => {
            // Refused before the body was read: take it anyway, so the client gets the 401.
            crate::http::drain_unread(&parts.headers, body).await;
            return Err(refused);
        }
        Some(Ok(auth)) => Some(auth),
        None => None,
    };
    let Some(boundary) = multipart::boundary(header_text(&parts.headers, "content-type")) else {
        crate::http::drain_unread(&parts.headers, body).await;
        if early.is_none() {
            authorize(state, None)?;
        }
        return Err(WantuError::invalid("the body must be multipart/form-data with a boundary"));
    };
    let limit = if op == Op::Upload { SIMPLE_MAX } else { PART_MAX };
    // A part's MD5 is taken once it is known to continue its upload (block_init, block_upload).
    let digests = if matches!(op, Op::Init | Op::Part) { DigestSet::Unhashed } else { DigestSet::Md5Only };
    // The file part is `content` (the SDKs) or `file` (some Alibaba web code), with or without a
    // filename: its bytes go to the blob as sent, never through a text field (§5).
    let form = multipart::read_form(
        &state.store,
        &boundary,
        body.into_data_stream(),
        Some(limit),
        digests,
        &["content", "file"],
    )
    .await
    .map_err(|e| form_error(e, limit))?;
    let file = form.file.map(|f| FileIn {
        filename: f.filename,
        content_type: f.content_type,
        blob: PendingBlob::new(&state.store, f.blob),
    });
    let fields = form.fields;
    let (policy, namespace) = match early {
        Some(auth) => auth,
        None => {
            let token = fields.iter().find(|(k, _)| k == "Authorization").map(|(_, v)| v.clone());
            authorize(state, token.as_deref())?
        }
    };
    let host = header_text(&parts.headers, "host");
    let host = if host.is_empty() || host.bytes().any(|b| b <= b' ' || b == b'/') { "127.0.0.1" } else { host };
    let call = Call { policy, namespace, fields, file, host: host.to_owned(), request_id: request_id.to_owned() };
    match op {
        Op::Upload => simple_upload(state, call).await,
        Op::Init => block_init(state, call).await,
        Op::Part => block_upload(state, call).await,
        Op::Complete => block_complete(state, call).await,
        Op::Cancel => block_cancel(state, call).await,
    }
}

fn form_error(e: FormError, limit: u64) -> WantuError {
    match e {
        FormError::Malformed(m) => WantuError::invalid(format!("malformed multipart form: {m}")),
        FormError::Store(StoreError::Body(m)) if m.contains("larger than allowed") => {
            WantuError::new(413, "FileSizeLimitExceeded", format!("the file is larger than {limit} bytes"))
        }
        FormError::Store(e) => e.into(),
    }
}

// ---- tokens --------------------------------------------------------------------------------------

/// The token from the `Authorization` header, else the `Authorization` query parameter (whose
/// space may arrive as `+` or `%20`).
fn token_outside_body(parts: &Parts) -> Option<String> {
    let header = header_text(&parts.headers, "authorization").trim();
    if !header.is_empty() {
        return Some(header.to_owned());
    }
    parse_pairs(parts.uri.query().unwrap_or(""))
        .into_iter()
        .find(|(k, v)| k == "Authorization" && !v.trim().is_empty())
        .map(|(_, v)| v)
}

/// Verify the upload token (§3) and that its namespace exists: `(policy, namespace)`.
fn authorize(state: &AppState, token: Option<&str>) -> Result<(UploadPolicy, String)> {
    let token = token.map(str::trim).filter(|t| !t.is_empty()).ok_or_else(|| {
        WantuError::new(
            401,
            "InvalidAuthorization",
            "no upload token: send \"UPLOAD_AK_TOP ...\" in the Authorization header, the Authorization query parameter or an Authorization form field",
        )
    })?;
    let verified = verify_upload_token(token, &*state.credentials, now_ms()).map_err(|e| {
        let message = e.message().to_owned();
        match e.code() {
            Some("token-expired") => WantuError::new(401, "TokenExpired", message),
            Some("unknown-access-key") => WantuError::new(401, "InvalidAccessKeyId", message),
            Some("bad-signature") => WantuError::new(401, "SignatureDoesNotMatch", message),
            _ if token_is_well_formed(token) => WantuError::new(400, "InvalidPolicy", message),
            _ => WantuError::new(401, "InvalidAuthorization", message),
        }
    })?;
    let policy = verified.policy;
    let namespace = [&policy.namespace, &policy.bucket]
        .into_iter()
        .flatten()
        .map(|s| s.trim())
        .find(|s| !s.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| WantuError::new(400, "InvalidPolicy", "the upload policy has no namespace"))?;
    match state.store.bucket(SERVICE, &namespace)? {
        Some(_) => Ok((policy, namespace)),
        None => Err(WantuError::new(404, "NoSuchNamespace", format!("namespace {namespace:?} does not exist"))),
    }
}

/// Scheme, base64 and `AK:policy:sign` shape are right. The verifier checks the signature before
/// it parses the policy, so a well-formed token it calls malformed has a bad policy.
fn token_is_well_formed(token: &str) -> bool {
    let Some(rest) = ["UPLOAD_AK_TOP", "UPLOAD_AK_CLOUD"]
        .iter()
        .find_map(|scheme| token.trim().strip_prefix(scheme).and_then(|r| r.strip_prefix([' ', '+'])))
    else {
        return false;
    };
    let Some(text) = decode_base64_lenient(rest).ok().and_then(|b| String::from_utf8(b).ok()) else {
        return false;
    };
    matches!((text.find(':'), text.rfind(':')), (Some(first), Some(last)) if first > 0 && last > first + 1)
}

// ---- shared upload steps -------------------------------------------------------------------------

fn check_md5(call: &Call, blob: &Blob, what: &str) -> Result<()> {
    match call.field("md5") {
        Some(md5) if !md5.eq_ignore_ascii_case(blob.digests.md5()) => Err(WantuError::new(
            400,
            "BadDigest",
            format!("the md5 field {md5:?} does not match the MD5 of the {what} ({})", blob.digests.md5()),
        )),
        _ => Ok(()),
    }
}

/// Set the MD5 of part `number`, which has arrived unhashed (with the upload's whole MD5 in one
/// pass where it can, [`Store::md5_of_new_part`]), and check it against the `md5` field.
async fn take_part_md5(state: &AppState, call: &Call, upload_id: &str, number: u64, blob: &mut Blob) -> Result<()> {
    blob.digests.md5_hex = Some(state.store.md5_of_new_part(upload_id, 1, number, blob).await?);
    check_md5(call, blob, "part")
}

/// The first bytes of a blob, for sniffing.
async fn read_head(store: &Store, blob: &Blob) -> Result<Vec<u8>> {
    let file = tokio::fs::File::open(store.blob_path(&blob.id)).await.map_err(WantuError::internal)?;
    let mut head = Vec::new();
    file.take(mime::HEAD_BYTES).read_to_end(&mut head).await.map_err(WantuError::internal)?;
    Ok(head)
}

/// `dir`: leading `/`, no empty, `.` or `..` segments, no trailing `/`; the root is `/`.
fn normalize_dir(raw: &str) -> Result<String> {
    let mut segments = Vec::new();
    for segment in raw.split('/').filter(|s| !s.is_empty()) {
        if segment == "." || segment == ".." || segment.chars().any(char::is_control) {
            return Err(WantuError::invalid(format!("dir {raw:?} is not a valid directory")));
        }
        segments.push(segment);
    }
    Ok(format!("/{}", segments.join("/")))
}

fn check_name(name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(WantuError::invalid("name is empty: send a name field or set name in the upload policy"));
    }
    if name.contains('/') || name == "." || name == ".." || name.chars().any(char::is_control) || name.len() > 1024 {
        return Err(WantuError::invalid(format!("name {name:?} is not a valid file name")));
    }
    Ok(())
}

/// The final dir and name: the policy's (magic variables rendered) win over the form's (§2.1).
fn target(call: &Call, vars: &Vars) -> Result<(String, String)> {
    let form_dir = call.field("dir").unwrap_or("");
    let form_name = call.field("name").unwrap_or("");
    let mut vars = vars.clone();
    vars.text("dir", normalize_dir(form_dir)?);
    vars.text("name", form_name);
    let dir = match call.policy.dir.as_deref().filter(|d| !d.trim().is_empty()) {
        Some(template) => normalize_dir(&vars.render_raw(template))?,
        None => normalize_dir(form_dir)?,
    };
    vars.text("dir", dir.clone());
    let name = match call.policy.name.as_deref().filter(|n| !n.trim().is_empty()) {
        Some(template) => vars.render_raw(template),
        None => form_name.to_owned(),
    };
    check_name(&name)?;
    Ok((dir, name))
}

fn object_key(dir: &str, name: &str) -> String {
    match dir.strip_prefix('/').unwrap_or(dir) {
        "" => name.to_owned(),
        d => format!("{d}/{name}"),
    }
}

fn uri_of(dir: &str, name: &str) -> String {
    if dir == "/" { format!("/{name}") } else { format!("{dir}/{name}") }
}

/// A UUID-shaped (version 4 layout) random id.
fn uuid() -> String {
    let hex = format!("{}{}", new_id(), new_id());
    format!("{}-{}-4{}-a{}-{}", &hex[..8], &hex[8..12], &hex[13..16], &hex[17..20], &hex[20..32])
}

/// The variables known before the target is decided.
fn base_vars(call: &Call, custom: Vec<(String, String)>, mime: &str, head: &[u8], file_name: &str) -> Vars {
    let mut vars = Vars::new(custom);
    vars.set_time(now_ms());
    vars.text("namespace", call.namespace.clone());
    vars.text("mimeType", mime);
    vars.text("mediaType", mime.split('/').next().unwrap_or(""));
    vars.text("ext", mime::extension(mime, file_name));
    vars.text("uuid", uuid());
    if mime.starts_with("image/")
        && let Some((w, h)) = mime::dimensions(head)
    {
        vars.number("width", u64::from(w));
        vars.number("height", u64::from(h));
    }
    vars
}

/// `sizeLimit` (else the image default) and `mimeLimit`.
fn check_limits(policy: &UploadPolicy, size: u64, mime: &str) -> Result<()> {
    let limit = match policy.size_limit.filter(|&l| l > 0) {
        Some(l) => Some(l),
        None if mime.starts_with("image/") => Some(IMAGE_DEFAULT_LIMIT),
        None => None,
    };
    if let Some(limit) = limit
        && size > limit
    {
        return Err(WantuError::new(
            413,
            "FileSizeLimitExceeded",
            format!("the file has {size} bytes, more than the limit of {limit}"),
        ));
    }
    if let Some(allowed) = policy.mime_limit.as_deref()
        && !mime::allowed(allowed, mime)
    {
        return Err(WantuError::new(
            415,
            "MimeTypeNotAllowed",
            format!("the file is {mime}, which the policy's mimeLimit {allowed:?} does not allow"),
        ));
    }
    Ok(())
}

fn insert_only(policy: &UploadPolicy) -> bool {
    policy.insert_only.is_some_and(|v| v != 0)
}

fn detect_mime(policy: &UploadPolicy) -> bool {
    policy.detect_mime != Some(0)
}

/// What is stored with a file besides its bytes.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct FileMeta {
    file_id: String,
    meta: BTreeMap<String, String>,
}

/// The §5 reply for a stored object, and the variables for `returnBody`/`callbackBody`.
fn file_reply(
    call: &Call,
    vars: &mut Vars,
    dir: &str,
    name: &str,
    object: &crate::store::Object,
    file_id: String,
) -> FileReply {
    let uri = uri_of(dir, name);
    let url = format!("http://{}/{}{}", call.host, percent_encode(&call.namespace, false), percent_encode(&uri, true));
    let e_tag = object.digests.md5().to_ascii_uppercase();
    vars.text("dir", dir);
    vars.text("name", name);
    vars.number("fileSize", object.size);
    vars.number("fileModified", object.created_ms);
    vars.text("eTag", e_tag.clone());
    vars.text("url", url.clone());
    vars.text("uri", uri.clone());
    vars.text("fileId", file_id.clone());
    FileReply {
        code: "OK",
        request_id: call.request_id.clone(),
        name: name.to_owned(),
        dir: dir.to_owned(),
        url,
        uri,
        is_image: object.mime.starts_with("image/"),
        file_size: object.size,
        file_modified: object.created_ms,
        e_tag,
        mime_type: object.mime.clone(),
        file_id,
        id: None,
        upload_id: None,
    }
}

/// After a file is stored: `callbackUrl` (POST and relay), `returnUrl` (303 with `upload_ret`),
/// `returnBody`, or the §5 object.
async fn finish(policy: &UploadPolicy, vars: &Vars, reply: &FileReply) -> Result<Response> {
    let default_body = serde_json::to_string(reply).map_err(WantuError::internal)?;
    let nonempty = |v: &Option<String>| v.as_deref().filter(|s| !s.trim().is_empty()).map(str::to_owned);
    let mut body = match nonempty(&policy.return_body) {
        Some(template) => vars.render_json(&template),
        None => default_body.clone(),
    };
    let mut content_type = JSON_TYPE.to_owned();
    if let Some(url) = nonempty(&policy.callback_url) {
        let body_type = nonempty(&policy.callback_body_type)
            .unwrap_or_else(|| "application/x-www-form-urlencoded; charset=utf-8".to_owned());
        let (send_type, send_body) = match nonempty(&policy.callback_body) {
            Some(t) if body_type.to_ascii_lowercase().contains("json") => (body_type, vars.render_json(&t)),
            Some(t) => (body_type, vars.render_form(&t)),
            None => (JSON_TYPE.to_owned(), default_body),
        };
        let answer = crate::outbound::send(crate::outbound::Request {
            method: "POST",
            url: &url,
            host: policy.callback_host.as_deref(),
            headers: &[("Content-Type", &send_type)],
            body: send_body.as_bytes(),
            max_reply: CALLBACK_MAX_REPLY,
            timeout: CALLBACK_TIMEOUT,
        })
        .await
        .map_err(|e| WantuError::new(502, "CallbackFailed", format!("the upload callback failed: {e}")))?;
        if !(200..300).contains(&answer.status) {
            return Err(WantuError::new(
                502,
                "CallbackFailed",
                format!("the upload callback to {url} answered HTTP {}", answer.status),
            ));
        }
        body = String::from_utf8_lossy(&answer.body).into_owned();
        if let Some(t) = answer.content_type {
            content_type = t;
        }
    }
    if let Some(return_url) = nonempty(&policy.return_url) {
        let sep = if return_url.contains('?') { '&' } else { '?' };
        let location = format!("{return_url}{sep}upload_ret={}", urlsafe_b64(body.as_bytes()));
        let location = HeaderValue::from_str(&location)
            .map_err(|_| WantuError::new(400, "InvalidPolicy", "returnUrl is not a valid URL"))?;
        let mut response = Response::new(Body::empty());
        *response.status_mut() = StatusCode::SEE_OTHER;
        response.headers_mut().insert(header::LOCATION, location);
        response.extensions_mut().insert(ServiceCode("OK".into()));
        return Ok(response);
    }
    let mut response = json_response(StatusCode::OK, "OK", body);
    if let Ok(v) = HeaderValue::from_str(&content_type) {
        response.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    Ok(response)
}

// ---- simple upload (§5) --------------------------------------------------------------------------

async fn simple_upload(state: &AppState, mut call: Call) -> Result<Response> {
    let file = call.take_file()?;
    let blob = &file.blob.blob;
    if let Some(size) = call.field("size") {
        let declared: u64 =
            size.parse().map_err(|_| WantuError::invalid(format!("size {size:?} is not a number of bytes")))?;
        if declared != blob.size {
            return Err(WantuError::invalid(format!(
                "size says {declared} bytes but the content has {} bytes",
                blob.size
            )));
        }
    }
    check_md5(&call, blob, "content")?;
    let head = read_head(&state.store, blob).await?;
    let file_name = file.filename.clone().or_else(|| call.field("name").map(str::to_owned)).unwrap_or_default();
    let mime = mime::decide(detect_mime(&call.policy), &head, file.content_type.as_deref(), &file_name);
    let mut vars = base_vars(&call, call.prefixed("var-"), &mime, &head, &file_name);
    vars.number("fileSize", blob.size);
    let (dir, name) = target(&call, &vars)?;
    check_limits(&call.policy, blob.size, &mime)?;
    let file_id = new_id();
    let meta = FileMeta { file_id: file_id.clone(), meta: call.prefixed("meta-").into_iter().collect() };
    let meta = serde_json::to_string(&meta).map_err(WantuError::internal)?;
    let object = state.store.put_object(
        SERVICE,
        &call.namespace,
        &object_key(&dir, &name),
        blob,
        &ObjectAttrs { mime: &mime, meta: &meta },
        !insert_only(&call.policy),
    )?;
    file.blob.keep();
    let reply = file_reply(&call, &mut vars, &dir, &name, &object, file_id);
    finish(&call.policy, &vars, &reply).await
}

// ---- multipart (§6) ------------------------------------------------------------------------------

/// What a multipart session remembers from its init.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Session {
    id: String,
    dir: String,
    name: String,
    meta: BTreeMap<String, String>,
    vars: Vec<(String, String)>,
    uuid: String,
    file_name: String,
    content_type: Option<String>,
}

fn part_reply(call: &Call, session: &Session, upload: &Upload, number: u64, blob: &Blob) -> Result<Response> {
    ok_json(&PartReply {
        code: "OK",
        request_id: &call.request_id,
        id: &session.id,
        upload_id: upload.id.to_ascii_uppercase(),
        part_number: number,
        e_tag: blob.digests.md5().to_ascii_uppercase(),
        dir: &session.dir,
        name: &session.name,
    })
}

async fn block_init(state: &AppState, mut call: Call) -> Result<Response> {
    let mut file = call.take_file()?;
    let head = read_head(&state.store, &file.blob.blob).await?;
    let file_name = file.filename.clone().or_else(|| call.field("name").map(str::to_owned)).unwrap_or_default();
    let mime = mime::decide(detect_mime(&call.policy), &head, file.content_type.as_deref(), &file_name);
    let custom = call.prefixed("var-");
    let mut vars = base_vars(&call, custom.clone(), &mime, &head, &file_name);
    vars.number("fileSize", file.blob.blob.size);
    let (dir, name) = target(&call, &vars)?;
    let session = Session {
        id: uuid(),
        dir: dir.clone(),
        name: name.clone(),
        meta: call.prefixed("meta-").into_iter().collect(),
        vars: custom,
        uuid: match vars.get("uuid") {
            Some(vars::Value::Text(u)) => u,
            _ => uuid(),
        },
        file_name,
        content_type: file.content_type.clone(),
    };
    let info = serde_json::to_string(&session).map_err(WantuError::internal)?;
    let upload = state.store.create_upload(SERVICE, &call.namespace, &object_key(&dir, &name), &info)?;
    let stored = async {
        take_part_md5(state, &call, &upload.id, 1, &mut file.blob.blob).await?;
        Ok::<_, WantuError>(state.store.put_part(&upload.id, 1, &file.blob.blob, "{}")?)
    };
    if let Err(e) = stored.await {
        let _ = state.store.abort_upload(&upload.id);
        return Err(e);
    }
    state.store.hash_parts_in_order(&upload.id, 1);
    let blob = file.blob.blob.clone();
    file.blob.keep();
    part_reply(&call, &session, &upload, 1, &blob)
}

/// The session named by the `id` and `uploadId` fields, in the token's namespace.
fn session(state: &AppState, call: &Call) -> Result<(Upload, Session)> {
    let id = call.field("id").ok_or_else(|| WantuError::invalid("id is empty"))?;
    let upload_id = call.field("uploadId").ok_or_else(|| WantuError::invalid("uploadId is empty"))?;
    if upload_id.len() != 32 || !upload_id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(WantuError::no_upload());
    }
    let upload = state.store.upload(SERVICE, &upload_id.to_ascii_lowercase())?.ok_or_else(WantuError::no_upload)?;
    let session: Session = serde_json::from_str(&upload.info).map_err(WantuError::internal)?;
    if !session.id.eq_ignore_ascii_case(id) || upload.bucket != call.namespace {
        return Err(WantuError::no_upload());
    }
    if now_ms().saturating_sub(upload.created_ms) > SESSION_TTL_MS {
        let _ = state.store.abort_upload(&upload.id);
        return Err(WantuError::no_upload());
    }
    Ok((upload, session))
}

fn not_found_is_no_upload(e: StoreError) -> WantuError {
    match e {
        StoreError::NotFound(_) => WantuError::no_upload(),
        other => other.into(),
    }
}

async fn block_upload(state: &AppState, mut call: Call) -> Result<Response> {
    let (upload, session) = session(state, &call)?;
    let number = call.field("partNumber").ok_or_else(|| WantuError::invalid("partNumber is empty"))?;
    let number = number
        .parse::<u64>()
        .ok()
        .filter(|n| (1..=MAX_PARTS).contains(n))
        .ok_or_else(|| WantuError::invalid(format!("partNumber {number:?} is not between 1 and {MAX_PARTS}")))?;
    let mut file = call.take_file()?;
    take_part_md5(state, &call, &upload.id, number, &mut file.blob.blob).await?;
    state.store.put_part(&upload.id, number, &file.blob.blob, "{}").map_err(not_found_is_no_upload)?;
    state.store.hash_parts_in_order(&upload.id, 1);
    let blob = file.blob.blob.clone();
    file.blob.keep();
    part_reply(&call, &session, &upload, number, &blob)
}

/// `parts`: base64 (URL-safe or standard, padded or not) of a JSON array of
/// `{"partNumber": n, "eTag": "..."}`, `partNumber` a number or a numeric string.
fn parse_parts(text: &str) -> Result<Vec<(u64, String)>> {
    let bad = |why: &str| {
        WantuError::invalid(format!("parts must be base64 of a JSON array of {{\"partNumber\",\"eTag\"}}: {why}"))
    };
    let bytes = decode_base64_lenient(text).map_err(|_| bad("it is not base64"))?;
    let value: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| bad(&format!("not JSON ({e})")))?;
    let items = value.as_array().ok_or_else(|| bad("not an array"))?;
    if items.is_empty() {
        return Err(bad("the array is empty"));
    }
    let mut parts = Vec::with_capacity(items.len());
    for item in items {
        let number = match item.get("partNumber") {
            Some(serde_json::Value::Number(n)) => n.as_u64(),
            Some(serde_json::Value::String(s)) => s.trim().parse::<u64>().ok(),
            _ => None,
        }
        .filter(|n| (1..=MAX_PARTS).contains(n))
        .ok_or_else(|| bad(&format!("an item has no valid partNumber: {item}")))?;
        let etag =
            item.get("eTag").and_then(|e| e.as_str()).ok_or_else(|| bad(&format!("an item has no eTag: {item}")))?;
        parts.push((number, etag.trim().trim_matches('"').to_owned()));
    }
    Ok(parts)
}

async fn block_complete(state: &AppState, call: Call) -> Result<Response> {
    let (upload, session) = session(state, &call)?;
    let listed = parse_parts(call.field("parts").ok_or_else(|| WantuError::invalid("parts is empty"))?)?;
    if listed.windows(2).any(|w| w[0].0 >= w[1].0) {
        return Err(WantuError::new(400, "InvalidPartOrder", "parts must be listed in ascending partNumber order"));
    }
    let stored = state.store.parts(&upload.id)?;
    let mut chosen = Vec::with_capacity(listed.len());
    for (number, etag) in &listed {
        match stored.iter().find(|p| p.number == *number) {
            Some(p) if p.digests.md5().eq_ignore_ascii_case(etag) => chosen.push(p.clone()),
            Some(_) => {
                return Err(WantuError::new(
                    400,
                    "InvalidPart",
                    format!("part {number}: eTag {etag:?} is not the eTag of the uploaded part"),
                ));
            }
            None => {
                return Err(WantuError::new(400, "InvalidPart", format!("part {number} was not uploaded")));
            }
        }
    }
    if let Some(small) = chosen[..chosen.len() - 1].iter().find(|p| p.size < PART_MIN) {
        return Err(WantuError::new(
            400,
            "EntityTooSmall",
            format!(
                "part {} has {} bytes: every part but the last needs at least {PART_MIN}",
                small.number, small.size
            ),
        ));
    }
    // The object's MD5 from the parts hashed as they arrived, else from the assembled bytes.
    let assembled = match state.store.md5_of_parts_in_order(&upload.id, 1, &chosen).await {
        Some(md5) => state.store.concatenate_with_md5(&chosen, md5).await,
        None => state.store.concatenate(&chosen, DigestSet::Md5Only).await,
    };
    let blob = match assembled {
        Ok(blob) => PendingBlob::new(&state.store, blob),
        // A concurrent complete or cancel removed the parts.
        Err(_) if state.store.upload(SERVICE, &upload.id)?.is_none() => return Err(WantuError::no_upload()),
        Err(e) => return Err(e.into()),
    };
    check_md5(&call, &blob.blob, "whole file")?;
    let head = read_head(&state.store, &blob.blob).await?;
    let mime = mime::decide(detect_mime(&call.policy), &head, session.content_type.as_deref(), &session.file_name);
    let mut vars = base_vars(&call, session.vars.clone(), &mime, &head, &session.file_name);
    vars.text("uuid", session.uuid.clone());
    check_limits(&call.policy, blob.blob.size, &mime)?;
    let file_id = new_id();
    let meta = FileMeta { file_id: file_id.clone(), meta: session.meta.clone() };
    let meta = serde_json::to_string(&meta).map_err(WantuError::internal)?;
    let attrs = ObjectAttrs { mime: &mime, meta: &meta };
    let object = state
        .store
        .finish_upload(&upload, &upload.key, &blob.blob, &attrs, !insert_only(&call.policy))
        .map_err(not_found_is_no_upload)?;
    blob.keep();
    let mut reply = file_reply(&call, &mut vars, &session.dir, &session.name, &object, file_id);
    reply.id = Some(session.id.clone());
    reply.upload_id = Some(upload.id.to_ascii_uppercase());
    finish(&call.policy, &vars, &reply).await
}

async fn block_cancel(state: &AppState, call: Call) -> Result<Response> {
    let (upload, _) = session(state, &call)?;
    state.store.abort_upload(&upload.id).map_err(not_found_is_no_upload)?;
    ok_json(&CancelReply { code: "OK", request_id: &call.request_id })
}

// ---- downloads (§13) -----------------------------------------------------------------------------

/// `GET /{namespace}/{dir}/{name}`: the stored bytes, `Range` honoured. An image-processing
/// suffix (`name@600w_1l`) and query (`auth_key`) are ignored: the original is served.
async fn download(state: &AppState, path: &str, headers: &HeaderMap, head: bool) -> Result<Response> {
    let no_file = || WantuError::new(404, "NoSuchFile", format!("no file at {path}"));
    let (namespace, key) = path.trim_start_matches('/').split_once('/').ok_or_else(no_file)?;
    let (namespace, key) = (percent_decode(namespace), percent_decode(key));
    if state.store.bucket(SERVICE, &namespace)?.is_none() {
        return Err(WantuError::new(404, "NoSuchNamespace", format!("namespace {namespace:?} does not exist")));
    }
    let mut object = state.store.object(SERVICE, &namespace, &key)?;
    if object.is_none()
        && let Some((original, _)) = key.rsplit_once('@')
    {
        object = state.store.object(SERVICE, &namespace, original)?;
    }
    let object = object.ok_or_else(no_file)?;
    let range = match parse_range(headers.get(header::RANGE).and_then(|v| v.to_str().ok()), object.size) {
        RangeRequest::Whole => None,
        RangeRequest::Part(a, b) => Some((a, b)),
        RangeRequest::Unsatisfiable => {
            let mut response = WantuError::new(416, "InvalidRange", "the requested range is not satisfiable")
                .into_response(&new_id().to_ascii_uppercase());
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{}", object.size)) {
                response.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            return Ok(response);
        }
    };
    let mut response = serve_object(&state.store, &object, range, head).await;
    if let Ok(v) = HeaderValue::from_str(&format!("\"{}\"", object.digests.md5().to_ascii_uppercase())) {
        response.headers_mut().insert(header::ETAG, v);
    }
    let code = if response.status().is_success() { "OK" } else { "InternalError" };
    response.extensions_mut().insert(ServiceCode(code.into()));
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;
    use yunup::encoding::{std_b64, urlsafe_b64_nopad};

    #[test]
    fn parts_in_every_encoding() {
        let json = r#"[{"partNumber":1,"eTag":"AA"},{"partNumber":"2","eTag":"bb"}]"#;
        let indented = "[\n  {\n    \"partNumber\": 1,\n    \"eTag\": \"AA\"\n  },\n  {\"partNumber\": \"2\", \"eTag\": \"bb\"}\n]";
        for text in [urlsafe_b64(json), urlsafe_b64_nopad(json), std_b64(json), std_b64(indented)] {
            assert_eq!(parse_parts(&text).unwrap(), vec![(1, "AA".to_owned()), (2, "bb".to_owned())], "{text}");
        }
        for bad in ["!!!", &urlsafe_b64("{}"), &urlsafe_b64("[]"), &urlsafe_b64(r#"[{"partNumber":0,"eTag":"a"}]"#)] {
            assert_eq!(parse_parts(bad).unwrap_err().code, "InvalidArgument", "{bad}");
        }
    }

    #[test]
    fn dirs_names_keys() {
        assert_eq!(normalize_dir("").unwrap(), "/");
        assert_eq!(normalize_dir("a//b/").unwrap(), "/a/b");
        assert_eq!(normalize_dir("/a/b").unwrap(), "/a/b");
        assert!(normalize_dir("/a/../b").is_err());
        assert!(check_name("a/b").is_err() && check_name("").is_err() && check_name("ok.jpg").is_ok());
        assert_eq!(object_key("/", "n"), "n");
        assert_eq!(object_key("/a/b", "n"), "a/b/n");
        assert_eq!(uri_of("/", "n"), "/n");
        let u = uuid();
        assert_eq!(u.len(), 36);
        assert_eq!(u.split('-').map(str::len).collect::<Vec<_>>(), [8, 4, 4, 4, 12]);
    }

    #[test]
    fn token_shapes() {
        let c = yunup::sign::Credentials::new("ak", "sk");
        let good = yunup::sign::wantu::upload_token_for_json(&c, "not json");
        assert!(token_is_well_formed(&good));
        assert!(token_is_well_formed(&good.replacen(' ', "+", 1)));
        assert!(!token_is_well_formed("UPLOAD_AK_TOP !!!"));
        assert!(!token_is_well_formed(&format!("UPLOAD_AK_TOP {}", urlsafe_b64("ak:only"))));
        assert!(!token_is_well_formed("Bearer x"));
    }
}
