//! Single-request object operations: PutFile (§4.2), PostFile (§4.3), UploadHit (§4.4),
//! GET/HEAD with ranges (§3), DeleteFile (§6.1).

use std::collections::BTreeMap;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use yunup::calendar::{http_date, parse_http_date};
use yunup::sign::ufile::UploadPolicy;

use super::auth::{self, Signed};
use super::{
    BlobGuard, Ctx, UfileError, UfileResult, callback, check_md5, check_md5_syntax, quoted, retcode, take_body,
};
use crate::http::{RangeRequest, parse_range, serve_object};
use crate::multipart::{FormError, boundary, read_form};
use crate::store::{DigestSet, Object, ObjectAttrs, Service};

/// Largest PutFile / PostFile body: the current doc's 512 MB (older pages say 1 GB or 5 GB;
/// UNVERIFIED whether MB means 10^6 or 2^20 — the larger is used).
pub const MAX_SIMPLE_UPLOAD: u64 = 512 * 1024 * 1024;

/// Largest total of user metadata names and values (§4.2: "at most 8 KB").
const MAX_USER_META: usize = 8 * 1024;

/// What the emulator keeps with a UFile object (the store's `meta` JSON).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ObjectMeta {
    /// STANDARD, IA or ARCHIVE.
    pub storage_class: String,
    /// `X-Ufile-Meta-<name>` values by lower-case `<name>`.
    pub user_meta: BTreeMap<String, String>,
}

impl ObjectMeta {
    /// From `X-Ufile-Storage-Class` and `X-Ufile-Meta-*` request headers.
    pub fn from_headers(headers: &HeaderMap) -> UfileResult<ObjectMeta> {
        let class = crate::http::header_text(headers, "x-ufile-storage-class").trim().to_ascii_uppercase();
        let storage_class = match class.as_str() {
            "" => "STANDARD".to_owned(),
            "STANDARD" | "IA" | "ARCHIVE" => class,
            other => {
                return Err(UfileError::bad_request(format!(
                    "X-Ufile-Storage-Class {other:?} is not one of STANDARD, IA, ARCHIVE"
                )));
            }
        };
        let mut user_meta = BTreeMap::new();
        let mut total = 0;
        for (name, value) in headers {
            let Some(meta_name) = name.as_str().strip_prefix("x-ufile-meta-") else { continue };
            if meta_name.is_empty() || !meta_name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
                return Err(UfileError::bad_request(format!(
                    "user metadata name {meta_name:?}: use letters, digits and '-' only"
                )));
            }
            let value = value.to_str().map_err(|_| {
                UfileError::bad_request(format!("the value of X-Ufile-Meta-{meta_name} is not printable text"))
            })?;
            total += meta_name.len() + value.len();
            user_meta.insert(meta_name.to_owned(), value.to_owned());
        }
        if total > MAX_USER_META {
            return Err(UfileError::bad_request(format!(
                "user metadata is {total} bytes; UFile allows at most {MAX_USER_META}"
            )));
        }
        Ok(ObjectMeta { storage_class, user_meta })
    }

    pub fn parse(json: &str) -> ObjectMeta {
        let mut meta: ObjectMeta = serde_json::from_str(json).unwrap_or_default();
        if meta.storage_class.is_empty() {
            meta.storage_class = "STANDARD".into();
        }
        meta
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".into())
    }
}

/// The reply to a stored upload: the callback's JSON when the signature carried a put policy
/// with a callback, else 200 with an empty body and the quoted ETag.
pub async fn stored_reply(put_policy: Option<&UploadPolicy>, object: &Object) -> UfileResult<Response> {
    if let Some(response) = callback::run(put_policy, &object.digests.ufile_etag).await? {
        return Ok(response);
    }
    let mut response = StatusCode::OK.into_response();
    response.headers_mut().insert(header::ETAG, quoted(&object.digests.ufile_etag));
    Ok(response)
}

fn too_large(size: u64) -> UfileError {
    UfileError::new(
        StatusCode::BAD_REQUEST,
        retcode::TOO_LARGE,
        format!(
            "the body is {size} bytes; PutFile and PostFile take at most {MAX_SIMPLE_UPLOAD}: use a multipart upload"
        ),
    )
}

/// `PUT /<key>` (§4.2).
pub async fn put(ctx: &Ctx, body: &mut Option<Body>) -> UfileResult<Response> {
    ctx.require_key()?;
    let authorized = auth::check(ctx, Signed::headers(ctx, "PUT", &ctx.key))?;
    let md5 = ctx.header("content-md5").trim();
    check_md5_syntax(md5)?;
    let meta = ObjectMeta::from_headers(&ctx.headers)?;
    if let Some(len) = ctx.content_length().filter(|&l| l > MAX_SIMPLE_UPLOAD) {
        return Err(too_large(len));
    }
    let store = &ctx.state.store;
    let blob = store.write_blob(take_body(body).into_data_stream(), Some(MAX_SIMPLE_UPLOAD)).await?;
    let guard = BlobGuard::new(store, &blob);
    check_md5(md5, blob.digests.md5())?;
    let attrs = ObjectAttrs { mime: ctx.header("content-type").trim(), meta: &meta.to_json() };
    let object = store.put_object(Service::Ufile, &ctx.bucket, &ctx.key, &blob, &attrs, true)?;
    guard.keep();
    stored_reply(authorized.put_policy.as_ref(), &object).await
}

