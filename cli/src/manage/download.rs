//! `yunup download`: a UFile object (or a byte range of it) into a file, through presigned private
//! URLs (or, with `--public`, the plain public URL: no keys needed), one ranged GET per chunk, with
//! a progress bar on a terminal.
//!
//! An existing FILE is taken as an earlier download of the same object that stopped: only the
//! missing bytes are fetched. A whole-object download is then hashed and compared with the
//! object's ETag; when a kept prefix turns out not to match, the download starts over once. A
//! range has no ETag of its own to check, so while one is downloading, a record beside FILE
//! (`FILE.yunup-range`) names the object version and range it holds, and a range download keeps
//! FILE's bytes only when that record matches. Every chunk must carry the ETag that HEAD
//! reported, so an object replaced mid-download fails instead of mixing two versions. Ctrl-C
//! stops after writing what arrived (exit 130); run the same command again to resume.

use std::fs::{File, OpenOptions};
use std::io::{IsTerminal as _, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use clap::Args;
use indicatif::ProgressBar;
use serde_json::json;
use yunup::engine::Transport as _;
use yunup::hash::{Hasher as _, UfileEtag};
use yunup::manage::ufile::{RangeChunk, UfileManager, parse_head, parse_range_reply};
use yunup::runtime::native::ReqwestTransport;
use yunup::service::{HttpRequest, Method, ServiceKind};
use yunup::{Error, ErrorKind};

use super::output::{Out, human_size};
use super::{Common, Ctx, block_on, failure, missing, unsupported};
use crate::Failure;

/// How long each presigned URL is valid (one is made per chunk).
const URL_LIFETIME_SECS: u64 = 900;

#[derive(Args)]
pub struct DownloadArgs {
    #[command(flatten)]
    common: Common,
    #[arg(value_name = "BUCKET")]
    bucket: String,
    #[arg(value_name = "KEY")]
    key: String,
    /// Where to write (a directory: the key's last segment in it) [default: the key's last
    /// segment, in the current directory].
    #[arg(value_name = "FILE")]
    file: Option<PathBuf>,
    /// Only bytes A to B of the object, inclusive (`A-`: to the end).
    #[arg(long, value_name = "A-B", value_parser = parse_range)]
    range: Option<(u64, Option<u64>)>,
    /// The bucket is public: plain GETs of the public URL, no keys needed [default: presigned
    /// private URLs, which work for both kinds of bucket].
    #[arg(long)]
    public: bool,
    /// Start from the first byte even when FILE holds part of an earlier download.
    #[arg(long)]
    no_resume: bool,
    /// Bytes per request, or with a K/M/G suffix.
    #[arg(long, value_name = "BYTES", value_parser = crate::upload::parse_size, default_value = "4M")]
    chunk_size: u64,
}

/// `A-B` or `A-`.
fn parse_range(text: &str) -> Result<(u64, Option<u64>), String> {
    let bad = || format!("{text:?} is not a byte range: use A-B (inclusive) or A-");
    let (a, b) = text.split_once('-').ok_or_else(bad)?;
    let a: u64 = a.trim().parse().map_err(|_| bad())?;
    let b: Option<u64> = match b.trim() {
        "" => None,
        b => Some(b.parse().map_err(|_| bad())?),
    };
    if b.is_some_and(|b| b < a) {
        return Err(format!("the range {text:?} ends before it starts"));
    }
    Ok((a, b))
}

pub fn download(args: DownloadArgs) -> Result<(), Failure> {
    match args.common.service {
        ServiceKind::Ufile => {}
        ServiceKind::Wcs => {
            return Err(unsupported(
                ServiceKind::Wcs,
                "download here",
                "; fetch objects from the bucket's download domain with any HTTP client",
            ));
        }
        ServiceKind::Wantu => {
            return Err(unsupported(ServiceKind::Wantu, "download here", "; `yunup stat` prints the file's url"));
        }
    }
    if args.key.is_empty() {
        return Err(Failure::usage("KEY is empty"));
    }
    let name = args.key.rsplit('/').next().unwrap_or("");
    let path = match &args.file {
        Some(path) if path.is_dir() => {
            if name.is_empty() {
                return Err(Failure::usage("KEY ends with '/': give FILE"));
            }
            path.join(name)
        }
        Some(path) => path.clone(),
        None if name.is_empty() || name == "." || name == ".." => {
            return Err(Failure::usage(format!("cannot name a file after {:?}: give FILE", args.key)));
        }
        None => PathBuf::from(name),
    };
    let ctx = if args.public { Ctx::without_keys(&args.common)? } else { Ctx::new(&args.common)? };
    let manager = ctx.ufile(&args.bucket)?;
    let transport = ReqwestTransport::new().map_err(|e| Failure::other(format!("cannot set up HTTP: {e}")))?;
    let job = Job { manager, transport, args: &args, path: &path, progress: std::io::stderr().is_terminal() };
    block_on(async {
        let report = tokio::select! {
            report = job.run() => report?,
            signal = tokio::signal::ctrl_c() => {
                if signal.is_ok() {
                    return Err(Failure::interrupted("interrupted; run the same command again to resume"));
                }
                std::future::pending().await
            }
        };
        let (bucket, key) = (&args.bucket, &args.key);
        let resumed = match report.resumed_from {
            0 => String::new(),
            n if n == report.written => " (already complete)".to_owned(),
            n => format!(" (resumed at {})", human_size(n)),
        };
        let text =
            format!("downloaded {bucket}/{key} to {}: {}{resumed}\n", path.display(), human_size(report.written));
        let value = json!({
            "bucket": bucket,
            "key": key,
            "file": path.display().to_string(),
            "size": report.written,
            "object_size": report.object_size,
            "etag": report.etag,
            "range": args.range.map(|(a, _)| json!([a, a + report.written.saturating_sub(1)])),
            "resumed_from": report.resumed_from,
        });
        Out::new(args.common.json).either(&value, &text)
    })
}

struct Job<'a> {
    manager: UfileManager<ReqwestTransport>,
    transport: ReqwestTransport,
    args: &'a DownloadArgs,
    path: &'a Path,
    progress: bool,
}

