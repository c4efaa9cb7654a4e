//! Bucket listings: PrefixFileList (`?list`, §6.3) and ListObjects (`?listobjects`, §6.4). Both
//! are signed with an empty key (resource `/<bucket>/`); ListObjects also accepts the Python SDK's
//! signed query suffix.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;
use yunup::hash::{Hasher as _, Sha1};

use super::auth::{self, Signed};
use super::objects::ObjectMeta;
use super::{Ctx, UfileError, UfileResult, json_response};
use crate::store::{Object, Service};

fn mime_of(object: &Object) -> &str {
    if object.mime.is_empty() { "application/octet-stream" } else { &object.mime }
}

fn number(ctx: &Ctx, name: &str, default: usize) -> UfileResult<usize> {
    match ctx.q(name).map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(default),
        Some(v) => match v.parse::<usize>() {
            Ok(0) => Ok(default),
            Ok(n) => Ok(n.min(1000)),
            Err(_) => Err(UfileError::bad_request(format!("{name} {v:?} is not a number"))),
        },
    }
}

/// A stable made-up bucket id (`ufile-xxxxxxxx`).
pub(super) fn bucket_id(bucket: &str) -> String {
    format!("ufile-{}", &Sha1::digest(bucket.as_bytes()).to_hex()[..8])
}

/// `GET /?list&prefix=&marker=&limit=` (§6.3). `marker` is exclusive; `NextMarker` is "" when
/// the listing is complete.
pub async fn prefix_list(ctx: &Ctx) -> UfileResult<Response> {
    auth::check(ctx, Signed::headers(ctx, "GET", ""))?;
    let prefix = ctx.q("prefix").unwrap_or("");
    let marker = ctx.q("marker").unwrap_or("");
    let limit = number(ctx, "limit", 20)?;
    let mut objects = ctx.state.store.list_objects(Service::Ufile, &ctx.bucket, prefix, marker, limit + 1)?;
    let truncated = objects.len() > limit;
    objects.truncate(limit);
    let next = if truncated { objects.last().map(|o| o.key.clone()).unwrap_or_default() } else { String::new() };
    let items: Vec<serde_json::Value> = objects
        .iter()
        .map(|o| {
            let meta = ObjectMeta::parse(&o.meta);
            json!({
                "BucketName": ctx.bucket,
                "FileName": o.key,
                "Hash": o.digests.ufile_etag,
                "MimeType": mime_of(o),
                "Size": o.size,
                "CreateTime": o.created_ms / 1000,
                "ModifyTime": o.created_ms / 1000,
                "StorageClass": meta.storage_class,
            })
        })
        .collect();
    Ok(json_response(
        StatusCode::OK,
        &json!({"BucketName": ctx.bucket, "BucketId": bucket_id(&ctx.bucket), "NextMarker": next, "DataSet": items}),
    ))
}

/// `GET /?listobjects&prefix=&marker=&max-keys=&delimiter=` (§6.4): keys after `marker`; with a
/// delimiter, keys below the next delimiter after the prefix are rolled up into CommonPrefixes.
/// `MaxKeys` and `Size` are strings, as the doc shows them.
pub async fn list_objects(ctx: &Ctx) -> UfileResult<Response> {
    let prefix = ctx.q("prefix").unwrap_or("");
    let marker = ctx.q("marker").unwrap_or("");
    let delimiter = ctx.q("delimiter").unwrap_or("");
    let python_suffix = format!(
        "\nlistobjects\ndelimiter:{delimiter}\nmarker:{marker}\nmax-keys:{}\nprefix:{prefix}",
        ctx.q("max-keys").unwrap_or("")
    );
    auth::check(ctx, Signed { suffix: Some(python_suffix), ..Signed::headers(ctx, "GET", "") })?;
    let max = number(ctx, "max-keys", 100)?;

    let store = &ctx.state.store;
    let mut contents: Vec<Object> = Vec::new();
    let mut prefixes: Vec<String> = Vec::new();
    let mut next_marker = String::new();
    let mut truncated = false;
    let mut cursor = marker.to_owned();
    'pages: loop {
        let page = store.list_objects(Service::Ufile, &ctx.bucket, prefix, &cursor, 1000)?;
        let full = page.len() == 1000;
        for object in page {
            cursor = object.key.clone();
            let rest = object.key.strip_prefix(prefix).unwrap_or(&object.key);
            let rolled = (!delimiter.is_empty())
                .then(|| rest.find(delimiter).map(|i| format!("{prefix}{}", &rest[..i + delimiter.len()])))
                .flatten();
            match rolled {
                Some(common) => {
                    if common == marker || prefixes.last() == Some(&common) {
                        continue;
                    }
                    if contents.len() + prefixes.len() == max {
                        truncated = true;
                        break 'pages;
                    }
                    next_marker = common.clone();
                    prefixes.push(common);
                }
                None => {
                    if contents.len() + prefixes.len() == max {
                        truncated = true;
                        break 'pages;
                    }
                    next_marker = object.key.clone();
                    contents.push(object);
                }
            }
        }
        if !full {
            break;
        }
    }
    if !truncated {
        next_marker.clear();
    }
    let items: Vec<serde_json::Value> = contents
        .iter()
        .map(|o| {
            let meta = ObjectMeta::parse(&o.meta);
            json!({
                "Key": o.key,
                "MimeType": mime_of(o),
                "ETag": o.digests.ufile_etag,
                "Size": o.size.to_string(),
                "StorageClass": meta.storage_class,
                "LastModified": o.created_ms / 1000,
                "CreateTime": o.created_ms / 1000,
                "UserMeta": meta.user_meta,
            })
        })
        .collect();
    let common: Vec<serde_json::Value> = prefixes.iter().map(|p| json!({"Prefix": p})).collect();
    Ok(json_response(
        StatusCode::OK,
        &json!({
            "Name": ctx.bucket,
            "Prefix": prefix,
            "MaxKeys": max.to_string(),
            "Delimiter": delimiter,
            "IsTruncated": truncated,
            "NextMarker": next_marker,
            "Contents": items,
            "CommonPrefixes": common,
        }),
    ))
}
