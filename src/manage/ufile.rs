//! UFile (US3) management (protocols/ufile.md §3, §4.4, §6, §7): download URLs, ranged and
//! resumable downloads, HEAD, delete, upload-hit, the two listings, and bucket management through
//! the UCloud API.
//!
//! [`UfileManager`] holds the credentials, the bucket's base URL (as for uploads: the bucket's
//! origin `http://<bucket>.cn-bj.ufileos.com`, or `http://host:port/<bucket>` path style) and the
//! API endpoint (`https://api.ucloud.cn` unless [`UfileManager::with_api_url`] says otherwise).
//! Object requests are signed one by one (§2: `Authorization: UCloud <pub>:<sig>`, no `Date`, no
//! canonical headers); bucket actions are `GET <api>/?Action=...&PublicKey=...&Signature=<hex>`
//! (§7.1). Every request is built by a `*_request` method and every reply read by a `parse_*`
//! function, with no I/O: the async methods only send one through the [`Transport`] and feed the
//! reply to the other, so the shapes are unit-tested on both targets.
//!
//! | operation | request | method |
//! |---|---|---|
//! | public URL | `GET <base>/<key>` | [`UfileManager::public_url`] |
//! | private URL | `?UCloudPublicKey=&Expires=&Signature=` | [`UfileManager::private_url`] |
//! | HEAD | `HEAD /<key>` | [`UfileManager::head`] |
//! | ranged GET | `GET /<key>` with `Range: bytes=a-b` | [`UfileManager::fetch_range`], [`UfileManager::download_stream`], `download_to_file` (native) |
//! | delete | `DELETE /<key>` (204) | [`UfileManager::delete`] |
//! | upload-hit | `POST /uploadhit?Hash=&FileName=&FileSize=` | [`UfileManager::upload_hit`] |
//! | prefix list | `GET /?list&prefix=&marker=&limit=` | [`UfileManager::prefix_list`] (a `Stream`), [`UfileManager::prefix_list_page`] |
//! | ListObjects | `GET /?listobjects&prefix=&marker=&max-keys=&delimiter=` | [`UfileManager::list_objects`] (a `Stream`), [`UfileManager::list_objects_page`] |
//! | CreateBucket, DeleteBucket, DescribeBucket, UpdateBucket, GetFileList | UCloud API | [`UfileManager::create_bucket`] … [`UfileManager::get_file_list`] |
//!
//! ## The UVideo names
//!
//! UVideo (云视频) is UFile under other names (§11): a *space* is a bucket and the Python SDK
//! `ucloud.uvideo` (the seed's `downloaduvideo`, `deleteuvideo`, `spacemanager`) signs and
//! addresses exactly as UFile does. Point the manager at the UVideo download host and the calls
//! map one to one:
//!
//! | UVideo SDK | here |
//! |---|---|
//! | `DownloadUVideo.download_file(space, key, savefile, isprivate=False)` | [`UfileManager::public_url`], or `download_to_file` (signed, works for both) |
//! | `DownloadUVideo.download_file(space, key, savefile)` (private, `expires`) | [`UfileManager::private_url`] / `download_to_file` |
//! | `download_file(..., content_range=(0, 50))` | [`UfileManager::fetch_range`]`(key, 0, Some(50))` |
//! | `DeleteUVideo.deletefile(space, key)` | [`UfileManager::delete`] |
//! | `spacemanager.createspace(name, 'public'\|'private')` | [`UfileManager::create_bucket`] (`CreateBucket`) |
//! | `spacemanager.deletespace(name)` | [`UfileManager::delete_bucket`] (`DeleteBucket`) |
//! | `spacemanager.describespace(name)` | [`UfileManager::describe_bucket`] (`DescribeBucket`) |
//! | `spacemanager.updatespace(name, type)` | [`UfileManager::update_bucket`] (`UpdateBucket`) |
//! | `spacemanager.getfilelist(space, offset, limit)` | [`UfileManager::get_file_list`] (`GetFileList`) |
//!
//! Errors: every refusal is an [`Error`] with the HTTP status, the service's `RetCode` as the code
//! and `X-SessionId` as the request id; bucket actions put the API's `RetCode` (171: signature,
//! 15010: no such bucket, …) in the code whatever the HTTP status.

mod api;
mod download;
mod listing;

use std::collections::BTreeMap;

pub use api::{BucketDomain, BucketInfo, BucketList, BucketRef, BucketType, FileList, parse_api_reply};
#[cfg(not(target_arch = "wasm32"))]
pub use download::{DownloadOptions, DownloadReport};
pub use download::{RangeChunk, parse_range_reply};
pub use listing::{FileEntry, FilePage, ListItem, ObjectEntry, ObjectsPage, parse_list_objects, parse_prefix_list};

