//! Downloads (§3.3, §3.4): signed ranged GETs (`Range: bytes=a-b` → 206 with
//! `Content-Range: bytes a-b/total`), a `Stream` of chunks that both runtimes use, and natively a
//! file download (whole or a range, signed or public) through a part file that resumes.
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
        with_range(self.signed(Method::Get, key, self.object_url(key, ""), "")?, start, end)
    }
}

/// `request` for bytes `start..=end` (`None`: to the end), its reply capped at that length.
fn with_range(request: HttpRequest, start: u64, end: Option<u64>) -> Result<HttpRequest> {
    if let Some(end) = end.filter(|e| *e < start) {
        return Err(Error::invalid_input(format!(
            "the range {start}-{end} ends before it starts (the end is the last byte wanted, not a length)"
        )));
    }
    let (range, length) = match end {
        Some(end) => (format!("bytes={start}-{end}"), (end - start).saturating_add(1)),
        None => (format!("bytes={start}-"), u64::MAX),
    };
    Ok(request.header("Range", range).max_reply(length))
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
        if response.status == 416 && start == 0 {
            // An empty object has no byte 0, so every range of it is unsatisfiable; yet reading
            // it from the start is reading it, as a `slice(0)` of nothing is nothing. The 416
            // does not say the object is empty (no `Content-Range: */0`, see the emulator), so
            // HEAD does.
            if let Some(info) = self.head(key).await?.filter(|info| info.size == 0) {
                return Ok(RangeChunk { start: 0, data: Bytes::new(), total: 0, etag: info.etag });
            }
        }
        parse_range_reply(key, start, end, &response)
    }

    /// The object's size and ETag, or an error when it does not exist.
    async fn size_and_etag(&self, key: &str) -> Result<(u64, String)> {
        match self.head(key).await? {
            Some(info) => Ok((info.size, info.etag)),
            None => Err(not_found(key, &self.bucket)),
        }
    }

    /// Bytes `a..=b` of an object of `size` bytes whose ETag is `etag`: signed, or with `public`
    /// a plain GET of the public URL.
    async fn chunk(&self, key: &str, (a, b): (u64, u64), size: u64, etag: &str, public: bool) -> Result<Bytes> {
        let request = if public {
            with_range(HttpRequest::new(Method::Get, self.public_url(key)), a, Some(b))?
        } else {
            self.range_request(key, a, Some(b))?
        };
        let chunk = parse_range_reply(key, a, Some(b), &self.send(request).await?)?;
        if (!etag.is_empty() && !chunk.etag.is_empty() && chunk.etag != etag) || chunk.total != size {
            return Err(changed(key));
        }
        if chunk.data.len() as u64 != b - a + 1 {
            return Err(Error::new(
                ErrorKind::Server,
                format!("UFile sent {} bytes of {key:?} for a range of {}", chunk.data.len(), b - a + 1),
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
                let end = offset.saturating_add(chunk_size.max(1)).min(size) - 1;
                match self.chunk(&key, (offset, end), size, &progress.etag, false).await {
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

fn not_found(key: &str, bucket: &str) -> Error {
    Error::invalid_input(format!("{key:?} does not exist in bucket {bucket:?} (HEAD answered 404)"))
        .with_status(404)
        .with_code("404")
}

fn changed(key: &str) -> Error {
    Error::new(ErrorKind::Integrity, format!("{key:?} changed during the download (its ETag changed): start again"))
}

fn corrupt(key: &str) -> Error {
    Error::new(ErrorKind::Integrity, format!("the bytes received for {key:?} do not hash to its ETag"))
}

#[cfg(not(target_arch = "wasm32"))]
pub use native::{DownloadOptions, DownloadReport};

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use std::path::{Path, PathBuf};

    use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

    use super::*;
    use crate::manage::ufile::parse_head;

    /// How [`UfileManager::download_file`] fetches.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct DownloadOptions {
        /// Bytes per ranged request.
        pub chunk_size: u64,
        /// Only bytes `a..=b` of the object (`b` `None`: to the end).
        pub range: Option<(u64, Option<u64>)>,
        /// Plain GETs of the public URL: a public bucket, no keys needed.
        pub public: bool,
        /// Keep what an earlier download that stopped left in `FILE.yunup-part`.
        pub resume: bool,
    }

    impl Default for DownloadOptions {
        fn default() -> Self {
            DownloadOptions { chunk_size: 4 << 20, range: None, public: false, resume: true }
        }
    }

    /// What [`UfileManager::download_file`] did.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct DownloadReport {
        /// Bytes in the file (the range's length for a range).
        pub size: u64,
        /// The whole object's size.
        pub object_size: u64,
        pub etag: String,
        /// Bytes that were already on disk and kept (0: downloaded from the start; `size`: the
        /// file was complete already).
        pub resumed_from: u64,
    }

    /// The files beside a download's destination `FILE`: `FILE.yunup-part` receives the bytes
    /// and becomes `FILE` only once they are all there (and, for a whole object, hash to its
    /// ETag), so `FILE` is never a half-written or unverified object; `FILE.yunup-range` names
    /// the object version and range a range download's part holds, because a range has no ETag
    /// of its own to check a kept prefix against.
    struct Staging {
        file: PathBuf,
        part: PathBuf,
        record: PathBuf,
    }

    impl Staging {
        fn beside(file: &Path) -> Self {
            let with = |suffix: &str| {
                let mut name = file.as_os_str().to_owned();
                name.push(suffix);
                PathBuf::from(name)
            };
            Staging { file: file.to_owned(), part: with(".yunup-part"), record: with(".yunup-range") }
        }

        async fn len(path: &Path) -> Option<u64> {
            tokio::fs::metadata(path).await.ok().filter(|m| m.is_file()).map(|m| m.len())
        }

        async fn remove(path: &Path) -> Result<()> {
            match tokio::fs::remove_file(path).await {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io_error(path, e)),
                _ => Ok(()),
            }
        }

        async fn record_holds(&self, what: &str) -> bool {
            tokio::fs::read_to_string(&self.record).await.is_ok_and(|text| text == what)
        }
    }

    fn io_error(path: &Path, e: std::io::Error) -> Error {
        Error::new(ErrorKind::Io, format!("cannot write {}: {e}", path.display()))
    }

    /// Bytes `start..start + want` of an object of `size` bytes whose ETag is `etag`.
    struct Window<'e> {
        start: u64,
        want: u64,
        size: u64,
        etag: &'e str,
    }

    impl<T: Transport> UfileManager<T> {
        /// Download `key` into `path`, `chunk_size` bytes per signed ranged request, resuming
        /// what an earlier call that stopped left; [`download_file`](Self::download_file) with
        /// the default options otherwise.
        pub async fn download_to_file(
            &self,
            key: &str,
            path: impl AsRef<Path>,
            chunk_size: u64,
        ) -> Result<DownloadReport> {
            let options = DownloadOptions { chunk_size, ..DownloadOptions::default() };
            self.download_file(key, path.as_ref(), &options, |_, _| {}).await
        }

        /// Download `key` (or a range of it) into `path`, one ranged request per
        /// `options.chunk_size` bytes, calling `progress(done, total)` after each chunk.
        ///
        /// The bytes go to `path.yunup-part` and replace `path` only when they are complete and,
        /// for a whole object, hash to its ETag; an integrity failure removes the part. A call
        /// that stops (an error, or its future dropped) leaves the part, and the next call with
        /// `resume` fetches only what is missing. A kept prefix that turns out to be from
        /// another version of the object makes the download start over once. When `path`
        /// already holds the whole object (it hashes to the ETag), nothing is fetched.
        pub async fn download_file(
            &self,
            key: &str,
            path: &Path,
            options: &DownloadOptions,
            mut progress: impl FnMut(u64, u64),
        ) -> Result<DownloadReport> {
            let (size, etag) = if options.public {
                let response = self.send(HttpRequest::new(Method::Head, self.public_url(key))).await?;
                let info = parse_head(key, &response)?.ok_or_else(|| not_found(key, &self.bucket))?;
                (info.size, info.etag)
            } else {
                self.size_and_etag(key).await?
            };
            let (start, end) = match options.range {
                None => (0, size),
                Some((a, _)) if a >= size => {
                    return Err(Error::invalid_input(format!(
                        "the range starts at byte {a}, but {key:?} has {size} bytes"
                    )));
                }
                Some((a, b)) => (a, b.map_or(size, |b| b.saturating_add(1).min(size))),
            };
            let window = Window { start, want: end - start, size, etag: &etag };
            let report = |resumed_from| DownloadReport {
                size: window.want,
                object_size: size,
                etag: etag.clone(),
                resumed_from,
            };
            let staging = Staging::beside(path);
            if !options.resume {
                Staging::remove(&staging.part).await?;
            }
            // A whole object is checked against its ETag (not an empty one: the SDKs disagree on it).
            let verify = options.range.is_none() && size > 0 && !etag.is_empty();
            let part_len = Staging::len(&staging.part).await;
            if options.resume && verify && part_len.is_none() && Staging::len(path).await == Some(size) {
                let mut file = tokio::fs::File::open(path).await.map_err(|e| io_error(path, e))?;
                let mut hasher = UfileEtag::default();
                if hash_prefix(&mut file, size, &mut hasher).await.is_ok() && hasher.finalize() == etag {
                    progress(size, size);
                    return Ok(report(size));
                }
            }
            let mut keep = part_len.filter(|&len| options.resume && len <= window.want).unwrap_or(0);
            // Before the part changes: a range's record says what it will hold; a whole object
            // drops any.
            match options.range {
                Some(_) => {
                    let what = serde_json::json!({
                        "bucket": self.bucket, "key": key, "start": start, "end": end, "etag": etag,
                    })
                    .to_string();
                    if !staging.record_holds(&what).await {
                        keep = 0;
                    }
                    tokio::fs::write(&staging.record, what).await.map_err(|e| io_error(&staging.record, e))?;
                }
                None => Staging::remove(&staging.record).await?,
            }
            loop {
                let resumed_from = keep;
                let hash = self.fill(&staging.part, key, &window, keep, (options, verify), &mut progress).await?;
                match hash {
                    Some(hash) if hash != etag && resumed_from > 0 => keep = 0, // not this object's bytes
                    Some(hash) if hash != etag => {
                        Staging::remove(&staging.part).await?;
                        return Err(corrupt(key));
                    }
                    _ => {
                        tokio::fs::rename(&staging.part, &staging.file)
                            .await
                            .map_err(|e| io_error(&staging.file, e))?;
                        Staging::remove(&staging.record).await?;
                        return Ok(report(resumed_from));
                    }
                }
            }
        }

        /// Keep the first `keep` bytes of `part` and fetch the rest of the window into it; with
        /// `verify`, the whole part's UFile ETag.
        async fn fill(
            &self,
            part: &Path,
            key: &str,
            window: &Window<'_>,
            keep: u64,
            (options, verify): (&DownloadOptions, bool),
            progress: &mut impl FnMut(u64, u64),
        ) -> Result<Option<String>> {
            let io = |e| io_error(part, e);
            let mut file = tokio::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(part)
                .await
                .map_err(io)?;
            file.set_len(keep).await.map_err(io)?;
            let mut hasher = verify.then(UfileEtag::default);
            if let Some(hasher) = hasher.as_mut() {
                hash_prefix(&mut file, keep, hasher).await.map_err(io)?;
            }
            file.seek(std::io::SeekFrom::Start(keep)).await.map_err(io)?;
            progress(keep, window.want);
            let (step, public) = (options.chunk_size.max(1), options.public);
            let mut offset = keep;
            while offset < window.want {
                let a = window.start + offset;
                // `chunk_size` may be as large as u64 allows.
                let b = window.start + offset.saturating_add(step).min(window.want) - 1;
                let data = self.chunk(key, (a, b), window.size, window.etag, public).await?;
                file.write_all(&data).await.map_err(io)?;
                // Written before the next request, so a download that stops leaves a clean prefix.
                file.flush().await.map_err(io)?;
                if let Some(h) = hasher.as_mut() {
                    h.update(&data);
                }
                offset += data.len() as u64;
                progress(offset, window.want);
            }
            file.sync_data().await.map_err(io)?;
            Ok(hasher.map(|h| h.finalize()))
        }
    }

    /// Hash the first `len` bytes of `file`.
    async fn hash_prefix(file: &mut tokio::fs::File, len: u64, hasher: &mut UfileEtag) -> std::io::Result<()> {
        file.seek(std::io::SeekFrom::Start(0)).await?;
        let mut buf = vec![0u8; 1 << 20];
        let mut left = len;
        while left > 0 {
            let n = file.read(&mut buf[..left.min(1 << 20) as usize]).await?;
            if n == 0 {
                return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "the file shrank while reading it"));
            }
            hasher.update(&buf[..n]);
            left -= n as u64;
        }
        Ok(())
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
        let backwards = m.range_request("k", 5, Some(4)).unwrap_err();
        assert!(backwards.message().starts_with("the range 5-4 ends before it starts"), "{backwards}");

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

    #[test]
    fn reading_an_empty_object_from_the_start_gives_no_bytes_not_416() {
        let mock = Mock::default();
        let m = manager(&mock);
        let unsatisfiable = r#"{ "RetCode": -148606, "ErrMsg": "Range is outside the object" }"#;
        mock.reply(416, &[], unsatisfiable);
        mock.reply(200, &[("Content-Length", "0"), ("ETag", "\"FtJ\"")], "");
        let c = block_on(m.fetch_range("empty", 0, None)).unwrap();
        assert_eq!((c.start, c.total, c.etag.as_str(), c.data.len()), (0, 0, "FtJ", 0));
        assert_eq!(mock.requests.borrow()[1].method, Method::Head);
        // Past the end of an object that has bytes, and any start but 0, stay a 416.
        mock.reply(416, &[], unsatisfiable);
        mock.reply(200, &[("Content-Length", "3")], "");
        assert_eq!(block_on(m.fetch_range("three", 0, None)).unwrap_err().status(), Some(416));
        mock.reply(416, &[], unsatisfiable);
        assert_eq!(block_on(m.fetch_range("empty", 1, None)).unwrap_err().status(), Some(416));
        assert_eq!(mock.requests.borrow().len(), 5);
    }

    pub(super) fn object(mock: &Mock, data: &[u8], etag: &str, chunk: usize) {
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

#[cfg(all(test, not(target_arch = "wasm32")))]
mod file_tests {
    use super::super::tests::{Mock, manager};
    use super::*;

    fn run<F: std::future::Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(future)
    }

    /// A whole object whose bytes do not hash to its ETag never reaches FILE: what was there
    /// stays, and the part is removed so that no later call resumes from bad bytes.
    #[test]
    fn a_download_that_fails_its_hash_leaves_the_file_alone() {
        let dir = std::env::temp_dir().join(format!("yunup-download-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (path, part) = (dir.join("out.bin"), dir.join("out.bin.yunup-part"));
        std::fs::write(&path, b"the old file").unwrap();
        let data: Vec<u8> = (0..10u8).collect();
        let etag = format!("\"{}\"", UfileEtag::digest(&data));

        let mock = Mock::default();
        super::tests::object(&mock, b"0123456789", &etag, 4);
        let err = run(manager(&mock).download_to_file("k", &path, 4)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Integrity, "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), b"the old file");
        assert!(!part.exists(), "the bad bytes are not kept to resume from");

        // The right bytes replace the file, reported through `progress` as they arrive.
        let mock = Mock::default();
        super::tests::object(&mock, &data, &etag, 4);
        let mut seen = Vec::new();
        let options = DownloadOptions { chunk_size: 4, ..DownloadOptions::default() };
        let report = run(manager(&mock).download_file("k", &path, &options, |done, total| seen.push((done, total))));
        assert_eq!(report.unwrap().resumed_from, 0);
        assert_eq!(std::fs::read(&path).unwrap(), data);
        assert_eq!(seen, [(0, 10), (4, 10), (8, 10), (10, 10)]);
        assert!(!part.exists());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
