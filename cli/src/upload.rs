//! `yunup upload`: one file to WCS, UFile or Wantu through the upload engine, with a progress bar,
//! checkpoints on disk, and Ctrl-C as "pause": the same command run again resumes.

use std::cell::Cell;
use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};

use clap::Args;
use yunup::ErrorKind;
use yunup::engine::{
    CHECKPOINT_PREFIX, Control, DEFAULT_PART_SIZE, IN_PROGRESS, LARGEST_PART, LocalSigner, MAX_CHECKPOINT_AGE_MS,
    Progress, Source as _, Target, TokenProvider, UploadOptions, Uploader,
};
use yunup::runtime::native::{BackendTokens, DirCheckpoints, FileSource, ReqwestTransport, TokioRuntime};
use yunup::service::{ServiceKind, UploadResult};
use yunup::sign::Credentials;
use yunup::sign::ufile::SignRequest;

use crate::manage::output::Out;
use crate::{Failure, KeyArgs, credentials};

#[derive(Args)]
#[command(after_long_help = ENDPOINTS_HELP)]
pub struct UploadArgs {
    /// The service: wcs, ufile or wantu.
    #[arg(long, value_parser = parse_service, value_name = "SERVICE")]
    service: ServiceKind,
    /// The upload URL. WCS, Wantu: the upload host. UFile: the bucket's base URL, bucket included
    /// (`http://BUCKET.cn-bj.ufileos.com`, or path style `http://HOST:PORT/BUCKET`).
    #[arg(long, value_name = "URL")]
    endpoint: String,
    /// The bucket (WCS, UFile) or namespace (Wantu).
    #[arg(long, value_name = "NAME")]
    bucket: String,
    /// The file to upload.
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// The object key to store it as (Wantu: `dir/name`).
    #[arg(value_name = "KEY")]
    key: String,
    /// The MIME type to store [default: the service decides].
    #[arg(long, value_name = "TYPE")]
    mime: Option<String>,
    /// Parts in flight at once.
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = parse_concurrency)]
    concurrency: usize,
    /// Part size: WCS block size (a multiple of 4 MiB) or Wantu part size (100 KB to 10 MiB);
    /// UFile's is set by the service. Bytes, or with a K/M/G (KiB/MiB/GiB) suffix [default: 4M].
    #[arg(long, value_name = "BYTES", value_parser = parse_size)]
    part_size: Option<u64>,
    /// WCS only: bytes per request inside a block (mkblk, then bput) [default: the whole block].
    #[arg(long, value_name = "BYTES", value_parser = parse_size)]
    chunk_size: Option<u64>,
    /// Ask this backend for tokens and signatures instead of signing locally (GET
    /// URL/api/token/wcs, /api/token/wantu, /api/token/ufile; the emulator's demo host speaks it).
    #[arg(long, value_name = "URL", conflicts_with_all = ["access_key", "secret_key", "credentials_file"])]
    token_url: Option<String>,
    /// Where checkpoints are kept [default: $XDG_STATE_HOME/yunup/checkpoints, else
    /// ~/.local/state/yunup/checkpoints, else the system temp dir].
    #[arg(long, value_name = "DIR")]
    checkpoint_dir: Option<PathBuf>,
    /// Keep no checkpoint, and ignore any saved one: always upload from the start.
    #[arg(long)]
    no_resume: bool,
    /// Send nothing: give up the saved upload of FILE to KEY (paused or failed), aborting its
    /// multipart session on the service and removing its checkpoint. Prints
    /// {"service","key","discarded"}; discarded is false when there was none.
    #[arg(long, conflicts_with = "no_resume")]
    discard: bool,
    #[command(flatten)]
    keys: KeyArgs,
}

const ENDPOINTS_HELP: &str = "\
Tokens: with --token-url the backend signs; otherwise the keys do (YUNUP_ACCESS_KEY and
YUNUP_SECRET_KEY, --credentials-file, or --access-key/--secret-key), with tokens valid for an
hour and renewed when refused.