use crate::calendar::parse_http_date;
use crate::encoding::percent_encode;
use crate::engine::Transport;
use crate::service::ufile::refusal;
use crate::service::{HttpRequest, HttpResponse, Method, ServiceKind, key_problem, unexpected_reply};
use crate::sign::Credentials;
use crate::sign::ufile::{PresignRequest, SignRequest, authorization, presigned_url};
use crate::{Error, Result};

/// The UCloud API endpoint (§1).
pub const DEFAULT_API_URL: &str = "https://api.ucloud.cn";

/// Downloads fetch this many bytes per ranged request unless told otherwise.
pub const DEFAULT_CHUNK_SIZE: u64 = 4 * 1024 * 1024;

/// A UFile bucket's management client, generic over how requests are sent (`reqwest` natively,
/// `fetch` in wasm). It signs with the secret key: keep it on servers and in edge workers.
#[derive(Clone, Debug)]
pub struct UfileManager<T> {
    transport: T,
    credentials: Credentials,
    base_url: String,
    bucket: String,
    api_url: String,
    clock: fn() -> u64,
}

/// What `HEAD` says about an object (§3.4, §6.2).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectInfo {
    pub key: String,
    pub size: u64,
    /// The UFile `ETag` (§4.1), quotes removed.
    pub etag: String,
    /// `Content-Type`.
    pub mime: String,
    /// `Last-Modified` as sent.
    pub last_modified: Option<String>,
    /// `Last-Modified` as Unix seconds, when it is an IMF-fixdate.
    pub last_modified_secs: Option<u64>,
    /// `X-Ufile-Create-Time`, Unix seconds.
    pub create_time: Option<u64>,
    /// `X-Ufile-Storage-Class`: STANDARD, IA or ARCHIVE.
    pub storage_class: Option<String>,
    /// `X-Ufile-Meta-<name>` values by lower-case `<name>`.
    pub user_meta: BTreeMap<String, String>,
}

impl<T> UfileManager<T> {
    /// A manager for `bucket`, whose objects live under `base_url` (scheme, host and, path style,
    /// `/<bucket>`; a trailing `/` is ignored).
    pub fn new(transport: T, credentials: Credentials, base_url: impl Into<String>, bucket: impl Into<String>) -> Self {
        UfileManager {
            transport,
            credentials,
            base_url: base_url.into().trim().trim_end_matches('/').to_owned(),
            bucket: bucket.into(),
            api_url: DEFAULT_API_URL.to_owned(),
            clock: now_ms,
        }
    }

    /// Send bucket actions to `api_url` instead of `https://api.ucloud.cn` (the in-VPC
    /// `http://api.service.ucloud.cn`, or an emulator).
    pub fn with_api_url(mut self, api_url: impl Into<String>) -> Self {
        self.api_url = api_url.into().trim().trim_end_matches('/').to_owned();
        self
    }

