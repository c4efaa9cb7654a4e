//! WCS uploads (protocols/wcs.md §3, §5): a form `POST /file/upload` for small files, and for
//! large ones blocks made with `mkblk` (first chunk) and `bput` (the rest), committed by `mkfile`.
//!
//! Every chunk reply carries the chunk's CRC-32 and MD5 (`checksum`), and the block offset; both
//! are checked against what was sent, and `mkfile`'s `hash` against the local WCS etag.

use bytes::Bytes;
use serde::Deserialize;

use super::{
    ErrorReply, FormBody, HttpRequest, HttpResponse, Method, ServiceKind, excerpt, json_reply, kind_for_status,
    unexpected_reply,
};
use crate::encoding::{decode_base64_lenient, urlsafe_b64};
use crate::hash::{Crc32, Hasher, Md5};
use crate::{Error, ErrorKind, Result};

/// The largest file that goes in one form upload (wcs.md §3: files over 500 MB "must use slice
/// upload"; read as 10^6 bytes, the smaller reading). Larger files go in blocks.
pub const LARGEST_FORM_UPLOAD: u64 = 500_000_000;

/// One file's upload to WCS: where, under which key, with which identity.
#[derive(Clone, Debug)]
pub struct WcsUpload {
    /// The upload host, e.g. `https://<account>.up0.v1.wcsapi.com` or the emulator's URL.
    pub endpoint: String,
    pub key: String,
    /// MIME type to store ("" lets the service decide).
    pub mime: String,
    /// Identifies the file's session on every slice request (`UploadBatch`).
    pub batch: String,
}

impl WcsUpload {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.endpoint.trim_end_matches('/'))
    }

    /// The form upload of a whole (small) file.
    pub fn simple_request(&self, token: &str, data: &[u8]) -> HttpRequest {
        let mut form = FormBody::new(&format!("{}:{}:{}", self.batch, self.key, data.len())).text("token", token);
        form = form.text("key", &self.key);
        if !self.mime.is_empty() {
            form = form.text("mimeType", &self.mime);
        }
        let mime = if self.mime.is_empty() { "application/octet-stream" } else { self.mime.as_str() };
        let filename = self.key.rsplit('/').next().unwrap_or(&self.key);
        let (content_type, body, at) = form.file("file", filename, mime, data);
        let mut request =
            HttpRequest::new(Method::Post, self.url("/file/upload")).header("Content-Type", content_type).body(body);
        request.data_at = Some(at);
        request
    }

    /// The `hash` of a form upload reply: URL-safe base64 of a query string ending in
    /// `hash=<etag>` (or, with a callback, the callback's JSON, which may carry `hash`).
    pub fn parse_simple(&self, response: &HttpResponse) -> Result<(String, String)> {
        check(response, "the form upload")?;
        let text = response.text();
        let decoded = decode_base64_lenient(&text).ok().and_then(|b| String::from_utf8(b).ok());
        if let Some(query) = decoded.filter(|q| q.contains("hash=")) {
            let hash = query.split('&').find_map(|kv| kv.strip_prefix("hash=")).unwrap_or("").to_owned();
            return Ok((hash, query));
        }
        let reply: MkfileReply = json_reply(ServiceKind::Wcs, "the form upload", response)?;
        Ok((reply.hash.unwrap_or_default(), text))
    }

    /// The requests of block `index` (bytes `data`), sent in chunks of `chunk_size`.
    /// A block whose chunks' CRC-32s the caller took while reading it (one hashing pass);
    /// `crcs` has one entry per chunk of `chunk_size`, in order.
    pub fn block_with_crcs(&self, index: u64, data: Bytes, chunk_size: u64, crcs: Vec<u32>) -> WcsBlock {
        WcsBlock { crcs, ..self.block(index, data, chunk_size) }
    }

    pub fn block(&self, index: u64, data: Bytes, chunk_size: u64) -> WcsBlock {
        WcsBlock {
            upload: self.clone(),
            index,
            data,
            chunk_size: chunk_size.max(1),
            offset: 0,
            ctx: None,
            crcs: Vec::new(),
        }
    }

    /// `mkfile`: commit the blocks (their last ctxs, in block order) as one file of `size` bytes.
    pub fn mkfile_request(&self, token: &str, size: u64, ctxs: &[String]) -> HttpRequest {
        let mut request =
            HttpRequest::new(Method::Post, self.url(&format!("/mkfile/{size}/key/{}", urlsafe_b64(&self.key))))
                .header("Authorization", format!("UpToken {token}"))
                .header("Content-Type", "text/plain;charset=UTF-8")
                .header("UploadBatch", &self.batch)
                .header("Key", urlsafe_b64(&self.key))
                .body(ctxs.join(","));
        if !self.mime.is_empty() {
            request = request.header("MimeType", &self.mime);
        }
        request
    }

    /// `(hash, reply text)` of `mkfile`.
    pub fn parse_mkfile(&self, response: &HttpResponse) -> Result<(String, String)> {
        check(response, "mkfile")?;
        let reply: MkfileReply = json_reply(ServiceKind::Wcs, "mkfile", response)?;
        let hash = reply.hash.ok_or_else(|| unexpected_reply(ServiceKind::Wcs, "mkfile", response))?;
        Ok((hash, response.text()))
    }
}

