//! The demo host: a token backend as a user's own server would run it, the admin endpoint for
//! fault injection, and the static demo page plus the built npm package.
//!
//! The backend signs with the first `--credential` and the `yunup` crate's own signing code, and
//! checks every request against a signing policy first: the bucket must exist in that service,
//! lifetimes are capped, and UFile requests go through [`SigningPolicy`]. A real backend would also
//! authenticate its caller; the demo has no users, so it does not.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::{Query, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use tower_http::services::ServeDir;
use yunup::sign::ufile::{PresignRequest, SignRequest, SigningPolicy};
use yunup::sign::{Credentials, ufile, wantu, wcs};

use crate::faults::FaultConfig;
use crate::http::{AppState, pair, parse_pairs};
use crate::store::Service;

/// Where the services listen, for the page (`GET /api/config`).
#[derive(Clone, Debug)]
pub struct Endpoints {
    pub wcs: String,
    pub ufile: String,
    pub wantu: String,
}

#[derive(Clone)]
struct DemoState {
    app: AppState,
    endpoints: Endpoints,
}

/// Longest token lifetime the backend hands out.
const MAX_LIFETIME_SECS: u64 = 24 * 3600;
const DEFAULT_LIFETIME_SECS: u64 = 3600;

pub fn router(app: AppState, endpoints: Endpoints, www: &Path, pkg: &Path) -> Router {
    let faults = (crate::faults::BACKEND, app.faults.clone());
    let state = DemoState { app, endpoints };
    // What a user's backend serves: it can fail too (`"services": ["backend"]`).
    let backend = Router::new()
        .route("/api/token/wcs", get(wcs_token))
        .route("/api/token/wantu", get(wantu_token))
        .route("/api/token/ufile", get(ufile_sign_query))
        .route("/api/sign/ufile", post(ufile_sign_json))
        .route("/applyAuth", post(ufile_sign_json))
        .route("/applyPrivateUrlAuth", post(ufile_presign_json))
        .route("/api/presign/ufile", post(ufile_presign_url))
        .layer(axum::middleware::from_fn_with_state(faults, crate::http::inject_faults));
    Router::new()
        .route("/api/config", get(config))
        .merge(backend)
        .route("/admin/faults", get(get_faults).put(put_faults).post(put_faults))
        .route("/admin/requests", get(requests_since))
        .nest_service("/pkg", ServeDir::new(pkg))
        .fallback_service(ServeDir::new(www))
        .with_state(state)
}

fn signer(state: &DemoState) -> &Credentials {
    // main.rs requires at least one --credential.
    &state.app.credentials[0]
}

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// A refusal the page can show: `{ "error": "..." }` with a status.
struct Refusal(StatusCode, String);

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

fn refuse(status: StatusCode, message: impl Into<String>) -> Refusal {
    Refusal(status, message.into())
}

type Reply = Result<Response, Refusal>;

fn lifetime(expires_in: Option<u64>) -> Result<u64, Refusal> {
    let secs = expires_in.unwrap_or(DEFAULT_LIFETIME_SECS);
    if secs == 0 || secs > MAX_LIFETIME_SECS {
        return Err(refuse(StatusCode::BAD_REQUEST, format!("expiresIn must be 1..={MAX_LIFETIME_SECS} seconds")));
    }
    Ok(secs)
}

fn require_bucket(state: &DemoState, service: Service, bucket: &str) -> Result<(), Refusal> {
    match state.app.store.bucket(service, bucket) {
        Ok(Some(_)) => Ok(()),
        Ok(None) => Err(refuse(
            StatusCode::FORBIDDEN,
            format!("bucket {bucket:?} is not served by this backend ({} service)", service.as_str()),
        )),
        Err(e) => Err(refuse(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())),
    }
}

