//! Reading objects back: `GET /stat/<EncodedEntryURI>` (wcs.md §7) and the download route
//! `GET`/`HEAD /<bucket>/<key>` with `Range`.

use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use yunup::calendar::DateTime;
use yunup::sign::wcs::verify_management_token;

use super::{WcsError, WcsResult, json_reply};
use crate::http::{AppState, RangeRequest, parse_range, percent_decode, serve_object};
use crate::store::{Object, Service};

/// Check the management token in `Authorization`, signed over `path[?query]\n` (no body on
/// these GETs). The raw request target is tried first, then its percent-decoded form (§2.3).
pub(super) fn check_management(state: &AppState, req: &Parts) -> WcsResult<()> {
    check_management_body(state, req, b"").map(|_| ())
}

/// Check the management token over `path[?query]\n<body>`; returns the access key.
pub(super) fn check_management_body(state: &AppState, req: &Parts, body: &[u8]) -> WcsResult<String> {
    let authorization = req
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .ok_or_else(|| WcsError::new(401, "no management token: send Authorization: <AK>:<signature>"))?;
    let target = req.uri.path_and_query().map_or_else(|| req.uri.path().to_owned(), |pq| pq.as_str().to_owned());
    let creds = &*state.credentials;
    match verify_management_token(authorization, creds, &target, body) {
        Ok(ak) => Ok(ak),
        Err(e) => {
            let decoded = percent_decode(&target);
            if decoded != target
                && let Ok(ak) = verify_management_token(authorization, creds, &decoded, body)
            {
                return Ok(ak);
            }
            Err(WcsError::new(401, format!("bad management token: {}", e.message())))
        }
    }
}

/// `(bucket, key)` of an EncodedEntryURI (split on the first `:`).
pub(super) fn decode_entry(entry: &str) -> WcsResult<(String, String)> {
    let bytes = yunup::encoding::decode_base64_lenient(&percent_decode(entry))
        .map_err(|_| WcsError::new(400, format!("{entry:?} is not an EncodedEntryURI (URL-safe base64)")))?;
    let text = String::from_utf8(bytes).map_err(|_| WcsError::new(400, "the EncodedEntryURI is not UTF-8"))?;
    match text.split_once(':') {
        Some((bucket, key)) if !bucket.is_empty() && !key.is_empty() => Ok((bucket.to_owned(), key.to_owned())),
        _ => Err(WcsError::new(400, format!("the EncodedEntryURI decodes to {text:?}, not bucket:key"))),
    }
}

pub(super) fn find_object(state: &AppState, bucket: &str, key: &str) -> WcsResult<Object> {
    if state.store.bucket(Service::Wcs, bucket)?.is_none() {
        return Err(WcsError::new(631, format!("bucket {bucket:?} does not exist")));
    }
    state
        .store
        .object(Service::Wcs, bucket, key)?
        .ok_or_else(|| WcsError::new(404, format!("file not found: {bucket}:{key}")))
}

pub(super) fn object_meta(object: &Object) -> serde_json::Value {
    serde_json::from_str(&object.meta).unwrap_or_default()
}

/// Retention (`deadline` days from upload): a date, "" when the object never expires.
pub(super) fn expiration_date(object: &Object) -> String {
    match object_meta(object).get("deadline").and_then(|d| d.as_i64()) {
        Some(days) if days >= 0 => {
            utc_datetime(object.created_ms.saturating_add((days as u64).saturating_mul(86_400_000)))
        }
        _ => String::new(),
    }
}

fn appendable(meta: &serde_json::Value) -> bool {
    meta.get("appendable") == Some(&serde_json::Value::Bool(true))
}

/// `GET /stat/<EncodedEntryURI>`.
pub fn stat(state: &AppState, req: &Parts, entry: &str) -> WcsResult<Response> {
    check_management(state, req)?;
    let (bucket, key) = decode_entry(entry)?;
    let object = find_object(state, &bucket, &key)?;
    let meta = object_meta(&object);
    let expiration = expiration_date(&object);
    let mime = if object.mime.is_empty() { "application/octet-stream" } else { object.mime.as_str() };
    let body = serde_json::json!({
        "result": true,
        "code": 200,
        "name": object.key,
        "message": "OK",
        "fsize": object.size,
        "hash": object.digests.wcs_etag,
        "mimeType": mime,
        "putTime": object.created_ms,
        "expirationDate": expiration,
        "storageClass": "Standard",
    });
    let mut response = json_reply(200, body.to_string());
    if appendable(&meta) {
        let h = response.headers_mut();
        h.insert("x-wcs-object-type", HeaderValue::from_static("Appendable"));
        h.insert("x-wcs-next-append-position", HeaderValue::from(object.size));
        // The docs spell it this way.
        h.insert("x-wcs-next-append-positon", HeaderValue::from(object.size));
    }
    Ok(response)
}

/// `GET`/`HEAD /<bucket>/<key>`: public buckets need no auth, private ones a management token.
pub async fn download(state: &AppState, req: &Parts, segments: &[&str]) -> WcsResult<Response> {
    let bucket = percent_decode(segments[0]);
    let key = percent_decode(&segments[1..].join("/"));
    let private = state
        .store
        .bucket(Service::Wcs, &bucket)?
        .ok_or_else(|| WcsError::new(631, format!("bucket {bucket:?} does not exist")))?;
    if private {
        check_management(state, req)?;
    }
    let object = find_object(state, &bucket, &key)?;
    let range = req.headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    let range = match parse_range(range, object.size) {
        RangeRequest::Whole => None,
        RangeRequest::Part(a, b) => Some((a, b)),
        RangeRequest::Unsatisfiable => {
            let mut response =
                WcsError::new(416, format!("the range is outside the object ({} bytes)", object.size)).into_response();
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{}", object.size)) {
                response.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            return Ok(response);
        }
    };
    let mut response = serve_object(&state.store, &object, range, req.method == Method::HEAD).await;
    if response.status() == StatusCode::INTERNAL_SERVER_ERROR {
        return Err(WcsError::new(500, "the object's bytes cannot be read"));
    }
    if let Ok(v) = HeaderValue::from_str(&format!("\"{}\"", object.digests.wcs_etag)) {
        response.headers_mut().insert(header::ETAG, v);
    }
    Ok(response)
}

/// `YYYY-MM-DD HH:MM:SS` (UTC) for a Unix time in milliseconds.
fn utc_datetime(ms: u64) -> String {
    let t = DateTime::from_unix_ms(ms);
    format!("{:04}-{:02}-{:02} {:02}:{:02}:{:02}", t.year, t.month, t.day, t.hour, t.minute, t.second)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_and_dates() {
        assert_eq!(decode_entry("bXlidWNrZXQ6YS50eHQ=").unwrap(), ("mybucket".into(), "a.txt".into()));
        assert_eq!(decode_entry("bXlidWNrZXQ6YTpi").unwrap(), ("mybucket".into(), "a:b".into()));
        assert_eq!(decode_entry("bXlidWNrZXQ").unwrap_err().status, 400);
        assert_eq!(utc_datetime(1_700_000_000_000), "2023-11-14 22:13:20");
    }
}
