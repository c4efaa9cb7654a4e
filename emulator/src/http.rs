//! What every emulated service shares on the HTTP side: state, the request log, CORS, fault
//! injection, and small parsers (query strings, form bodies, `Range`) and a streaming file reply.

use std::sync::Arc;
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use yunup::calendar::http_date;
use yunup::sign::Credentials;

use crate::faults::{Fault, Faults};
use crate::store::{Object, Store};

// The reset fault ends a connection's task by unwinding it (`Fault::Reset` below); with
// `panic = "abort"` that would end the whole emulator.
#[cfg(not(panic = "unwind"))]
compile_error!("yunup-emulator needs panic = \"unwind\": its reset fault unwinds one connection's task");

/// Shared state of every endpoint.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub credentials: Arc<Vec<Credentials>>,
    pub faults: Arc<Faults>,
    pub requests: Arc<RequestLog>,
}

/// One handled request, as the log line shows it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct LoggedRequest {
    pub seq: u64,
    pub service: &'static str,
    pub method: String,
    /// Path and query as received.
    pub target: String,
    pub status: u16,
}

/// The most recent requests, for tests that must count what reached the server (e.g. that a
/// resumed upload did not send finished parts again): `GET /admin/requests?since=N`.
#[derive(Debug, Default)]
pub struct RequestLog {
    inner: std::sync::Mutex<(u64, std::collections::VecDeque<LoggedRequest>)>,
}

impl RequestLog {
    const KEEP: usize = 10_000;

    fn push(&self, service: &'static str, method: String, target: String, status: u16) {
        let mut guard = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let (next, entries) = &mut *guard;
        *next += 1;
        entries.push_back(LoggedRequest { seq: *next, service, method, target, status });
        if entries.len() > Self::KEEP {
            entries.pop_front();
        }
    }

    /// Requests after sequence number `since`, and the latest sequence number.
    pub fn since(&self, since: u64) -> (u64, Vec<LoggedRequest>) {
        let guard = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        (guard.0, guard.1.iter().filter(|r| r.seq > since).cloned().collect())
    }
}

/// The service's own result code for the request log (`RetCode`, WCS `code`, Wantu `code`),
/// attached by handlers as a response extension.
#[derive(Clone, Debug)]
pub struct ServiceCode(pub String);

/// One log line per request: service, method, path, status, service code, bytes in/out, ms.
pub async fn log_requests(
    State((name, requests)): State<(&'static str, Arc<RequestLog>)>,
    req: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let target = req.uri().path_and_query().map_or_else(|| path.clone(), |pq| pq.as_str().to_owned());
    let bytes_in = content_length(req.headers());
    let response = next.run(req).await;
    let code = response.extensions().get::<ServiceCode>().map_or("-".to_owned(), |c| c.0.clone());
    let bytes_out = content_length(response.headers());
    println!(
        "{name} {method} {path} {} code={code} in={bytes_in} out={bytes_out} {}ms",
        response.status().as_u16(),
        started.elapsed().as_millis()
    );
    requests.push(name, method.to_string(), target, response.status().as_u16());
    response
}

fn content_length(headers: &HeaderMap) -> String {
    headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).unwrap_or("-").to_owned()
}

/// Headers a browser script may read on any service's reply.
const EXPOSED: &str = "ETag, X-SessionId, X-Reqid, Content-Range, Content-Length, Content-Type, Content-MD5, \
    Last-Modified, x-wcs-next-append-position, X-Ufile-Create-Time, X-Ufile-Storage-Class";