Endpoints:
  wcs    --endpoint https://ACCOUNT.up0.v1.wcsapi.com  (the account's upload domain)
  ufile  --endpoint http://mybucket.cn-bj.ufileos.com, or path style http://127.0.0.1:9102/mybucket
         (the base URL includes the bucket; --bucket names it again for the signature)
  wantu  --endpoint https://upload.media.aliyun.com  (--bucket is the namespace)

Ctrl-C pauses: the parts in flight finish, the checkpoint stays, and the command exits 130;
run the same command again to resume (a second Ctrl-C quits at once). On success one JSON line
goes to standard output: {\"service\",\"key\",\"size\",\"etag\"}.";

fn parse_service(s: &str) -> Result<ServiceKind, String> {
    s.parse().map_err(|e: yunup::Error| e.to_string())
}

fn parse_concurrency(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(_) => Err("not a whole number".into()),
    }
}

/// `4194304`, `4M`, `4MiB`, `512k`: binary multiples. Zero is refused.
pub(crate) fn parse_size(s: &str) -> Result<u64, String> {
    let text = s.trim();
    let digits = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(digits);
    let number: u64 = number.parse().map_err(|_| format!("{s:?} is not a size in bytes (e.g. 4194304 or 4M)"))?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        other => return Err(format!("unknown size unit {other:?}: use K, M or G")),
    };
    match number.checked_mul(1 << shift) {
        Some(0) => Err("must be at least 1 byte".into()),
        Some(n) => Ok(n),
        None => Err("too large".into()),
    }
}

/// Where tokens come from.
enum Tokens {
    Backend(String),
    Local(Credentials),
}

/// Everything checked and resolved before any request is sent.
struct Plan {
    file: PathBuf,
    target: Target,
    options: UploadOptions,
    tokens: Tokens,
    checkpoint_dir: PathBuf,
    progress: bool,
    discard: bool,
}

pub fn run(args: UploadArgs) -> Result<(), Failure> {
    let plan = plan(args)?;
    // The engine's future runs on this thread (hashing each part); reqwest's connections run on
    // the workers, so bytes keep flowing while the next part is hashed.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Failure::other(format!("cannot start the async runtime: {e}")))?;
    if plan.discard {
        let discarded = runtime.block_on(discard(&plan))?;
        let line = serde_json::json!({
            "service": plan.target.service.as_str(),
            "key": plan.target.key,
            "discarded": discarded,
        });
        return Out::new(true).json(&line);
    }
    let result = runtime.block_on(execute(&plan))?;
    let line = serde_json::json!({
        "service": result.service.as_str(),
        "key": result.key,
        "size": result.size,
        "etag": result.etag,
    });
    Out::new(true).json(&line)
}

