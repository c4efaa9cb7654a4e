//! `yunup etag`: stream each file through the etag hasher in fixed-size reads.

use std::fs::File;
use std::io::{IsTerminal as _, Read};

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use yunup::hash::{AnyEtag, EtagKind};

use crate::Failure;
use crate::manage::output::Out;

#[derive(Args)]
pub struct EtagArgs {
    /// Which etag: `wcs` (the WCS `hash`) or `ufile` (the UFile `ETag`).
    #[arg(long, default_value = "wcs", value_parser = parse_kind)]
    kind: EtagKind,
    /// Files to hash; `-` is standard input.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<String>,
}

fn parse_kind(s: &str) -> Result<EtagKind, String> {
    s.parse().map_err(|e: yunup::Error| e.to_string())
}

/// One read: large enough to keep the syscall cost negligible, small enough that memory is
/// constant whatever the file size.
const READ_SIZE: usize = 1 << 20;

pub fn run(args: EtagArgs) -> Result<(), Failure> {
    let show_progress = std::io::stderr().is_terminal();
    let mut buf = vec![0u8; READ_SIZE];
    let mut out = Out::new(false);
    for name in &args.files {
        let etag = if name == "-" {
            hash_reader(std::io::stdin().lock(), args.kind, &mut buf, None)
        } else {
            let file = File::open(name).map_err(|e| Failure::other(format!("cannot open {name}: {e}")))?;
            let progress = show_progress.then(|| progress_bar(&file, name));
            let result = hash_reader(file, args.kind, &mut buf, progress.as_ref());
            if let Some(bar) = progress {
                bar.finish_and_clear();
            }
            result
        }
        .map_err(|e| Failure::other(format!("cannot read {name}: {e}")))?;
        // Each file's line as soon as it is known.
        out.line(&etag.to_string())?;
        out.flush()?;
    }
    Ok(())
}

fn progress_bar(file: &File, name: &str) -> ProgressBar {
    byte_bar(file.metadata().map(|m| m.len()).unwrap_or(0), name)
}

/// A bar of `len` bytes on standard error: `name [====>   ] done/total speed eta`.
pub fn byte_bar(len: u64, name: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_message(name.to_owned());
    bar
}

fn hash_reader(
    mut reader: impl Read,
    kind: EtagKind,
    buf: &mut [u8],
    progress: Option<&ProgressBar>,
) -> std::io::Result<String> {
    let mut hasher = AnyEtag::new(kind);
    loop {
        let n = match reader.read(buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
        if let Some(bar) = progress {
            bar.inc(n as u64);
        }
    }
    Ok(hasher.finalize())
}
