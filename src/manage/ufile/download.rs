//! Downloads (§3.3, §3.4): signed ranged GETs (`Range: bytes=a-b` → 206 with
//! `Content-Range: bytes a-b/total`), a `Stream` of chunks that both runtimes use, and natively a
//! file download that resumes from the bytes already on disk.
//!
//! Every chunk's `ETag` must be the one `HEAD` reported before the first chunk: an object replaced
//! in the middle of a download fails with [`ErrorKind::Integrity`] instead of mixing two versions.
//! A download that starts at byte 0 also hashes what it received and compares it with that ETag
//! (§4.1), except for empty objects, whose ETag the SDKs disagree on (§4.1).

use bytes::Bytes;
use futures_util::Stream;

use super::{UfileManager, auth_hint, etag_of, require_key};
use crate::engine::Transport;
use crate::hash::{Hasher as _, UfileEtag};
use crate::service::ufile::refusal;
use crate::service::{HttpRequest, HttpResponse, Method, ServiceKind, unexpected_reply};
use crate::{Error, ErrorKind, Result};

/// One ranged reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RangeChunk {
    /// Offset of `data` in the object.
    pub start: u64,
    pub data: Bytes,
    /// The object's whole size.
    pub total: u64,
    /// The object's ETag, quotes removed ("" when the reply had none).
    pub etag: String,
}

impl<T> UfileManager<T> {
    /// A signed `GET` of `key` from byte `start` to `end` (inclusive; `None`: to the end).
    pub fn range_request(&self, key: &str, start: u64, end: Option<u64>) -> Result<HttpRequest> {
        require_key(key)?;
        if end.is_some_and(|e| e < start) {
            return Err(Error::invalid_input(format!("the range {start}-{end:?} ends before it starts")));
        }
        let (range, length) = match end {
            Some(end) => (format!("bytes={start}-{end}"), (end - start).saturating_add(1)),
            None => (format!("bytes={start}-"), u64::MAX),
        };
        Ok(self.signed(Method::Get, key, self.object_url(key, ""), "")?.header("Range", range).max_reply(length))
    }
}

/// The reply to [`UfileManager::range_request`]: 206 with a `Content-Range` that starts at
/// `start` and matches the body; or 200 with the whole object (a server that ignores `Range`),
/// which is cut to the range asked for.
pub fn parse_range_reply(key: &str, start: u64, end: Option<u64>, response: &HttpResponse) -> Result<RangeChunk> {
    let what = format!("downloading {key:?}");
    let etag = etag_of(response);
    match response.status {
        206 => {
            let bad = || unexpected_reply(ServiceKind::Ufile, &format!("{what} (Content-Range)"), response);
            let (a, b, total) = response.header("content-range").and_then(parse_content_range).ok_or_else(bad)?;
            let fits = a == start && end.is_none_or(|e| b <= e) && b - a + 1 == response.body.len() as u64;
            if !fits {
                return Err(bad());
            }
            Ok(RangeChunk { start, data: response.body.clone(), total, etag })
        }
        200 => {
            let total = response.body.len() as u64;
            if start > total || (start == total && total > 0) {
                return Err(Error::invalid_input(format!("byte {start} is past the end of {key:?} ({total} bytes)"))
                    .with_status(416));
            }
            // `end` may be u64::MAX ("to the end", as JS's Infinity arrives) and is never before
            // `start` from `range_request`; a caller's odd pair gives an empty range, not a panic.
            let stop = end.map_or(total, |e| e.saturating_add(1).min(total)).max(start);
            let data = response.body.slice(start as usize..stop as usize);
            Ok(RangeChunk { start, data, total, etag })
        }
        _ => Err(refusal(response, &what, auth_hint(response))),
    }
}

/// `bytes a-b/total` → `(a, b, total)`.
fn parse_content_range(value: &str) -> Option<(u64, u64, u64)> {
    let rest = value.trim().strip_prefix("bytes")?.trim_start();
    let (range, total) = rest.split_once('/')?;
    let (a, b) = range.split_once('-')?;
    let (a, b, total) = (a.trim().parse().ok()?, b.trim().parse().ok()?, total.trim().parse().ok()?);
    (a <= b && b < total).then_some((a, b, total))
}