fn plan(args: UploadArgs) -> Result<Plan, Failure> {
    match std::fs::metadata(&args.file) {
        Ok(meta) if meta.is_dir() => {
            return Err(Failure::usage(format!("{} is a directory: give a file", args.file.display())));
        }
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Failure::usage(format!("{} does not exist: give the file to upload", args.file.display())));
        }
        Err(e) => return Err(Failure::other(format!("cannot read {}: {e}", args.file.display()))),
    }
    if args.key.is_empty() {
        return Err(Failure::usage("KEY is empty: give the object key to store the file as"));
    }
    if args.bucket.is_empty() {
        return Err(Failure::usage("--bucket is empty: give the bucket (Wantu: the namespace)"));
    }
    let endpoint = http_url("--endpoint", &args.endpoint)?;
    match (args.service, args.part_size) {
        (ServiceKind::Ufile, Some(_)) => {
            return Err(Failure::usage("--part-size does not apply to UFile: the service sets the part size"));
        }
        (ServiceKind::Wcs, Some(size)) if size % DEFAULT_PART_SIZE != 0 || size > LARGEST_PART => {
            return Err(Failure::usage(format!(
                "--part-size for WCS must be a multiple of 4 MiB ({DEFAULT_PART_SIZE} bytes) up to 1 GiB, not {size}"
            )));
        }
        _ => {}
    }
    if args.chunk_size.is_some() && args.service != ServiceKind::Wcs {
        return Err(Failure::usage("--chunk-size applies to WCS only"));
    }
    let tokens =
        match &args.token_url {
            Some(url) => Tokens::Backend(http_url("--token-url", url)?),
            None => Tokens::Local(credentials::resolve(&args.keys).map_err(|f| {
                Failure::usage(format!("{}; or pass --token-url to get tokens from a backend", f.message))
            })?),
        };
    let checkpoint_dir = if args.no_resume {
        PathBuf::new() // never written: resume is off
    } else {
        let dir = checkpoint_dir(args.checkpoint_dir.as_deref())?;
        prune_checkpoints(&dir);
        dir
    };
    let options = UploadOptions {
        part_size: args.part_size,
        chunk_size: args.chunk_size,
        concurrency: args.concurrency,
        resume: !args.no_resume,
        ..UploadOptions::default()
    };
    let target = Target {
        service: args.service,
        endpoint,
        bucket: args.bucket,
        key: args.key,
        mime: args.mime.unwrap_or_default(),
    };
    let progress = std::io::stderr().is_terminal();
    Ok(Plan { file: args.file, target, options, tokens, checkpoint_dir, progress, discard: args.discard })
}

/// An `http(s)://host...` URL without a trailing slash (so that `URL/` and `URL` name the same
/// upload when resuming).
pub(crate) fn http_url(flag: &str, url: &str) -> Result<String, Failure> {
    match yunup::service::url_problem(url) {
        None => Ok(url.trim_end_matches('/').to_owned()),
        Some(problem) => Err(Failure::usage(format!("{flag} {url:?} {problem}"))),
    }
}

/// The checkpoint directory, created (owner-only on Unix). An explicit one must work; the
/// default falls back to the system temp dir.
fn checkpoint_dir(explicit: Option<&Path>) -> Result<PathBuf, Failure> {
    if let Some(dir) = explicit {
        create_private_dir(dir)
            .map_err(|e| Failure::usage(format!("cannot use --checkpoint-dir {}: {e}", dir.display())))?;
        return Ok(dir.to_owned());
    }
    let env = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    let state_home =
        env("XDG_STATE_HOME").filter(|p| p.is_absolute()).or_else(|| env("HOME").map(|h| h.join(".local/state")));
    if let Some(dir) = state_home.map(|s| s.join("yunup").join("checkpoints"))
        && create_private_dir(&dir).is_ok()
    {
        return Ok(dir);
    }
    // Shared with other users: a directory of our own, named after the user.
    let user = std::env::var("USER").unwrap_or_default();
    let dir = std::env::temp_dir().join(format!("yunup-{user}")).join("checkpoints");
    // If even this fails, uploads still work; they just cannot resume (the engine says nothing
    // about a checkpoint it cannot write).
    let _ = create_private_dir(&dir);
    Ok(dir)
}

/// Forget checkpoints too old to resume (the engine refuses them; uploads that failed and were
/// never run again would otherwise pile up). Only the engine's own files are touched.
fn prune_checkpoints(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let max_age = std::time::Duration::from_millis(MAX_CHECKPOINT_AGE_MS);
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let ours = name.starts_with(CHECKPOINT_PREFIX)
            && [".json", ".json.tmp", ".lock"].iter().any(|end| name.ends_with(end));
        let old = entry.metadata().ok().and_then(|m| m.modified().ok()).and_then(|t| t.elapsed().ok());
        if ours && old.is_some_and(|age| age > max_age) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)?;
    if std::fs::metadata(dir)?.is_dir() {
        Ok(())
    } else {
        Err(std::io::Error::new(std::io::ErrorKind::AlreadyExists, "not a directory"))
    }
}