#[derive(Deserialize)]
struct MkfileReply {
    #[serde(default)]
    hash: Option<String>,
}

#[derive(Deserialize)]
struct ChunkReply {
    ctx: String,
    #[serde(default, deserialize_with = "crate::lenient::opt_string")]
    checksum: Option<String>,
    #[serde(default, deserialize_with = "crate::lenient::opt_u64")]
    crc32: Option<u64>,
    #[serde(default, deserialize_with = "crate::lenient::opt_u64")]
    offset: Option<u64>,
}

/// One block on its way: `mkblk` with the first chunk, then `bput` for each further chunk, each
/// reply checked. When [`WcsBlock::next_request`] returns `None`, [`WcsBlock::ctx`] is the
/// block's final ctx for `mkfile`.
#[derive(Clone, Debug)]
pub struct WcsBlock {
    upload: WcsUpload,
    index: u64,
    data: Bytes,
    chunk_size: u64,
    offset: u64,
    ctx: Option<String>,
    /// CRC-32s of the chunks, when taken beforehand; else each is computed for its reply.
    crcs: Vec<u32>,
}

impl WcsBlock {
    fn chunk(&self) -> Bytes {
        let start = self.offset as usize;
        let end = (self.offset + self.chunk_size).min(self.data.len() as u64) as usize;
        self.data.slice(start..end)
    }

    /// The next request, or `None` when the block is complete.
    pub fn next_request(&self, token: &str) -> Option<HttpRequest> {
        let done = self.ctx.is_some() && self.offset >= self.data.len() as u64;
        if done {
            return None;
        }
        let path = match &self.ctx {
            None => format!("/mkblk/{}/{}", self.data.len(), self.index),
            Some(ctx) => format!("/bput/{ctx}/{}", self.offset),
        };
        Some(
            HttpRequest::new(Method::Post, self.upload.url(&path))
                .header("Authorization", format!("UpToken {token}"))
                .header("Content-Type", "application/octet-stream")
                .header("UploadBatch", &self.upload.batch)
                .header("Key", urlsafe_b64(&self.upload.key))
                .body(self.chunk()),
        )
    }

