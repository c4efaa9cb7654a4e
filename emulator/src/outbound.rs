//! The emulator's one HTTP client, for the calls it makes itself: upload callbacks (all three
//! services), WCS job notifications and WCS `fmgr/fetch` downloads.
//!
//! A minimal HTTP/1.1 exchange over a plain `TcpStream` rather than a client crate: `http://` only
//! (every vendor doc allows that for callbacks), one request per connection (`Connection: close`),
//! and a reply read until it is complete by `Content-Length` or chunking, or until the server
//! closes. Stopping at a complete reply matters: some callback servers keep the connection open
//! despite `Connection: close`. Everything a server sends is bounded in time and size, and a
//! broken reply is an error message, never a panic.

use std::time::Duration;

use memchr::memmem;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One outgoing request.
pub struct Request<'a> {
    pub method: &'a str,
    /// An `http://` URL.
    pub url: &'a str,
    /// The `Host` header, when it should differ from the URL's (Wantu's `callbackHost`).
    pub host: Option<&'a str>,
    /// Extra headers, `(name, value)`. `Content-Length` is added for every method but GET.
    pub headers: &'a [(&'a str, &'a str)],
    pub body: &'a [u8],
    /// The largest reply body accepted.
    pub max_reply: usize,
    /// For the whole exchange, connecting included.
    pub timeout: Duration,
}

/// The server's answer.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

/// Send `request` on a fresh connection and read the whole reply.
pub async fn send(request: Request<'_>) -> Result<Reply, String> {
    let (authority, path) = split_url(request.url)?;
    let connect_to = if (authority.starts_with('[') && authority.ends_with(']')) || !authority.contains(':') {
        format!("{authority}:80")
    } else {
        authority.to_owned()
    };
    let host = request.host.map(str::trim).filter(|h| !h.is_empty()).unwrap_or(authority);
    // The method and Host may come from a put policy: nothing in them may break the head's lines.
    if request.method.is_empty() || !request.method.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err(format!("{:?} is not an HTTP method", request.method));
    }
    if host.bytes().any(|b| b.is_ascii_control()) {
        return Err(format!("the Host {host:?} has control characters"));
    }
    let mut head = format!("{} {path} HTTP/1.1\r\nHost: {host}\r\n", request.method);
    for (name, value) in request.headers {
        if [name, value].iter().any(|s| s.bytes().any(|b| b == b'\r' || b == b'\n')) {
            return Err(format!("the header {name}: {value:?} has a line break"));
        }
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if request.method != "GET" {
        head.push_str(&format!("Content-Length: {}\r\n", request.body.len()));
    }
    head.push_str("User-Agent: yunup-emulator\r\nConnection: close\r\n\r\n");

    let exchange = async {
        let mut stream =
            TcpStream::connect(connect_to.as_str()).await.map_err(|e| format!("cannot connect to {authority}: {e}"))?;
        let sent = async {
            stream.write_all(head.as_bytes()).await?;
            stream.write_all(request.body).await?;
            stream.flush().await
        };
        sent.await.map_err(|e| format!("cannot send the request to {authority}: {e}"))?;
        read_reply(&mut stream, request.max_reply).await
    };
    tokio::time::timeout(request.timeout, exchange)
        .await
        .map_err(|_| format!("{} gave no whole answer within {} s", request.url, request.timeout.as_secs()))?
}

/// `(authority, path-and-query)` of an `http://` URL. Userinfo, whitespace and control characters
/// are refused: they have no place in a callback URL, and a line break would forge headers.
fn split_url(url: &str) -> Result<(&str, String), String> {
    let url = url.trim();
    let rest = url
        .get(..7)
        .filter(|scheme| scheme.eq_ignore_ascii_case("http://"))
        .map(|_| &url[7..])
        .ok_or_else(|| format!("{url:?}: the emulator can only call http:// URLs"))?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    if authority.is_empty() || authority.contains('@') || authority.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return Err(format!("{url:?} has no usable host"));
    }
    let mut path = rest[end..].split('#').next().unwrap_or("").to_owned();
    if !path.starts_with('/') {
        path.insert(0, '/');
    }
    if path.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return Err(format!("{url:?} has spaces or control characters"));
    }
    Ok((authority, path))
}