/// CORS for pages on other origins (ufile.md §10, wcs.md §13, wantu.md §10): preflights answered
/// for any path, the requested headers allowed, and the headers SDKs read exposed on every reply,
/// errors included.
pub async fn cors(req: Request, next: Next) -> Response {
    let origin = req.headers().get(header::ORIGIN).cloned();
    let allow_origin = origin.clone().unwrap_or_else(|| HeaderValue::from_static("*"));
    if req.method() == Method::OPTIONS && req.headers().contains_key(header::ACCESS_CONTROL_REQUEST_METHOD) {
        let allow_headers = req
            .headers()
            .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
            .cloned()
            .unwrap_or_else(|| HeaderValue::from_static("Authorization, Content-Type, Content-MD5"));
        let mut response = StatusCode::OK.into_response();
        let h = response.headers_mut();
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, allow_origin);
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, HEAD, PUT, POST, DELETE, OPTIONS"),
        );
        h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, allow_headers);
        h.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("86400"));
        h.insert("access-control-allow-private-network", HeaderValue::from_static("true"));
        h.insert(header::VARY, HeaderValue::from_static("Origin"));
        return response;
    }
    let mut response = next.run(req).await;
    let h = response.headers_mut();
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, allow_origin);
    h.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static(EXPOSED));
    if origin.is_some() {
        h.insert(header::VARY, HeaderValue::from_static("Origin"));
    }
    response
}

/// Apply the fault injector's decision for this request to `service` (`wcs`, `ufile`, `wantu`,
/// or the demo host's token backend, `backend`).
pub async fn inject_faults(
    State((service, faults)): State<(&'static str, Arc<Faults>)>,
    mut req: Request,
    next: Next,
) -> Response {
    let target = req.uri().path_and_query().map_or_else(|| req.uri().path().to_owned(), |pq| pq.as_str().to_owned());
    let decided = faults.decide(service, req.method().as_str(), &target);
    let mut truncate = false;
    for fault in decided {
        match fault {
            Fault::Stall(ms) => tokio::time::sleep(std::time::Duration::from_millis(ms)).await,
            Fault::Error(status) => {
                let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                // Read the body first, as the service's own refusals do: a client still sending
                // would see a reset, not the error it is meant to handle.
                let (parts, body) = req.into_parts();
                drain_unread(&parts.headers, body).await;
                let mut r = fault_reply(service, status);
                r.extensions_mut().insert(ServiceCode("fault".into()));
                return r;
            }
            Fault::Reset => {
                // Read part of the request body, then drop the connection without a reply: what a
                // client sees when the network breaks mid-upload. `resume_unwind` ends this
                // connection's task without running the panic hook, so nothing is printed.
                let mut body = req.into_body().into_data_stream();
                let _ = tokio::time::timeout(std::time::Duration::from_millis(200), body.next()).await;
                println!("{service} fault: connection reset");
                std::panic::resume_unwind(Box::new("injected connection reset"));
            }
            Fault::Truncate => truncate = true,
            Fault::Corrupt => {
                req = corrupt_body(req).await;
                println!("{service} fault: request body corrupted");
            }
        }
    }
    let response = next.run(req).await;
    if truncate { truncate_body(response) } else { response }
}

/// The request with one payload byte changed: the last byte before a multipart form's closing
/// boundary (where the file is), else the last byte. An empty body stays as it is.
async fn corrupt_body(req: Request) -> Request {
    let (parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return Request::from_parts(parts, Body::empty());
    };
    let mut bytes = bytes.to_vec();
    let boundary = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|ct| ct.split_once("boundary=").map(|(_, b)| format!("\r\n--{}", b.trim_matches('"'))));
    let end = boundary.and_then(|b| bytes.windows(b.len()).rposition(|w| w == b.as_bytes())).unwrap_or(bytes.len());
    if let Some(byte) = end.checked_sub(1).and_then(|i| bytes.get_mut(i)) {
        *byte ^= 0x55;
    }
    Request::from_parts(parts, Body::from(bytes))
}

