//! A streaming, lenient `multipart/form-data` reader for form uploads.
//!
//! Lenient because the vendors' SDKs are: the UFile Python SDK ends its body with `\r\n--b\r\n`
//! and no closing `--b--`; the Go SDK adds an empty pseudo-part after the last one; field order
//! varies (the WCS JS SDK sends `file` before `token`). Streaming because a form upload may be
//! hundreds of MiB: the file part goes straight into a [`BlobWriter`] while it arrives, the small
//! text fields are kept in memory (each capped). Boundaries are found with memchr's substring
//! search: this scans every byte of every form upload (Wantu parts included), where a compare at
//! every offset was a third of the emulator's CPU time.

use bytes::{Buf, Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use memchr::memmem;

use crate::store::{Blob, DigestSet, Store, StoreError};

/// Largest text field kept in memory. Tokens and policies are a few KiB.
const FIELD_LIMIT: usize = 1 << 20;

/// A parsed form: text fields in order, and the file part (already stored as a blob).
#[derive(Debug, Default)]
pub struct Form {
    pub fields: Vec<(String, String)>,
    pub file: Option<FilePart>,
}

/// The file part of a form.
#[derive(Debug)]
pub struct FilePart {
    pub filename: Option<String>,
    pub content_type: Option<String>,
    pub blob: Blob,
}

impl Form {
    /// The first value of field `name`.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// Why a form could not be read.
#[derive(Debug)]
pub enum FormError {
    /// Not a multipart body, or a broken one: a 400.
    Malformed(String),
    Store(StoreError),
}

impl From<StoreError> for FormError {
    fn from(e: StoreError) -> Self {
        FormError::Store(e)
    }
}

impl std::fmt::Display for FormError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FormError::Malformed(m) => write!(f, "malformed multipart form: {m}"),
            FormError::Store(e) => e.fmt(f),
        }
    }
}

/// The boundary from a `Content-Type: multipart/form-data; boundary=...` value.
pub fn boundary(content_type: &str) -> Option<String> {
    let (kind, params) = content_type.split_once(';')?;
    if !kind.trim().eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    params.split(';').find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim().eq_ignore_ascii_case("boundary").then(|| v.trim().trim_matches('"').to_owned())
    })
}