/// `POST /` or `POST /<key>` with `multipart/form-data` (§4.3).
pub async fn post_form(ctx: &Ctx, body: &mut Option<Body>) -> UfileResult<Response> {
    let Some(boundary) = boundary(ctx.header("content-type")) else {
        return Err(UfileError::bad_request("a form upload needs Content-Type: multipart/form-data; boundary=..."));
    };
    if let Some(len) = ctx.content_length().filter(|&l| l > MAX_SIMPLE_UPLOAD + 1024 * 1024) {
        return Err(too_large(len));
    }
    let store = &ctx.state.store;
    let form = read_form(
        store,
        &boundary,
        take_body(body).into_data_stream(),
        Some(MAX_SIMPLE_UPLOAD),
        DigestSet::WithMd5,
        &["file"],
    )
    .await
    .map_err(|e| match e {
        FormError::Malformed(m) => UfileError::bad_request(format!("malformed multipart form: {m}")),
        FormError::Store(e) => UfileError::from(e),
    })?;
    let Some(file) = form.file.as_ref() else {
        return Err(UfileError::bad_request("the form has no file part (a part named \"file\" with a filename)"));
    };
    let guard = BlobGuard::new(store, &file.blob);
    let key = form.field("FileName").filter(|k| !k.is_empty()).unwrap_or(&ctx.key).to_owned();
    if key.is_empty() {
        return Err(UfileError::bad_request("the form has no FileName field and the path names no key"));
    }
    // The signed Content-Type is the file's MIME type, not the multipart one (§4.3).
    let mime = form
        .field("Content-Type")
        .filter(|t| !t.is_empty())
        .or(file.content_type.as_deref())
        .unwrap_or("")
        .trim()
        .to_owned();
    let header_md5 = ctx.header("content-md5").trim();
    let md5 = if header_md5.is_empty() { form.field("Content-MD5").unwrap_or("").trim() } else { header_md5 };
    let authorized = auth::check(
        ctx,
        Signed {
            method: "POST",
            key: &key,
            content_type: &mime,
            content_md5: md5,
            suffix: None,
            authorization: form.field("Authorization"),
            anonymous_ok: false,
        },
    )?;
    check_md5_syntax(md5)?;
    check_md5(md5, file.blob.digests.md5())?;
    let meta = ObjectMeta::from_headers(&ctx.headers)?;
    let attrs = ObjectAttrs { mime: &mime, meta: &meta.to_json() };
    let object = store.put_object(Service::Ufile, &ctx.bucket, &key, &file.blob, &attrs, true)?;
    guard.keep();
    stored_reply(authorized.put_policy.as_ref(), &object).await
}

/// `POST /uploadhit?Hash=&FileName=&FileSize=` (§4.4): 200 when an object with that content
/// exists in any UFile bucket (the key is created from it), 404 otherwise.
pub async fn upload_hit(ctx: &Ctx) -> UfileResult<Response> {
    let hash = ctx.q("Hash").unwrap_or("").trim();
    let name = ctx.q("FileName").unwrap_or("");
    let size_text = ctx.q("FileSize").unwrap_or("").trim();
    if hash.is_empty() || name.is_empty() {
        return Err(UfileError::bad_request("upload-hit needs Hash, FileName and FileSize"));
    }
    let Ok(size) = size_text.parse::<u64>() else {
        return Err(UfileError::bad_request(format!("FileSize {size_text:?} is not a byte count")));
    };
    // Signed over the real key, not "uploadhit" (§4.4).
    auth::check(ctx, Signed::headers(ctx, "POST", name))?;
    let store = &ctx.state.store;
    let Some(source) = store.object_by_content(Service::Ufile, hash, size)? else {
        return Err(UfileError::new(
            StatusCode::NOT_FOUND,
            retcode::NO_SUCH_KEY,
            "upload-hit miss: no object has this Hash and FileSize; upload the file",
        ));
    };
    let mut response = StatusCode::OK.into_response();
    response.headers_mut().insert(header::ETAG, quoted(&source.digests.ufile_etag));
    if source.bucket == ctx.bucket && source.key == name {
        return Ok(response);
    }
    let mut writer = store.blob_writer().await?;
    store.copy_blob_range(&source.blob, 0, source.size, &mut writer).await?;
    let blob = writer.commit().await?;
    let guard = BlobGuard::new(store, &blob);
    let sent_type = ctx.header("content-type").trim();
    let mime = if sent_type.is_empty() { source.mime.as_str() } else { sent_type };
    let meta = ObjectMeta { storage_class: "STANDARD".into(), user_meta: BTreeMap::new() };
    store.put_object(Service::Ufile, &ctx.bucket, name, &blob, &ObjectAttrs { mime, meta: &meta.to_json() }, true)?;
    guard.keep();
    Ok(response)
}

