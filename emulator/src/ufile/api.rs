//! The UCloud API's bucket actions (§7), served on the UFile port for requests to `/` that name no
//! bucket (an IP or non-bucket Host, e.g. `http://127.0.0.1:<port>/?Action=...` or
//! `http://api.<anything>/?Action=...` through a proxy): CreateBucket, DeleteBucket,
//! DescribeBucket, UpdateBucket and GetFileList.
//!
//! Parameters come from the query (`GET`, what the SDKs send) or a form body (`POST
//! application/x-www-form-urlencoded`). The signature is checked as §7.1 defines it: every
//! parameter but `Signature`, sorted by name, `name + value` concatenated, the private key
//! appended, SHA-1 in hex (compared case-insensitively, in constant time).
//!
//! Every reply is HTTP 200 with `{"RetCode": n, "Action": "<Action>Response", ...}` and, when `n`
//! is not 0, a `Message` (§7.3; UCloud's gateway answers business errors with 200 — UNVERIFIED for
//! UFile, but it is what the Go SDK, which ignores the status, and the Python SDK, which reads the
//! JSON only on 2xx, both work with).
//!
//! Emulator decisions (the real values are UNVERIFIED): a missing parameter is 15002, an unknown
//! PublicKey 172; buckets made here are usable for uploads at once; `Region` defaults to `cn-bj`;
//! the 20-minute "a new bucket cannot be deleted" rule (15014) is not enforced; DeleteBucket refuses
//! a bucket with objects (15023) and drops its unfinished multipart uploads; DescribeBucket of a
//! missing name answers an empty `DataSet`; `ProjectId`, `Tag` and `Domain.N` are accepted and
//! kept, not checked.

use axum::body::Body;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use yunup::sign::ufile::api_signature;

use super::listing::bucket_id;
use super::{parse_query, read_small};
use crate::http::{AppState, ServiceCode};
use crate::store::{BucketRow, Removal, Service, StoreError};

/// RetCodes (§7.3).
mod code {
    pub const MISSING_ACTION: i64 = 160;
    pub const UNKNOWN_ACTION: i64 = 161;
    pub const MISSING_SIGNATURE: i64 = 170;
    pub const BAD_SIGNATURE: i64 = 171;
    pub const NO_SUCH_USER: i64 = 172;
    pub const NAME_TAKEN: i64 = 15000;
    pub const BAD_NAME: i64 = 15001;
    pub const BAD_PARAMETER: i64 = 15002;
    pub const BAD_TYPE: i64 = 15003;
    pub const NO_SUCH_BUCKET: i64 = 15010;
    pub const NOT_EMPTY: i64 = 15023;
    pub const INTERNAL: i64 = 15999;
}

/// Largest form body of a POSTed action.
const MAX_BODY: usize = 64 * 1024;

/// Is this an API request rather than a bucket request? `/` with an `Action` in the query, or a
/// form POST to `/` (the caller has already found that the Host names no bucket).
pub fn is_api_request(method: &Method, path: &str, query: &str, content_type: &str) -> bool {
    if path != "/" {
        return false;
    }
    let has_action = query.split('&').any(|p| p.split('=').next() == Some("Action"));
    has_action
        || (*method == Method::POST
            && content_type.trim().to_ascii_lowercase().starts_with("application/x-www-form-urlencoded"))
}

/// A refusal: `RetCode` and `Message`.
struct ApiError(i64, String);

type ApiResult<T> = Result<T, ApiError>;

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError(code::INTERNAL, e.to_string())
    }
}

/// What the emulator keeps in a UFile bucket row's `info`.
#[derive(Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct BucketInfo {
    region: String,
    tag: String,
    project_id: String,
    domains: Vec<String>,
    modified_ms: u64,
}

impl BucketInfo {
    fn of(row: &BucketRow) -> BucketInfo {
        let mut info: BucketInfo = serde_json::from_str(&row.info).unwrap_or_default();
        if info.region.is_empty() {
            info.region = "cn-bj".into();
        }
        if info.tag.is_empty() {
            info.tag = "Default".into();
        }
        if info.modified_ms == 0 {
            info.modified_ms = row.created_ms;
        }
        info
    }

    fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".into())
    }
}

/// Serve one API request. Always 200: the outcome is in `RetCode`.
pub async fn handle(state: &AppState, method: &Method, query: &str, body: &mut Option<Body>) -> Response {
    let mut params = parse_query(query);
    if *method == Method::POST {
        match read_small(super::take_body(body), MAX_BODY).await {
            Ok(bytes) => params.extend(parse_query(&String::from_utf8_lossy(&bytes))),
            Err(e) => return reply("", Err(ApiError(code::BAD_PARAMETER, e.message))),
        }
    }
    let action = param(&params, "Action").unwrap_or("").to_owned();
    let result = match authenticate(state, &params) {
        Ok(()) => run(state, &action, &params),
        Err(e) => Err(e),
    };
    reply(&action, result)
}