/// What [`UfileManager::download_stream`] knows once the object is found.
struct Progress {
    size: u64,
    etag: String,
    offset: u64,
    /// Hashes the bytes when the download started at 0.
    hasher: Option<UfileEtag>,
}

impl<T: Transport> UfileManager<T> {
    /// Bytes `start..=end` of `key` (`end` `None`: to the end), in one request.
    pub async fn fetch_range(&self, key: &str, start: u64, end: Option<u64>) -> Result<RangeChunk> {
        let response = self.send(self.range_request(key, start, end)?).await?;
        parse_range_reply(key, start, end, &response)
    }

    /// The object's size and ETag, or an error when it does not exist.
    async fn size_and_etag(&self, key: &str) -> Result<(u64, String)> {
        match self.head(key).await? {
            Some(info) => Ok((info.size, info.etag)),
            None => Err(Error::invalid_input(format!(
                "{key:?} does not exist in bucket {:?} (HEAD answered 404)",
                self.bucket
            ))
            .with_status(404)
            .with_code("404")),
        }
    }

    /// The chunk at `offset` (at most `chunk_size` bytes) of an object of `size` bytes whose ETag
    /// is `etag`.
    async fn next_chunk(&self, key: &str, offset: u64, chunk_size: u64, size: u64, etag: &str) -> Result<Bytes> {
        let end = offset.saturating_add(chunk_size.max(1)).min(size) - 1;
        let chunk = self.fetch_range(key, offset, Some(end)).await?;
        if (!etag.is_empty() && !chunk.etag.is_empty() && chunk.etag != etag) || chunk.total != size {
            return Err(changed(key));
        }
        if chunk.data.len() as u64 != end - offset + 1 {
            return Err(Error::new(
                ErrorKind::Server,
                format!("UFile sent {} bytes of {key:?} for a range of {}", chunk.data.len(), end - offset + 1),
            ));
        }
        Ok(chunk.data)
    }

    /// The object from byte `start` on, as a `Stream` of chunks of at most `chunk_size` bytes,
    /// each fetched when the previous one was taken (after one `HEAD` for the size and ETag).
    pub fn download_stream<'a>(
        &'a self,
        key: &str,
        start: u64,
        chunk_size: u64,
    ) -> impl Stream<Item = Result<Bytes>> + use<'a, T> {
        let key = key.to_owned();
        futures_util::stream::unfold(Some(None::<Progress>), move |state| {
            let key = key.clone();
            async move {
                let mut progress = match state? {
                    Some(progress) => progress,
                    None => match self.size_and_etag(&key).await {
                        Ok((size, _)) if start > size => {
                            let err =
                                Error::invalid_input(format!("cannot start at byte {start}: {key:?} has {size} bytes"));
                            return Some((Err(err), None));
                        }
                        Ok((size, etag)) => {
                            Progress { size, etag, offset: start, hasher: (start == 0).then(UfileEtag::default) }
                        }
                        Err(e) => return Some((Err(e), None)),
                    },
                };
                if progress.offset >= progress.size {
                    let hasher = progress.hasher.take()?;
                    if progress.size > 0 && !progress.etag.is_empty() && hasher.finalize() != progress.etag {
                        return Some((Err(corrupt(&key)), None));
                    }
                    return None;
                }
                let (offset, size) = (progress.offset, progress.size);
                match self.next_chunk(&key, offset, chunk_size, size, &progress.etag).await {
                    Ok(data) => {
                        if let Some(h) = progress.hasher.as_mut() {
                            h.update(&data);
                        }
                        progress.offset += data.len() as u64;
                        Some((Ok(data), Some(Some(progress))))
                    }
                    Err(e) => Some((Err(e), None)),
                }
            }
        })
    }
}

fn changed(key: &str) -> Error {
    Error::new(ErrorKind::Integrity, format!("{key:?} changed during the download (its ETag changed): start again"))
}

fn corrupt(key: &str) -> Error {
    Error::new(ErrorKind::Integrity, format!("the bytes received for {key:?} do not hash to its ETag"))
}