/// Read a multipart body. The part with a `filename`, or named one of `file_names` (with or
/// without a filename: Wantu's `content`, WCS's and UFile's `file`), becomes a blob, its bytes
/// stored as sent; at most one file part is accepted. `limit` caps the file size.
pub async fn read_form<S, E>(
    store: &Store,
    boundary: &str,
    body: S,
    limit: Option<u64>,
    digests: DigestSet,
    file_names: &[&str],
) -> Result<Form, FormError>
where
    S: Stream<Item = Result<Bytes, E>>,
    E: std::fmt::Display,
{
    let mut body = std::pin::pin!(body);
    let mut buf = BytesMut::new();
    let mut eof = false;
    // Fill `buf` until it holds `n` bytes or the body ends.
    macro_rules! fill {
        ($n:expr) => {
            while buf.len() < $n && !eof {
                match body.next().await {
                    Some(Ok(chunk)) => buf.extend_from_slice(&chunk),
                    Some(Err(e)) => return Err(FormError::Store(StoreError::Body(e.to_string()))),
                    None => eof = true,
                }
            }
        };
    }

    let first = format!("--{boundary}").into_bytes();
    let delimiter = format!("\r\n--{boundary}").into_bytes();
    // Skip the preamble up to the first boundary line.
    loop {
        fill!(buf.len() + 1);
        if let Some(i) = memmem::find(&buf, &first) {
            buf.advance(i + first.len());
            break;
        }
        if eof {
            return Err(FormError::Malformed("no boundary line found".into()));
        }
        let keep = buf.len().saturating_sub(first.len());
        buf.advance(keep);
    }

    let mut form = Form::default();
    loop {
        // After a boundary: `--` ends the form; `\r\n` starts a part; end of body also ends it
        // (Python's UFile SDK sends no closing delimiter).
        fill!(2);
        if buf.is_empty() || buf.starts_with(b"--") {
            break;
        }
        if buf.starts_with(b"\r\n") {
            buf.advance(2);
        } else {
            return Err(FormError::Malformed("garbage after a boundary".into()));
        }
        fill!(1);
        if buf.is_empty() {
            break;
        }
        // Part headers, up to an empty line.
        let headers_end = loop {
            if let Some(i) = memmem::find(&buf, b"\r\n\r\n") {
                break Some(i);
            }
            if buf.starts_with(b"\r\n") {
                break None; // no headers at all
            }
            if eof || buf.len() > 64 * 1024 {
                return Err(FormError::Malformed("part headers never end".into()));
            }
            fill!(buf.len() + 1);
        };
        let (name, filename, content_type) = match headers_end {
            Some(i) => {
                let text = String::from_utf8_lossy(&buf[..i]).into_owned();
                buf.advance(i + 4);
                parse_part_headers(&text)
            }
            // No headers: Go's empty pseudo-part. Its (empty) data ends at the delimiter, whose
            // leading CRLF is right here, so nothing is consumed.
            None => (None, None, None),
        };
        let is_file = filename.is_some() || name.as_deref().is_some_and(|n| file_names.contains(&n));
        let mut writer = if is_file && name.is_some() {
            if form.file.is_some() {
                return Err(FormError::Malformed("more than one file part".into()));
            }
            Some(store.blob_writer_with(digests).await?)
        } else {
            None
        };
        let mut value = Vec::new();
        // Part data, up to the next delimiter.
        loop {
            fill!(delimiter.len() + 64 * 1024);
            if let Some(i) = memmem::find(&buf, &delimiter) {
                let data = buf.split_to(i);
                buf.advance(delimiter.len());
                emit(&mut writer, &mut value, &data, limit).await?;
                break;
            }
            if eof {
                return Err(FormError::Malformed("the body ends inside a part".into()));
            }
            let safe = buf.len() - (delimiter.len() - 1);
            let data = buf.split_to(safe);
            emit(&mut writer, &mut value, &data, limit).await?;
        }
        match (name, writer) {
            (Some(name), Some(writer)) => {
                let blob = writer.commit().await?;
                let _ = name; // whatever its name: the services take the one file part
                form.file = Some(FilePart { filename, content_type, blob });
            }
            (Some(name), None) => form.fields.push((name, String::from_utf8_lossy(&value).into_owned())),
            // A part without a name: Go's empty trailing pseudo-part. Ignore it.
            (None, _) => {}
        }
    }
    Ok(form)
}

async fn emit(
    writer: &mut Option<crate::store::BlobWriter>,
    value: &mut Vec<u8>,
    data: &[u8],
    limit: Option<u64>,
) -> Result<(), FormError> {
    match writer {
        Some(w) => {
            if limit.is_some_and(|l| w.size() + data.len() as u64 > l) {
                return Err(FormError::Store(StoreError::Body("the file is larger than allowed".into())));
            }
            w.write(data).await?;
        }
        None => {
            if value.len() + data.len() > FIELD_LIMIT {
                return Err(FormError::Malformed("a text field is larger than 1 MiB".into()));
            }
            value.extend_from_slice(data);
        }
    }
    Ok(())
}

/// `(name, filename, content type)` from a part's header block.
fn parse_part_headers(text: &str) -> (Option<String>, Option<String>, Option<String>) {
    let (mut name, mut filename, mut content_type) = (None, None, None);
    for line in text.split("\r\n") {
        let Some((header, value)) = line.split_once(':') else { continue };
        let header = header.trim().to_ascii_lowercase();
        if header == "content-type" {
            content_type = Some(value.trim().to_owned());
        } else if header == "content-disposition" {
            for param in split_params(value) {
                let Some((k, v)) = param.split_once('=') else { continue };
                let v = unquote(v.trim());
                match k.trim().to_ascii_lowercase().as_str() {
                    "name" => name = Some(v),
                    "filename" => filename = Some(v),
                    "filename*" => {
                        // RFC 5987: utf-8''percent-encoded
                        let raw = v.split("''").nth(1).unwrap_or(&v).to_owned();
                        filename = Some(crate::http::percent_decode(&raw));
                    }
                    _ => {}
                }
            }
        }
    }
    (name, filename, content_type)
}

