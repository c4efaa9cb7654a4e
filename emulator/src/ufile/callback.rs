//! The put-policy callback (§2.5): after a PutFile, form upload or finish stored the object, POST
//! the policy's `callbackBody` to its `callbackUrl` and relay the JSON answer to the uploader.
//!
//! UNVERIFIED choices (the doc does not say): the request uses `callbackMethod` (default POST) and
//! `Content-Type: callbackBodyType` (default `application/x-www-form-urlencoded`); only
//! `$(x:name)` placeholders from `callbackVar` are substituted; a callback that cannot be reached,
//! answers non-2xx or answers something that is not JSON fails the upload with 502 and
//! [`retcode::CALLBACK_FAILED`] — the object stays stored, as it would on the real service.
//!
//! The client is a plain HTTP/1.1 exchange over a `TcpStream` (`Connection: close`, chunked or
//! sized answers), http only, as the doc allows.

use std::time::Duration;

use axum::http::StatusCode;
use axum::response::Response;
use memchr::memmem;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use yunup::sign::ufile::UploadPolicy;

use super::{UfileError, UfileResult, json_response, quoted, retcode};

const TIMEOUT: Duration = Duration::from_secs(10);
/// Largest callback answer relayed.
const ANSWER_LIMIT: usize = 1 << 20;

/// The reply for an upload that carried `policy` (encoded, as received): the callback's JSON, or
/// `None` when the policy names no callback URL (the normal reply is sent).
pub async fn run(policy: Option<&str>, etag: &str) -> UfileResult<Option<Response>> {
    let Some(encoded) = policy else { return Ok(None) };
    let policy = UploadPolicy::decode(encoded).map_err(|e| {
        UfileError::bad_request(format!(
            "the put policy in the Authorization is not base64 JSON ({}); the object was stored",
            e.message()
        ))
    })?;
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
    let answer = tokio::time::timeout(TIMEOUT, exchange(url, &method, content_type, body.as_bytes()))
        .await
        .map_err(|_| failed(format!("no answer within {} s", TIMEOUT.as_secs())))?
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

struct Answer {
    status: u16,
    body: Vec<u8>,
}

/// One HTTP/1.1 request over a fresh connection.
async fn exchange(url: &str, method: &str, content_type: &str, body: &[u8]) -> Result<Answer, String> {
    let rest = url
        .trim()
        .strip_prefix("http://")
        .ok_or_else(|| format!("only http:// callback URLs are supported, not {url:?}"))?;
    let (authority, path) = match rest.find(['/', '?', '#']) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let path = path.split('#').next().unwrap_or("");
    let path = if path.starts_with('/') { path.to_owned() } else { format!("/{path}") };
    if authority.is_empty() || authority.contains(char::is_whitespace) {
        return Err(format!("{url:?} has no host"));
    }
    let addr =
        if authority.starts_with('[') || authority.rsplit_once(':').is_some_and(|(_, p)| p.parse::<u16>().is_ok()) {
            authority.to_owned()
        } else {
            format!("{authority}:80")
        };
    let mut stream = tokio::net::TcpStream::connect(addr.as_str()).await.map_err(|e| format!("cannot connect: {e}"))?;
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {authority}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         User-Agent: yunup-emulator\r\nAccept: application/json\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.map_err(|e| format!("cannot send: {e}"))?;
    stream.write_all(body).await.map_err(|e| format!("cannot send: {e}"))?;
    stream.flush().await.map_err(|e| format!("cannot send: {e}"))?;

    let mut raw = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = stream.read(&mut buf).await.map_err(|e| format!("cannot read the answer: {e}"))?;
        if n == 0 {
            break;
        }
        raw.extend_from_slice(&buf[..n]);
        if raw.len() > ANSWER_LIMIT + 64 * 1024 {
            return Err(format!("the answer is larger than {ANSWER_LIMIT} bytes"));
        }
        // With a Content-Length, stop as soon as the body is complete (some servers keep the
        // connection open despite `Connection: close`).
        if let Some(done) = complete_length(&raw) {
            raw.truncate(done);
            break;
        }
    }
    parse_answer(&raw)
}

/// The total length of a response whose head is complete and declares `Content-Length`, once
/// that many bytes are there.
fn complete_length(raw: &[u8]) -> Option<usize> {
    let end = memmem::find(raw, b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&raw[..end]);
    let len = head.lines().skip(1).find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case("content-length").then(|| v.trim().parse::<usize>().ok()).flatten()
    })?;
    let total = end + 4 + len;
    (raw.len() >= total).then_some(total)
}

fn parse_answer(raw: &[u8]) -> Result<Answer, String> {
    let end = memmem::find(raw, b"\r\n\r\n").ok_or("the answer has no complete HTTP head")?;
    let head = String::from_utf8_lossy(&raw[..end]);
    let mut lines = head.lines();
    let status_line = lines.next().unwrap_or("");
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| format!("bad status line {status_line:?}"))?;
    let mut chunked = false;
    let mut length = None;
    for line in lines {
        if let Some((k, v)) = line.split_once(':') {
            let k = k.trim();
            if k.eq_ignore_ascii_case("transfer-encoding") && v.to_ascii_lowercase().contains("chunked") {
                chunked = true;
            } else if k.eq_ignore_ascii_case("content-length") {
                length = v.trim().parse::<usize>().ok();
            }
        }
    }
    let rest = &raw[end + 4..];
    let body = if chunked {
        dechunk(rest)?
    } else if let Some(len) = length {
        rest.get(..len).ok_or("the answer is shorter than its Content-Length")?.to_vec()
    } else {
        rest.to_vec()
    };
    if body.len() > ANSWER_LIMIT {
        return Err(format!("the answer is larger than {ANSWER_LIMIT} bytes"));
    }
    Ok(Answer { status, body })
}

fn dechunk(mut data: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let line_end = memmem::find(data, b"\r\n").ok_or("a broken chunked answer")?;
        let size_text = String::from_utf8_lossy(&data[..line_end]);
        let size_text = size_text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| "a broken chunk size".to_owned())?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        let chunk = data.get(..size).ok_or("a truncated chunked answer")?;
        out.extend_from_slice(chunk);
        data = data.get(size + 2..).ok_or("a truncated chunked answer")?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_sized_chunked_and_to_eof() {
        let a = parse_answer(b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\n{\"a\":1}").unwrap();
        assert_eq!((a.status, a.body.as_slice()), (200, &b"{\"a\":1}"[..]));
        let a = parse_answer(
            b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{\"a\r\n4\r\n\":1}\r\n0\r\n\r\n",
        )
        .unwrap();
        assert_eq!((a.status, a.body.as_slice()), (201, &b"{\"a\":1}"[..]));
        let a = parse_answer(b"HTTP/1.0 500 Oops\r\n\r\nbad").unwrap();
        assert_eq!((a.status, a.body.as_slice()), (500, &b"bad"[..]));
        assert!(parse_answer(b"garbage").is_err());
        assert!(parse_answer(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n").is_err());
        assert_eq!(complete_length(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}xx"), Some(40));
    }
}
