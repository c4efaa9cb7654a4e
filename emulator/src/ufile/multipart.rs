//! Multipart uploads (§5): initiate, upload part (and UploadPartCopy), finish, abort, list parts,
//! list in-progress uploads.
//!
//! Parts are 0-based, every part but the last exactly [`BLK_SIZE`]. Parts of one upload may arrive
//! in parallel and in any order: each is streamed into its own blob and recorded in one store
//! transaction, so an acknowledged part survives a crash and a half-received one never counts.
//! Finish validates strictly (every listed ETag is part i's, in order; no gaps, no extras) and
//! assembles the object in one transaction: it appears whole or not at all.

use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::auth::{self, Signed};
use super::objects::ObjectMeta;
use super::{
    BLK_SIZE, BlobGuard, Ctx, UfileError, UfileResult, callback, check_md5, check_md5_syntax, json_response, quoted,
    read_small, retcode, take_body,
};
use crate::http::{RangeRequest, parse_range, percent_decode};
use crate::store::{DigestSet, ObjectAttrs, Part, Service, StoreError, Upload, now_ms};

/// Largest finish body kept in memory: 29 bytes per part, so about 2.3 million parts (9 TB).
const FINISH_BODY_LIMIT: usize = 64 * 1024 * 1024;

/// What the emulator keeps with an upload (the store's `info` JSON).
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct UploadInfo {
    /// Content-Type sent at initiate.
    mime: String,
    meta: ObjectMeta,
}

/// What the emulator keeps with a part.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct PartInfo {
    /// Content-Type the part was sent with.
    mime: String,
    /// When it was stored (Unix ms).
    ms: u64,
}

fn upload_id(ctx: &Ctx) -> UfileResult<&str> {
    match ctx.q("uploadId").map(str::trim) {
        Some(id) if !id.is_empty() => Ok(id),
        _ => Err(UfileError::bad_request("uploadId is empty")),
    }
}

/// The upload `id` of this bucket (and of this key, when given).
fn lookup(ctx: &Ctx, id: &str, key: Option<&str>) -> UfileResult<Upload> {
    ctx.state
        .store
        .upload(Service::Ufile, id)?
        .filter(|u| u.bucket == ctx.bucket && key.is_none_or(|k| u.key == k))
        .ok_or_else(|| UfileError::no_such_upload(id))
}

fn bad_part_list(message: String) -> UfileError {
    UfileError::new(StatusCode::BAD_REQUEST, retcode::BAD_PART_LIST, message)
}

fn part_numbers(parts: &[Part]) -> String {
    if parts.is_empty() {
        return "none".into();
    }
    let numbers: Vec<String> = parts.iter().take(20).map(|p| p.number.to_string()).collect();
    let more = if parts.len() > 20 { format!(", ... ({} in all)", parts.len()) } else { String::new() };
    format!("{}{more}", numbers.join(", "))
}

/// `POST /<key>?uploads` (§5.1), also `POST /init/uvideoUploads/<key>` (§11).
pub async fn initiate(ctx: &Ctx) -> UfileResult<Response> {
    ctx.require_key()?;
    auth::check(ctx, Signed::headers(ctx, "POST", &ctx.key))?;
    let info = UploadInfo {
        mime: ctx.header("content-type").trim().to_owned(),
        meta: ObjectMeta::from_headers(&ctx.headers)?,
    };
    let info = serde_json::to_string(&info).unwrap_or_else(|_| "{}".into());
    let upload = ctx.state.store.create_upload(Service::Ufile, &ctx.bucket, &ctx.key, &info)?;
    Ok(json_response(
        StatusCode::OK,
        &json!({"UploadId": upload.id, "BlkSize": BLK_SIZE, "Bucket": ctx.bucket, "Key": ctx.key}),
    ))
}