fn reply(action: &str, result: ApiResult<Value>) -> Response {
    let action_name = format!("{action}Response");
    let (ret_code, body) = match result {
        Ok(mut value) => {
            if let Some(map) = value.as_object_mut() {
                map.insert("RetCode".into(), json!(0));
                map.insert("Action".into(), json!(action_name));
            }
            (0, value)
        }
        Err(ApiError(ret_code, message)) => {
            (ret_code, json!({"RetCode": ret_code, "Action": action_name, "Message": message}))
        }
    };
    let mut response = (StatusCode::OK, body.to_string()).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response.extensions_mut().insert(ServiceCode(ret_code.to_string()));
    response
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

fn required<'a>(params: &'a [(String, String)], name: &str) -> ApiResult<&'a str> {
    param(params, name)
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ApiError(code::BAD_PARAMETER, format!("Missing params: {name}")))
}

fn number(params: &[(String, String)], name: &str, default: u64) -> ApiResult<u64> {
    match param(params, name).map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(default),
        Some(v) => v.parse().map_err(|_| ApiError(code::BAD_PARAMETER, format!("{name} {v:?} is not a number"))),
    }
}

/// §7.1: `PublicKey` known, `Signature` the SHA-1 of the sorted parameters and the private key.
fn authenticate(state: &AppState, params: &[(String, String)]) -> ApiResult<()> {
    let given = param(params, "Signature").map(str::trim).unwrap_or("");
    if given.is_empty() {
        return Err(ApiError(code::MISSING_SIGNATURE, "Missing signature".into()));
    }
    let public_key = param(params, "PublicKey").unwrap_or("");
    let Some(credential) = state.credentials.iter().find(|c| c.access_key() == public_key && !public_key.is_empty())
    else {
        return Err(ApiError(code::NO_SUCH_USER, "User not exists: unknown PublicKey".into()));
    };
    let signed: Vec<(String, String)> = params.iter().filter(|(k, _)| k != "Signature").cloned().collect();
    let expected = api_signature(&signed, credential.secret_key());
    if !constant_time_eq(expected.as_bytes(), given.to_ascii_lowercase().as_bytes()) {
        return Err(ApiError(code::BAD_SIGNATURE, "Signature VerifyAC Error".into()));
    }
    Ok(())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn run(state: &AppState, action: &str, params: &[(String, String)]) -> ApiResult<Value> {
    match action {
        "" => Err(ApiError(code::MISSING_ACTION, "Missing Action".into())),
        "CreateBucket" => create_bucket(state, params),
        "DeleteBucket" => delete_bucket(state, params),
        "DescribeBucket" => describe_bucket(state, params),
        "UpdateBucket" => update_bucket(state, params),
        "GetFileList" => get_file_list(state, params),
        other => Err(ApiError(
            code::UNKNOWN_ACTION,
            format!(
                "Action [{other}] not found (yunup-emulator serves CreateBucket, DeleteBucket, DescribeBucket, UpdateBucket, GetFileList)"
            ),
        )),
    }
}

/// 3–63 characters of `a-z0-9-`, no `-` at either end (§7.2).
fn valid_name(name: &str) -> bool {
    (3..=63).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

/// `Type`: public or private (`default` when absent).
fn bucket_type(params: &[(String, String)], default: Option<bool>) -> ApiResult<bool> {
    match param(params, "Type").map(|t| t.trim().to_ascii_lowercase()).filter(|t| !t.is_empty()) {
        Some(t) if t == "public" => Ok(false),
        Some(t) if t == "private" => Ok(true),
        Some(t) => Err(ApiError(code::BAD_TYPE, format!("Type {t:?} is not public or private"))),
        None => default.ok_or_else(|| ApiError(code::BAD_PARAMETER, "Missing params: Type".into())),
    }
}

fn existing(state: &AppState, name: &str) -> ApiResult<BucketRow> {
    state
        .store
        .bucket_row(Service::Ufile, name)?
        .ok_or_else(|| ApiError(code::NO_SUCH_BUCKET, format!("bucket not exist: {name}")))
}

fn bucket_ref(name: &str) -> Value {
    json!({"BucketName": name, "BucketId": bucket_id(name)})
}

fn create_bucket(state: &AppState, params: &[(String, String)]) -> ApiResult<Value> {
    let name = required(params, "BucketName")?;
    if !valid_name(name) {
        return Err(ApiError(
            code::BAD_NAME,
            format!(
                "invalid bucket name {name:?}: 3-63 characters of a-z, 0-9 and '-', not starting or ending with '-'"
            ),
        ));
    }
    let private = bucket_type(params, Some(true))?;
    let mut domains: Vec<(u64, String)> = params
        .iter()
        .filter_map(|(k, v)| k.strip_prefix("Domain.").and_then(|n| n.parse().ok()).map(|n| (n, v.clone())))
        .collect();
    domains.sort();
    let info = BucketInfo {
        region: param(params, "Region").map(str::trim).filter(|r| !r.is_empty()).unwrap_or("cn-bj").to_owned(),
        tag: param(params, "Tag").unwrap_or("").to_owned(),
        project_id: param(params, "ProjectId").unwrap_or("").to_owned(),
        domains: domains.into_iter().map(|(_, d)| d).collect(),
        modified_ms: crate::store::now_ms(),
    };
    match state.store.create_bucket(Service::Ufile, name, private, &info.to_json()) {
        Ok(_) => Ok(bucket_ref(name)),
        Err(StoreError::Exists) => Err(ApiError(code::NAME_TAKEN, format!("bucket name {name:?} is already taken"))),
        Err(e) => Err(e.into()),
    }
}

fn delete_bucket(state: &AppState, params: &[(String, String)]) -> ApiResult<Value> {
    let name = required(params, "BucketName")?;
    match state.store.delete_bucket(Service::Ufile, name)? {
        Removal::Done => Ok(bucket_ref(name)),
        Removal::Missing => Err(ApiError(code::NO_SUCH_BUCKET, format!("bucket not exist: {name}"))),
        Removal::NotEmpty => {
            Err(ApiError(code::NOT_EMPTY, format!("bucket {name:?} is not empty: delete its objects first")))
        }
    }
}

fn describe(row: &BucketRow) -> Value {
    let info = BucketInfo::of(row);
    json!({
        "BucketName": row.name,
        "BucketId": bucket_id(&row.name),
        "Type": if row.private { "private" } else { "public" },
        "Region": info.region,
        "StorageClass": "STANDARD",
        "Biz": "general",
        "Tag": info.tag,
        "Domain": {
            "Src": [format!("{}.{}.ufileos.com", row.name, info.region)],
            "Cdn": [],
            "CustomSrc": info.domains,
            "CustomCdn": [],
        },
        "CdnDomainId": [],
        "CreateTime": row.created_ms / 1000,
        "ModifyTime": info.modified_ms / 1000,
        "HasUserDomain": if info.domains.is_empty() { 0 } else { 1 },
    })
}

fn describe_bucket(state: &AppState, params: &[(String, String)]) -> ApiResult<Value> {
    let rows: Vec<BucketRow> = match param(params, "BucketName").map(str::trim).filter(|n| !n.is_empty()) {
        Some(name) => state.store.bucket_row(Service::Ufile, name)?.into_iter().collect(),
        None => {
            let offset = number(params, "Offset", 0)?;
            let limit = number(params, "Limit", 20)?;
            let all = state.store.bucket_rows(Service::Ufile)?;
            all.into_iter().skip(offset as usize).take(limit as usize).collect()
        }
    };
    Ok(json!({"DataSet": rows.iter().map(describe).collect::<Vec<_>>()}))
}

fn update_bucket(state: &AppState, params: &[(String, String)]) -> ApiResult<Value> {
    let name = required(params, "BucketName")?;
    let private = bucket_type(params, None)?;
    let row = existing(state, name)?;
    let mut info = BucketInfo::of(&row);
    info.modified_ms = crate::store::now_ms();
    match state.store.update_bucket(Service::Ufile, name, private, &info.to_json()) {
        Ok(()) => Ok(bucket_ref(name)),
        Err(StoreError::NotFound(_)) => Err(ApiError(code::NO_SUCH_BUCKET, format!("bucket not exist: {name}"))),
        Err(e) => Err(e.into()),
    }
}

fn get_file_list(state: &AppState, params: &[(String, String)]) -> ApiResult<Value> {
    let name = required(params, "BucketName")?;
    existing(state, name)?;
    let offset = number(params, "Offset", 0)?;
    let limit = number(params, "Limit", 20)?.clamp(1, 1000);
    let (_, objects) = state.store.object_page(Service::Ufile, name, "", false, offset, limit)?;
    let items: Vec<Value> = objects
        .iter()
        .map(|o| {
            json!({
                "BucketName": name,
                "FileName": o.key,
                "Hash": o.digests.ufile_etag,
                "MimeType": if o.mime.is_empty() { "application/octet-stream" } else { o.mime.as_str() },
                "Size": o.size,
                "CreateTime": o.created_ms / 1000,
                "ModifyTime": o.created_ms / 1000,
            })
        })
        .collect();
    Ok(json!({"BucketName": name, "BucketId": bucket_id(name), "DataSet": items}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routing() {
        assert!(is_api_request(&Method::GET, "/", "Action=CreateBucket&x=1", ""));
        assert!(is_api_request(&Method::POST, "/", "", "application/x-www-form-urlencoded; charset=utf-8"));
        assert!(!is_api_request(&Method::GET, "/", "list&prefix=", ""));
        assert!(!is_api_request(&Method::GET, "/b/", "Action=x", ""));
        assert!(!is_api_request(&Method::POST, "/", "", "multipart/form-data; boundary=x"));
        assert!(!is_api_request(&Method::GET, "/", "NoAction=1", ""));
    }

    #[test]
    fn names() {
        for good in ["abc", "my-bucket-1", &"a".repeat(63)] {
            assert!(valid_name(good), "{good}");
        }
        for bad in ["ab", "-abc", "abc-", "ABC", "a_b", "a.b", &"a".repeat(64)] {
            assert!(!valid_name(bad), "{bad}");
        }
    }

    #[test]
    fn constant_time_compare() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
