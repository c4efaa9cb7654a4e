//! The three services as sans-IO adapters: each builds the requests of an upload and reads the
//! replies, and nothing else. No clock, no network, no runtime: the [`crate::engine`] sends what
//! they build and feeds back what comes in, so the same adapters serve the browser (`fetch`) and
//! native code (`reqwest`), and are unit-tested on both targets.
//!
//! | service | simple upload | multipart |
//! |---|---|---|
//! | [`wcs`] | form `POST /file/upload` | `mkblk` + `bput` chunks per block, `mkfile` |
//! | [`ufile`] | `PUT /<key>` | `POST ?uploads`, `PUT ?partNumber`, `POST ?uploadId`, abort `DELETE` |
//! | [`wantu`] | form `POST /api/proxy/upload` | `blockInit` (carries part 1), `blockUpload`, `blockComplete`, `blockCancel` |

pub mod ufile;
pub mod wantu;
pub mod wcs;

use bytes::Bytes;

use crate::{Error, ErrorKind, Result};

/// Which service an upload goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ServiceKind {
    Wcs,
    Ufile,
    Wantu,
}

impl ServiceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceKind::Wcs => "wcs",
            ServiceKind::Ufile => "ufile",
            ServiceKind::Wantu => "wantu",
        }
    }
}

impl std::str::FromStr for ServiceKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "wcs" => Ok(ServiceKind::Wcs),
            "ufile" | "uvideo" => Ok(ServiceKind::Ufile),
            "wantu" => Ok(ServiceKind::Wantu),
            other => Err(Error::invalid_input(format!("unknown service {other:?}: use wcs, ufile or wantu"))),
        }
    }
}

/// HTTP methods the adapters use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
    Put,
    Post,
    Delete,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Put => "PUT",
            Method::Post => "POST",
            Method::Delete => "DELETE",
        }
    }
}

/// A request for the runtime to send.
#[derive(Clone, Debug)]
pub struct HttpRequest {
    pub method: Method,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
    /// UFile signs each request: the engine asks the token provider to sign this description and
    /// sets `Authorization` before sending.
    pub sign: Option<crate::sign::ufile::SignRequest>,
    /// Sent on behalf of an upload that was cancelled (the multipart abort): a transport must not
    /// tie it to that upload's abort signal, or it would never leave.
    pub after_cancel: bool,
    /// Where the body holds bytes of the upload's source, verbatim. A transport that holds the
    /// source (a `File` in a page) may send that range of it instead of those bytes of `body`: no
    /// copy through wasm memory, and the browser reads the file itself. (Set by the engine; the
    /// replies' hashes are checked against what was read, so a file changed meanwhile fails the
    /// upload instead of storing other bytes unnoticed.)
    pub source_range: Option<SourceRange>,
    /// Set by a service whose body embeds the bytes it was given at this offset (a form's file
    /// field), so that the engine can fill in `source_range`.
    pub data_at: Option<usize>,
    /// The longest reply body this request expects, when more than [`MAX_REPLY`] (a ranged
    /// download): a transport that reads replies into memory refuses a longer one.
    pub max_reply: Option<u64>,
    /// A `GET` that changes something (the UCloud API's `CreateBucket`): never repeated by
    /// [`crate::engine::RetryReads`], as a read would be.
    pub changes_state: bool,
}

/// The longest reply body a transport reads into memory unless the request allows more
/// ([`HttpRequest::max_reply`]): replies are JSON, XML or error pages, and a broken or hostile
/// server must not make the process allocate without bound.
pub const MAX_REPLY: u64 = 64 * 1024 * 1024;

/// `body[at .. at + (end - start)]` is bytes `[start, end)` of the upload's source.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SourceRange {
    pub at: usize,
    pub start: u64,
    pub end: u64,
}

impl HttpRequest {
    pub fn new(method: Method, url: impl Into<String>) -> Self {
        HttpRequest {
            method,
            url: url.into(),
            headers: Vec::new(),
            body: Bytes::new(),
            sign: None,
            after_cancel: false,
            source_range: None,
            data_at: None,
            max_reply: None,
            changes_state: false,
        }
    }

