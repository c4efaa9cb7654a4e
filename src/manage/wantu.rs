//! Wantu (顽兔) management (protocols/wantu.md §4, §7, §9): files and folders of a namespace on the
//! manage host (`https://rs.media.aliyun.com`), each request signed with an `ACL_TOP` manage token
//! over its request target, body and `Date` (sent as Unix milliseconds, as the PHP SDK does).
//!
//! | operation | request | method |
//! |---|---|---|
//! | file exists | `GET /3.0/files/{rid}/exist` | [`WantuManager::file_exists`] |
//! | file info | `GET /3.0/files/{rid}` | [`WantuManager::file_info`] |
//! | rename / move | `POST /3.0/files/{rid}/rename/{newRid}` | [`WantuManager::rename`] |
//! | delete file | `DELETE /3.0/files/{rid}` | [`WantuManager::delete_file`] |
//! | list files | `GET /3.0/files?namespace=&dir=&currentPage=&pageSize=` | [`WantuManager::list_files`] (a `Stream`), [`WantuManager::list_files_page`] |
//! | folder exists | `GET /3.0/folders/{rid}/exist` | [`WantuManager::folder_exists`] |
//! | create folder | `POST /3.0/folders/{rid}` | [`WantuManager::create_folder`] |
//! | delete folder | `DELETE /3.0/folders/{rid}` | [`WantuManager::delete_folder`] |
//! | list folders | `GET /3.0/folders?namespace=&dir=&currentPage=&pageSize=` | [`WantuManager::list_folders`] (a `Stream`), [`WantuManager::list_folders_page`] |
//!
//! `{rid}` is the resource id ([`crate::sign::wantu::resource_id`]): URL-safe base64 of
//! `[namespace, dir, name]` (folders: `[namespace, dir]`). Files are named by keys as for uploads:
//! `a/b/c.jpg` is `dir` `/a/b`, `name` `c.jpg`; folders by their path (`a/b` or `/a/b`; "" or `/`
//! is the root).
//!
//! No manage-API reply survived in public material (§14): the shapes read here are the proposed
//! ones of §7 — `{"code":"OK","requestId",...}` with `exist`, the file fields of an upload reply,
//! and pages `{"currentPage","pageSize","totalCount","totalPage","items"}` — read leniently
//! (numbers may be strings, fields may be missing). Errors are §9's `{"code","message","requestId"}`.

use std::collections::BTreeMap;

use futures_util::Stream;
use serde::Deserialize;

use super::paging::paged;
use super::ufile::now_ms;
use crate::encoding::percent_encode;
use crate::engine::Transport;
use crate::service::wantu::refusal;
use crate::service::{HttpRequest, HttpResponse, Method, ServiceKind, json_reply, split_key};
use crate::sign::Credentials;
use crate::sign::wantu::{manage_token, resource_id};
use crate::{Error, Result};

/// The manage host (§1).
pub const DEFAULT_ENDPOINT: &str = "https://rs.media.aliyun.com";

const AUTH_HINT: &str = " (the manage token was refused: check the AK/SK, and that the clock is right)";

/// A Wantu namespace's management client, generic over how requests are sent. It signs with the
/// secret key: keep it on servers and in edge workers.
#[derive(Clone, Debug)]
pub struct WantuManager<T> {
    transport: T,
    credentials: Credentials,
    /// Scheme and host.
    origin: String,
    /// A path before `/3.0` (usually ""), signed as part of the request target.
    path_prefix: String,
    namespace: String,
    clock: fn() -> u64,
}

/// A file, as file info and file listings describe it (§7, PROPOSED shape).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WantuFile {
    #[serde(default, deserialize_with = "crate::lenient::opt_string")]
    pub namespace: Option<String>,
    /// `/` or `/a/b`.
    #[serde(default)]
    pub dir: String,
    #[serde(default)]
    pub name: String,
    #[serde(default, deserialize_with = "crate::lenient::opt_string")]
    pub url: Option<String>,
    #[serde(default)]
    pub is_image: Option<bool>,
    #[serde(default, deserialize_with = "crate::lenient::opt_u64")]
    pub file_size: Option<u64>,
    #[serde(default, deserialize_with = "crate::lenient::opt_string")]
    pub mime_type: Option<String>,
    /// Upper-case hex MD5.
    #[serde(default, deserialize_with = "crate::lenient::opt_string")]
    pub e_tag: Option<String>,
    /// Unix milliseconds.
    #[serde(default, deserialize_with = "crate::lenient::opt_u64")]
    pub file_modified: Option<u64>,
    #[serde(default, deserialize_with = "crate::lenient::opt_string")]
    pub file_id: Option<String>,
    /// The `meta-*` fields given at upload.
    #[serde(default, deserialize_with = "text_map")]
    pub meta: BTreeMap<String, String>,
}