async fn config(State(state): State<DemoState>) -> Response {
    let buckets = |service| {
        state
            .app
            .store
            .buckets(service)
            .unwrap_or_default()
            .into_iter()
            .map(|(name, private, _)| json!({ "name": name, "private": private }))
    };
    Json(json!({
        "wcs": { "upload": state.endpoints.wcs, "buckets": buckets(Service::Wcs).collect::<Vec<_>>() },
        "ufile": { "endpoint": state.endpoints.ufile, "buckets": buckets(Service::Ufile).collect::<Vec<_>>() },
        "wantu": { "upload": state.endpoints.wantu, "namespaces": buckets(Service::Wantu).collect::<Vec<_>>() },
        "accessKey": signer(&state).access_key(),
    }))
    .into_response()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WcsTokenQuery {
    bucket: String,
    key: Option<String>,
    expires_in: Option<u64>,
    overwrite: Option<i64>,
    return_body: Option<String>,
}

/// `GET /api/token/wcs?bucket=B&key=K&expiresIn=S` → `{ token, deadline }`.
async fn wcs_token(State(state): State<DemoState>, Query(q): Query<WcsTokenQuery>) -> Reply {
    require_bucket(&state, Service::Wcs, &q.bucket)?;
    let secs = lifetime(q.expires_in)?;
    let scope = match q.key.as_deref() {
        Some(key) if !key.is_empty() => format!("{}:{key}", q.bucket),
        _ => q.bucket.clone(),
    };
    let deadline = (now_secs() + secs) * 1000;
    let policy =
        wcs::PutPolicy { overwrite: q.overwrite, return_body: q.return_body, ..wcs::PutPolicy::new(scope, deadline) };
    let token =
        wcs::upload_token(signer(&state), &policy).map_err(|e| refuse(StatusCode::BAD_REQUEST, e.to_string()))?;
    Ok(Json(json!({ "token": token, "deadline": deadline })).into_response())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WantuTokenQuery {
    namespace: String,
    dir: Option<String>,
    name: Option<String>,
    expires_in: Option<u64>,
    insert_only: Option<i64>,
}

/// `GET /api/token/wantu?namespace=N&dir=/d&name=n&expiresIn=S` → `{ token, expiration }`.
async fn wantu_token(State(state): State<DemoState>, Query(q): Query<WantuTokenQuery>) -> Reply {
    require_bucket(&state, Service::Wantu, &q.namespace)?;
    let secs = lifetime(q.expires_in)?;
    let expiration = ((now_secs() + secs) * 1000) as i64;
    let policy = wantu::UploadPolicy {
        namespace: Some(q.namespace),
        expiration: Some(expiration),
        dir: q.dir.filter(|d| !d.is_empty()),
        name: q.name.filter(|n| !n.is_empty()),
        insert_only: q.insert_only,
        ..Default::default()
    };
    let token =
        wantu::upload_token(signer(&state), &policy).map_err(|e| refuse(StatusCode::BAD_REQUEST, e.to_string()))?;
    Ok(Json(json!({ "token": token, "expiration": expiration })).into_response())
}

/// What a browser may get signed for UFile: any key of an existing bucket, every object
/// method, presigned URLs for at most a day.
fn ufile_policy(state: &DemoState, bucket: &str) -> Result<SigningPolicy, Refusal> {
    require_bucket(state, Service::Ufile, bucket)?;
    Ok(SigningPolicy {
        bucket: bucket.to_owned(),
        key_prefix: String::new(),
        allowed_methods: ["GET", "HEAD", "PUT", "POST", "DELETE"].map(String::from).to_vec(),
        max_expires_in: Some(MAX_LIFETIME_SECS),
        max_size: None,
    })
}

fn sign_ufile(state: &DemoState, request: &SignRequest) -> Reply {
    let policy = ufile_policy(state, &request.bucket)?;
    let auth = policy
        .check_sign(request, None)
        .and_then(|()| ufile::authorization(signer(state), request))
        .map_err(|e| refuse(StatusCode::FORBIDDEN, e.to_string()))?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], auth).into_response())
}