/// What to fetch: bytes `start..start + want` of an object of `size` bytes whose ETag is `etag`.
struct Window<'e> {
    start: u64,
    want: u64,
    size: u64,
    etag: &'e str,
}

struct Report {
    /// Bytes in the file.
    written: u64,
    object_size: u64,
    etag: String,
    resumed_from: u64,
}

/// `FILE.yunup-range`: what a range download into FILE holds, while it is unfinished.
struct RangeRecord {
    path: PathBuf,
}

impl RangeRecord {
    fn beside(file: &Path) -> Self {
        let mut name = file.as_os_str().to_owned();
        name.push(".yunup-range");
        RangeRecord { path: PathBuf::from(name) }
    }

    fn holds(&self, what: &str) -> bool {
        std::fs::read_to_string(&self.path).is_ok_and(|text| text == what)
    }

    fn remove(&self) -> std::io::Result<()> {
        match std::fs::remove_file(&self.path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            other => other,
        }
    }
}

fn io_failure(path: &Path, e: std::io::Error) -> Failure {
    Failure::other(format!("cannot write {}: {e}", path.display()))
}

impl Job<'_> {
    fn key(&self) -> &str {
        &self.args.key
    }

    async fn run(&self) -> Result<Report, Failure> {
        let (size, etag) = self.size_and_etag().await?;
        // The window of the object to write, end exclusive.
        let (start, end) = match self.args.range {
            None => (0, size),
            Some((a, _)) if a >= size => {
                return Err(Failure::usage(format!(
                    "--range starts at byte {a}, but {:?} has {size} bytes",
                    self.key()
                )));
            }
            Some((a, b)) => (a, b.map_or(size, |b| b.saturating_add(1).min(size))),
        };
        let want = end - start;
        let on_disk = if self.args.no_resume { 0 } else { std::fs::metadata(self.path).map(|m| m.len()).unwrap_or(0) };
        let mut keep = if on_disk <= want { on_disk } else { 0 };
        // Before FILE changes: a range's record says what it will hold; a whole object drops any.
        let record = RangeRecord::beside(self.path);
        let io = |e| io_failure(&record.path, e);
        match self.args.range {
            Some(_) => {
                let what =
                    json!({ "bucket": self.args.bucket, "key": self.key(), "start": start, "end": end, "etag": etag })
                        .to_string();
                if !record.holds(&what) {
                    keep = 0;
                }
                std::fs::write(&record.path, what).map_err(io)?;
            }
            None => record.remove().map_err(io)?,
        }
        // A whole object is checked against its ETag (not an empty one: the SDKs disagree on it).
        let verify = self.args.range.is_none() && size > 0 && !etag.is_empty();
        loop {
            let resumed_from = keep;
            let hash = self.write(&Window { start, want, size, etag: &etag }, keep, verify).await?;
            match hash {
                Some(hash) if hash != etag && resumed_from > 0 => keep = 0, // the kept bytes were not this object's
                Some(hash) if hash != etag => {
                    let e = Error::new(
                        ErrorKind::Integrity,
                        format!("the bytes received for {:?} do not hash to its ETag", self.key()),
                    );
                    return Err(failure("download", &e));
                }
                _ => {
                    record.remove().map_err(io)?;
                    return Ok(Report { written: want, object_size: size, etag, resumed_from });
                }
            }
        }
    }

    /// HEAD: signed, or plain for a public bucket.
    async fn size_and_etag(&self) -> Result<(u64, String), Failure> {
        let key = self.key();
        let info = if self.args.public {
            let request = HttpRequest::new(Method::Head, self.manager.public_url(key));
            match self.transport.send(request).await {
                Ok(response) => parse_head(key, &response),
                Err(e) => Err(e),
            }
        } else {
            self.manager.head(key).await
        };
        let info = info.map_err(|e| match e.status() {
            Some(status @ (401 | 403)) if self.args.public => Failure::other(format!(
                "bucket {:?} refused an unsigned read (HTTP {status}): it is private; drop --public to use presigned URLs",
                self.args.bucket
            )),
            _ => failure("download", &e),
        })?;
        let info = info.ok_or_else(|| missing(ServiceKind::Ufile, &self.args.bucket, key))?;
        Ok((info.size, info.etag))
    }

    /// Keep the first `keep` bytes of the file and fetch the rest of the window; with `verify`,
    /// the whole file's UFile ETag.
    async fn write(&self, window: &Window<'_>, keep: u64, verify: bool) -> Result<Option<String>, Failure> {
        let path = self.path;
        let io = |e| io_failure(path, e);
        let mut file = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path).map_err(io)?;
        file.set_len(keep).map_err(io)?;
        let mut hasher = verify.then(UfileEtag::default);
        if let Some(hasher) = hasher.as_mut() {
            hash_prefix(&mut file, keep, hasher).map_err(io)?;
        }
        file.seek(SeekFrom::Start(keep)).map_err(io)?;
        let bar = self.progress.then(|| {
            let bar = crate::etag::byte_bar(window.want, self.key());
            bar.set_position(keep);
            bar.reset_eta();
            bar
        });
        let result = self.fetch_into(&mut file, window, keep, hasher.as_mut(), bar.as_ref()).await;
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
        result?;
        file.sync_data().map_err(io)?;
        Ok(hasher.map(|h| h.finalize()))
    }

    /// Fetch the window from `offset` on, appending to `file`.
    async fn fetch_into(
        &self,
        file: &mut File,
        window: &Window<'_>,
        mut offset: u64,
        mut hasher: Option<&mut UfileEtag>,
        bar: Option<&ProgressBar>,
    ) -> Result<(), Failure> {
        let (start, want, step) = (window.start, window.want, self.args.chunk_size.max(1));
        while offset < want {
            let a = start + offset;
            // `--chunk-size` may be as large as u64 allows.
            let b = start + offset.saturating_add(step).min(want) - 1;
            let chunk = self.get(a, b, window).await.map_err(|e| failure("download", &e))?;
            let data = &chunk.data[..];
            file.write_all(data).map_err(|e| io_failure(self.path, e))?;
            if let Some(h) = hasher.as_deref_mut() {
                h.update(data);
            }
            offset += data.len() as u64;
            if let Some(bar) = bar {
                bar.set_position(offset);
            }
        }
        Ok(())
    }

    /// Bytes `a..=b` of the window's object.
    async fn get(&self, a: u64, b: u64, window: &Window<'_>) -> yunup::Result<RangeChunk> {
        let key = self.key();
        let url = if self.args.public {
            self.manager.public_url(key)
        } else {
            self.manager.private_url_valid_for(key, URL_LIFETIME_SECS)?
        };
        let request = HttpRequest::new(Method::Get, url)
            .header("Range", format!("bytes={a}-{b}"))
            .max_reply((b - a).saturating_add(1));
        let chunk = parse_range_reply(key, a, Some(b), &self.transport.send(request).await?)?;
        let etag = window.etag;
        if (!chunk.etag.is_empty() && !etag.is_empty() && chunk.etag != etag) || chunk.total != window.size {
            return Err(Error::new(
                ErrorKind::Integrity,
                format!("{key:?} changed during the download (its ETag or size changed): run the command again"),
            ));
        }
        if chunk.data.len() as u64 != b - a + 1 {
            return Err(Error::new(
                ErrorKind::Server,
                format!("UFile sent {} bytes of {key:?} for a range of {}", chunk.data.len(), b - a + 1),
            ));
        }
        Ok(chunk)
    }
}

/// Hash the first `len` bytes of `file`.
fn hash_prefix(file: &mut File, len: u64, hasher: &mut UfileEtag) -> std::io::Result<()> {
    file.seek(SeekFrom::Start(0))?;
    let mut buf = vec![0u8; 1 << 20];
    let mut left = len;
    while left > 0 {
        let want = left.min(buf.len() as u64) as usize;
        let n = file.read(&mut buf[..want])?;
        if n == 0 {
            return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "the file shrank while reading it"));
        }
        hasher.update(&buf[..n]);
        left -= n as u64;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("0-9"), Ok((0, Some(9))));
        assert_eq!(parse_range("5-"), Ok((5, None)));
        assert!(parse_range("9-5").is_err());
        assert!(parse_range("-5").is_err());
        assert!(parse_range("x").is_err());
    }
}
