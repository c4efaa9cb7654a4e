//! Wantu uploads (protocols/wantu.md §5, §6): a form `POST /api/proxy/upload` for small files;
//! for large ones `blockInit` (which carries part 1 and opens the session), `blockUpload` for
//! parts 2…N, `blockComplete` with the part list, and `blockCancel`.
//!
//! Every part goes with its MD5 and its reply's `eTag` (the part's MD5) is checked; complete
//! sends the whole file's MD5, so the service refuses an assembly that differs.

use serde::{Deserialize, Serialize};

use super::{
    ErrorReply, FormBody, HttpRequest, HttpResponse, Method, ServiceKind, json_reply, kind_for_status, split_key,
};
use crate::encoding::urlsafe_b64_nopad;
use crate::{Error, ErrorKind, Result};

/// Parts must be at least this large, except the last (wantu.md §6.5).
pub const MIN_PART_SIZE: u64 = 102_400;
/// Parts may be at most this large (wantu.md §6.5, the SDKs' limit).
pub const MAX_PART_SIZE: u64 = 10 * 1024 * 1024;
/// Parts one upload may have at most: Wantu keeps parts in OSS, whose multipart uploads take
/// up to 10 000 (the emulator's rule, wantu.md §6.5; the service's own limit is UNVERIFIED).
pub const MAX_PARTS: u64 = 10_000;

/// The part size for `size` bytes when the caller chose none: `default`, or larger so that the
/// file fits in [`MAX_PARTS`]. `None` when not even parts of [`MAX_PART_SIZE`] are enough
/// (over ~97.7 GiB): such a file cannot go to Wantu in one upload.
pub fn part_size_for(size: u64, default: u64) -> Option<u64> {
    let part_size = default.max(size.div_ceil(MAX_PARTS));
    (part_size <= MAX_PART_SIZE).then_some(part_size)
}

/// One file's upload to Wantu.
#[derive(Clone, Debug)]
pub struct WantuUpload {
    /// The upload host, e.g. `https://upload.media.aliyun.com` or the emulator's URL.
    pub endpoint: String,
    /// `dir/name`; split at the last `/` into Wantu's `dir` and `name`.
    pub key: String,
    pub mime: String,
}

/// The multipart session Wantu opens on `blockInit`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WantuSession {
    pub id: String,
    pub upload_id: String,
}

/// A successful reply, simple or complete.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UploadReply {
    #[serde(default, deserialize_with = "crate::lenient::opt_string")]
    e_tag: Option<String>,
    #[serde(default, deserialize_with = "crate::lenient::opt_string")]
    id: Option<String>,
    #[serde(default, deserialize_with = "crate::lenient::opt_string")]
    upload_id: Option<String>,
}

impl WantuUpload {
    fn url(&self, op: &str) -> String {
        format!("{}/api/proxy/{op}", self.endpoint.trim_end_matches('/'))
    }

    fn mime(&self) -> &str {
        if self.mime.is_empty() { "application/octet-stream" } else { &self.mime }
    }

    fn form_request(
        &self,
        op: &str,
        token: &str,
        seed: &str,
        build: impl FnOnce(FormBody) -> (String, bytes::Bytes, Option<usize>),
    ) -> HttpRequest {
        let (content_type, body, data_at) = build(FormBody::new(&format!("{}:{op}:{seed}", self.key)));
        let mut request = HttpRequest::new(Method::Post, self.url(op))
            .header("Authorization", token)
            .header("Content-Type", content_type)
            .body(body);
        request.data_at = data_at;
        request
    }

    fn with_file(&self, form: FormBody, data: &[u8], md5_hex: &str) -> (String, bytes::Bytes, Option<usize>) {
        let (_, name) = split_key(&self.key);
        let (content_type, body, at) =
            form.text("size", &data.len().to_string()).text("md5", md5_hex).file("content", &name, self.mime(), data);
        (content_type, body, Some(at))
    }

