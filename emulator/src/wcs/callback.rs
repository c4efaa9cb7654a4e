//! WCS's outgoing calls, through [`crate::outbound`]: the upload callback (wcs.md §11: POST the
//! expanded `callbackBody` to `callbackUrl` and relay the answer), job notifications (§8.3) and
//! `fmgr/fetch` downloads.

use std::time::Duration;

use crate::outbound::{self, Reply, Request};

const TIMEOUT: Duration = Duration::from_secs(60);
const MAX_REPLY: usize = 4 << 20;

/// POST `body` (form-encoded) to `url` with `Authorization: authorization`.
pub async fn post(url: &str, body: &str, authorization: &str) -> Result<Reply, String> {
    let headers = [("Content-Type", "application/x-www-form-urlencoded"), ("Authorization", authorization)];
    send("POST", url, &headers, body.as_bytes(), MAX_REPLY).await
}

/// POST a job notification (wcs.md §8.3): `text/plain` body, `Authorization` over URL and body.
pub async fn notify(url: &str, body: &str, authorization: &str) -> Result<Reply, String> {
    let headers = [("Content-Type", "text/plain; charset=UTF-8"), ("Authorization", authorization)];
    send("POST", url, &headers, body.as_bytes(), MAX_REPLY).await
}

/// GET `url` (fmgr fetch): the whole reply, at most `max_body` bytes.
pub async fn get(url: &str, max_body: usize) -> Result<Reply, String> {
    send("GET", url, &[], b"", max_body).await
}

async fn send(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    max_reply: usize,
) -> Result<Reply, String> {
    outbound::send(Request { method, url, host: None, headers, body, max_reply, timeout: TIMEOUT }).await
}
