//! The Wantu management API under `/3.0/` (wantu.md §4, §7, §9): files and folders of a namespace,
//! each request signed with an `ACL_TOP` (or `ACL_CLOUD`) manage token over the raw request target
//! as received (path and query, not re-encoded), the raw body and the `Date` header.
//!
//! | request | answer |
//! |---|---|
//! | `GET /3.0/files/{rid}/exist` (or `/exists`) | `{"code":"OK","requestId","exist":bool}` |
//! | `GET /3.0/files/{rid}` | the file (below); 404 `NoSuchFile` |
//! | `POST /3.0/files/{rid}/rename/{newRid}` | the file under its new name; 404 `NoSuchFile`, 409 `FileAlreadyExists` |
//! | `DELETE /3.0/files/{rid}` | `{"code":"OK","requestId"}`; 404 `NoSuchFile` |
//! | `GET /3.0/files?namespace=&dir=&currentPage=&pageSize=` | a page of the files directly in `dir` |
//! | `GET /3.0/folders/{rid}/exist` | as for files |
//! | `POST /3.0/folders/{rid}` | `{"code":"OK","requestId"}`, also when it exists; parents created |
//! | `DELETE /3.0/folders/{rid}` | `{"code":"OK","requestId"}`; 404 `NoSuchDir`, 409 `DirNotEmpty` |
//! | `GET /3.0/folders?namespace=&dir=&currentPage=&pageSize=` | a page of the folders directly in `dir` |
//!
//! No manage reply survived in public material, so the shapes are §7's PROPOSED ones, chosen to
//! match the upload replies: a file is `{"namespace","dir","name","url","uri","isImage","fileSize",
//! "mimeType","eTag","fileModified","fileId","meta"}` (the §5 fields, `url` pointing at this
//! emulator's download route); a page is `{"code","requestId","currentPage","pageSize",
//! "totalCount","totalPage","items"}`, items ordered by name; a folder item is `{"namespace",
//! "dir","name"}` with `dir` the folder's full path (`/a/b`) and `name` its last segment.
//!
//! Other decisions (all PROPOSED in §7/§9): folders exist when created or when something is below
//! them, and creating one creates its parents; `Date` is required and may be Unix milliseconds or
//! an RFC 1123 date, off by at most 15 minutes (else 401 `RequestTimeTooSkewed`; a value that is
//! neither is only signed, not checked); every credential may manage every namespace (no 403
//! `AccessDenied`); `pageSize` defaults to 10 (the PHP option's default) and is capped at 1000;
//! the CLOUD spelling `bucketName=` is accepted for `namespace=`.

use axum::body::to_bytes;
use axum::extract::Request;
use axum::http::Method;
use axum::response::Response;
use serde::Serialize;
use yunup::encoding::percent_encode;
use yunup::sign::wantu::{parse_resource_id, verify_manage_token};

use super::{FileMeta, Result, SERVICE, WantuError, check_name, normalize_dir, object_key, ok_json, uri_of};
use crate::http::{AppState, header_text, percent_decode};
use crate::store::{Object, Removal, StoreError, now_ms};

/// How far `Date` may be from the emulator's clock.
const MAX_SKEW_MS: u64 = 15 * 60 * 1000;
/// Largest manage request body (the operations served here send none).
const MAX_BODY: usize = 64 * 1024;
const MAX_PAGE_SIZE: u64 = 1000;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Done<'a> {
    code: &'static str,
    request_id: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Exist<'a> {
    code: &'static str,
    request_id: &'a str,
    exist: bool,
}

/// A file as info, rename and listings describe it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct FileInfo {
    namespace: String,
    dir: String,
    name: String,
    url: String,
    uri: String,
    is_image: bool,
    file_size: u64,
    mime_type: String,
    e_tag: String,
    file_modified: u64,
    file_id: String,
    meta: std::collections::BTreeMap<String, String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WithCode<'a, T> {
    code: &'static str,
    request_id: &'a str,
    #[serde(flatten)]
    inner: T,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct FolderInfo {
    namespace: String,
    dir: String,
    name: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Page<'a, T> {
    code: &'static str,
    request_id: &'a str,
    current_page: u64,
    page_size: u64,
    total_count: u64,
    total_page: u64,
    items: Vec<T>,
}

/// One verified manage request.
struct Call<'a> {
    state: &'a AppState,
    request_id: &'a str,
    host: String,
}