impl WantuFile {
    /// `dir/name` without the leading `/`: the key an upload of this file used.
    pub fn key(&self) -> String {
        match self.dir.trim_matches('/') {
            "" => self.name.clone(),
            dir => format!("{dir}/{}", self.name),
        }
    }
}

/// A folder, as folder listings describe it: `dir` is its full path (§7, PROPOSED shape).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WantuFolder {
    #[serde(default, deserialize_with = "crate::lenient::opt_string")]
    pub namespace: Option<String>,
    #[serde(default)]
    pub dir: String,
    #[serde(default, deserialize_with = "crate::lenient::opt_string")]
    pub name: Option<String>,
}

/// One page of a listing.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WantuPage<I> {
    /// 1-based.
    #[serde(default, deserialize_with = "crate::lenient::opt_u64")]
    pub current_page: Option<u64>,
    #[serde(default, deserialize_with = "crate::lenient::opt_u64")]
    pub page_size: Option<u64>,
    #[serde(default, deserialize_with = "crate::lenient::opt_u64")]
    pub total_count: Option<u64>,
    #[serde(default, deserialize_with = "crate::lenient::opt_u64")]
    pub total_page: Option<u64>,
    #[serde(default = "Vec::new")]
    pub items: Vec<I>,
}

fn text_map<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<BTreeMap<String, String>, D::Error> {
    #[derive(Deserialize)]
    struct Text(#[serde(deserialize_with = "crate::lenient::opt_string")] Option<String>);
    let map: Option<BTreeMap<String, Text>> = Option::deserialize(d)?;
    Ok(map.unwrap_or_default().into_iter().map(|(k, v)| (k, v.0.unwrap_or_default())).collect())
}

#[derive(Deserialize)]
struct ExistReply {
    #[serde(alias = "exists", default)]
    exist: Option<bool>,
}

/// `dir` normalized as resource ids and listings want it: leading `/`, no trailing `/`, root `/`.
fn folder_path(dir: &str) -> Result<String> {
    let trimmed = dir.trim().trim_matches('/');
    if trimmed.split('/').any(|s| s.is_empty() && !trimmed.is_empty()) || trimmed.chars().any(char::is_control) {
        return Err(Error::invalid_input(format!("{dir:?} is not a folder path (use a/b or /a/b)")));
    }
    Ok(format!("/{trimmed}"))
}

/// A file key split into (dir, name), both checked.
fn file_path(key: &str) -> Result<(String, String)> {
    let (dir, name) = split_key(key.trim_start_matches('/'));
    if name.is_empty() {
        return Err(Error::invalid_input(format!("{key:?} names no file (it is empty or ends with '/')")));
    }
    Ok((folder_path(&dir)?, name))
}

impl<T> WantuManager<T> {
    /// A manager for `namespace` on the manage host `endpoint` (e.g. [`DEFAULT_ENDPOINT`] or an
    /// emulator's URL; a path after the host is kept and signed).
    pub fn new(
        transport: T,
        credentials: Credentials,
        endpoint: impl Into<String>,
        namespace: impl Into<String>,
    ) -> Self {
        let endpoint = endpoint.into().trim().trim_end_matches('/').to_owned();
        let after_scheme = endpoint.find("://").map_or(0, |i| i + 3);
        let (origin, path_prefix) = match endpoint[after_scheme..].find('/') {
            Some(i) => (endpoint[..after_scheme + i].to_owned(), endpoint[after_scheme + i..].to_owned()),
            None => (endpoint, String::new()),
        };
        WantuManager { transport, credentials, origin, path_prefix, namespace: namespace.into(), clock: now_ms }
    }

    /// Read the time (Unix milliseconds, signed as `Date`) from `clock` instead of the system clock.
    pub fn with_clock(mut self, clock: fn() -> u64) -> Self {
        self.clock = clock;
        self
    }

    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// A request for `path_and_query` (under `/3.0`), signed with `Date: <now_ms>`.
    fn request(&self, method: Method, path_and_query: &str, now_ms: u64) -> HttpRequest {
        let uri = format!("{}{path_and_query}", self.path_prefix);
        let date = now_ms.to_string();
        let token = manage_token(&self.credentials, &uri, b"", &date);
        HttpRequest::new(method, format!("{}{uri}", self.origin)).header("Date", date).header("Authorization", token)
    }

    fn file_rid(&self, key: &str) -> Result<String> {
        let (dir, name) = file_path(key)?;
        Ok(resource_id(&self.namespace, &dir, Some(&name)))
    }

    fn folder_rid(&self, dir: &str) -> Result<String> {
        Ok(resource_id(&self.namespace, &folder_path(dir)?, None))
    }

    fn list_query(&self, what: &str, dir: &str, page: u64, page_size: u64) -> Result<String> {
        Ok(format!(
            "/3.0/{what}?namespace={}&dir={}&currentPage={}&pageSize={}",
            percent_encode(&self.namespace, false),
            percent_encode(&folder_path(dir)?, false),
            page.max(1),
            page_size.max(1)
        ))
    }

    pub fn file_exists_request(&self, key: &str, now_ms: u64) -> Result<HttpRequest> {
        Ok(self.request(Method::Get, &format!("/3.0/files/{}/exist", self.file_rid(key)?), now_ms))
    }

    pub fn file_info_request(&self, key: &str, now_ms: u64) -> Result<HttpRequest> {
        Ok(self.request(Method::Get, &format!("/3.0/files/{}", self.file_rid(key)?), now_ms))
    }

    pub fn rename_request(&self, from: &str, to: &str, now_ms: u64) -> Result<HttpRequest> {
        let path = format!("/3.0/files/{}/rename/{}", self.file_rid(from)?, self.file_rid(to)?);
        Ok(self.request(Method::Post, &path, now_ms))
    }

    pub fn delete_file_request(&self, key: &str, now_ms: u64) -> Result<HttpRequest> {
        Ok(self.request(Method::Delete, &format!("/3.0/files/{}", self.file_rid(key)?), now_ms))
    }

    /// Page `page` (1-based) of the files directly in `dir`.
    pub fn list_files_request(&self, dir: &str, page: u64, page_size: u64, now_ms: u64) -> Result<HttpRequest> {
        Ok(self.request(Method::Get, &self.list_query("files", dir, page, page_size)?, now_ms))
    }

    pub fn folder_exists_request(&self, dir: &str, now_ms: u64) -> Result<HttpRequest> {
        Ok(self.request(Method::Get, &format!("/3.0/folders/{}/exist", self.folder_rid(dir)?), now_ms))
    }

    pub fn create_folder_request(&self, dir: &str, now_ms: u64) -> Result<HttpRequest> {
        Ok(self.request(Method::Post, &format!("/3.0/folders/{}", self.folder_rid(dir)?), now_ms))
    }

    pub fn delete_folder_request(&self, dir: &str, now_ms: u64) -> Result<HttpRequest> {
        Ok(self.request(Method::Delete, &format!("/3.0/folders/{}", self.folder_rid(dir)?), now_ms))
    }

    /// Page `page` (1-based) of the folders directly in `dir`.
    pub fn list_folders_request(&self, dir: &str, page: u64, page_size: u64, now_ms: u64) -> Result<HttpRequest> {
        Ok(self.request(Method::Get, &self.list_query("folders", dir, page, page_size)?, now_ms))
    }
}

fn check(response: &HttpResponse, what: &str) -> Result<()> {
    if response.is_success() { Ok(()) } else { Err(refusal(response, what, AUTH_HINT)) }
}

/// An `exist` reply.
pub fn parse_exists(response: &HttpResponse, what: &str) -> Result<bool> {
    check(response, what)?;
    let reply: ExistReply = json_reply(ServiceKind::Wantu, what, response)?;
    reply.exist.ok_or_else(|| crate::service::unexpected_reply(ServiceKind::Wantu, what, response))
}

/// A file info (or rename) reply; `None` for 404 `NoSuchFile`.
pub fn parse_file(response: &HttpResponse, what: &str) -> Result<Option<WantuFile>> {
    if response.status == 404 {
        let err = refusal(response, what, AUTH_HINT);
        return if err.code() == Some("NoSuchFile") { Ok(None) } else { Err(err) };
    }
    check(response, what)?;
    json_reply(ServiceKind::Wantu, what, response).map(Some)
}

/// A reply whose content does not matter (create, delete).
pub fn parse_done(response: &HttpResponse, what: &str) -> Result<()> {
    check(response, what)
}

/// A listing page.
pub fn parse_page<I: serde::de::DeserializeOwned>(response: &HttpResponse, what: &str) -> Result<WantuPage<I>> {
    check(response, what)?;
    json_reply(ServiceKind::Wantu, what, response)
}

impl<T: Transport> WantuManager<T> {
    fn now(&self) -> u64 {
        (self.clock)()
    }

    async fn send(&self, request: HttpRequest) -> Result<HttpResponse> {
        self.transport.send(request).await
    }

    /// Whether the file `key` (`dir/name`) exists.
    pub async fn file_exists(&self, key: &str) -> Result<bool> {
        parse_exists(&self.send(self.file_exists_request(key, self.now())?).await?, "the file exist check")
    }

    /// The file's size, type, eTag, URL and metadata; `None` when there is no such file.
    pub async fn file_info(&self, key: &str) -> Result<Option<WantuFile>> {
        parse_file(&self.send(self.file_info_request(key, self.now())?).await?, "the file info")
    }

    /// Rename (or move) the file `from` to `to`; the service refuses (409 `FileAlreadyExists`)
    /// when `to` exists. Returns the file under its new name.
    pub async fn rename(&self, from: &str, to: &str) -> Result<WantuFile> {
        let what = "the rename";
        parse_file(&self.send(self.rename_request(from, to, self.now())?).await?, what)?.ok_or_else(|| {
            Error::invalid_input(format!("{from:?} does not exist")).with_status(404).with_code("NoSuchFile")
        })
    }

    /// Delete the file `key` (404 `NoSuchFile` when it is not there).
    pub async fn delete_file(&self, key: &str) -> Result<()> {
        parse_done(&self.send(self.delete_file_request(key, self.now())?).await?, "the file delete")
    }

    /// One page (1-based) of the files directly in `dir`.
    pub async fn list_files_page(&self, dir: &str, page: u64, page_size: u64) -> Result<WantuPage<WantuFile>> {
        parse_page(&self.send(self.list_files_request(dir, page, page_size, self.now())?).await?, "the file list")
    }

    /// Whether the folder `dir` exists.
    pub async fn folder_exists(&self, dir: &str) -> Result<bool> {
        parse_exists(&self.send(self.folder_exists_request(dir, self.now())?).await?, "the folder exist check")
    }

    /// Create the folder `dir` (and its parents); creating one that exists is not an error.
    pub async fn create_folder(&self, dir: &str) -> Result<()> {
        parse_done(&self.send(self.create_folder_request(dir, self.now())?).await?, "the folder create")
    }

    /// Delete the empty folder `dir` (409 `DirNotEmpty` when it holds files or folders).
    pub async fn delete_folder(&self, dir: &str) -> Result<()> {
        parse_done(&self.send(self.delete_folder_request(dir, self.now())?).await?, "the folder delete")
    }

    /// One page (1-based) of the folders directly in `dir`.
    pub async fn list_folders_page(&self, dir: &str, page: u64, page_size: u64) -> Result<WantuPage<WantuFolder>> {
        parse_page(&self.send(self.list_folders_request(dir, page, page_size, self.now())?).await?, "the folder list")
    }

    /// Every file directly in `dir`, `page_size` per request, each page fetched when the previous
    /// one is used up.
    pub fn list_files<'a>(&'a self, dir: &str, page_size: u64) -> impl Stream<Item = Result<WantuFile>> + use<'a, T> {
        let dir = dir.to_owned();
        paged("Wantu", 1u64, move |page| {
            let dir = dir.clone();
            async move { next_page(page, page_size, self.list_files_page(&dir, page, page_size).await?) }
        })
    }

    /// Every folder directly in `dir`, `page_size` per request, each page fetched when the
    /// previous one is used up.
    pub fn list_folders<'a>(
        &'a self,
        dir: &str,
        page_size: u64,
    ) -> impl Stream<Item = Result<WantuFolder>> + use<'a, T> {
        let dir = dir.to_owned();
        paged("Wantu", 1u64, move |page| {
            let dir = dir.clone();
            async move { next_page(page, page_size, self.list_folders_page(&dir, page, page_size).await?) }
        })
    }
}