/// `PUT /<key>?uploadId=&partNumber=` (§5.2); with `X-Ufile-Copy-Source`, UploadPartCopy (§5.7).
pub async fn upload_part(ctx: &Ctx, body: &mut Option<Body>) -> UfileResult<Response> {
    ctx.require_key()?;
    let id = upload_id(ctx)?;
    let number_text = ctx.q("partNumber").unwrap_or("").trim();
    let Ok(number) = number_text.parse::<u32>() else {
        return Err(UfileError::bad_request(format!(
            "partNumber {number_text:?} is not a part number (0-based: the first part is 0)"
        )));
    };
    auth::check(ctx, Signed::headers(ctx, "PUT", &ctx.key))?;
    let upload = lookup(ctx, id, Some(&ctx.key))?;
    let md5 = ctx.header("content-md5").trim();
    check_md5_syntax(md5)?;
    let store = &ctx.state.store;

    let copy_source = ctx.header("x-ufile-copy-source").trim();
    let blob = if copy_source.is_empty() {
        if let Some(len) = ctx.content_length().filter(|&l| l > BLK_SIZE) {
            return Err(part_too_large(len));
        }
        // The part's ETag is its SHA-1; its MD5 is only needed to check a Content-MD5.
        let set = if md5.is_empty() { DigestSet::Etags } else { DigestSet::WithMd5 };
        store.write_blob_with(take_body(body).into_data_stream(), Some(BLK_SIZE), set).await.map_err(|e| match e {
            StoreError::Body(m) if m.contains("larger than allowed") => part_too_large(BLK_SIZE + 1),
            other => other.into(),
        })?
    } else {
        copy_part(ctx, copy_source).await?
    };
    let guard = BlobGuard::new(store, &blob);
    check_md5(md5, blob.digests.md5())?;
    let info = PartInfo { mime: ctx.header("content-type").trim().to_owned(), ms: now_ms() };
    let info = serde_json::to_string(&info).unwrap_or_else(|_| "{}".into());
    let part = store.put_part(&upload.id, u64::from(number), &blob, &info)?;
    guard.keep();
    let mut response = json_response(StatusCode::OK, &json!({"PartNumber": number}));
    response.headers_mut().insert(header::ETAG, quoted(part.digests.sha1()));
    Ok(response)
}

fn part_too_large(len: u64) -> UfileError {
    UfileError::new(
        StatusCode::BAD_REQUEST,
        retcode::TOO_LARGE,
        format!("a part holds at most {BLK_SIZE} bytes (BlkSize), this one has {len} or more"),
    )
}

/// The bytes of an UploadPartCopy: `X-Ufile-Copy-Source: /<bucket>/<key>` (key URL-quoted),
/// optional `X-Ufile-Copy-Source-Range: bytes=a-b`.
async fn copy_part(ctx: &Ctx, source: &str) -> UfileResult<crate::store::Blob> {
    let store = &ctx.state.store;
    let rest = source.strip_prefix('/').unwrap_or(source);
    let (raw_bucket, raw_key) = rest.split_once('/').unwrap_or((rest, ""));
    let (bucket, key) = (percent_decode(raw_bucket), percent_decode(raw_key));
    if store.bucket(Service::Ufile, &bucket)?.is_none() {
        return Err(UfileError::new(StatusCode::NOT_FOUND, retcode::BUCKET_NOT_EXIST, "bucket not exist"));
    }
    let Some(object) = store.object(Service::Ufile, &bucket, &key)? else {
        return Err(UfileError::no_such_key());
    };
    let range_text = ctx.header("x-ufile-copy-source-range").trim();
    let (start, end) = match parse_range((!range_text.is_empty()).then_some(range_text), object.size) {
        RangeRequest::Whole => (0, object.size.saturating_sub(1)),
        RangeRequest::Part(a, b) => (a, b),
        RangeRequest::Unsatisfiable => {
            return Err(UfileError::bad_request(format!(
                "X-Ufile-Copy-Source-Range {range_text:?} is outside the source ({} bytes)",
                object.size
            )));
        }
    };
    let len = if object.size == 0 { 0 } else { end - start + 1 };
    if len > BLK_SIZE {
        return Err(part_too_large(len));
    }
    let mut writer = store.blob_writer().await?;
    store.copy_blob_range(&object.blob, start, len, &mut writer).await?;
    Ok(writer.commit().await?)
}