    /// Read the time (Unix milliseconds) from `clock` instead of the system clock.
    pub fn with_clock(mut self, clock: fn() -> u64) -> Self {
        self.clock = clock;
        self
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    fn object_url(&self, key: &str, query: &str) -> String {
        format!("{}/{}{query}", self.base_url, percent_encode(key, true))
    }

    /// A request for `key` ("" for the bucket itself) signed over its method and `content_type`
    /// (sent as `Content-Type` when not empty).
    fn signed(&self, method: Method, key: &str, url: String, content_type: &str) -> Result<HttpRequest> {
        let auth = authorization(
            &self.credentials,
            &SignRequest {
                method: method.as_str().to_owned(),
                bucket: self.bucket.clone(),
                key: key.to_owned(),
                content_type: content_type.to_owned(),
                ..Default::default()
            },
        )?;
        let mut request = HttpRequest::new(method, url).header("Authorization", auth);
        if !content_type.is_empty() {
            request = request.header("Content-Type", content_type);
        }
        Ok(request)
    }

    // ---- URLs ------------------------------------------------------------------------------------

    /// The unsigned URL of `key`: what a public bucket serves to anyone (§3.1).
    pub fn public_url(&self, key: &str) -> String {
        self.object_url(key, "")
    }

    /// A presigned GET URL for `key`, valid until `expires_secs` (absolute Unix seconds, §3.2).
    pub fn private_url(&self, key: &str, expires_secs: u64) -> Result<String> {
        require_key(key)?;
        presigned_url(&self.credentials, &self.base_url, &PresignRequest::get(&self.bucket, key, expires_secs))
    }

    /// A presigned GET URL for `key`, valid for `ttl_secs` from now.
    pub fn private_url_valid_for(&self, key: &str, ttl_secs: u64) -> Result<String> {
        self.private_url(key, ((self.clock)() / 1000).saturating_add(ttl_secs))
    }

    // ---- HEAD, delete, upload-hit ----------------------------------------------------------------

    pub fn head_request(&self, key: &str) -> Result<HttpRequest> {
        require_key(key)?;
        self.signed(Method::Head, key, self.object_url(key, ""), "")
    }

    pub fn delete_request(&self, key: &str) -> Result<HttpRequest> {
        require_key(key)?;
        self.signed(Method::Delete, key, self.object_url(key, ""), "")
    }

    /// Upload-hit (§4.4): ask the service to create `key` from content it already has with this
    /// UFile `etag` and `size`. `mime` is sent and signed when not empty.
    pub fn upload_hit_request(&self, key: &str, etag: &str, size: u64, mime: &str) -> Result<HttpRequest> {
        require_key(key)?;
        let url = format!(
            "{}/uploadhit?Hash={}&FileName={}&FileSize={size}",
            self.base_url,
            percent_encode(etag, false),
            percent_encode(key, false)
        );
        self.signed(Method::Post, key, url, mime)
    }
}

/// `HEAD`'s reply: `None` for 404 (a HEAD reply has no body, so a missing bucket looks the same).
pub fn parse_head(key: &str, response: &HttpResponse) -> Result<Option<ObjectInfo>> {
    if response.status == 404 {
        return Ok(None);
    }
    if !response.is_success() {
        return Err(refusal(response, &format!("HEAD of {key:?}"), auth_hint(response)));
    }
    let size = response
        .header("content-length")
        .and_then(|v| v.trim().parse::<u64>().ok())
        .ok_or_else(|| unexpected_reply(ServiceKind::Ufile, "HEAD (no Content-Length)", response))?;
    let last_modified = response.header("last-modified").map(str::to_owned);
    let user_meta = response
        .headers
        .iter()
        .filter_map(|(name, value)| {
            let name = name.to_ascii_lowercase();
            name.strip_prefix("x-ufile-meta-").map(|n| (n.to_owned(), value.clone()))
        })
        .collect();
    Ok(Some(ObjectInfo {
        key: key.to_owned(),
        size,
        etag: etag_of(response),
        mime: response.header("content-type").unwrap_or("").to_owned(),
        last_modified_secs: last_modified.as_deref().and_then(parse_http_date),
        last_modified,
        create_time: response.header("x-ufile-create-time").and_then(|v| v.trim().parse().ok()),
        storage_class: response.header("x-ufile-storage-class").map(str::to_owned),
        user_meta,
    }))
}

/// `DELETE`'s reply: 204 (or any 2xx).
pub fn parse_delete(key: &str, response: &HttpResponse) -> Result<()> {
    if response.is_success() {
        Ok(())
    } else {
        Err(refusal(response, &format!("deleting {key:?}"), auth_hint(response)))
    }
}

/// Upload-hit's reply: `true` on a hit (the key now exists), `false` on a miss (404).
pub fn parse_upload_hit(response: &HttpResponse) -> Result<bool> {
    match response.status {
        404 if !is_missing_bucket(response) => Ok(false),
        _ if response.is_success() => Ok(true),
        _ => Err(refusal(response, "upload-hit", auth_hint(response))),
    }
}

impl<T: Transport> UfileManager<T> {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse> {
        self.transport.send(request).await
    }

    /// The object's size, ETag, type, dates and user metadata; `None` when there is no such key.
    pub async fn head(&self, key: &str) -> Result<Option<ObjectInfo>> {
        parse_head(key, &self.send(self.head_request(key)?).await?)
    }

    /// Delete `key`. Success is 204; whether UFile also answers 204 for a key that is not there
    /// is UNVERIFIED (the emulator does, as S3-like services do; the Go SDK's comment says 404).
    pub async fn delete(&self, key: &str) -> Result<()> {
        parse_delete(key, &self.send(self.delete_request(key)?).await?)
    }