    /// Allow a reply body of up to `bytes` (see [`HttpRequest::max_reply`]).
    pub fn max_reply(mut self, bytes: u64) -> Self {
        self.max_reply = Some(bytes);
        self
    }

    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_owned(), value.into()));
        self
    }

    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }

    /// The URL's host (and port), for error messages: the URL itself may carry a signature.
    pub fn host(&self) -> &str {
        self.url.split('/').nth(2).and_then(|h| h.rsplit('@').next()).unwrap_or("")
    }

    /// The value of header `name` (case-insensitive).
    pub fn header_value(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// A reply, as the runtime received it (the whole body: replies are small JSON or empty).
#[derive(Clone, Debug, Default)]
pub struct HttpResponse {
    pub status: u16,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// What an upload produced, as the service reported it and as verified locally.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadResult {
    pub service: ServiceKind,
    /// The object's key (Wantu: `dir/name` without the leading `/`).
    pub key: String,
    pub size: u64,
    /// The service's content hash: WCS `hash`, UFile `ETag`, Wantu `eTag` (MD5).
    pub etag: String,
    /// The same hash computed locally while uploading; equal to `etag` (checked).
    pub local_etag: String,
    /// The reply body of the last request, for callers that configured `returnBody` or callbacks.
    pub response: String,
}

/// Build a `multipart/form-data` body. Text fields first, the file last (Wantu drops anything
/// after the file; every SDK puts it last).
pub(crate) struct FormBody {
    boundary: String,
    head: Vec<u8>,
}

impl FormBody {
    /// `seed` makes the boundary unique per request without a random source (sans-IO).
    pub(crate) fn new(seed: &str) -> Self {
        let digest = <crate::hash::Sha1 as crate::hash::Hasher>::digest(seed.as_bytes()).to_hex();
        FormBody { boundary: format!("----yunupFormBoundary{}", &digest[..24]), head: Vec::new() }
    }

    pub(crate) fn text(mut self, name: &str, value: &str) -> Self {
        self.head.extend_from_slice(
            format!(
                "--{}\r\nContent-Disposition: form-data; name=\"{}\"\r\n\r\n{value}\r\n",
                self.boundary,
                quote(name)
            )
            .as_bytes(),
        );
        self
    }

    /// Finish a form without a file; returns `(content type, body)`.
    pub(crate) fn finish(mut self) -> (String, Bytes) {
        self.head.extend_from_slice(format!("--{}--\r\n", self.boundary).as_bytes());
        (format!("multipart/form-data; boundary={}", self.boundary), Bytes::from(self.head))
    }

    /// [`FormBody::finish`] in the shape of [`FormBody::file`]'s answer (no embedded data).
    pub(crate) fn finish_without_file(self) -> (String, Bytes, Option<usize>) {
        let (content_type, body) = self.finish();
        (content_type, body, None)
    }

    /// Finish with the file part; returns `(content type, body, where data starts in body)`.
    pub(crate) fn file(mut self, name: &str, filename: &str, mime: &str, data: &[u8]) -> (String, Bytes, usize) {
        self.head.extend_from_slice(
            format!(
                "--{}\r\nContent-Disposition: form-data; name=\"{}\"; filename=\"{}\"\r\nContent-Type: {mime}\r\n\r\n",
                self.boundary,
                quote(name),
                quote(filename)
            )
            .as_bytes(),
        );
        let tail = format!("\r\n--{}--\r\n", self.boundary);
        let mut body = Vec::with_capacity(self.head.len() + data.len() + tail.len());
        body.extend_from_slice(&self.head);
        body.extend_from_slice(data);
        body.extend_from_slice(tail.as_bytes());
        (format!("multipart/form-data; boundary={}", self.boundary), Bytes::from(body), self.head.len())
    }
}

/// Quote a header parameter value: `"` and line breaks would end it early.
fn quote(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace(['\r', '\n'], " ")
}

/// At most the first `max` bytes of `text`, cut between two characters: a reply quoted in an
/// error message (`String::truncate` would panic inside a multi-byte character).
pub(crate) fn excerpt(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

/// An error for a reply that is not what the service should send.
pub(crate) fn unexpected_reply(service: ServiceKind, what: &str, response: &HttpResponse) -> Error {
    let body = excerpt(response.text(), 200);
    Error::new(ErrorKind::Server, format!("{} answered {what} with something unexpected: {body:?}", service.as_str()))
        .with_status(response.status)
}

/// The fields of the three services' error replies: WCS `code`, `message` or `error`; Wantu
/// `code`, `message`, `requestId`; UFile `RetCode`, `ErrMsg`. One reader for all three, since
/// each serde reader costs kilobytes of the browser's wasm. A body that is not JSON reads as all
/// `None`: the HTTP status then speaks.
#[derive(Default, serde::Deserialize)]
pub(crate) struct ErrorReply {
    #[serde(default, deserialize_with = "crate::lenient::opt_string")]
    pub code: Option<String>,
    #[serde(default, deserialize_with = "crate::lenient::opt_string")]
    pub message: Option<String>,
    #[serde(default, deserialize_with = "crate::lenient::opt_string")]
    pub error: Option<String>,
    #[serde(rename = "requestId", default, deserialize_with = "crate::lenient::opt_string")]
    pub request_id: Option<String>,
    #[serde(rename = "RetCode", default, deserialize_with = "crate::lenient::opt_i64")]
    pub ret_code: Option<i64>,
    #[serde(rename = "ErrMsg", default, deserialize_with = "crate::lenient::opt_string")]
    pub err_msg: Option<String>,
}

impl ErrorReply {
    pub(crate) fn of(response: &HttpResponse) -> Self {
        std::str::from_utf8(&response.body)
            .ok()
            .and_then(|t| crate::json::from_str(t, "error").ok())
            .unwrap_or_default()
    }
}

/// Parse a JSON reply into `T` (through the engine's JSON, see `crate::json`).
pub(crate) fn json_reply<T: serde::de::DeserializeOwned>(
    service: ServiceKind,
    what: &str,
    response: &HttpResponse,
) -> Result<T> {
    let text = std::str::from_utf8(&response.body).map_err(|_| unexpected_reply(service, what, response))?;
    crate::json::from_str(text, what).map_err(|_| unexpected_reply(service, what, response))
}

/// Why the service would store `key` under another name, if it would. Wantu splits a key into a
/// folder and a name and tidies the folder (`/a.txt` was stored as `a.txt`, `a//b` as `a/b`), so
/// two keys could become one object; a UFile key is the URL's path, where `.` and `..` segments
/// are resolved away before the request leaves (`a/./b` went out as `a/b`, and its signature no
/// longer matched).
pub(crate) fn key_problem(service: ServiceKind, key: &str) -> Option<&'static str> {
    match service {
        ServiceKind::Wantu if key.starts_with('/') => {
            Some("starts with '/': a Wantu key is folder/name, relative to the namespace (drop the leading '/')")
        }
        ServiceKind::Wantu if key.ends_with('/') => Some("ends with '/': a Wantu key names a file, folder/name"),
        ServiceKind::Wantu if key.contains("//") => Some("has an empty folder name ('//'): Wantu would drop it"),
        ServiceKind::Ufile if key.split('/').any(|s| s == "." || s == "..") => Some(
            "has a '.' or '..' segment, which the URL resolves away (a/./b is sent as a/b): UFile cannot store or find it as given",
        ),
        _ => None,
    }
}

/// What is wrong with a URL that requests go to (a service endpoint, a token backend), if
/// anything: it must be `http://` or `https://` with a host, and no spaces, or every request
/// fails later as a network error.
pub fn url_problem(url: &str) -> Option<&'static str> {
    if url.is_empty() {
        return Some("is empty");
    }
    let lower = url.to_ascii_lowercase();
    let Some(rest) = lower.strip_prefix("http://").or_else(|| lower.strip_prefix("https://")) else {
        return Some("is not an http:// or https:// URL");
    };
    if rest.is_empty() || rest.starts_with(['/', '?', '#', ':']) {
        return Some("has no host");
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Some("has spaces or control characters in it");
    }
    None
}