/// `POST /<key>?uploadId=[&newKey=]` (§5.3), also `POST /finish/uvideoUploads/<key>` (§11).
pub async fn finish(ctx: &Ctx, body: &mut Option<Body>) -> UfileResult<Response> {
    ctx.require_key()?;
    let id = upload_id(ctx)?;
    let authorized = auth::check(ctx, Signed::headers(ctx, "POST", &ctx.key))?;
    let upload = lookup(ctx, id, Some(&ctx.key))?;
    let text = read_small(take_body(body), FINISH_BODY_LIMIT).await?;
    let text = String::from_utf8_lossy(&text);
    // The Python SDK sends the ETags as it received them, quotes included (official-sdk-requests.md).
    let entries: Vec<&str> =
        if text.trim().is_empty() { Vec::new() } else { text.split(',').map(|e| e.trim().trim_matches('"')).collect() };
    let store = &ctx.state.store;
    let parts = store.parts(&upload.id)?;

    if let Some(i) = entries.iter().position(|e| e.is_empty()) {
        return Err(bad_part_list(format!(
            "entry {i} of the finish body is empty (as in \"e0,,e1\"): the body must list the ETag of every part, \
             0 to n-1, comma-joined in part-number order; uploaded parts: {}",
            part_numbers(&parts)
        )));
    }
    if entries.is_empty() {
        return Err(bad_part_list(format!("the finish body lists no parts; uploaded parts: {}", part_numbers(&parts))));
    }
    for (i, entry) in entries.iter().enumerate() {
        let Some(part) = parts.get(i).filter(|p| p.number == i as u64) else {
            return Err(bad_part_list(format!(
                "the finish body lists {} parts but part {i} was never uploaded; uploaded parts: {}",
                entries.len(),
                part_numbers(&parts)
            )));
        };
        if part.digests.sha1() != *entry {
            let hint = match parts.iter().find(|p| p.digests.sha1() == *entry) {
                Some(other) => format!(
                    "it is the ETag of part {}: list the ETags in part-number order, not in completion order",
                    other.number
                ),
                None => "it is the ETag of no uploaded part".to_owned(),
            };
            return Err(bad_part_list(format!(
                "entry {i} of the finish body is {entry:?}, but part {i} has ETag {:?}; {hint}",
                part.digests.sha1()
            )));
        }
    }
    if parts.len() > entries.len() {
        return Err(bad_part_list(format!(
            "parts {} were uploaded but are not listed in the finish body, which lists parts 0 to {}",
            part_numbers(&parts[entries.len()..]),
            entries.len() - 1
        )));
    }
    if let Some(short) = parts[..parts.len() - 1].iter().find(|p| p.size != BLK_SIZE) {
        return Err(bad_part_list(format!(
            "part {} holds {} bytes; every part but the last must hold exactly {BLK_SIZE} (BlkSize)",
            short.number, short.size
        )));
    }

    let blob = store.concatenate(&parts, DigestSet::Etags).await?;
    let guard = BlobGuard::new(store, &blob);
    let info: UploadInfo = serde_json::from_str(&upload.info).unwrap_or_default();
    let first_part_mime =
        parts.first().and_then(|p| serde_json::from_str::<PartInfo>(&p.info).ok()).map(|i| i.mime).unwrap_or_default();
    // UNVERIFIED: the Python SDK initiates with `text/plain` but sends the parts with the file's
    // type, so the parts' type wins; Go, Java and JS send the same type everywhere.
    let mime = if first_part_mime.is_empty() { info.mime.clone() } else { first_part_mime };
    let mut meta = info.meta;
    if ctx.header("x-ufile-metadata-directive").trim().eq_ignore_ascii_case("REPLACE") {
        meta.user_meta = ObjectMeta::from_headers(&ctx.headers)?.user_meta;
    }
    if meta.storage_class.is_empty() {
        meta.storage_class = "STANDARD".into();
    }
    // newKey (§5.3, UNVERIFIED semantics): the final key when the original one is taken by now.
    let key = match ctx.q("newKey").filter(|k| !k.is_empty()) {
        Some(new_key) if store.object(Service::Ufile, &ctx.bucket, &ctx.key)?.is_some() => new_key.to_owned(),
        _ => ctx.key.clone(),
    };
    let object =
        store.finish_upload(&upload, &key, &blob, &ObjectAttrs { mime: &mime, meta: &meta.to_json() }, true)?;
    guard.keep();
    if let Some(response) = callback::run(authorized.put_policy.as_ref(), &object.digests.ufile_etag).await? {
        return Ok(response);
    }
    let mut response =
        json_response(StatusCode::OK, &json!({"Bucket": ctx.bucket, "Key": object.key, "FileSize": object.size}));
    response.headers_mut().insert(header::ETAG, quoted(&object.digests.ufile_etag));
    Ok(response)
}

/// `DELETE /<key>?uploadId=` (§5.4): 200, the parts are gone.
pub async fn abort(ctx: &Ctx) -> UfileResult<Response> {
    ctx.require_key()?;
    let id = upload_id(ctx)?;
    auth::check(ctx, Signed::headers(ctx, "DELETE", &ctx.key))?;
    let upload = lookup(ctx, id, Some(&ctx.key))?;
    ctx.state.store.abort_upload(&upload.id)?;
    Ok(StatusCode::OK.into_response())
}