    /// Create `key` from content the service already has (same UFile `etag` and `size`); `false`
    /// when it has none and the file must be uploaded.
    pub async fn upload_hit(&self, key: &str, etag: &str, size: u64, mime: &str) -> Result<bool> {
        parse_upload_hit(&self.send(self.upload_hit_request(key, etag, size, mime)?).await?)
    }
}

/// A key requests can name: not empty, and not one the URL would turn into another (whose
/// signature, made over the key as given, the service would then refuse).
fn require_key(key: &str) -> Result<()> {
    if key.is_empty() {
        return Err(Error::invalid_input("the object key is empty"));
    }
    match key_problem(ServiceKind::Ufile, key) {
        Some(problem) => Err(Error::invalid_input(format!("the key {key:?} {problem}"))),
        None => Ok(()),
    }
}

/// The `ETag` header without its quotes ("" when absent).
fn etag_of(response: &HttpResponse) -> String {
    response.header("etag").map(|v| v.trim().trim_matches('"').to_owned()).unwrap_or_default()
}

/// `{"RetCode": -30010}`: the bucket, not the key, is missing.
fn is_missing_bucket(response: &HttpResponse) -> bool {
    std::str::from_utf8(&response.body).is_ok_and(|t| t.contains("-30010"))
}

fn auth_hint(response: &HttpResponse) -> &'static str {
    match response.status {
        401 | 403 => " (the signature was refused: check the PublicKey and PrivateKey)",
        404 if is_missing_bucket(response) => " (no such bucket: check the bucket name and the base URL)",
        _ => "",
    }
}

// ---- shared by the management clients ------------------------------------------------------------