/// An injected error in the shape of `service`'s own errors (each service renders it), so that
/// official SDKs take it as the service's error and retry it.
fn fault_reply(service: &str, status: StatusCode) -> Response {
    const MESSAGE: &str = "injected fault";
    match service {
        "wcs" => crate::wcs::fault_reply(status.as_u16(), MESSAGE),
        "ufile" => crate::ufile::fault_reply(status, MESSAGE),
        "wantu" => crate::wantu::fault_reply(status.as_u16(), MESSAGE),
        _ => (status, axum::Json(serde_json::json!({ "error": MESSAGE }))).into_response(),
    }
}

/// Keep the status and headers (including `Content-Length`) but send only half the body, then
/// fail the stream so that the connection closes early.
fn truncate_body(response: Response) -> Response {
    let (parts, body) = response.into_parts();
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    let mut budget = declared / 2;
    let stream = body.into_data_stream().map(move |chunk| {
        let chunk = chunk.map_err(std::io::Error::other)?;
        if budget == 0 {
            return Err(std::io::Error::other("injected truncation"));
        }
        let take = (chunk.len() as u64).min(budget) as usize;
        budget -= take as u64;
        Ok(chunk.slice(..take))
    });
    let stream = stream
        .chain(futures_util::stream::once(async { Err::<Bytes, _>(std::io::Error::other("injected truncation")) }));
    Response::from_parts(parts, Body::from_stream(stream))
}

/// Read and discard a request body the reply does not need (an auth failure before an upload's
/// bytes were read): a client that is still sending would otherwise see its connection reset
/// instead of the error. At most [`DRAIN_LIMIT`] bytes, for at most a minute.
pub async fn drain(body: Body) {
    let mut stream = body.into_data_stream();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(60), async {
        let mut total = 0usize;
        while let Some(Ok(chunk)) = stream.next().await {
            total += chunk.len();
            if total > DRAIN_LIMIT {
                break;
            }
        }
    })
    .await;
}

/// [`drain`] a request body left unread, unless the client waits for `100 Continue` before
/// sending it (reading would ask it to send what the reply refuses).
pub async fn drain_unread(headers: &axum::http::HeaderMap, body: Body) {
    if !header_text(headers, "expect").eq_ignore_ascii_case("100-continue") {
        drain(body).await;
    }
}

/// Largest unused body read before replying (beyond it the connection is closed).
const DRAIN_LIMIT: usize = 520 * 1024 * 1024;

// ---- parsing helpers -----------------------------------------------------------------------------

/// Percent-decode leniently: `%XX` becomes the byte, a malformed `%` stays, `+` stays `+`
/// (signatures may contain `+`; form decoding would break them).
pub fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex_val(bytes[i + 1]), hex_val(bytes[i + 2]))
        {
            out.push(h << 4 | l);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// `k=v&k2=v2` into pairs: split on `&`, then on the first `=`, values percent-decoded and `+`
/// kept (wcs.md §14.8). Used for query strings and form-ish bodies alike.
pub fn parse_pairs(text: &str) -> Vec<(String, String)> {
    text.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (percent_decode(k), percent_decode(v)),
            None => (percent_decode(p), String::new()),
        })
        .collect()
}

/// The first value of `name` in `pairs`.
pub fn pair<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// A header as text, or "" when absent or not text.
pub fn header_text<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

/// A parsed `Range: bytes=...` for an object of `size` bytes.
#[derive(Debug, PartialEq, Eq)]
pub enum RangeRequest {
    /// No (usable) Range header: the whole object.
    Whole,
    /// Inclusive byte range.
    Part(u64, u64),
    /// Syntactically valid but outside the object: 416.
    Unsatisfiable,
}

