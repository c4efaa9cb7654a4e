//! UFile uploads (protocols/ufile.md §4.2, §5): `PUT /<key>` for small files; for large ones
//! initiate (`POST ?uploads`, which says the part size `BlkSize`), parts (`PUT ?partNumber=n`,
//! 0-based), finish (`POST ?uploadId`, the part ETags in order) and abort (`DELETE ?uploadId`).
//!
//! UFile signs every request (method, Content-MD5, Content-Type, Date, bucket, key), so each
//! request carries a [`SignRequest`] for the engine's token provider. Every body goes with its
//! hex `Content-MD5`, which the service checks; each part's `ETag` is checked against the local
//! SHA-1 part etag, and the final `ETag` against the local UFile etag.

use serde::Deserialize;

use super::{
    ErrorReply, HttpRequest, HttpResponse, Method, ServiceKind, json_reply, kind_for_status, unexpected_reply,
};
use crate::encoding::percent_encode;
use crate::sign::ufile::SignRequest;
use crate::{Error, ErrorKind, Result};

/// The largest file that goes in one `PUT` (ufile.md §4.2: the doc caps PutFile at "512 MB";
/// read as 10^6 bytes, the smaller reading, so that the service takes it either way). Larger
/// files go in parts.
pub const LARGEST_PUT: u64 = 512_000_000;

/// The smallest `BlkSize` taken from an initiate reply: UFile's is 4 MiB; a server that asks for
/// tiny parts is broken or not UFile.
pub const MIN_BLK_SIZE: u64 = 64 * 1024;

/// One file's upload to UFile.
#[derive(Clone, Debug)]
pub struct UfileUpload {
    /// Scheme, host and (path style) bucket path, e.g. `http://<bucket>.cn-bj.ufileos.com` or
    /// `http://127.0.0.1:9102/<bucket>`. The key is appended.
    pub base_url: String,
    /// The bucket name, for the signature.
    pub bucket: String,
    pub key: String,
    /// MIME type sent and signed ("" sends `application/octet-stream`).
    pub mime: String,
}

impl UfileUpload {
    fn mime(&self) -> &str {
        if self.mime.is_empty() { "application/octet-stream" } else { &self.mime }
    }

    fn url(&self, query: &str) -> String {
        format!("{}/{}{query}", self.base_url.trim_end_matches('/'), percent_encode(&self.key, true))
    }

    fn signed(&self, method: Method, url: String, content_md5: &str, content_type: &str) -> HttpRequest {
        let mut request = HttpRequest::new(method, url);
        if !content_type.is_empty() {
            request = request.header("Content-Type", content_type);
        }
        if !content_md5.is_empty() {
            request = request.header("Content-MD5", content_md5);
        }
        request.sign = Some(SignRequest {
            method: method.as_str().to_owned(),
            bucket: self.bucket.clone(),
            key: self.key.clone(),
            content_md5: content_md5.to_owned(),
            content_type: content_type.to_owned(),
            ..Default::default()
        });
        request
    }

    /// `PUT` of a whole (small) file with its hex MD5.
    pub fn put_request(&self, data: bytes::Bytes, md5_hex: &str) -> HttpRequest {
        self.signed(Method::Put, self.url(""), md5_hex, self.mime()).body(data)
    }

    /// The object's `ETag` from a PUT reply.
    pub fn parse_put(&self, response: &HttpResponse) -> Result<String> {
        check(response, "the upload")?;
        etag(response, "the upload")
    }

    /// Initiate a multipart upload.
    pub fn init_request(&self) -> HttpRequest {
        self.signed(Method::Post, self.url("?uploads"), "", self.mime())
    }

    /// `(upload id, part size)` from the initiate reply.
    pub fn parse_init(&self, response: &HttpResponse) -> Result<(String, u64)> {
        check(response, "initiating the multipart upload")?;
        let reply: InitReply = json_reply(ServiceKind::Ufile, "initiating the multipart upload", response)?;
        let valid_id = !reply.upload_id.is_empty()
            && reply.upload_id.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.~".contains(&b));
        match reply.blk_size {
            Some(blk_size) if valid_id && blk_size < MIN_BLK_SIZE => Err(Error::new(
                ErrorKind::Server,
                format!(
                    "UFile asked for parts of {blk_size} bytes: yunup takes parts of at least {MIN_BLK_SIZE} bytes (64 KiB; UFile's is 4 MiB), as smaller ones would take a request per few bytes; check the endpoint"
                ),
            )),
            Some(blk_size) if valid_id => Ok((reply.upload_id, blk_size)),
            _ => Err(unexpected_reply(ServiceKind::Ufile, "initiating the multipart upload", response)),
        }
    }