/// The kind of error an HTTP status means, before the service's own code refines it. 408 and 429
/// say "later", not "fix the call": they are the service's (a 429 on every attempt ended as
/// `invalid-input`).
pub(crate) fn kind_for_status(status: u16) -> ErrorKind {
    match status {
        401 | 403 => ErrorKind::Auth,
        408 | 429 => ErrorKind::Server,
        400..=499 => ErrorKind::InvalidInput,
        _ => ErrorKind::Server,
    }
}

/// Whether a reply with this status may be different if asked again a little later: a server
/// error, a timeout (408) or "too many requests" (429).
pub(crate) fn status_says_later(status: u16) -> bool {
    status >= 500 || matches!(status, 408 | 429)
}

/// Split a key into Wantu's `dir` and `name`: `a/b/c.txt` → (`/a/b`, `c.txt`).
pub(crate) fn split_key(key: &str) -> (String, String) {
    match key.rsplit_once('/') {
        Some((dir, name)) => (format!("/{}", dir.trim_start_matches('/')), name.to_owned()),
        None => ("/".to_owned(), key.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn statuses_that_say_later_are_the_services_not_the_callers() {
        assert_eq!(kind_for_status(429), ErrorKind::Server);
        assert_eq!(kind_for_status(408), ErrorKind::Server);
        assert_eq!(kind_for_status(400), ErrorKind::InvalidInput);
        assert_eq!(kind_for_status(404), ErrorKind::InvalidInput);
        assert_eq!(kind_for_status(403), ErrorKind::Auth);
        assert_eq!(kind_for_status(502), ErrorKind::Server);
    }

    /// Replies are quoted into messages cut to a length; a cut inside a multi-byte character
    /// (services answer in Chinese) must not panic, which in wasm would poison the instance.
    #[test]
    fn unexpected_replies_are_cut_between_characters() {
        for body in ["错".repeat(100), format!("x{}", "错".repeat(100)), format!("xx{}", "错".repeat(100))] {
            let response = HttpResponse { status: 500, headers: Vec::new(), body: Bytes::from(body.clone()) };
            let message = unexpected_reply(ServiceKind::Wcs, "the upload", &response).to_string();
            assert!(message.contains("错错错"), "{message}");
            assert!(message.len() < 300, "{message}");
        }
        assert_eq!(excerpt("错错".to_owned(), 4), "错");
        assert_eq!(excerpt("abc".to_owned(), 4), "abc");
        assert_eq!(excerpt("abcdef".to_owned(), 4), "abcd");
    }

    #[test]
    fn form_body_shape() {
        let (ct, body, at) = FormBody::new("x").text("token", "t").file("file", "a\"b.txt", "text/plain", b"hi");
        assert_eq!(&body[at..at + 2], b"hi");
        let boundary = ct.strip_prefix("multipart/form-data; boundary=").unwrap();
        let text = String::from_utf8(body.to_vec()).unwrap();
        assert!(
            text.starts_with(&format!("--{boundary}\r\nContent-Disposition: form-data; name=\"token\"\r\n\r\nt\r\n"))
        );
        assert!(text.contains("filename=\"a\\\"b.txt\""));
        assert!(text.ends_with(&format!("\r\nhi\r\n--{boundary}--\r\n")));
    }

    #[test]
    fn keys_split_into_dir_and_name() {
        assert_eq!(split_key("a.txt"), ("/".into(), "a.txt".into()));
        assert_eq!(split_key("a/b/c.txt"), ("/a/b".into(), "c.txt".into()));
        assert_eq!(split_key("/a/c"), ("/a".into(), "c".into()));
    }

    #[test]
    fn service_names() {
        assert_eq!("UFile".parse::<ServiceKind>().unwrap(), ServiceKind::Ufile);
        assert!("s3".parse::<ServiceKind>().is_err());
    }
}