/// Split `form-data; name="a;b"; filename="x"` on `;` outside quotes.
fn split_params(value: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut start, mut quoted) = (0, false);
    for (i, c) in value.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ';' if !quoted => {
                out.push(&value[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&value[start..]);
    out
}

fn unquote(v: &str) -> String {
    match v.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
        Some(inner) => inner.replace("\\\"", "\"").replace("\\\\", "\\"),
        None => v.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn parse(body: &[u8], chunk: usize) -> Result<Form, FormError> {
        let dir = tempfile::Builder::new().prefix("yunup-multipart-").tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let chunks: Vec<Result<Bytes, std::convert::Infallible>> =
            body.chunks(chunk).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
        read_form(&store, "b0undary", futures_util::stream::iter(chunks), None, DigestSet::WithMd5, &["file"]).await
    }

    #[tokio::test]
    async fn proper_body_any_chunking() {
        let body = b"preamble\r\n--b0undary\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a b.txt\"\r\nContent-Type: text/plain\r\n\r\nhello world\r\n--b0undary\r\nContent-Disposition: form-data; name=\"token\"\r\n\r\nak:sig:pol\r\n--b0undary--\r\n";
        for chunk in [1, 3, 7, 64, 4096] {
            let form = parse(body, chunk).await.unwrap();
            assert_eq!(form.field("token"), Some("ak:sig:pol"));
            let file = form.file.as_ref().unwrap();
            assert_eq!(file.filename.as_deref(), Some("a b.txt"));
            assert_eq!(file.content_type.as_deref(), Some("text/plain"));
            assert_eq!(file.blob.size, 11);
            assert_eq!(file.blob.digests.wcs_etag, "FiqubDXJT8-0FdvpX0CLnOke6Ebt");
        }
    }

    #[tokio::test]
    async fn python_style_no_closing_delimiter_and_go_style_empty_part() {
        let python = b"--b0undary\r\nContent-Disposition: form-data; name=\"FileName\"\r\n\r\nk\r\n--b0undary\r\nContent-Disposition: form-data; name=\"file\"; filename=\"k\"\r\n\r\nhello world\r\n--b0undary\r\n";
        let form = parse(python, 5).await.unwrap();
        assert_eq!(form.field("FileName"), Some("k"));
        assert_eq!(form.file.unwrap().blob.size, 11);
        let go = b"--b0undary\r\nContent-Disposition: form-data; name=\"file\"; filename=\"k\"\r\n\r\nhello world\r\n--b0undary\r\n\r\n--b0undary--\r\n";
        let form = parse(go, 4096).await.unwrap();
        assert_eq!(form.file.unwrap().blob.size, 11);
    }

    #[tokio::test]
    async fn a_named_file_part_without_filename_keeps_its_bytes() {
        let dir = tempfile::Builder::new().prefix("yunup-multipart-").tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let mut body = b"--b0undary\r\nContent-Disposition: form-data; name=\"content\"\r\n\r\n".to_vec();
        body.extend_from_slice(&[0xff, 0xfe, 0x00, 0x80, b'x']);
        body.extend_from_slice(b"\r\n--b0undary--\r\n");
        let chunks = [Ok::<_, std::convert::Infallible>(Bytes::from(body))];
        let form = read_form(
            &store,
            "b0undary",
            futures_util::stream::iter(chunks),
            None,
            DigestSet::WithMd5,
            &["content", "file"],
        )
        .await
        .unwrap();
        assert!(form.fields.is_empty());
        let file = form.file.unwrap();
        assert_eq!((file.filename, file.blob.size), (None, 5));
        assert_eq!(file.blob.digests.md5(), "19de68b0e2b6dbd846b1c89797420b52");
    }

    #[tokio::test]
    async fn broken_bodies_are_errors() {
        assert!(parse(b"no boundary here", 8).await.is_err());
        let truncated = b"--b0undary\r\nContent-Disposition: form-data; name=\"file\"; filename=\"k\"\r\n\r\nhello wor";
        assert!(parse(truncated, 8).await.is_err());
    }

    #[test]
    fn boundary_from_content_type() {
        assert_eq!(boundary("multipart/form-data; boundary=abc").as_deref(), Some("abc"));
        assert_eq!(boundary("Multipart/Form-Data;boundary=\"x y\"").as_deref(), Some("x y"));
        assert_eq!(boundary("application/json"), None);
    }
}