    /// Part `number` (0-based) of upload `upload_id`.
    pub fn part_request(&self, upload_id: &str, number: u64, data: bytes::Bytes, md5_hex: &str) -> HttpRequest {
        self.signed(Method::Put, self.url(&format!("?uploadId={upload_id}&partNumber={number}")), md5_hex, self.mime())
            .body(data)
    }

    /// The part's `ETag` (quotes removed).
    pub fn parse_part(&self, response: &HttpResponse) -> Result<String> {
        check(response, "a part")?;
        etag(response, "a part")
    }

    /// Finish with the part ETags in part order.
    pub fn finish_request(&self, upload_id: &str, etags: &[String]) -> HttpRequest {
        let body = etags.join(",");
        let md5 = <crate::hash::Md5 as crate::hash::Hasher>::digest(body.as_bytes()).to_hex();
        self.signed(Method::Post, self.url(&format!("?uploadId={upload_id}")), &md5, "text/plain").body(body)
    }

    /// `(object ETag, reply text)` of finish.
    pub fn parse_finish(&self, response: &HttpResponse) -> Result<(String, String)> {
        check(response, "finishing the multipart upload")?;
        Ok((etag(response, "finishing the multipart upload")?, response.text()))
    }

    /// `HEAD` of the object: is it there, and with which ETag (after a finish whose reply was
    /// lost).
    pub fn head_request(&self) -> HttpRequest {
        self.signed(Method::Head, self.url(""), "", "")
    }

    /// The object's `ETag` from a `HEAD` reply.
    pub fn parse_head(&self, response: &HttpResponse) -> Result<String> {
        check(response, "looking at the object")?;
        etag(response, "looking at the object")
    }

    /// Abort a multipart upload: the service drops its parts.
    pub fn abort_request(&self, upload_id: &str) -> HttpRequest {
        self.signed(Method::Delete, self.url(&format!("?uploadId={upload_id}")), "", "")
    }

    pub fn parse_abort(&self, response: &HttpResponse) -> Result<()> {
        check(response, "aborting the multipart upload")
    }
}

#[derive(Deserialize)]
struct InitReply {
    #[serde(rename = "UploadId")]
    upload_id: String,
    #[serde(rename = "BlkSize", deserialize_with = "crate::lenient::opt_u64", default)]
    blk_size: Option<u64>,
}

fn etag(response: &HttpResponse, what: &str) -> Result<String> {
    let value = response.header("etag").map(|v| v.trim().trim_matches('"').to_owned()).unwrap_or_default();
    if value.is_empty() {
        return Err(unexpected_reply(ServiceKind::Ufile, what, response));
    }
    Ok(value)
}

fn check(response: &HttpResponse, what: &str) -> Result<()> {
    if response.is_success() {
        return Ok(());
    }
    let hint = match (kind_for_status(response.status), response.status) {
        (ErrorKind::Auth, _) => " (the signature was refused: check the token backend's keys and clock)",
        (_, 404) if what == "a part" || what.starts_with("finishing") || what.starts_with("aborting") => {
            " (the multipart upload no longer exists)"
        }
        (_, 404) => " (check the bucket name and the endpoint)",
        _ => "",
    };
    Err(refusal(response, what, hint))
}

/// The RetCode of a refused `Content-MD5` (UNVERIFIED: the emulator's choice).
const BAD_DIGEST: i64 = -148603;
/// The RetCode of a wrong signature (observed, protocols/ufile.md §8).
const INVALID_SIGNATURE: i64 = -148658;