/// The platform clock in Unix milliseconds: `Date.now()` in wasm (where `SystemTime` panics), the
/// system clock natively.
pub(crate) fn now_ms() -> u64 {
    #[cfg(target_arch = "wasm32")]
    {
        js_sys::Date::now() as u64
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use bytes::Bytes;
    use std::cell::RefCell;
    use std::collections::VecDeque;

    use crate::ErrorKind;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    pub(crate) use crate::testing::block_on;

    /// Records requests and answers from a queue.
    #[derive(Default)]
    pub(crate) struct Mock {
        pub requests: RefCell<Vec<HttpRequest>>,
        pub replies: RefCell<VecDeque<HttpResponse>>,
    }

    impl Mock {
        pub(crate) fn reply(&self, status: u16, headers: &[(&str, &str)], body: &str) {
            self.replies.borrow_mut().push_back(HttpResponse {
                status,
                headers: headers.iter().map(|(k, v)| (k.to_ascii_lowercase(), (*v).to_owned())).collect(),
                body: Bytes::from(body.to_owned()),
            });
        }
        pub(crate) fn reply_bytes(&self, status: u16, headers: &[(&str, &str)], body: Vec<u8>) {
            self.replies.borrow_mut().push_back(HttpResponse {
                status,
                headers: headers.iter().map(|(k, v)| (k.to_ascii_lowercase(), (*v).to_owned())).collect(),
                body: Bytes::from(body),
            });
        }
        pub(crate) fn urls(&self) -> Vec<String> {
            self.requests.borrow().iter().map(|r| r.url.clone()).collect()
        }
    }

    impl Transport for &Mock {
        async fn send(&self, request: HttpRequest) -> Result<HttpResponse> {
            self.requests.borrow_mut().push(request);
            self.replies.borrow_mut().pop_front().ok_or_else(|| Error::new(ErrorKind::Network, "no reply queued"))
        }
    }

    pub(crate) fn manager(mock: &Mock) -> UfileManager<&Mock> {
        UfileManager::new(mock, Credentials::new("pub", "priv"), "http://b.example/", "b")
            .with_api_url("http://api.example/")
            .with_clock(|| 1_700_000_000_000)
    }

    #[test]
    fn urls() {
        let mock = Mock::default();
        let m = manager(&mock);
        assert_eq!(m.public_url("a b/中.txt"), "http://b.example/a%20b/%E4%B8%AD.txt");
        let url = m.private_url_valid_for("dir/a b.jpg", 300).unwrap();
        assert!(url.starts_with("http://b.example/dir/a%20b.jpg?UCloudPublicKey=pub&Expires=1700000300&Signature="));
        let sig = crate::sign::ufile::presign_signature(
            &Credentials::new("pub", "priv"),
            &PresignRequest::get("b", "dir/a b.jpg", 1_700_000_300),
        );
        assert!(url.ends_with(&percent_encode(&sig, false)), "{url}");
        assert!(m.private_url("", 1).is_err());
        // A lifetime past the end of time saturates (it overflowed before).
        let url = m.private_url_valid_for("k", u64::MAX).unwrap();
        assert!(url.contains(&format!("&Expires={}&", u64::MAX)), "{url}");
    }

    #[test]
    fn keys_the_url_would_change_are_refused_before_signing() {
        let mock = Mock::default();
        let m = manager(&mock);
        for key in ["a/../b", "./x", "d/.", ".."] {
            let errors = [
                m.head_request(key).unwrap_err(),
                m.delete_request(key).unwrap_err(),
                m.range_request(key, 0, None).unwrap_err(),
                m.upload_hit_request(key, "e", 1, "").unwrap_err(),
                m.private_url_valid_for(key, 60).unwrap_err(),
            ];
            for err in errors {
                assert_eq!(err.kind(), ErrorKind::InvalidInput, "{key}: {err}");
                assert!(err.message().contains("'.' or '..' segment"), "{key}: {err}");
            }
        }
        // Dots inside a name are just characters.
        assert!(m.head_request("a/.hidden/..b/c.").is_ok());
    }

    #[test]
    fn head_delete_and_hit_requests_are_signed() {
        let mock = Mock::default();
        let m = manager(&mock);
        let auth = |method: &str, key: &str, ct: &str| {
            authorization(
                &Credentials::new("pub", "priv"),
                &SignRequest {
                    method: method.into(),
                    bucket: "b".into(),
                    key: key.into(),
                    content_type: ct.into(),
                    ..Default::default()
                },
            )
            .unwrap()
        };
        let r = m.head_request("d/k").unwrap();
        assert_eq!((r.method, r.url.as_str()), (Method::Head, "http://b.example/d/k"));
        assert_eq!(r.header_value("Authorization"), Some(auth("HEAD", "d/k", "").as_str()));
        assert_eq!(r.header_value("Content-Type"), None);
        let r = m.delete_request("d/k").unwrap();
        assert_eq!(r.header_value("Authorization"), Some(auth("DELETE", "d/k", "").as_str()));
        let r = m.upload_hit_request("a/b c", "AQAAAKr0xh3cxeii2r7eDztILNmuqUNN", 5, "text/plain").unwrap();
        assert_eq!(
            r.url,
            "http://b.example/uploadhit?Hash=AQAAAKr0xh3cxeii2r7eDztILNmuqUNN&FileName=a%2Fb%20c&FileSize=5"
        );
        assert_eq!(r.header_value("Authorization"), Some(auth("POST", "a/b c", "text/plain").as_str()));
        assert_eq!(r.header_value("Content-Type"), Some("text/plain"));
        assert!(m.head_request("").is_err());
        assert!(m.delete_request("/lead").is_err(), "UFile refuses keys with a leading slash");
    }

    #[test]
    fn head_reply() {
        let mock = Mock::default();
        mock.reply(
            200,
            &[
                ("Content-Length", "11"),
                ("ETag", "\"AQAAAabc\""),
                ("Content-Type", "text/plain"),
                ("Last-Modified", "Tue, 14 Nov 2023 22:13:20 GMT"),
                ("X-Ufile-Create-Time", "1700000000"),
                ("X-Ufile-Storage-Class", "IA"),
                ("X-Ufile-Meta-Owner", "me"),
            ],
            "",
        );
        mock.reply(404, &[], "");
        mock.reply(403, &[("X-SessionId", "s")], r#"{ "RetCode": -148658, "ErrMsg": "invalid signature" }"#);
        let m = manager(&mock);
        let info = block_on(m.head("k")).unwrap().unwrap();
        assert_eq!((info.size, info.etag.as_str(), info.mime.as_str()), (11, "AQAAAabc", "text/plain"));
        assert_eq!((info.last_modified_secs, info.create_time), (Some(1_700_000_000), Some(1_700_000_000)));
        assert_eq!(info.storage_class.as_deref(), Some("IA"));
        assert_eq!(info.user_meta.get("owner").map(String::as_str), Some("me"));
        assert_eq!(block_on(m.head("k")).unwrap(), None);
        let err = block_on(m.head("k")).unwrap_err();
        assert_eq!((err.kind(), err.code(), err.request_id()), (ErrorKind::Auth, Some("-148658"), Some("s")));
    }

    #[test]
    fn delete_and_hit_replies() {
        let mock = Mock::default();
        let m = manager(&mock);
        mock.reply(204, &[], "");
        block_on(m.delete("k")).unwrap();
        mock.reply(200, &[("ETag", "\"e\"")], "");
        mock.reply(404, &[], r#"{ "RetCode": -148601, "ErrMsg": "miss" }"#);
        mock.reply(404, &[], r#"{ "RetCode": -30010, "ErrMsg": "bucket not exist" }"#);
        assert!(block_on(m.upload_hit("k", "e", 1, "")).unwrap());
        assert!(!block_on(m.upload_hit("k", "e", 1, "")).unwrap());
        let err = block_on(m.upload_hit("k", "e", 1, "")).unwrap_err();
        assert_eq!((err.status(), err.code()), (Some(404), Some("-30010")));
        assert!(err.message().contains("no such bucket"), "{}", err.message());
    }
}