/// A page's items and the next page number: more while `page < totalPage` (or, without a
/// `totalPage`, while pages come back full).
pub(crate) fn next_page<I>(page: u64, page_size: u64, reply: WantuPage<I>) -> Result<(Vec<I>, Option<u64>)> {
    if let Some(other) = reply.current_page.filter(|&p| p != page) {
        return Err(Error::new(
            crate::ErrorKind::Server,
            format!("Wantu answered a request for page {page} with page {other}; stopping the listing"),
        ));
    }
    let more = match reply.total_page {
        Some(total) => page < total,
        None => reply.items.len() as u64 >= page_size.max(1),
    };
    let more = more && !reply.items.is_empty();
    Ok((reply.items, more.then_some(page + 1)))
}

#[cfg(test)]
mod tests {
    use super::super::ufile::tests::{Mock, block_on};
    use super::*;
    use crate::ErrorKind;
    use futures_util::StreamExt;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn spec() -> Credentials {
        Credentials::new("23000000", "0123456789abcdef0123456789abcdef")
    }

    fn manager(mock: &Mock) -> WantuManager<&Mock> {
        WantuManager::new(mock, spec(), "http://rs.example/", "test").with_clock(|| 1_500_000_000_000)
    }

    /// protocols/wantu.md §4's vectors, through the request builders.
    #[test]
    fn requests_match_the_spec_vectors() {
        let mock = Mock::default();
        let m = manager(&mock);
        let r = m.file_exists_request("dir/a.jpg", 1_500_000_000_000).unwrap();
        assert_eq!(r.url, "http://rs.example/3.0/files/WyJ0ZXN0IiwiL2RpciIsImEuanBnIl0/exist");
        assert_eq!(r.header_value("Date"), Some("1500000000000"));
        assert_eq!(
            r.header_value("Authorization"),
            Some("ACL_TOP MjMwMDAwMDA6NDQxZDBkNDI4YjEwMzk3YmUyNTE5OWJkMGI0NDA5NWI4OWEyYzUwYw")
        );
        let r = m.list_files_request("/dir", 1, 100, 1_500_000_000_000).unwrap();
        assert_eq!(r.url, "http://rs.example/3.0/files?namespace=test&dir=%2Fdir&currentPage=1&pageSize=100");
        let sign = crate::encoding::hex_lower(crate::sign::hmac_sha1(
            spec().secret_key().as_bytes(),
            b"/3.0/files?namespace=test&dir=%2Fdir&currentPage=1&pageSize=100\n\n1500000000000",
        ));
        assert_eq!(sign, "d39246cb232068b8f3d16f3ac635b27c3ccf61a2");
        assert_eq!(
            r.header_value("Authorization").unwrap(),
            manage_token(
                &spec(),
                "/3.0/files?namespace=test&dir=%2Fdir&currentPage=1&pageSize=100",
                b"",
                "1500000000000"
            )
        );
    }