    /// Check a chunk reply (CRC-32, MD5, offset) and move on. A mismatch is an
    /// [`ErrorKind::Integrity`] error: the block must be sent again from `mkblk`.
    pub fn on_response(&mut self, response: &HttpResponse) -> Result<()> {
        let what = if self.ctx.is_none() { "mkblk" } else { "bput" };
        check(response, what)?;
        let reply: ChunkReply = json_reply(ServiceKind::Wcs, what, response)?;
        let chunk = self.chunk();
        let crc = || match self.crcs.get((self.offset / self.chunk_size) as usize) {
            Some(&crc) => crc,
            None => Crc32::digest(&chunk),
        };
        let expected_offset = self.offset + chunk.len() as u64;
        // One check per chunk is enough (the object's etag is checked at the end): the CRC-32,
        // or the MD5 `checksum` when a reply carries no CRC-32. An MD5 would cost this thread
        // twice a CRC-32's time for nothing more.
        let mismatch = match (reply.crc32, reply.checksum.as_deref()) {
            (Some(c), _) => c != u64::from(crc()),
            (None, Some(md5)) => !md5.eq_ignore_ascii_case(&Md5::digest(&chunk).to_hex()),
            (None, None) => false,
        };
        if mismatch {
            return Err(Error::new(
                ErrorKind::Integrity,
                format!(
                    "WCS received different bytes for block {} at offset {} ({what} checksum mismatch)",
                    self.index, self.offset
                ),
            ));
        }
        if reply.offset.is_some_and(|o| o != expected_offset) || reply.ctx.is_empty() || reply.ctx.contains(',') {
            return Err(unexpected_reply(ServiceKind::Wcs, what, response));
        }
        self.offset = expected_offset;
        self.ctx = Some(reply.ctx);
        Ok(())
    }

    /// The block's last ctx, once complete.
    pub fn ctx(&self) -> Option<&str> {
        if self.offset >= self.data.len() as u64 { self.ctx.as_deref() } else { None }
    }

    /// Bytes of this block confirmed by the service so far.
    pub fn confirmed(&self) -> u64 {
        if self.ctx.is_some() { self.offset } else { 0 }
    }
}

/// Turn a non-2xx reply into an [`Error`] with WCS's code, message and `X-Reqid`.
fn check(response: &HttpResponse, what: &str) -> Result<()> {
    if response.is_success() {
        return Ok(());
    }
    Err(reply_error(response, what, " (the upload token is invalid or expired: ask the backend for a new one)"))
}