/// The UFile JS SDK's token request (ufile.md §9.2): query values form-decoded, as the PHP
/// reference server reads them; the reply is the bare `Authorization` text.
async fn ufile_sign_query(State(state): State<DemoState>, RawQuery(query): RawQuery) -> Reply {
    let form_decoded = query.unwrap_or_default().replace('+', "%20");
    let pairs = parse_pairs(&form_decoded);
    let get = |name: &str| pair(&pairs, name).unwrap_or("").to_owned();
    let request = SignRequest {
        method: get("method"),
        bucket: get("bucket"),
        key: get("key"),
        content_md5: get("content_md5"),
        content_type: get("content_type"),
        date: get("date"),
        put_policy: Some(get("put_policy")).filter(|p| !p.is_empty()),
        ..Default::default()
    };
    sign_ufile(&state, &request)
}

/// `POST /applyAuth` (ufile.md §9.3) and `/api/sign/ufile`: a JSON request, the `Authorization`
/// text back.
async fn ufile_sign_json(State(state): State<DemoState>, body: axum::body::Bytes) -> Reply {
    let request: SignRequest = serde_json::from_slice(&body)
        .map_err(|e| refuse(StatusCode::BAD_REQUEST, format!("not a UFile sign request: {e}")))?;
    sign_ufile(&state, &request)
}

fn presign(state: &DemoState, body: &[u8]) -> Result<PresignRequest, Refusal> {
    let request: PresignRequest = serde_json::from_slice(body)
        .map_err(|e| refuse(StatusCode::BAD_REQUEST, format!("not a UFile presign request: {e}")))?;
    let policy = ufile_policy(state, &request.bucket)?;
    policy.check_presign(&request, now_secs()).map_err(|e| refuse(StatusCode::FORBIDDEN, e.to_string()))?;
    Ok(request)
}

/// `POST /applyPrivateUrlAuth` (ufile.md §9.3): only the signature, as the mobile SDKs expect.
async fn ufile_presign_json(State(state): State<DemoState>, body: axum::body::Bytes) -> Reply {
    let request = presign(&state, &body)?;
    Ok(ufile::presign_signature(signer(&state), &request).into_response())
}

/// `POST /api/presign/ufile` `{method, bucket, key, expires}` → `{ url }` against this emulator
/// (path style).
async fn ufile_presign_url(State(state): State<DemoState>, body: axum::body::Bytes) -> Reply {
    let request = presign(&state, &body)?;
    let base = format!("{}/{}", state.endpoints.ufile, request.bucket);
    let url = ufile::presigned_url(signer(&state), &base, &request)
        .map_err(|e| refuse(StatusCode::BAD_REQUEST, e.to_string()))?;
    Ok(Json(json!({ "url": url })).into_response())
}

async fn get_faults(State(state): State<DemoState>) -> Response {
    Json(state.app.faults.config()).into_response()
}

/// Replace the fault configuration (`{}` switches everything off).
async fn put_faults(State(state): State<DemoState>, body: axum::body::Bytes) -> Reply {
    let config: FaultConfig = serde_json::from_slice(&body)
        .map_err(|e| refuse(StatusCode::BAD_REQUEST, format!("not a fault configuration: {e}")))?;
    config.validate().map_err(|e| refuse(StatusCode::BAD_REQUEST, e))?;
    println!("demo fault configuration: {}", serde_json::to_string(&config).unwrap_or_default());
    state.app.faults.set(config.clone());
    Ok(Json(config).into_response())
}

#[derive(Deserialize)]
struct Since {
    #[serde(default)]
    since: u64,
}

/// `GET /admin/requests?since=N` → `{ "last": M, "requests": [{seq, service, method, target, status}] }`.
async fn requests_since(State(state): State<DemoState>, Query(q): Query<Since>) -> Response {
    let (last, requests) = state.app.requests.since(q.since);
    Json(json!({ "last": last, "requests": requests })).into_response()
}