    #[test]
    fn request_shapes() {
        let mock = Mock::default();
        let m = manager(&mock);
        let rid = |dir: &str, name: Option<&str>| resource_id("test", dir, name);
        let r = m.rename_request("a.jpg", "/x/b.jpg", 1).unwrap();
        assert_eq!(r.method, Method::Post);
        assert_eq!(
            r.url,
            format!("http://rs.example/3.0/files/{}/rename/{}", rid("/", Some("a.jpg")), rid("/x", Some("b.jpg")))
        );
        assert!(r.body.is_empty() && r.header_value("Content-Type").is_none());
        let r = m.delete_file_request("x/y/z", 1).unwrap();
        assert_eq!(
            (r.method, r.url.as_str()),
            (Method::Delete, &*format!("http://rs.example/3.0/files/{}", rid("/x/y", Some("z"))))
        );
        let r = m.create_folder_request("x/y/", 1).unwrap();
        assert_eq!(r.url, format!("http://rs.example/3.0/folders/{}", rid("/x/y", None)));
        assert_eq!(m.delete_folder_request("/x/y", 1).unwrap().method, Method::Delete);
        assert!(m.folder_exists_request("", 1).unwrap().url.ends_with(&format!("{}/exist", rid("/", None))));
        let r = m.list_folders_request("", 0, 0, 1).unwrap();
        assert!(r.url.ends_with("/3.0/folders?namespace=test&dir=%2F&currentPage=1&pageSize=1"));
        assert!(m.file_info_request("dir/", 1).is_err(), "a key ending in / names no file");
        assert!(m.create_folder_request("a//b", 1).is_err());

        // An endpoint with a path: the path is part of the signed target.
        let p = WantuManager::new(&mock, spec(), "http://h:1/proxy", "test");
        let r = p.file_info_request("k", 7).unwrap();
        assert!(r.url.starts_with("http://h:1/proxy/3.0/files/"));
        let uri = r.url.strip_prefix("http://h:1").unwrap();
        assert_eq!(r.header_value("Authorization").unwrap(), manage_token(&spec(), uri, b"", "7"));
    }