pub async fn handle(state: &AppState, req: Request, request_id: &str) -> Result<Response> {
    let (parts, body) = req.into_parts();
    let target = parts.uri.path_and_query().map_or_else(|| parts.uri.path().to_owned(), |pq| pq.as_str().to_owned());
    let body = to_bytes(body, MAX_BODY)
        .await
        .map_err(|_| WantuError::invalid(format!("the request body is over {MAX_BODY} bytes or could not be read")))?;
    authorize(state, &parts.headers, &target, &body)?;
    let host = header_text(&parts.headers, "host");
    let host = if host.is_empty() || host.bytes().any(|b| b <= b' ' || b == b'/') { "127.0.0.1" } else { host };
    let call = Call { state, request_id, host: host.to_owned() };
    let path = parts.uri.path().strip_prefix("/3.0/").unwrap_or("");
    let segments: Vec<&str> = path.split('/').collect();
    let query = parts.uri.query().unwrap_or("");
    let m = &parts.method;
    match segments.as_slice() {
        ["files"] | ["files", ""] if *m == Method::GET => list_files(&call, query),
        ["folders"] | ["folders", ""] if *m == Method::GET => list_folders(&call, query),
        ["files", rid, "exist" | "exists"] if *m == Method::GET => file_exists(&call, rid),
        ["folders", rid, "exist" | "exists"] if *m == Method::GET => folder_exists(&call, rid),
        ["files", rid] if *m == Method::GET => file_info(&call, rid),
        ["files", rid] if *m == Method::DELETE => delete_file(&call, rid),
        ["files", rid, "rename", new_rid] if *m == Method::POST => rename(&call, rid, new_rid),
        ["folders", rid] if *m == Method::POST => create_folder(&call, rid),
        ["folders", rid] if *m == Method::DELETE => delete_folder(&call, rid),
        _ => Err(WantuError::new(
            404,
            "NotFound",
            format!("no such management operation: {m} /3.0/{path} (yunup-emulator serves files and folders)"),
        )),
    }
}

/// §4: the token over the target, body and `Date` as received; then the `Date` skew.
fn authorize(state: &AppState, headers: &axum::http::HeaderMap, target: &str, body: &[u8]) -> Result<()> {
    let authorization = header_text(headers, "authorization").trim();
    if authorization.is_empty() {
        return Err(WantuError::new(
            401,
            "InvalidAuthorization",
            "no manage token: send \"ACL_TOP ...\" in the Authorization header",
        ));
    }
    let date = header_text(headers, "date");
    if date.trim().is_empty() {
        return Err(WantuError::new(401, "InvalidAuthorization", "the Date header is required (it is signed)"));
    }
    verify_manage_token(authorization, &*state.credentials, target, body, date).map_err(|e| {
        let message = e.message().to_owned();
        match e.code() {
            Some("unknown-access-key") => WantuError::new(401, "InvalidAccessKeyId", message),
            Some("bad-signature") => WantuError::new(
                401,
                "SignatureDoesNotMatch",
                format!("{message} (signed: the request target as sent, the body, the Date header)"),
            ),
            _ => WantuError::new(401, "InvalidAuthorization", message),
        }
    })?;
    if let Some(sent_ms) = date_ms(date) {
        let now = now_ms();
        if now.abs_diff(sent_ms) > MAX_SKEW_MS {
            return Err(WantuError::new(
                401,
                "RequestTimeTooSkewed",
                format!(
                    "the Date header is {} s away from the server's time: sync the clock",
                    now.abs_diff(sent_ms) / 1000
                ),
            ));
        }
    }
    Ok(())
}

/// `Date` as Unix milliseconds: all digits (ms), or an RFC 1123 date.
fn date_ms(date: &str) -> Option<u64> {
    let date = date.trim();
    if !date.is_empty() && date.bytes().all(|b| b.is_ascii_digit()) {
        return date.parse().ok();
    }
    yunup::calendar::parse_http_date(date).map(|s| s.saturating_mul(1000))
}

/// `(namespace, dir, name)` of a resource id in the path; the namespace must exist.
fn resource(call: &Call<'_>, raw: &str) -> Result<(String, String, Option<String>)> {
    let (namespace, dir, name) = parse_resource_id(&percent_decode(raw))
        .map_err(|e| WantuError::invalid(format!("bad resource id: {}", e.message())))?;
    require_namespace(call, &namespace)?;
    Ok((namespace, normalize_dir(&dir)?, name))
}

fn require_namespace(call: &Call<'_>, namespace: &str) -> Result<()> {
    match call.state.store.bucket(SERVICE, namespace)? {
        Some(_) => Ok(()),
        None => Err(WantuError::new(404, "NoSuchNamespace", format!("namespace {namespace:?} does not exist"))),
    }
}

