//! The upload callback (wantu.md §2.1 `callbackUrl`, §5): one HTTP/1.1 `POST` over a plain TCP
//! connection. `http://` only (the doc recommends an IP address); bounded in time and size.

use std::time::Duration;

use memchr::memmem;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const TOTAL_TIMEOUT: Duration = Duration::from_secs(15);
const MAX_REPLY: usize = 4 << 20;

/// The callback server's answer.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

/// `POST body` to `url` with `Content-Type: content_type` and `Host: host` (the URL's authority
/// when `None`).
pub async fn post(url: &str, host: Option<&str>, content_type: &str, body: &[u8]) -> Result<Reply, String> {
    let (authority, path) = split_url(url)?;
    let connect_to = if authority.contains(':') && !authority.ends_with(']') {
        authority.to_owned()
    } else {
        format!("{authority}:80")
    };
    let host = host.filter(|h| !h.trim().is_empty()).unwrap_or(authority);
    let request = async {
        let mut stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(connect_to.as_str()))
            .await
            .map_err(|_| format!("connecting to {authority} timed out"))?
            .map_err(|e| format!("cannot connect to {authority}: {e}"))?;
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
             User-Agent: yunup-emulator-wantu-callback\r\nConnection: close\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).await.map_err(|e| e.to_string())?;
        stream.write_all(body).await.map_err(|e| e.to_string())?;
        stream.flush().await.map_err(|e| e.to_string())?;
        read_reply(&mut stream).await
    };
    tokio::time::timeout(TOTAL_TIMEOUT, request).await.map_err(|_| format!("the callback to {url} timed out"))?
}

/// `(authority, path-and-query)` of an `http://` URL.
fn split_url(url: &str) -> Result<(&str, String), String> {
    let rest = url
        .get(..7)
        .filter(|p| p.eq_ignore_ascii_case("http://"))
        .map(|_| &url[7..])
        .ok_or_else(|| format!("callbackUrl {url:?} is not an http:// URL"))?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    if authority.is_empty() || authority.contains('@') || authority.bytes().any(|b| b <= b' ') {
        return Err(format!("callbackUrl {url:?} has no usable host"));
    }
    let mut path = rest[end..].split('#').next().unwrap_or("").to_owned();
    if !path.starts_with('/') {
        path.insert(0, '/');
    }
    if path.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return Err(format!("callbackUrl {url:?} has spaces or control characters"));
    }
    Ok((authority, path))
}

async fn read_reply(stream: &mut TcpStream) -> Result<Reply, String> {
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 16 * 1024];
    loop {
        if let Some(reply) = parse_reply(&buf, false)? {
            return Ok(reply);
        }
        if buf.len() > MAX_REPLY {
            return Err("the callback reply is too large".into());
        }
        let n = stream.read(&mut chunk).await.map_err(|e| format!("reading the callback reply: {e}"))?;
        if n == 0 {
            return parse_reply(&buf, true)?.ok_or_else(|| "the callback server closed without a reply".into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// A complete reply in `buf`, `None` while more bytes are needed. At `eof` a body without
/// `Content-Length` or chunking ends where the bytes end.
fn parse_reply(buf: &[u8], eof: bool) -> Result<Option<Reply>, String> {
    let Some(head_end) = memmem::find(buf, b"\r\n\r\n") else { return Ok(None) };
    let head = String::from_utf8_lossy(&buf[..head_end]);
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
        .filter(|_| status_line.starts_with("HTTP/"))
        .ok_or_else(|| format!("the callback reply is not HTTP: {status_line:?}"))?;
    let (mut length, mut chunked, mut content_type) = (None, false, None);
    for line in lines {
        let Some((k, v)) = line.split_once(':') else { continue };
        let (k, v) = (k.trim().to_ascii_lowercase(), v.trim());
        match k.as_str() {
            "content-length" => length = v.parse::<usize>().ok(),
            "transfer-encoding" => chunked = v.to_ascii_lowercase().contains("chunked"),
            "content-type" => content_type = Some(v.to_owned()),
            _ => {}
        }
    }
    let body = &buf[head_end + 4..];
    let body = if chunked {
        match dechunk(body)? {
            Some(b) => b,
            None if eof => return Err("the callback reply ends inside a chunk".into()),
            None => return Ok(None),
        }
    } else if let Some(n) = length {
        if body.len() < n {
            return if eof { Err("the callback reply is shorter than its Content-Length".into()) } else { Ok(None) };
        }
        body[..n].to_vec()
    } else if status == 204 || status == 304 || (100..200).contains(&status) {
        Vec::new()
    } else if eof {
        body.to_vec()
    } else {
        return Ok(None);
    };
    Ok(Some(Reply { status, content_type, body }))
}

/// The decoded body of a chunked transfer, `None` when the last chunk has not arrived yet.
fn dechunk(mut data: &[u8]) -> Result<Option<Vec<u8>>, String> {
    let mut out = Vec::new();
    loop {
        let Some(line_end) = memmem::find(data, b"\r\n") else { return Ok(None) };
        let size_text = String::from_utf8_lossy(&data[..line_end]);
        let size_text = size_text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| "a bad chunk size in the callback reply")?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Ok(Some(out));
        }
        // A size near usize::MAX from a broken server must not wrap the check below.
        let with_crlf = size.checked_add(2).ok_or("a bad chunk size in the callback reply")?;
        if data.len() < with_crlf {
            return Ok(None);
        }
        out.extend_from_slice(&data[..size]);
        data = &data[with_crlf..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(split_url("http://10.0.0.1:8080/cb?x=1").unwrap(), ("10.0.0.1:8080", "/cb?x=1".to_owned()));
        assert_eq!(split_url("HTTP://h").unwrap(), ("h", "/".to_owned()));
        assert!(split_url("https://h/").is_err());
        assert!(split_url("http:///x").is_err());
        assert!(split_url("http://u@h/").is_err());
    }

    #[test]
    fn replies() {
        let r = parse_reply(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: a/b\r\n\r\nhi", false)
            .unwrap()
            .unwrap();
        assert_eq!((r.status, r.content_type.as_deref(), r.body.as_slice()), (200, Some("a/b"), &b"hi"[..]));
        assert!(parse_reply(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhi", false).unwrap().is_none());
        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n3\r\n!!!\r\n0\r\n\r\n";
        assert_eq!(parse_reply(chunked, false).unwrap().unwrap().body, b"hi!!!");
        assert_eq!(parse_reply(b"HTTP/1.0 500 X\r\n\r\nbody", true).unwrap().unwrap().body, b"body");
        assert!(parse_reply(b"garbage\r\n\r\n", true).is_err());
        // A chunk size that would wrap the length check: an error, not a panic.
        for size in ["ffffffffffffffff", "fffffffffffffffe"] {
            let reply = format!("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n{size}\r\nhi\r\n0\r\n\r\n");
            assert!(parse_reply(reply.as_bytes(), false).is_err(), "{size}");
        }
    }
}