    #[test]
    fn replies() {
        let mock = Mock::default();
        let m = manager(&mock);
        mock.reply(200, &[], r#"{"code":"OK","requestId":"R","exist":true}"#);
        mock.reply(200, &[], r#"{"code":"OK","exist":false}"#);
        assert!(block_on(m.file_exists("a")).unwrap());
        assert!(!block_on(m.folder_exists("a")).unwrap());
        mock.reply(
            200,
            &[],
            r#"{"code":"OK","namespace":"test","dir":"/img","name":"a.png","url":"http://u","isImage":true,"fileSize":"12","mimeType":"image/png","eTag":"E","fileModified":1500000000000,"meta":{"title":"t"}}"#,
        );
        let f = block_on(m.file_info("img/a.png")).unwrap().unwrap();
        assert_eq!((f.key(), f.file_size, f.is_image), ("img/a.png".to_owned(), Some(12), Some(true)));
        assert_eq!(f.meta.get("title").map(String::as_str), Some("t"));
        mock.reply(404, &[], r#"{"code":"NoSuchFile","message":"no","requestId":"R"}"#);
        assert_eq!(block_on(m.file_info("img/a.png")).unwrap(), None);
        mock.reply(404, &[], r#"{"code":"NoSuchNamespace","message":"no","requestId":"R"}"#);
        assert_eq!(block_on(m.file_info("a")).unwrap_err().code(), Some("NoSuchNamespace"));
        mock.reply(401, &[], r#"{"code":"SignatureDoesNotMatch","message":"bad","requestId":"R2"}"#);
        let err = block_on(m.delete_file("a")).unwrap_err();
        assert_eq!(
            (err.kind(), err.code(), err.request_id()),
            (ErrorKind::Auth, Some("SignatureDoesNotMatch"), Some("R2"))
        );
        assert!(err.message().contains("manage token"));
        mock.reply(409, &[], r#"{"code":"FileAlreadyExists","message":"taken"}"#);
        assert_eq!(block_on(m.rename("a", "b")).unwrap_err().status(), Some(409));
        mock.reply(200, &[], r#"{"code":"OK"}"#);
        block_on(m.create_folder("x")).unwrap();
        mock.reply(200, &[], "not json");
        assert!(block_on(m.file_exists("a")).is_err());
    }

    #[test]
    fn listings_page_on_demand() {
        let mock = Mock::default();
        let m = manager(&mock);
        mock.reply(200, &[], r#"{"code":"OK","currentPage":1,"pageSize":2,"totalCount":3,"totalPage":2,"items":[{"dir":"/d","name":"a"},{"dir":"/d","name":"b"}]}"#);
        mock.reply(200, &[], r#"{"code":"OK","currentPage":"2","pageSize":2,"totalCount":3,"totalPage":2,"items":[{"dir":"/d","name":"c"}]}"#);
        let names: Vec<String> = block_on(m.list_files("d", 2).map(|f| f.unwrap().name).collect());
        assert_eq!(names, ["a", "b", "c"]);
        assert!(mock.urls()[1].ends_with("currentPage=2&pageSize=2"));
        mock.reply(200, &[], r#"{"code":"OK","items":[{"namespace":"test","dir":"/d/x","name":"x"}]}"#);
        let folders: Vec<WantuFolder> = block_on(m.list_folders("d", 2).map(|f| f.unwrap()).collect());
        assert_eq!(folders[0].dir, "/d/x");
        mock.reply(200, &[], r#"{"code":"OK","currentPage":5,"totalPage":9,"items":[{"name":"x"}]}"#);
        let all: Vec<Result<WantuFile>> = block_on(m.list_files("d", 2).collect());
        assert!(all.last().unwrap().is_err(), "a reply for another page stops the listing");
    }
}