    /// A simple upload of a whole (small) file.
    pub fn upload_request(&self, token: &str, data: &[u8], md5_hex: &str) -> HttpRequest {
        let (dir, name) = split_key(&self.key);
        self.form_request("upload", token, md5_hex, |f| {
            self.with_file(f.text("dir", &dir).text("name", &name), data, md5_hex)
        })
    }

    /// The object's `eTag` (upper-case hex MD5) and the reply text.
    pub fn parse_upload(&self, response: &HttpResponse) -> Result<(String, String)> {
        check(response, "the upload")?;
        let reply: UploadReply = json_reply(ServiceKind::Wantu, "the upload", response)?;
        Ok((reply.e_tag.unwrap_or_default(), response.text()))
    }

    /// `blockInit` with part 1's bytes.
    pub fn init_request(&self, token: &str, data: &[u8], md5_hex: &str) -> HttpRequest {
        let (dir, name) = split_key(&self.key);
        self.form_request("blockInit", token, md5_hex, |f| {
            self.with_file(f.text("dir", &dir).text("name", &name), data, md5_hex)
        })
    }

    /// The session and part 1's `eTag`.
    pub fn parse_init(&self, response: &HttpResponse) -> Result<(WantuSession, String)> {
        check(response, "blockInit")?;
        let reply: UploadReply = json_reply(ServiceKind::Wantu, "blockInit", response)?;
        match (reply.id, reply.upload_id) {
            (Some(id), Some(upload_id)) if !id.is_empty() && !upload_id.is_empty() => {
                Ok((WantuSession { id, upload_id }, reply.e_tag.unwrap_or_default()))
            }
            _ => Err(super::unexpected_reply(ServiceKind::Wantu, "blockInit", response)),
        }
    }

    /// `blockUpload` of part `index` (0-based; Wantu numbers parts from 1, and part 1 went with
    /// `blockInit`).
    pub fn part_request(
        &self,
        token: &str,
        session: &WantuSession,
        index: u64,
        data: &[u8],
        md5_hex: &str,
    ) -> HttpRequest {
        let number = (index + 1).to_string();
        self.form_request("blockUpload", token, md5_hex, |f| {
            self.with_file(
                f.text("id", &session.id).text("uploadId", &session.upload_id).text("partNumber", &number),
                data,
                md5_hex,
            )
        })
    }

    /// The part's `eTag`.
    pub fn parse_part(&self, response: &HttpResponse) -> Result<String> {
        check(response, "blockUpload")?;
        let reply: UploadReply = json_reply(ServiceKind::Wantu, "blockUpload", response)?;
        Ok(reply.e_tag.unwrap_or_default())
    }

    /// `blockComplete` with every part's `eTag` in order and the whole file's MD5.
    pub fn complete_request(
        &self,
        token: &str,
        session: &WantuSession,
        etags: &[String],
        md5_hex: &str,
    ) -> Result<HttpRequest> {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct PartEntry<'a> {
            part_number: u64,
            e_tag: &'a str,
        }
        let parts: Vec<PartEntry<'_>> =
            etags.iter().enumerate().map(|(i, e)| PartEntry { part_number: i as u64 + 1, e_tag: e }).collect();
        let parts = urlsafe_b64_nopad(crate::json::to_string(&parts)?);
        Ok(self.form_request("blockComplete", token, md5_hex, |f| {
            f.text("id", &session.id)
                .text("uploadId", &session.upload_id)
                .text("parts", &parts)
                .text("md5", md5_hex)
                .finish_without_file()
        }))
    }

    /// `(eTag, reply text)` of complete.
    pub fn parse_complete(&self, response: &HttpResponse) -> Result<(String, String)> {
        check(response, "blockComplete")?;
        let reply: UploadReply = json_reply(ServiceKind::Wantu, "blockComplete", response)?;
        Ok((reply.e_tag.unwrap_or_default(), response.text()))
    }

    /// `blockCancel`: the service drops the session.
    pub fn cancel_request(&self, token: &str, session: &WantuSession) -> HttpRequest {
        self.form_request("blockCancel", token, &session.upload_id, |f| {
            f.text("id", &session.id).text("uploadId", &session.upload_id).finish_without_file()
        })
    }

    pub fn parse_cancel(&self, response: &HttpResponse) -> Result<()> {
        check(response, "blockCancel")
    }
}