async fn read_reply(stream: &mut TcpStream, max_reply: usize) -> Result<Reply, String> {
    // Room for the head on top of the body.
    let max_bytes = max_reply.saturating_add(64 * 1024);
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 16 * 1024];
    loop {
        if let Some(reply) = parse_reply(&buf, false)? {
            return checked_size(reply, max_reply);
        }
        if buf.len() > max_bytes {
            return Err(format!("the reply is larger than {max_reply} bytes"));
        }
        let n = stream.read(&mut chunk).await.map_err(|e| format!("cannot read the reply: {e}"))?;
        if n == 0 {
            let reply = parse_reply(&buf, true)?.ok_or("the server closed the connection without a reply")?;
            return checked_size(reply, max_reply);
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn checked_size(reply: Reply, max_reply: usize) -> Result<Reply, String> {
    if reply.body.len() > max_reply {
        return Err(format!("the reply is larger than {max_reply} bytes"));
    }
    Ok(reply)
}

/// The final reply in `buf` once it is complete, `None` while more bytes are needed. Interim
/// (1xx) responses are skipped. At `eof`, a body without `Content-Length` or chunking ends where
/// the bytes end, and an incomplete reply is an error.
fn parse_reply(mut buf: &[u8], eof: bool) -> Result<Option<Reply>, String> {
    loop {
        let Some(head_end) = memmem::find(buf, b"\r\n\r\n") else {
            return if eof && !buf.is_empty() { Err("the reply ends inside its head".into()) } else { Ok(None) };
        };
        let head = String::from_utf8_lossy(&buf[..head_end]);
        let body = &buf[head_end + 4..];
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or("");
        let status = status_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse::<u16>().ok())
            .filter(|_| status_line.starts_with("HTTP/"))
            .ok_or_else(|| format!("the reply is not HTTP: {status_line:?}"))?;
        if (100..200).contains(&status) {
            buf = body;
            continue;
        }
        let (mut length, mut chunked, mut content_type) = (None, false, None);
        for line in lines {
            let Some((name, value)) = line.split_once(':') else { continue };
            let value = value.trim();
            match name.trim().to_ascii_lowercase().as_str() {
                "content-length" => {
                    length = Some(value.parse::<usize>().map_err(|_| format!("a bad Content-Length {value:?}"))?)
                }
                "transfer-encoding" => chunked = value.to_ascii_lowercase().contains("chunked"),
                "content-type" => content_type = Some(value.to_owned()),
                _ => {}
            }
        }
        let body = if chunked {
            match dechunk(body)? {
                Some(decoded) => decoded,
                None if eof => return Err("the reply ends inside a chunk".into()),
                None => return Ok(None),
            }
        } else if let Some(n) = length {
            match body.get(..n) {
                Some(body) => body.to_vec(),
                None if eof => return Err("the reply is shorter than its Content-Length".into()),
                None => return Ok(None),
            }
        } else if status == 204 || status == 304 {
            Vec::new()
        } else if eof {
            body.to_vec()
        } else {
            return Ok(None);
        };
        return Ok(Some(Reply { status, content_type, body }));
    }
}

/// The decoded body of a chunked transfer, `None` while the last chunk has not arrived.
fn dechunk(mut data: &[u8]) -> Result<Option<Vec<u8>>, String> {
    let mut out = Vec::new();
    loop {
        let Some(line_end) = memmem::find(data, b"\r\n") else { return Ok(None) };
        let size_text = String::from_utf8_lossy(&data[..line_end]);
        let size_text = size_text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| format!("a bad chunk size {size_text:?}"))?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Ok(Some(out));
        }
        // A size near usize::MAX from a broken server must not wrap the check below.
        let with_crlf = size.checked_add(2).ok_or_else(|| format!("a bad chunk size {size_text:?}"))?;
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
        assert_eq!(split_url("http://127.0.0.1:8/cb?a=1").unwrap(), ("127.0.0.1:8", "/cb?a=1".to_owned()));
        assert_eq!(split_url("HTTP://example.com").unwrap(), ("example.com", "/".to_owned()));
        assert_eq!(split_url("http://h?x#frag").unwrap(), ("h", "/?x".to_owned()));
        assert_eq!(split_url(" http://[::1]:9/p ").unwrap(), ("[::1]:9", "/p".to_owned()));
        for bad in ["https://h/", "http:///x", "http://u@h/", "http://h/a b", "http://h/a\r\nX: y", "ftp://h"] {
            assert!(split_url(bad).is_err(), "{bad:?}");
        }
    }

    fn complete(reply: &[u8]) -> Reply {
        parse_reply(reply, false).unwrap().unwrap()
    }

    #[test]
    fn sized_chunked_and_until_close() {
        let r = complete(b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\nContent-Type: a/b\r\n\r\n{\"a\":1}xx");
        assert_eq!((r.status, r.content_type.as_deref(), r.body.as_slice()), (200, Some("a/b"), &b"{\"a\":1}"[..]));
        let chunked = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n\
            3;ext=1\r\n{\"a\r\n4\r\n\":1}\r\n0\r\n\r\n";
        let r = complete(chunked);
        assert_eq!((r.status, r.content_type, r.body.as_slice()), (201, None, &b"{\"a\":1}"[..]));
        let r = complete(b"HTTP/1.1 204 No Content\r\n\r\n");
        assert_eq!((r.status, r.body.len()), (204, 0));
        // Without a length the body runs to the end of the connection.
        assert!(parse_reply(b"HTTP/1.0 500 Oops\r\n\r\nbad", false).unwrap().is_none());
        let r = parse_reply(b"HTTP/1.0 500 Oops\r\n\r\nbad", true).unwrap().unwrap();
        assert_eq!((r.status, r.body.as_slice()), (500, &b"bad"[..]));
    }

    #[test]
    fn incomplete_replies_wait_until_the_end_then_fail() {
        let cases: [&[u8]; 4] = [
            b"HTTP/1.1 200 OK\r\nContent-Len",
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhi",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nab",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n",
        ];
        for reply in cases {
            assert!(parse_reply(reply, false).unwrap().is_none(), "{:?}", String::from_utf8_lossy(reply));
            assert!(parse_reply(reply, true).is_err(), "{:?}", String::from_utf8_lossy(reply));
        }
        assert!(parse_reply(b"", false).unwrap().is_none());
    }

    #[test]
    fn broken_replies_are_errors_not_panics() {
        let mut cases = vec![
            b"garbage\r\n\r\n".to_vec(),
            b"HTTP/1.1 abc OK\r\n\r\n".to_vec(),
            b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n".to_vec(),
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n".to_vec(),
        ];
        // Chunk sizes that would wrap a length check.
        for size in ["ffffffffffffffff", "fffffffffffffffe", "1ffffffffffffffff"] {
            cases
                .push(format!("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n{size}\r\nhi\r\n0\r\n\r\n").into());
        }
        for reply in cases {
            assert!(parse_reply(&reply, false).is_err(), "{:?}", String::from_utf8_lossy(&reply));
        }
    }

    #[tokio::test]
    async fn requests_that_would_forge_lines_are_refused_before_connecting() {
        // Port 9 on loopback: nothing is sent, so nothing needs to listen.
        let base = Request {
            method: "POST",
            url: "http://127.0.0.1:9/cb",
            host: None,
            headers: &[],
            body: b"",
            max_reply: 1024,
            timeout: Duration::from_secs(5),
        };
        let cases = [
            Request { method: "POST /x HTTP/1.1\r\nX:", ..base },
            Request { method: "", ..base },
            Request { host: Some("h\r\nX: y"), ..base },
            Request { headers: &[("Content-Type", "a/b\r\nX: y")], ..base },
        ];
        for request in cases {
            let err = send(request).await.unwrap_err();
            assert!(!err.contains("connect"), "{err}");
        }
    }

    /// A server that answers with a complete reply and keeps the connection open: the client
    /// returns at once instead of waiting for the close. One that answers too much is refused.
    #[tokio::test]
    async fn a_whole_reply_ends_the_exchange_and_size_is_bounded() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let mut requests = Vec::new();
            for reply in [&b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"[..], &[b'x'; 100_000][..]] {
                let (mut socket, _) = listener.accept().await.unwrap();
                let mut buf = vec![0u8; 4096];
                let n = socket.read(&mut buf).await.unwrap();
                requests.push(String::from_utf8_lossy(&buf[..n]).into_owned());
                socket.write_all(reply).await.unwrap();
                tokio::spawn(async move {
                    // Held open: the client must not wait for the close.
                    tokio::time::sleep(Duration::from_secs(30)).await;
                    drop(socket);
                });
            }
            requests
        });
        let url = format!("http://{addr}/cb?x=1");
        let request = |max_reply| Request {
            method: "POST",
            url: &url,
            host: Some("callback.example"),
            headers: &[("Content-Type", "text/plain")],
            body: b"a=1",
            max_reply,
            timeout: Duration::from_secs(10),
        };
        let reply = send(request(1024)).await.unwrap();
        assert_eq!((reply.status, reply.body.as_slice()), (200, &b"{}"[..]));
        let err = send(request(1024)).await.unwrap_err();
        assert!(err.contains("larger than 1024 bytes"), "{err}");
        let requests = server.await.unwrap();
        assert!(requests[0].starts_with("POST /cb?x=1 HTTP/1.1\r\nHost: callback.example\r\n"), "{}", requests[0]);
        assert!(requests[0].contains("\r\nContent-Length: 3\r\n") && requests[0].ends_with("\r\n\r\na=1"));
    }
}