#[cfg(not(target_arch = "wasm32"))]
pub use native::DownloadReport;

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use std::path::Path;

    use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

    use super::*;

    /// What [`UfileManager::download_to_file`] did.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct DownloadReport {
        pub size: u64,
        pub etag: String,
        /// Bytes that were already on disk and kept (0: downloaded from the start).
        pub resumed_from: u64,
    }

    impl<T: Transport> UfileManager<T> {
        /// Download `key` into `path`, `chunk_size` bytes per ranged request. When `path` already
        /// holds a prefix of the object (an earlier download that stopped), only the rest is
        /// fetched. The file is then hashed and compared with the object's ETag; if the kept prefix
        /// turns out to be from another version of the object, the download starts over once.
        /// Each chunk is written before the next is asked for, so an interrupted download leaves
        /// a prefix that the next call resumes.
        pub async fn download_to_file(
            &self,
            key: &str,
            path: impl AsRef<Path>,
            chunk_size: u64,
        ) -> Result<DownloadReport> {
            let path = path.as_ref();
            let (size, etag) = self.size_and_etag(key).await?;
            let on_disk = tokio::fs::metadata(path).await.map(|m| m.len()).unwrap_or(0);
            let keep = if on_disk <= size { on_disk } else { 0 };
            let report = self.download_from(key, path, chunk_size, size, &etag, keep).await?;
            if report.is_some() || keep == 0 {
                return report.ok_or_else(|| corrupt(key));
            }
            // The kept prefix was not this object's: start over.
            self.download_from(key, path, chunk_size, size, &etag, 0).await?.ok_or_else(|| corrupt(key))
        }

        /// Keep the first `keep` bytes of `path`, fetch the rest; `None` when the result does not
        /// hash to `etag`.
        async fn download_from(
            &self,
            key: &str,
            path: &Path,
            chunk_size: u64,
            size: u64,
            etag: &str,
            keep: u64,
        ) -> Result<Option<DownloadReport>> {
            let io = |e: std::io::Error| Error::new(ErrorKind::Io, format!("cannot write {}: {e}", path.display()));
            let mut file = tokio::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(path)
                .await
                .map_err(io)?;
            file.set_len(keep).await.map_err(io)?;
            let mut hasher = UfileEtag::default();
            let mut buf = vec![0u8; 1 << 20];
            let mut read = 0u64;
            while read < keep {
                let want = buf.len().min((keep - read) as usize);
                let n = file.read(&mut buf[..want]).await.map_err(io)?;
                if n == 0 {
                    break;
                }
                hasher.update(&buf[..n]);
                read += n as u64;
            }
            file.seek(std::io::SeekFrom::Start(read)).await.map_err(io)?;
            let mut offset = read;
            while offset < size {
                let data = self.next_chunk(key, offset, chunk_size, size, etag).await?;
                file.write_all(&data).await.map_err(io)?;
                file.flush().await.map_err(io)?;
                hasher.update(&data);
                offset += data.len() as u64;
            }
            file.sync_data().await.map_err(io)?;
            if size > 0 && !etag.is_empty() && hasher.finalize() != etag {
                return Ok(None);
            }
            Ok(Some(DownloadReport { size, etag: etag.to_owned(), resumed_from: read }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{Mock, block_on, manager};
    use super::*;
    use futures_util::StreamExt;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn range_requests_and_replies() {
        let mock = Mock::default();
        let m = manager(&mock);
        let r = m.range_request("k", 5, Some(9)).unwrap();
        assert_eq!(r.header_value("Range"), Some("bytes=5-9"));
        assert!(r.header_value("Authorization").unwrap().starts_with("UCloud pub:"));
        assert_eq!(m.range_request("k", 5, None).unwrap().header_value("Range"), Some("bytes=5-"));
        assert!(m.range_request("k", 5, Some(4)).is_err());

        let reply = |status, range: Option<&str>, body: &str| HttpResponse {
            status,
            headers: range
                .map(|r| vec![("content-range".to_owned(), r.to_owned()), ("etag".to_owned(), "\"E\"".to_owned())])
                .unwrap_or_default(),
            body: Bytes::from(body.to_owned()),
        };
        let c = parse_range_reply("k", 5, Some(9), &reply(206, Some("bytes 5-9/20"), "56789")).unwrap();
        assert_eq!((c.start, c.total, c.etag.as_str(), &c.data[..]), (5, 20, "E", &b"56789"[..]));
        assert!(parse_range_reply("k", 4, Some(9), &reply(206, Some("bytes 5-9/20"), "56789")).is_err());
        assert!(parse_range_reply("k", 5, Some(9), &reply(206, Some("bytes 5-9/20"), "5678")).is_err());
        assert!(parse_range_reply("k", 5, Some(9), &reply(206, Some("bytes 5-9/*"), "56789")).is_err());
        let c = parse_range_reply("k", 2, Some(3), &reply(200, None, "012345")).unwrap();
        assert_eq!((&c.data[..], c.total), (&b"23"[..], 6));
        assert_eq!(parse_range_reply("k", 9, None, &reply(200, None, "012")).unwrap_err().status(), Some(416));
        // A server that ignores Range, asked up to u64::MAX (JS Infinity) or with end < start.
        let c = parse_range_reply("k", 2, Some(u64::MAX), &reply(200, None, "012345")).unwrap();
        assert_eq!(&c.data[..], b"2345");
        assert!(parse_range_reply("k", 3, Some(1), &reply(200, None, "012345")).unwrap().data.is_empty());
        let err = parse_range_reply("k", 0, None, &reply(416, None, r#"{ "RetCode": -148606, "ErrMsg": "x" }"#));
        assert_eq!(err.unwrap_err().code(), Some("-148606"));
    }

    fn object(mock: &Mock, data: &[u8], etag: &str, chunk: usize) {
        let len = data.len().to_string();
        mock.reply(200, &[("Content-Length", len.as_str()), ("ETag", etag)], "");
        for start in (0..data.len()).step_by(chunk) {
            let end = (start + chunk).min(data.len()) - 1;
            let range = format!("bytes {start}-{end}/{}", data.len());
            mock.reply_bytes(206, &[("Content-Range", &range), ("ETag", etag)], data[start..=end].to_vec());
        }
    }

    #[test]
    fn streams_chunks_and_verifies_the_etag() {
        let data: Vec<u8> = (0..10u8).collect();
        let etag = format!("\"{}\"", UfileEtag::digest(&data));
        let mock = Mock::default();
        object(&mock, &data, &etag, 4);
        let m = manager(&mock);
        let chunks: Vec<Bytes> = block_on(m.download_stream("k", 0, 4).map(|r| r.unwrap()).collect());
        assert_eq!(chunks.iter().map(|c| c.len()).collect::<Vec<_>>(), [4, 4, 2]);
        assert_eq!(chunks.concat(), data);
        let ranges: Vec<String> =
            mock.requests.borrow().iter().filter_map(|r| r.header_value("Range").map(str::to_owned)).collect();
        assert_eq!(ranges, ["bytes=0-3", "bytes=4-7", "bytes=8-9"]);

        // Wrong content under the right ETag: the last item is an integrity error.
        let mock = Mock::default();
        object(&mock, b"other bytes", &etag.replace('A', "B"), 100);
        let m = manager(&mock);
        let items: Vec<Result<Bytes>> = block_on(m.download_stream("k", 0, 100).collect());
        assert_eq!(items.last().unwrap().as_ref().unwrap_err().kind(), ErrorKind::Integrity);

        // The ETag changes between HEAD and a chunk.
        let mock = Mock::default();
        mock.reply(200, &[("Content-Length", "10"), ("ETag", "\"one\"")], "");
        mock.reply(206, &[("Content-Range", "bytes 5-9/10"), ("ETag", "\"two\"")], "56789");
        let m = manager(&mock);
        let items: Vec<Result<Bytes>> = block_on(m.download_stream("k", 5, 100).collect());
        assert_eq!(items.len(), 1);
        assert_eq!(items[0].as_ref().unwrap_err().kind(), ErrorKind::Integrity);

        // Missing object; start past the end.
        let mock = Mock::default();
        mock.reply(404, &[], "");
        mock.reply(200, &[("Content-Length", "3")], "");
        let m = manager(&mock);
        let items: Vec<Result<Bytes>> = block_on(m.download_stream("k", 0, 4).collect());
        assert_eq!(items[0].as_ref().unwrap_err().status(), Some(404));
        let items: Vec<Result<Bytes>> = block_on(m.download_stream("k", 4, 4).collect());
        assert_eq!(items[0].as_ref().unwrap_err().kind(), ErrorKind::InvalidInput);
    }
}