/// The error for a UFile reply that is not a success (upload and management requests alike):
/// the kind from the HTTP status, `RetCode` as the code (`"404"` for a bare 404), `ErrMsg` in the
/// message followed by `hint`, and `X-SessionId` as the request id.
pub(crate) fn refusal(response: &HttpResponse, what: &str, hint: &str) -> Error {
    let reply = ErrorReply::of(response);
    let bare = reply.err_msg.is_none();
    let message = reply.err_msg.unwrap_or_else(|| format!("HTTP {}", response.status));
    let lower = message.to_ascii_lowercase();
    // A body that arrived damaged (its Content-MD5 does not match) is sent again, like a part
    // whose etag is wrong. The service's RetCode for it is UNVERIFIED (the emulator's is
    // -148603), so a 400 whose message names the MD5 counts too.
    let damaged = response.status == 400 && (reply.ret_code == Some(BAD_DIGEST) || lower.contains("md5"));
    let kind = if damaged { ErrorKind::Integrity } else { kind_for_status(response.status) };
    // UFile also answers 403 for refusals that are not about the signature (a referer rule, no
    // permission on the bucket). Those carry their own message; a hint about keys and clocks
    // would send the user the wrong way. A bare 401/403 is most likely the signature.
    let signature_hint = reply.ret_code == Some(INVALID_SIGNATURE) || lower.contains("signature") || bare;
    let hint = if kind == ErrorKind::Auth && !signature_hint { "" } else { hint };
    let mut err = Error::new(kind, format!("UFile refused {what}: {message}{hint}")).with_status(response.status);
    if let Some(code) = reply.ret_code {
        err = err.with_code(code.to_string());
    } else if response.status == 404 {
        err = err.with_code("404");
    }
    if let Some(id) = response.header("x-sessionid") {
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

    fn upload() -> UfileUpload {
        UfileUpload {
            base_url: "http://127.0.0.1:9102/b/".into(),
            bucket: "b".into(),
            key: "a b/中.txt".into(),
            mime: "".into(),
        }
    }

    #[test]
    fn requests_are_signed_as_sent() {
        let u = upload();
        let r = u.put_request(Bytes::from_static(b"hi"), "49f68a5c8493ec2c0bf489821c21fc3b");
        assert_eq!(r.url, "http://127.0.0.1:9102/b/a%20b/%E4%B8%AD.txt");
        let sign = r.sign.as_ref().unwrap();
        assert_eq!((sign.method.as_str(), sign.key.as_str()), ("PUT", "a b/中.txt"));
        assert_eq!(sign.content_type, r.header_value("Content-Type").unwrap());
        assert_eq!(sign.content_md5, r.header_value("Content-MD5").unwrap());
        let r = u.part_request("abc", 3, Bytes::from_static(b"x"), "m");
        assert!(r.url.ends_with("?uploadId=abc&partNumber=3"));
        let r = u.finish_request("abc", &["e0".into(), "e1".into()]);
        assert_eq!(&r.body[..], b"e0,e1");
        assert_eq!(r.sign.as_ref().unwrap().content_md5, r.header_value("Content-MD5").unwrap());
    }

    #[test]
    fn replies() {
        let u = upload();
        let ok = |body: &str, etag: Option<&str>| HttpResponse {
            status: 200,
            headers: etag.map(|e| vec![("etag".to_owned(), e.to_owned())]).unwrap_or_default(),
            body: Bytes::from(body.to_owned()),
        };
        assert_eq!(u.parse_put(&ok("", Some("\"AQAAAabc\""))).unwrap(), "AQAAAabc");
        assert!(u.parse_put(&ok("", None)).is_err(), "a reply without ETag cannot be verified");
        let (id, size) =
            u.parse_init(&ok(r#"{"UploadId":"u-1","BlkSize":4194304,"Bucket":"b","Key":"k"}"#, None)).unwrap();
        assert_eq!((id.as_str(), size), ("u-1", 4_194_304));
        assert!(u.parse_init(&ok(r#"{"UploadId":"a b","BlkSize":4194304}"#, None)).is_err());
        // A part size of a byte would mean a request per byte of the file.
        for tiny in [0, 1, 65535] {
            let reply = ok(&format!(r#"{{"UploadId":"u-1","BlkSize":{tiny}}}"#), None);
            let err = u.parse_init(&reply).unwrap_err();
            assert!(err.kind() == ErrorKind::Server && err.message().contains("at least 65536"), "{err}");
        }
        assert_eq!(u.parse_init(&ok(r#"{"UploadId":"u-1","BlkSize":65536}"#, None)).unwrap().1, 65536);
        let denied = HttpResponse {
            status: 403,
            headers: vec![("x-sessionid".into(), "s1".into())],
            body: Bytes::from_static(br#"{ "RetCode": -148658, "ErrMsg": "invalid signature" }"#),
        };
        let err = u.parse_part(&denied).unwrap_err();
        assert_eq!((err.kind(), err.code(), err.request_id()), (ErrorKind::Auth, Some("-148658"), Some("s1")));
        assert!(err.message().contains("invalid signature"));
        assert!(err.message().contains("keys and clock"), "{err}");
        // A 403 for another reason keeps the service's words and no hint about the signature.
        for body in [&br#"{"RetCode":-148700,"ErrMsg":"referer not allowed"}"#[..], br#"{"ErrMsg":"no permission"}"#] {
            let refused = HttpResponse { body: Bytes::from_static(body), ..denied.clone() };
            let err = u.parse_part(&refused).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Auth);
            assert!(!err.message().contains("signature") && !err.message().contains("clock"), "{err}");
        }
        // Without a RetCode or message to go by, the signature is the likely cause.
        let bare = HttpResponse { body: Bytes::new(), ..denied.clone() };
        assert!(u.parse_part(&bare).unwrap_err().message().contains("keys and clock"));
    }
}
