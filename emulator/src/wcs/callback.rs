//! Outgoing HTTP: the upload callback (wcs.md §11: POST the expanded `callbackBody` to
//! `callbackUrl` and relay the answer), job notifications (§8.3) and `fmgr/fetch` downloads. A
//! minimal HTTP/1.1 client over a plain TCP stream: `http://` only, one request per connection
//! (`Connection: close`), `Content-Length`, chunked or until-close replies.

use std::time::Duration;

use memchr::memmem;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The callback server's answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub body: Vec<u8>,
}

const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);
const TOTAL_TIMEOUT: Duration = Duration::from_secs(60);
const MAX_REPLY: usize = 4 << 20;

/// POST `body` (form-encoded) to `url` with `Authorization: authorization`.
pub async fn post(url: &str, body: &str, authorization: &str) -> Result<Answer, String> {
    let headers = format!("Content-Type: application/x-www-form-urlencoded\r\nAuthorization: {authorization}\r\n");
    exchange("POST", url, &headers, body.as_bytes(), MAX_REPLY).await
}

/// POST a job notification (wcs.md §8.3): `text/plain` body, `Authorization` over URL and body.
pub async fn notify(url: &str, body: &str, authorization: &str) -> Result<Answer, String> {
    let headers = format!("Content-Type: text/plain; charset=UTF-8\r\nAuthorization: {authorization}\r\n");
    exchange("POST", url, &headers, body.as_bytes(), MAX_REPLY).await
}

/// GET `url` (fmgr fetch): the whole reply, at most `max_body` bytes.
pub async fn get(url: &str, max_body: usize) -> Result<Answer, String> {
    exchange("GET", url, "", b"", max_body).await
}

/// One request on a fresh connection; `headers` are extra header lines, each ending in CRLF.
async fn exchange(method: &str, url: &str, headers: &str, body: &[u8], max_reply: usize) -> Result<Answer, String> {
    let (host, path) = split_url(url)?;
    let connect = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(host.as_str()));
    let mut stream = match connect.await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return Err(format!("cannot connect to {host}: {e}")),
        Err(_) => return Err(format!("connecting to {host} timed out")),
    };
    let length = if method == "GET" { String::new() } else { format!("Content-Length: {}\r\n", body.len()) };
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\n{headers}{length}User-Agent: yunup-emulator\r\n\
         Connection: close\r\n\r\n"
    );
    let exchange = async {
        stream.write_all(request.as_bytes()).await?;
        stream.write_all(body).await?;
        stream.flush().await?;
        let mut reply = Vec::new();
        let mut buf = [0u8; 16 * 1024];
        loop {
            let n = stream.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            if reply.len() + n > max_reply.saturating_add(64 * 1024) {
                return Err(std::io::Error::other(format!("the reply is larger than {max_reply} bytes")));
            }
            reply.extend_from_slice(&buf[..n]);
            if complete(&reply) {
                break;
            }
        }
        Ok::<_, std::io::Error>(reply)
    };
    let reply = match tokio::time::timeout(TOTAL_TIMEOUT, exchange).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => return Err(format!("the request to {url} failed: {e}")),
        Err(_) => return Err(format!("the request to {url} timed out")),
    };
    parse_reply(&reply).ok_or_else(|| format!("the server at {url} sent no valid HTTP reply"))
}

/// `host:port` and the request target of an `http://` URL.
fn split_url(url: &str) -> Result<(String, String), String> {
    let rest =
        url.strip_prefix("http://").ok_or_else(|| format!("{url:?}: the emulator can only call http:// URLs"))?;
    let (authority, path) = match rest.find(['/', '?']) {
        Some(i) if rest.as_bytes()[i] == b'/' => (&rest[..i], rest[i..].to_owned()),
        Some(i) => (&rest[..i], format!("/{}", &rest[i..])),
        None => (rest, "/".to_owned()),
    };
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if authority.is_empty() {
        return Err(format!("{url:?} has no host"));
    }
    let has_port = authority.rsplit_once(':').is_some_and(|(_, p)| p.parse::<u16>().is_ok());
    let host = if has_port { authority.to_owned() } else { format!("{authority}:80") };
    Ok((host, path))
}

/// Whether `reply` already holds a whole final response (so a server that keeps the connection
/// open despite `Connection: close` does not stall us).
fn complete(reply: &[u8]) -> bool {
    let Some((head, body)) = final_response(reply) else { return false };
    let head = String::from_utf8_lossy(head).to_ascii_lowercase();
    if let Some(len) = header(&head, "content-length").and_then(|v| v.parse::<usize>().ok()) {
        return body.len() >= len;
    }
    if header(&head, "transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        return dechunk(body).is_some();
    }
    false
}

/// Skip interim (1xx) responses; `(head, rest)` of the final one.
fn final_response(mut reply: &[u8]) -> Option<(&[u8], &[u8])> {
    loop {
        let end = memmem::find(reply, b"\r\n\r\n")?;
        let (head, rest) = (&reply[..end], &reply[end + 4..]);
        if head.starts_with(b"HTTP/1.1 1") || head.starts_with(b"HTTP/1.0 1") {
            reply = rest;
            continue;
        }
        return Some((head, rest));
    }
}

fn header<'a>(head_lower: &'a str, name: &str) -> Option<&'a str> {
    head_lower.lines().skip(1).find_map(|line| {
        let (k, v) = line.split_once(':')?;
        (k.trim() == name).then(|| v.trim())
    })
}

fn parse_reply(reply: &[u8]) -> Option<Answer> {
    let (head, rest) = final_response(reply)?;
    let head = String::from_utf8_lossy(head);
    let status = head.split_whitespace().nth(1)?.parse::<u16>().ok()?;
    let lower = head.to_ascii_lowercase();
    let content_type = head
        .lines()
        .skip(1)
        .find_map(|line| {
            let (k, v) = line.split_once(':')?;
            k.trim().eq_ignore_ascii_case("content-type").then(|| v.trim().to_owned())
        })
        .unwrap_or_else(|| "application/json".to_owned());
    let body = if header(&lower, "transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        dechunk(rest)?
    } else if let Some(len) = header(&lower, "content-length").and_then(|v| v.parse::<usize>().ok()) {
        rest.get(..len)?.to_vec()
    } else {
        rest.to_vec()
    };
    Some(Answer { status, content_type, body })
}

/// Decode a chunked body; `None` while it is incomplete or malformed.
fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = memmem::find(data, b"\r\n")?;
        let size_text = String::from_utf8_lossy(&data[..line_end]);
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(data.get(..size)?);
        data = data.get(size + 2..)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_replies() {
        assert_eq!(split_url("http://127.0.0.1:8/cb?a=1").unwrap(), ("127.0.0.1:8".into(), "/cb?a=1".into()));
        assert_eq!(split_url("http://example.com").unwrap(), ("example.com:80".into(), "/".into()));
        assert_eq!(split_url("http://h?x").unwrap(), ("h:80".into(), "/?x".into()));
        assert!(split_url("https://h/").is_err());
        let plain = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 7\r\n\r\n{\"a\":1}";
        let a = parse_reply(plain).unwrap();
        assert_eq!(
            (a.status, a.content_type.as_str(), a.body.as_slice()),
            (200, "application/json", &b"{\"a\":1}"[..])
        );
        assert!(complete(plain));
        let chunked = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
        let a = parse_reply(chunked).unwrap();
        assert_eq!((a.status, a.body.as_slice()), (201, &b"abcde"[..]));
        assert!(!complete(&chunked[..chunked.len() - 7]));
    }
}