/// `GET` / `HEAD /<key>` (§3, §6.2).
pub async fn get(ctx: &Ctx) -> UfileResult<Response> {
    let head = ctx.method == Method::HEAD;
    ctx.require_key()?;
    let method = if head { "HEAD" } else { "GET" };
    auth::check(ctx, Signed { anonymous_ok: !ctx.private, ..Signed::headers(ctx, method, &ctx.key) })?;
    let store = &ctx.state.store;
    let Some(object) = store.object(Service::Ufile, &ctx.bucket, &ctx.key)? else {
        return Err(UfileError::no_such_key());
    };
    let meta = ObjectMeta::parse(&object.meta);

    let since = ctx.header("if-modified-since");
    if !since.is_empty() && parse_http_date(since).is_some_and(|s| object.created_ms / 1000 <= s) {
        let mut response = StatusCode::NOT_MODIFIED.into_response();
        response.headers_mut().insert(header::ETAG, quoted(&object.digests.ufile_etag));
        if let Ok(v) = HeaderValue::from_str(&http_date(object.created_ms)) {
            response.headers_mut().insert(header::LAST_MODIFIED, v);
        }
        return Ok(response);
    }

    let range_header = ctx.header("range");
    let range = match parse_range((!range_header.is_empty()).then_some(range_header), object.size) {
        RangeRequest::Whole => None,
        RangeRequest::Part(a, b) => Some((a, b)),
        // No `Content-Range: bytes */<size>` (RFC 9110 suggests one): the Python SDK parses any
        // Content-Range as `bytes a-b/n` and crashes on `*`, yet documents 416 as an answer it
        // returns, so the real service cannot be sending it.
        RangeRequest::Unsatisfiable => {
            return Err(UfileError::new(
                StatusCode::RANGE_NOT_SATISFIABLE,
                retcode::BAD_RANGE,
                format!("Range {range_header:?} is outside the object ({} bytes)", object.size),
            ));
        }
    };
    let mut response = serve_object(store, &object, range, head).await;
    if response.status().is_server_error() {
        return Err(UfileError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            retcode::INTERNAL,
            "the object's bytes cannot be read",
        ));
    }
    let h = response.headers_mut();
    h.insert(header::ETAG, quoted(&object.digests.ufile_etag));
    h.insert("x-ufile-create-time", HeaderValue::from(object.created_ms / 1000));
    if let Ok(v) = HeaderValue::from_str(&meta.storage_class) {
        h.insert("x-ufile-storage-class", v);
    }
    for (name, value) in &meta.user_meta {
        if let (Ok(n), Ok(v)) =
            (header::HeaderName::from_bytes(format!("x-ufile-meta-{name}").as_bytes()), HeaderValue::from_str(value))
        {
            h.insert(n, v);
        }
    }
    if let Some(name) = ctx.q("ufileattname").filter(|n| !n.is_empty()) {
        let ascii: String = name
            .chars()
            .map(|c| if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' { c } else { '_' })
            .collect();
        let value = format!(
            "attachment; filename=\"{ascii}\"; filename*=UTF-8''{}",
            yunup::encoding::percent_encode(name, false)
        );
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(header::CONTENT_DISPOSITION, v);
        }
    }
    Ok(response)
}

/// `DELETE /<key>` (§6.1): 204, also when the key is missing (UNVERIFIED; the Go SDK's comment
/// says 404, S3-like servers say 204).
pub async fn delete(ctx: &Ctx) -> UfileResult<Response> {
    ctx.require_key()?;
    auth::check(ctx, Signed::headers(ctx, "DELETE", &ctx.key))?;
    match ctx.state.store.delete_object(Service::Ufile, &ctx.bucket, &ctx.key) {
        Ok(_) | Err(crate::store::StoreError::NotFound(_)) => Ok(StatusCode::NO_CONTENT.into_response()),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_from_headers() {
        let mut h = HeaderMap::new();
        h.insert("x-ufile-meta-owner", HeaderValue::from_static("me"));
        h.insert("x-ufile-storage-class", HeaderValue::from_static("ia"));
        let meta = ObjectMeta::from_headers(&h).unwrap();
        assert_eq!(meta.storage_class, "IA");
        assert_eq!(meta.user_meta["owner"], "me");
        assert_eq!(ObjectMeta::parse(&meta.to_json()).user_meta["owner"], "me");
        assert_eq!(ObjectMeta::parse("{}").storage_class, "STANDARD");
        h.insert("x-ufile-meta-bad_name", HeaderValue::from_static("x"));
        assert!(ObjectMeta::from_headers(&h).is_err());
    }
}