/// The [`Error`] for a WCS error reply (uploads and management alike): the body's `code`
/// (else the HTTP status), its `message` (or `error`), the status and `X-Reqid`. `auth_hint` is
/// appended to the message of authentication failures.
pub(crate) fn reply_error(response: &HttpResponse, what: &str, auth_hint: &str) -> Error {
    let reply = ErrorReply::of(response);
    let code = reply.code.unwrap_or_else(|| response.status.to_string());
    // Not JSON (a proxy's page, or no body at all): the body's start, or the status.
    let message = reply.message.or(reply.error).unwrap_or_else(|| match excerpt(response.text(), 200) {
        text if text.trim().is_empty() => format!("HTTP {}", response.status),
        text => text,
    });
    let kind = match code.as_str() {
        "701" | "412" => ErrorKind::Integrity,
        "631" | "406" | "413" | "612" => ErrorKind::InvalidInput,
        "579" => ErrorKind::Server,
        _ => kind_for_status(response.status),
    };
    let hint = match kind {
        ErrorKind::Auth => auth_hint,
        _ => "",
    };
    let mut err =
        Error::new(kind, format!("WCS refused {what}: {message}{hint}")).with_status(response.status).with_code(code);
    if let Some(id) = response.header("x-reqid") {
        err = err.with_request_id(id);
    }
    err
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn upload() -> WcsUpload {
        WcsUpload {
            endpoint: "http://up.example/".into(),
            key: "a b/c.txt".into(),
            mime: String::new(),
            batch: "b1".into(),
        }
    }

    fn json(status: u16, body: &str) -> HttpResponse {
        HttpResponse { status, headers: vec![("x-reqid".into(), "r1".into())], body: Bytes::from(body.to_owned()) }
    }

    #[test]
    fn a_block_is_mkblk_then_bputs_with_verified_replies() {
        let data = Bytes::from_static(b"hello world!");
        let mut block = upload().block(2, data, 5);
        let r = block.next_request("T").unwrap();
        assert_eq!(r.url, "http://up.example/mkblk/12/2");
        assert_eq!(r.header_value("Authorization"), Some("UpToken T"));
        assert_eq!(r.header_value("Key"), Some(urlsafe_b64("a b/c.txt").as_str()));
        assert_eq!(&r.body[..], b"hello");
        let reply = |chunk: &[u8], ctx: &str, offset: u64| {
            json(
                200,
                &format!(
                    r#"{{"ctx":"{ctx}","checksum":"{}","crc32":{},"offset":{offset}}}"#,
                    Md5::digest(chunk).to_hex(),
                    Crc32::digest(chunk)
                ),
            )
        };
        block.on_response(&reply(b"hello", "c1", 5)).unwrap();
        let r = block.next_request("T").unwrap();
        assert_eq!(r.url, "http://up.example/bput/c1/5");
        assert_eq!(&r.body[..], b" worl");
        // A reply for other bytes is an integrity error, and the block does not advance.
        let err = block.on_response(&reply(b"xxxxx", "c2", 10)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Integrity);
        // Without a CRC-32 the MD5 checksum is checked.
        let md5_only = |chunk: &[u8]| {
            json(200, &format!(r#"{{"ctx":"c2","checksum":"{}","offset":10}}"#, Md5::digest(chunk).to_hex()))
        };
        let err = block.on_response(&md5_only(b"xxxxx")).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Integrity);
        let mut twin = block.clone();
        twin.on_response(&md5_only(b" worl")).unwrap();
        assert_eq!(twin.confirmed(), 10);
        assert_eq!(block.confirmed(), 5);
        block.on_response(&reply(b" worl", "c2", 10)).unwrap();
        block.on_response(&reply(b"d!", "c3", 12)).unwrap();
        assert!(block.next_request("T").is_none());
        assert_eq!(block.ctx(), Some("c3"));
    }

    #[test]
    fn mkfile_and_form_upload_shapes() {
        let u = upload();
        let r = u.mkfile_request("T", 12, &["c1".into(), "c2".into()]);
        assert_eq!(r.url, format!("http://up.example/mkfile/12/key/{}", urlsafe_b64("a b/c.txt")));
        assert_eq!(&r.body[..], b"c1,c2");
        let (hash, _) = u.parse_mkfile(&json(200, r#"{"key":"a b/c.txt","hash":"Fabc"}"#)).unwrap();
        assert_eq!(hash, "Fabc");
        let r = u.simple_request("T", b"hi");
        assert!(r.header_value("Content-Type").unwrap().starts_with("multipart/form-data; boundary="));
        let reply = HttpResponse { status: 200, headers: vec![], body: Bytes::from(urlsafe_b64("key=k&hash=Fxyz")) };
        assert_eq!(u.parse_simple(&reply).unwrap().0, "Fxyz");
    }

    #[test]
    fn errors_carry_code_status_and_request_id() {
        let err = upload().parse_mkfile(&json(401, r#"{"code":401,"message":"token expired"}"#)).unwrap_err();
        assert_eq!(
            (err.kind(), err.status(), err.code(), err.request_id()),
            (ErrorKind::Auth, Some(401), Some("401"), Some("r1"))
        );
        let err = upload().parse_mkfile(&json(400, r#"{"code":701,"message":"ctx"}"#)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Integrity);
        let err = upload().parse_mkfile(&json(502, "<html>bad gateway</html>")).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Server);
        assert!(err.message().ends_with(": <html>bad gateway</html>"), "{err}");
        // No body (a host that is not WCS, a HEAD-like reply): the status speaks, not "".
        let err = reply_error(&json(404, ""), "stat", "");
        assert_eq!(err.message(), "WCS refused stat: HTTP 404");
        // A long page is quoted in part.
        let err = reply_error(&json(500, &"x".repeat(5000)), "stat", "");
        assert_eq!(err.message().len(), "WCS refused stat: ".len() + 200);
        let err = upload().parse_mkfile(&json(200, "not json")).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Server);
    }
}