/// The tokens of either source, as one provider: one `Uploader` type serves both.
enum CliTokens {
    Backend(BackendTokens<ReqwestTransport>),
    Local(LocalSigner<TokioRuntime>),
}

impl TokenProvider for CliTokens {
    async fn upload_token(&self, target: &Target, refresh: bool) -> yunup::Result<String> {
        match self {
            CliTokens::Backend(t) => t.upload_token(target, refresh).await,
            CliTokens::Local(t) => t.upload_token(target, refresh).await,
        }
    }
    async fn sign(&self, request: &SignRequest) -> yunup::Result<String> {
        match self {
            CliTokens::Backend(t) => t.sign(request).await,
            CliTokens::Local(t) => t.sign(request).await,
        }
    }
}

type CliUploader = Uploader<ReqwestTransport, CliTokens, DirCheckpoints, TokioRuntime>;

/// The uploader and the opened file.
async fn prepare(plan: &Plan) -> Result<(CliUploader, FileSource), Failure> {
    let transport = ReqwestTransport::new().map_err(|e| describe(&e, plan))?;
    let runtime = TokioRuntime::default();
    let tokens = match &plan.tokens {
        Tokens::Backend(url) => CliTokens::Backend(BackendTokens::new(url.clone()).map_err(|e| describe(&e, plan))?),
        Tokens::Local(credentials) => CliTokens::Local(LocalSigner {
            credentials: credentials.clone(),
            lifetime_secs: 3600,
            runtime: runtime.clone(),
        }),
    };
    let source = FileSource::open(&plan.file).await.map_err(|e| describe(&e, plan))?;
    Ok((Uploader::new(transport, tokens, DirCheckpoints::new(&plan.checkpoint_dir), runtime), source))
}

async fn execute(plan: &Plan) -> Result<UploadResult, Failure> {
    let (uploader, mut source) = prepare(plan).await?;
    let (result, interrupted) = drive(&uploader, &mut source, plan).await;
    match result {
        Some(Ok(done)) => Ok(done),
        // Paused by Ctrl-C (or quit by a second one): the checkpoint stays.
        Some(Err(e)) if interrupted && e.kind() == ErrorKind::Aborted => Err(paused(plan)),
        None => Err(paused(plan)),
        Some(Err(e)) => Err(describe(&e, plan)),
    }
}

/// `--discard`: whether there was a saved upload of the file to the key to give up. The file is
/// opened for its fingerprint (path, size, modification time), which names the checkpoint.
async fn discard(plan: &Plan) -> Result<bool, Failure> {
    let (uploader, source) = prepare(plan).await?;
    let Some(fingerprint) = source.fingerprint() else { return Ok(false) };
    uploader.discard(&fingerprint, &plan.target, &plan.options).await.map_err(|e| describe(&e, plan))
}

fn paused(plan: &Plan) -> Failure {
    if plan.options.resume {
        Failure::interrupted("paused; run the same command again to resume")
    } else {
        Failure::interrupted("interrupted; nothing was kept (--no-resume): run the command again to start over")
    }
}