/// A file resource: `(namespace, dir, name, key)`.
fn file_resource(call: &Call<'_>, raw: &str) -> Result<(String, String, String, String)> {
    let (namespace, dir, name) = resource(call, raw)?;
    let name = name.ok_or_else(|| WantuError::invalid("the resource id names a folder, not a file (no name)"))?;
    check_name(&name)?;
    let key = object_key(&dir, &name);
    Ok((namespace, dir, name, key))
}

/// A folder resource: `(namespace, dir, store path)`; the store path is `a/b`, "" for the root.
fn folder_resource(call: &Call<'_>, raw: &str) -> Result<(String, String, String)> {
    let (namespace, dir, name) = resource(call, raw)?;
    // PHP 2.x writes `[namespace, dir]`; a name, when one is there, is the last segment.
    let dir = match name {
        Some(name) => normalize_dir(&format!("{dir}/{name}"))?,
        None => dir,
    };
    let path = dir.trim_start_matches('/').to_owned();
    Ok((namespace, dir, path))
}

fn no_file(namespace: &str, key: &str) -> WantuError {
    WantuError::new(404, "NoSuchFile", format!("no file /{key} in namespace {namespace:?}"))
}

fn file_info_of(call: &Call<'_>, namespace: &str, object: &Object) -> FileInfo {
    let (dir, name) = match object.key.rsplit_once('/') {
        Some((dir, name)) => (format!("/{dir}"), name.to_owned()),
        None => ("/".to_owned(), object.key.clone()),
    };
    let meta: FileMeta = serde_json::from_str(&object.meta)
        .unwrap_or_else(|_| FileMeta { file_id: String::new(), meta: Default::default() });
    let uri = uri_of(&dir, &name);
    FileInfo {
        namespace: namespace.to_owned(),
        url: format!("http://{}/{}{}", call.host, percent_encode(namespace, false), percent_encode(&uri, true)),
        uri,
        dir,
        name,
        is_image: object.mime.starts_with("image/"),
        file_size: object.size,
        mime_type: object.mime.clone(),
        e_tag: object.digests.md5().to_ascii_uppercase(),
        file_modified: object.created_ms,
        file_id: meta.file_id,
        meta: meta.meta,
    }
}

fn file_reply(call: &Call<'_>, namespace: &str, object: &Object) -> Result<Response> {
    ok_json(&WithCode { code: "OK", request_id: call.request_id, inner: file_info_of(call, namespace, object) })
}

fn file_exists(call: &Call<'_>, rid: &str) -> Result<Response> {
    let (namespace, _, _, key) = file_resource(call, rid)?;
    let exist = call.state.store.object(SERVICE, &namespace, &key)?.is_some();
    ok_json(&Exist { code: "OK", request_id: call.request_id, exist })
}

fn file_info(call: &Call<'_>, rid: &str) -> Result<Response> {
    let (namespace, _, _, key) = file_resource(call, rid)?;
    let object = call.state.store.object(SERVICE, &namespace, &key)?.ok_or_else(|| no_file(&namespace, &key))?;
    file_reply(call, &namespace, &object)
}

fn delete_file(call: &Call<'_>, rid: &str) -> Result<Response> {
    let (namespace, _, _, key) = file_resource(call, rid)?;
    match call.state.store.delete_object(SERVICE, &namespace, &key) {
        Ok(_) => ok_json(&Done { code: "OK", request_id: call.request_id }),
        Err(StoreError::NotFound(_)) => Err(no_file(&namespace, &key)),
        Err(e) => Err(e.into()),
    }
}

fn rename(call: &Call<'_>, rid: &str, new_rid: &str) -> Result<Response> {
    let (namespace, _, _, from) = file_resource(call, rid)?;
    let (to_namespace, _, _, to) = file_resource(call, new_rid)?;
    if to_namespace != namespace {
        return Err(WantuError::invalid(format!(
            "a file cannot be renamed into another namespace ({namespace:?} to {to_namespace:?})"
        )));
    }
    match call.state.store.rename_object(SERVICE, (&namespace, &from), (&namespace, &to), false) {
        Ok(object) => file_reply(call, &namespace, &object),
        Err(StoreError::NotFound(_)) => Err(no_file(&namespace, &from)),
        Err(StoreError::Exists) => Err(WantuError::new(
            409,
            "FileAlreadyExists",
            format!("/{to} exists: delete it first or pick another name"),
        )),
        Err(e) => Err(e.into()),
    }
}

fn folder_exists(call: &Call<'_>, rid: &str) -> Result<Response> {
    let (namespace, _, path) = folder_resource(call, rid)?;
    let exist = call.state.store.folder_exists(SERVICE, &namespace, &path)?;
    ok_json(&Exist { code: "OK", request_id: call.request_id, exist })
}