fn check(response: &HttpResponse, what: &str) -> Result<()> {
    if response.is_success() {
        return Ok(());
    }
    Err(refusal(response, what, " (the upload token is invalid or expired: ask the backend for a new one)"))
}

/// The error for a Wantu reply that is not a success (uploads and management alike): `code` as
/// the code (the HTTP status when there is none), the kind from the code and status, `message`,
/// `requestId`; `auth_hint` is appended when the token was refused.
pub(crate) fn refusal(response: &HttpResponse, what: &str, auth_hint: &str) -> Error {
    let reply = ErrorReply::of(response);
    let code = reply.code.unwrap_or_else(|| response.status.to_string());
    let kind = match code.as_str() {
        "BadDigest" | "InvalidPart" => ErrorKind::Integrity,
        _ => kind_for_status(response.status),
    };
    let message = reply.message.unwrap_or_else(|| format!("HTTP {}", response.status));
    let hint = if kind == ErrorKind::Auth { auth_hint } else { "" };
    let mut err = Error::new(kind, format!("Wantu refused {what}: {code}: {message}{hint}"))
        .with_status(response.status)
        .with_code(code);
    if let Some(id) = reply.request_id {
        err = err.with_request_id(id);
    }
    err
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn upload() -> WantuUpload {
        WantuUpload { endpoint: "http://w.example".into(), key: "img/a.png".into(), mime: "image/png".into() }
    }

    #[test]
    fn request_shapes() {
        let u = upload();
        let r = u.upload_request("UPLOAD_AK_TOP x", b"png", "abc");
        assert_eq!(r.url, "http://w.example/api/proxy/upload");
        assert_eq!(r.header_value("Authorization"), Some("UPLOAD_AK_TOP x"));
        let text = String::from_utf8(r.body.to_vec()).unwrap();
        let (dir_at, name_at, content_at) = (
            text.find("name=\"dir\"").unwrap(),
            text.find("name=\"name\"").unwrap(),
            text.find("name=\"content\"").unwrap(),
        );
        assert!(dir_at < name_at && name_at < content_at, "the file goes last");
        assert!(text.contains("\r\n\r\n/img\r\n") && text.contains("\r\n\r\na.png\r\n"));

        let s = WantuSession { id: "i".into(), upload_id: "U".into() };
        let r = u.part_request("t", &s, 1, b"x", "m");
        assert!(String::from_utf8(r.body.to_vec()).unwrap().contains("name=\"partNumber\"\r\n\r\n2\r\n"));
        let r = u.complete_request("t", &s, &["A".into(), "B".into()], "md5").unwrap();
        let text = String::from_utf8(r.body.to_vec()).unwrap();
        let parts = urlsafe_b64_nopad(r#"[{"partNumber":1,"eTag":"A"},{"partNumber":2,"eTag":"B"}]"#);
        assert!(text.contains(&parts), "{text}");
    }

    #[test]
    fn replies_and_errors() {
        let u = upload();
        let ok = |body: &str| HttpResponse { status: 200, headers: vec![], body: Bytes::from(body.to_owned()) };
        let (s, etag) =
            u.parse_init(&ok(r#"{"code":"OK","id":"i","uploadId":"U","partNumber":1,"eTag":"E1"}"#)).unwrap();
        assert_eq!((s.id.as_str(), s.upload_id.as_str(), etag.as_str()), ("i", "U", "E1"));
        assert!(u.parse_init(&ok(r#"{"code":"OK"}"#)).is_err());
        let expired = HttpResponse {
            status: 401,
            headers: vec![],
            body: Bytes::from_static(br#"{"code":"TokenExpired","message":"expired","requestId":"R"}"#),
        };
        let err = u.parse_part(&expired).unwrap_err();
        assert_eq!((err.kind(), err.code(), err.request_id()), (ErrorKind::Auth, Some("TokenExpired"), Some("R")));
    }
}