/// Run the upload until it ends or Ctrl-C pauses it. Returns the engine's result (`None` when a
/// second Ctrl-C quit before the parts in flight finished) and whether Ctrl-C was pressed.
async fn drive(
    uploader: &CliUploader,
    source: &mut FileSource,
    plan: &Plan,
) -> (Option<yunup::Result<UploadResult>>, bool) {
    let control = Control::new();
    let bar = plan.progress.then(|| crate::etag::byte_bar(source.size().unwrap_or(0), &plan.target.key));
    // Parts a resumed upload finished earlier are confirmed before anything is sent: they jump
    // the bar forward, and must not count towards the speed.
    let sending = Cell::new(false);
    let mut on_progress = |p: Progress| {
        let Some(bar) = &bar else { return };
        if let Some(total) = p.total {
            bar.set_length(total);
        }
        if p.in_flight > 0 {
            sending.set(true);
        }
        bar.set_position(p.confirmed);
        if !sending.get() && p.confirmed > 0 {
            bar.set_message(format!("{} (resumed)", plan.target.key));
            bar.tick();
            bar.reset_eta();
        }
    };
    let mut interrupts = 0;
    let result = {
        let mut upload =
            std::pin::pin!(uploader.upload(source, &plan.target, &plan.options, &control, &mut on_progress));
        let mut signals = true;
        loop {
            tokio::select! {
                result = &mut upload => break Some(result),
                signal = tokio::signal::ctrl_c(), if signals => {
                    if signal.is_err() {
                        // No signal handling here: Ctrl-C keeps its default (the process ends).
                        signals = false;
                        continue;
                    }
                    interrupts += 1;
                    control.pause();
                    if interrupts > 1 {
                        break None;
                    }
                    if let Some(bar) = &bar {
                        bar.set_message(format!("{} (pausing after the parts in flight; Ctrl-C again quits)", plan.target.key));
                    }
                }
            }
        }
    };
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    (result, interrupts > 0)
}

/// One line: the kind of failure, what happened, and what to do about it.
fn describe(err: &yunup::Error, plan: &Plan) -> Failure {
    let message = crate::error_text(err);
    let again = if plan.options.resume { "run the same command again to resume" } else { "run the command again" };
    // The service's own "bad request" is no usage mistake of the command line's.
    let local = err.status().is_none() && err.code() != Some(IN_PROGRESS);
    let hint = match err.kind() {
        _ if err.code() == Some(IN_PROGRESS) => "then run this command again".to_owned(),
        ErrorKind::InvalidInput if local => "check the options (yunup upload --help)".to_owned(),
        ErrorKind::InvalidInput => "check --endpoint, --bucket and KEY".to_owned(),
        ErrorKind::Auth => match plan.tokens {
            Tokens::Backend(_) => "check that --token-url serves this --bucket and signs with valid keys".to_owned(),
            Tokens::Local(_) => "check the access key, the secret key and --bucket".to_owned(),
        },
        ErrorKind::Network => format!("check --endpoint and the network, then {again}"),
        ErrorKind::Server => format!("check --endpoint and --bucket, or {again} later"),
        ErrorKind::Integrity => {
            format!("the bytes stored differ from the file (did it change while uploading?); {again}")
        }
        ErrorKind::Io => "check that FILE is readable (and --checkpoint-dir writable)".to_owned(),
        _ => again.to_owned(), // Aborted
    };
    let text = format!("upload failed ({}): {message}; {hint}", err.kind());
    if err.kind() == ErrorKind::InvalidInput && local { Failure::usage(text) } else { Failure::other(text) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4194304"), Ok(4 << 20));
        assert_eq!(parse_size("4M"), Ok(4 << 20));
        assert_eq!(parse_size("8MiB"), Ok(8 << 20));
        assert_eq!(parse_size("512k"), Ok(512 << 10));
        assert_eq!(parse_size("1G"), Ok(1 << 30));
        assert!(parse_size("0").is_err());
        assert!(parse_size("4X").is_err());
        assert!(parse_size("").is_err());
        assert!(parse_size("99999999999999999999G").is_err());
    }

    #[test]
    fn urls() {
        assert_eq!(http_url("--endpoint", "http://h:1/b/").ok().as_deref(), Some("http://h:1/b"));
        assert_eq!(http_url("--endpoint", "https://h").ok().as_deref(), Some("https://h"));
        assert!(http_url("--endpoint", "ftp://h").is_err());
        assert!(http_url("--endpoint", "http://").is_err());
        assert!(http_url("--endpoint", "h.example").is_err());
    }

    #[test]
    fn concurrency() {
        assert_eq!(parse_concurrency("4"), Ok(4));
        assert!(parse_concurrency("0").is_err());
        assert!(parse_concurrency("-1").is_err());
    }
}
