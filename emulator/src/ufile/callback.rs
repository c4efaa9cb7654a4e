//! The put-policy callback (§2.5): after a PutFile, form upload or finish stored the object, POST
//! the policy's `callbackBody` to its `callbackUrl` and relay the JSON answer to the uploader.
//!
//! UNVERIFIED choices (the doc does not say): the request uses `callbackMethod` (default POST) and
//! `Content-Type: callbackBodyType` (default `application/x-www-form-urlencoded`); only
//! `$(x:name)` placeholders from `callbackVar` are substituted; a callback that cannot be reached,
//! answers non-2xx or answers something that is not JSON fails the upload with 502 and
//! [`retcode::CALLBACK_FAILED`] — the object stays stored, as it would on the real service.
//!
//! The request goes through [`crate::outbound`]: http only, as the doc allows.

use std::time::Duration;

use axum::http::StatusCode;
use axum::response::Response;
use yunup::sign::ufile::UploadPolicy;

use crate::outbound::{self, Request};

use super::{UfileError, UfileResult, json_response, quoted, retcode};

const TIMEOUT: Duration = Duration::from_secs(10);
/// Largest callback answer relayed.
const ANSWER_LIMIT: usize = 1 << 20;

/// The reply for an upload that carried `policy`: the callback's JSON, or `None` when there is
/// no policy or it names no callback URL (the normal reply is sent).
pub async fn run(policy: Option<&UploadPolicy>, etag: &str) -> UfileResult<Option<Response>> {
    let Some(policy) = policy else { return Ok(None) };
    let Some(url) = policy.callback_url.as_deref().filter(|u| !u.trim().is_empty()) else { return Ok(None) };
    let mut body = policy.callback_body.clone().unwrap_or_default();
    for (name, value) in &policy.callback_var {
        body = body.replace(&format!("$({name})"), value);
    }
    let content_type =
        policy.callback_body_type.as_deref().filter(|t| !t.is_empty()).unwrap_or("application/x-www-form-urlencoded");
    let method = policy.callback_method.as_deref().filter(|m| !m.is_empty()).unwrap_or("POST").to_ascii_uppercase();

    let failed = |why: String| {
        UfileError::new(
            StatusCode::BAD_GATEWAY,
            retcode::CALLBACK_FAILED,
            format!("the upload callback to {url} failed: {why}; the object was stored"),
        )
    };
    let answer = outbound::send(Request {
        method: &method,
        url,
        host: None,
        headers: &[("Content-Type", content_type), ("Accept", "application/json")],
        body: body.as_bytes(),
        max_reply: ANSWER_LIMIT,
        timeout: TIMEOUT,
    })
    .await
    .map_err(failed)?;
    if !(200..300).contains(&answer.status) {
        return Err(failed(format!("it answered HTTP {}", answer.status)));
    }
    let json: serde_json::Value = serde_json::from_slice(&answer.body)
        .map_err(|_| failed("its answer is not JSON (the callback server must answer application/json)".into()))?;
    let mut response = json_response(StatusCode::OK, &json);
    response.headers_mut().insert("etag", quoted(etag));
    Ok(Some(response))
}
