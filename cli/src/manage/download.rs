//! `yunup download`: a UFile object (or a byte range of it) into a file, through presigned private
//! URLs (or, with `--public`, the plain public URL: no keys needed), one ranged GET per chunk, with
//! a progress bar on a terminal.
//!
//! The work is [`UfileManager::download_file`]'s: the bytes go to `FILE.yunup-part`, which
//! becomes FILE only when complete and (for a whole object) hashed and compared with the
//! object's ETag, so FILE is never half-written. A part left by an earlier run that stopped is
//! resumed: only the missing bytes are fetched. Every chunk must carry the ETag that HEAD
//! reported, so an object replaced mid-download fails instead of mixing two versions. Ctrl-C
//! stops after writing what arrived (exit 130); run the same command again to resume.

use std::io::IsTerminal as _;
use std::path::PathBuf;

use clap::Args;
use indicatif::ProgressBar;
use serde_json::json;
use yunup::manage::ufile::DownloadOptions;
use yunup::service::ServiceKind;

use super::output::{Out, human_size};
use super::{Common, Ctx, block_on, failure, is_missing, missing, unsupported};
use crate::Failure;

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
    /// The bucket is public: plain GETs of the public URL, no keys needed [default: signed
    /// requests, which work for both kinds of bucket].
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
    let options = DownloadOptions {
        chunk_size: args.chunk_size,
        range: args.range,
        public: args.public,
        resume: !args.no_resume,
    };
    let (bucket, key) = (&args.bucket, &args.key);
    // The bar appears with the first progress report, when the size is known.
    let bar = std::cell::OnceCell::<ProgressBar>::new();
    let terminal = std::io::stderr().is_terminal();
    let progress = |done: u64, total: u64| {
        if terminal {
            let bar = bar.get_or_init(|| {
                let bar = crate::etag::byte_bar(total, key);
                bar.set_position(done);
                bar.reset_eta();
                bar
            });
            bar.set_position(done);
        }
    };
    block_on(async {
        // `None`: interrupted. The bar is cleared either way, so that the message that follows
        // starts on a clean line instead of after a frozen bar.
        let mut download = std::pin::pin!(manager.download_file(key, &path, &options, progress));
        let mut signals = true;
        let result = loop {
            tokio::select! {
                result = &mut download => break Some(result),
                signal = tokio::signal::ctrl_c(), if signals => match signal {
                    Ok(()) => break None,
                    // No signal handling here: Ctrl-C keeps its default (the process ends).
                    Err(_) => signals = false,
                }
            }
        };
        if let Some(bar) = bar.get() {
            bar.finish_and_clear();
        }
        let Some(result) = result else {
            return Err(Failure::interrupted("interrupted; run the same command again to resume"));
        };
        let report = result.map_err(|e| match e.status() {
            Some(status @ (401 | 403)) if args.public => Failure::other(format!(
                "bucket {bucket:?} refused an unsigned read (HTTP {status}): it is private; drop --public to use signed requests"
            )),
            _ if is_missing(&e) => missing(ServiceKind::Ufile, bucket, key),
            _ => failure("download", &e),
        })?;
        let resumed = match report.resumed_from {
            0 => String::new(),
            n if n == report.size => " (already complete)".to_owned(),
            n => format!(" (resumed at {})", human_size(n)),
        };
        let text = format!("downloaded {bucket}/{key} to {}: {}{resumed}\n", path.display(), human_size(report.size));
        let value = json!({
            "bucket": bucket,
            "key": key,
            "file": path.display().to_string(),
            "size": report.size,
            "object_size": report.object_size,
            "etag": report.etag,
            "range": args.range.map(|(a, _)| json!([a, a + report.size.saturating_sub(1)])),
            "resumed_from": report.resumed_from,
        });
        Out::new(args.common.json).either(&value, &text)
    })
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