fn parse_limit(ctx: &Ctx, name: &str, default: usize) -> UfileResult<usize> {
    match ctx.q(name).map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(default),
        Some(v) => match v.parse::<usize>() {
            Ok(n) => Ok(n.clamp(1, 1000)),
            Err(_) => Err(UfileError::bad_request(format!("{name} {v:?} is not a number"))),
        },
    }
}

/// `GET /?muploadpart&uploadId=[&max-parts=][&part-number-marker=]` (§5.5), signed with an
/// empty key.
pub async fn list_parts(ctx: &Ctx) -> UfileResult<Response> {
    auth::check(ctx, Signed::headers(ctx, "GET", ""))?;
    let id = upload_id(ctx)?;
    let upload = lookup(ctx, id, None)?;
    let max = parse_limit(ctx, "max-parts", 1000)?;
    let marker = match ctx.q("part-number-marker").map(str::trim).filter(|v| !v.is_empty()) {
        None => None,
        Some(v) => Some(
            v.parse::<u64>()
                .map_err(|_| UfileError::bad_request(format!("part-number-marker {v:?} is not a number")))?,
        ),
    };
    let parts: Vec<Part> =
        ctx.state.store.parts(&upload.id)?.into_iter().filter(|p| marker.is_none_or(|m| p.number > m)).collect();
    let truncated = parts.len() > max;
    let listed = &parts[..parts.len().min(max)];
    let info: UploadInfo = serde_json::from_str(&upload.info).unwrap_or_default();
    let items: Vec<serde_json::Value> = listed
        .iter()
        .map(|p| {
            let ms = serde_json::from_str::<PartInfo>(&p.info).map(|i| i.ms).unwrap_or(upload.created_ms);
            json!({"PartNum": p.number, "Etag": p.digests.sha1(), "LastModified": ms / 1000, "Size": p.size})
        })
        .collect();
    let storage_class = if info.meta.storage_class.is_empty() { "STANDARD" } else { &info.meta.storage_class };
    Ok(json_response(
        StatusCode::OK,
        &json!({
            "RetCode": 0,
            "ErrMsg": "",
            "UploadId": upload.id,
            "Bucket": upload.bucket,
            "Key": upload.key,
            "StorageClass": storage_class,
            "MaxParts": max,
            "IsTruncated": truncated,
            "NextPartNumberMarker": listed.last().map_or(0, |p| p.number),
            "Parts": items,
        }),
    ))
}

/// `GET /?muploadid&prefix=&marker=&limit=[&upload-id-marker=]` (§5.6), signed with an empty key.
pub async fn list_uploads(ctx: &Ctx) -> UfileResult<Response> {
    auth::check(ctx, Signed::headers(ctx, "GET", ""))?;
    let prefix = ctx.q("prefix").unwrap_or("");
    let marker = ctx.q("marker").unwrap_or("");
    let id_marker = ctx.q("upload-id-marker").unwrap_or("");
    let limit = parse_limit(ctx, "limit", 20)?;
    let uploads = ctx.state.store.uploads(Service::Ufile, &ctx.bucket, prefix)?;
    let start = if marker.is_empty() {
        0
    } else {
        match uploads.iter().position(|u| u.key == marker && u.id == id_marker) {
            Some(i) if !id_marker.is_empty() => i + 1,
            _ => uploads.iter().position(|u| u.key.as_str() > marker).unwrap_or(uploads.len()),
        }
    };
    let rest = &uploads[start..];
    let truncated = rest.len() > limit;
    let page = &rest[..rest.len().min(limit)];
    let items: Vec<serde_json::Value> = page
        .iter()
        .map(|u| {
            let info: UploadInfo = serde_json::from_str(&u.info).unwrap_or_default();
            let class =
                if info.meta.storage_class.is_empty() { "STANDARD".to_owned() } else { info.meta.storage_class };
            json!({"UploadId": u.id, "FileName": u.key, "StartTime": u.created_ms / 1000, "StorageClass": class})
        })
        .collect();
    let (next, next_id) = match (truncated, page.last()) {
        (true, Some(last)) => (last.key.clone(), last.id.clone()),
        _ => (String::new(), String::new()),
    };
    Ok(json_response(
        StatusCode::OK,
        &json!({
            "RetCode": 0,
            "ErrMsg": "",
            "Bucket": ctx.bucket,
            "NextMarker": next,
            "UploadIdMarker": next_id,
            "IsTruncated": truncated,
            "DataSet": items,
        }),
    ))
}