/// Parse a single `bytes=a-b`, `bytes=a-` or `bytes=-n` range. Several ranges, or anything else
/// unparseable, is ignored (the whole object is served), as HTTP allows.
pub fn parse_range(value: Option<&str>, size: u64) -> RangeRequest {
    let Some(spec) = value.and_then(|v| v.trim().strip_prefix("bytes=")) else { return RangeRequest::Whole };
    if spec.contains(',') {
        return RangeRequest::Whole;
    }
    let Some((a, b)) = spec.split_once('-') else { return RangeRequest::Whole };
    let (a, b) = (a.trim(), b.trim());
    match (a.parse::<u64>(), b.parse::<u64>()) {
        (Ok(start), Ok(end)) if start <= end => {
            if start >= size {
                RangeRequest::Unsatisfiable
            } else {
                RangeRequest::Part(start, end.min(size - 1))
            }
        }
        (Ok(_), Ok(_)) => RangeRequest::Unsatisfiable,
        (Ok(start), Err(_)) if b.is_empty() => {
            if start >= size {
                RangeRequest::Unsatisfiable
            } else {
                RangeRequest::Part(start, size - 1)
            }
        }
        (Err(_), Ok(n)) if a.is_empty() => {
            if n == 0 || size == 0 {
                RangeRequest::Unsatisfiable
            } else {
                RangeRequest::Part(size - n.min(size), size - 1)
            }
        }
        _ => RangeRequest::Whole,
    }
}

/// Stream an object (or one inclusive range of it) from disk: 200 or 206 with `Content-Range`,
/// `Accept-Ranges` and `Content-Length`; `HEAD` gets the headers only. The caller adds its
/// service's own headers (ETag, request id) and handles 416.
pub async fn serve_object(store: &Store, object: &Object, range: Option<(u64, u64)>, head: bool) -> Response {
    let (status, start, len) = match range {
        Some((a, b)) => (StatusCode::PARTIAL_CONTENT, a, b - a + 1),
        None => (StatusCode::OK, 0, object.size),
    };
    let body = if head || len == 0 {
        Body::empty()
    } else {
        match tokio::fs::File::open(store.blob_path(&object.blob)).await {
            Ok(mut file) => {
                if file.seek(std::io::SeekFrom::Start(start)).await.is_err() {
                    return StatusCode::INTERNAL_SERVER_ERROR.into_response();
                }
                Body::from_stream(tokio_util::io::ReaderStream::with_capacity(file.take(len), 256 * 1024))
            }
            Err(_) => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        }
    };
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let h = response.headers_mut();
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    let mime = if object.mime.is_empty() { "application/octet-stream" } else { object.mime.as_str() };
    if let Ok(v) = HeaderValue::from_str(mime) {
        h.insert(header::CONTENT_TYPE, v);
    }
    if let Some((a, b)) = range
        && let Ok(v) = HeaderValue::from_str(&format!("bytes {a}-{b}/{}", object.size))
    {
        h.insert(header::CONTENT_RANGE, v);
    }
    if let Ok(v) = HeaderValue::from_str(&http_date(object.created_ms)) {
        h.insert(header::LAST_MODIFIED, v);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range(Some("bytes=0-50"), 100), RangeRequest::Part(0, 50));
        assert_eq!(parse_range(Some("bytes=90-200"), 100), RangeRequest::Part(90, 99));
        assert_eq!(parse_range(Some("bytes=10-"), 100), RangeRequest::Part(10, 99));
        assert_eq!(parse_range(Some("bytes=-10"), 100), RangeRequest::Part(90, 99));
        assert_eq!(parse_range(Some("bytes=100-"), 100), RangeRequest::Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=5-1"), 100), RangeRequest::Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=0-1,5-6"), 100), RangeRequest::Whole);
        assert_eq!(parse_range(Some("items=1-2"), 100), RangeRequest::Whole);
        assert_eq!(parse_range(None, 100), RangeRequest::Whole);
    }

    #[test]
    fn pairs_keep_plus_and_decode_percent() {
        let p = parse_pairs("Signature=ab+c%2Fd%3D&Expires=5&flag&bad=%zz");
        assert_eq!(pair(&p, "Signature"), Some("ab+c/d="));
        assert_eq!(pair(&p, "flag"), Some(""));
        assert_eq!(pair(&p, "bad"), Some("%zz"));
        assert_eq!(percent_decode("a%20b%E4%B8%AD%"), "a b中%");
    }
}