fn create_folder(call: &Call<'_>, rid: &str) -> Result<Response> {
    let (namespace, _, path) = folder_resource(call, rid)?;
    call.state.store.create_folder(SERVICE, &namespace, &path)?;
    ok_json(&Done { code: "OK", request_id: call.request_id })
}

fn delete_folder(call: &Call<'_>, rid: &str) -> Result<Response> {
    let (namespace, dir, path) = folder_resource(call, rid)?;
    if path.is_empty() {
        return Err(WantuError::invalid("the root folder cannot be deleted"));
    }
    match call.state.store.delete_folder(SERVICE, &namespace, &path)? {
        Removal::Done => ok_json(&Done { code: "OK", request_id: call.request_id }),
        Removal::Missing => {
            Err(WantuError::new(404, "NoSuchDir", format!("no folder {dir} in namespace {namespace:?}")))
        }
        Removal::NotEmpty => Err(WantuError::new(
            409,
            "DirNotEmpty",
            format!("the folder {dir} is not empty: delete its files and folders first"),
        )),
    }
}

/// The listing query: `(namespace, dir, store path, page, page size)`.
fn list_query(call: &Call<'_>, query: &str) -> Result<(String, String, String, u64, u64)> {
    // Form decoding: PHP's http_build_query writes a space as `+`.
    let pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(&k.replace('+', " ")), percent_decode(&v.replace('+', " ")))
        })
        .collect();
    let get = |name: &str| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.trim()).filter(|v| !v.is_empty());
    let namespace = get("namespace")
        .or_else(|| get("bucketName"))
        .ok_or_else(|| WantuError::invalid("namespace is empty"))?
        .to_owned();
    require_namespace(call, &namespace)?;
    let dir = normalize_dir(get("dir").unwrap_or("/"))?;
    let number = |name: &str, default: u64| -> Result<u64> {
        match get(name) {
            None => Ok(default),
            Some(v) => v
                .parse::<u64>()
                .ok()
                .filter(|n| *n >= 1)
                .ok_or_else(|| WantuError::invalid(format!("{name} {v:?} is not a positive number"))),
        }
    };
    let page = number("currentPage", 1)?;
    let page_size = number("pageSize", 10)?.min(MAX_PAGE_SIZE);
    let path = dir.trim_start_matches('/').to_owned();
    Ok((namespace, dir, path, page, page_size))
}

fn total_pages(total: u64, page_size: u64) -> u64 {
    total.div_ceil(page_size.max(1))
}

fn list_files(call: &Call<'_>, query: &str) -> Result<Response> {
    let (namespace, _, path, page, page_size) = list_query(call, query)?;
    let prefix = if path.is_empty() { String::new() } else { format!("{path}/") };
    let offset = (page - 1).saturating_mul(page_size);
    let (total, objects) = call.state.store.object_page(SERVICE, &namespace, &prefix, true, offset, page_size)?;
    ok_json(&Page {
        code: "OK",
        request_id: call.request_id,
        current_page: page,
        page_size,
        total_count: total,
        total_page: total_pages(total, page_size),
        items: objects.iter().map(|o| file_info_of(call, &namespace, o)).collect(),
    })
}

fn list_folders(call: &Call<'_>, query: &str) -> Result<Response> {
    let (namespace, dir, path, page, page_size) = list_query(call, query)?;
    let names = call.state.store.child_folders(SERVICE, &namespace, &path)?;
    let total = names.len() as u64;
    let offset = usize::try_from((page - 1).saturating_mul(page_size)).unwrap_or(usize::MAX);
    let items = names
        .into_iter()
        .skip(offset)
        .take(page_size as usize)
        .map(|name| FolderInfo {
            namespace: namespace.clone(),
            dir: if dir == "/" { format!("/{name}") } else { format!("{dir}/{name}") },
            name,
        })
        .collect();
    ok_json(&Page {
        code: "OK",
        request_id: call.request_id,
        current_page: page,
        page_size,
        total_count: total,
        total_page: total_pages(total, page_size),
        items,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(date_ms("1500000000000"), Some(1_500_000_000_000));
        assert_eq!(date_ms("Fri, 14 Jul 2017 02:40:00 GMT"), Some(1_500_000_000_000));
        assert_eq!(date_ms("yesterday"), None);
        assert_eq!(date_ms("99999999999999999999999"), None);
    }

    #[test]
    fn pages() {
        assert_eq!((total_pages(0, 10), total_pages(10, 10), total_pages(11, 10)), (0, 1, 2));
    }
}
