//! The management commands: `ls`, `stat`, `rm`, `cp`, `mv`, `expire` here (their `--prefix`
//! forms submit a job through `jobs.rs`); `fetch`, `zip` and `jobs` in `jobs.rs`; `download` in
//! `download.rs`; `bucket` and `folder` in `bucket.rs`. Each is a thin front end over the crate's
//! `WcsManager`, `UfileManager` and `WantuManager`.
//!
//! Every command names its service (`--service`) and where to send requests (`--endpoint`). An
//! operation a service does not have is refused before anything is sent (exit 2). Output is human
//! text by default and JSON with `--json` (one document, or one line per item for listings);
//! listings print each page as it arrives.

pub mod bucket;
pub mod download;
pub mod jobs;
pub mod output;

use std::future::Future;
use std::pin::pin;

use clap::Args;
use futures_util::{Stream, StreamExt};
use serde_json::{Value, json};
use yunup::engine::RetryReads;
use yunup::manage::ufile::{self, ListItem as UfileItem, ObjectEntry, ObjectInfo, UfileManager};
use yunup::manage::wantu::{self, WantuFile, WantuManager};
use yunup::manage::wcs::{FmgrTask, JobOptions, ListItem as WcsItem, ListMode, ListQuery, ObjectStat, WcsManager};
use yunup::runtime::native::{ReqwestTransport, TokioRuntime};
use yunup::service::ServiceKind;
use yunup::sign::Credentials;
use yunup::{Error, ErrorKind};

use crate::{Failure, KeyArgs, credentials};
use jobs::WaitOptions;
use output::{Entry, LIST_HEADING, Out, Row};

/// How the management commands send: reads are tried again after a busy server or a broken
/// connection (see [`RetryReads`]), writes go once.
pub(crate) type Http = RetryReads<ReqwestTransport, TokioRuntime>;

/// What every management command takes.
#[derive(Args, Clone, Debug)]
pub struct Common {
    /// The service: wcs, ufile or wantu.
    #[arg(long, value_parser = parse_service, value_name = "SERVICE")]
    pub service: ServiceKind,
    /// Where requests go. WCS: the management host (https://ACCOUNT.mgr0.v1.wcsapi.com). UFile:
    /// the bucket's base URL as for `yunup upload` ({bucket} in it is replaced by BUCKET)
    /// [default: https://BUCKET.cn-bj.ufileos.com]; for `bucket` commands the UCloud API
    /// [default: https://api.ucloud.cn]. Wantu: the manage host [default:
    /// https://rs.media.aliyun.com].
    #[arg(long, value_name = "URL")]
    pub endpoint: Option<String>,
    /// Print JSON: one document, or one line per item for listings.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub keys: KeyArgs,
}

fn parse_service(s: &str) -> Result<ServiceKind, String> {
    s.parse().map_err(|e: yunup::Error| e.to_string())
}

/// The service as people write it.
pub fn service_name(service: ServiceKind) -> &'static str {
    match service {
        ServiceKind::Wcs => "WCS",
        ServiceKind::Ufile => "UFile",
        ServiceKind::Wantu => "Wantu",
    }
}

/// A command the service does not have: exit 2, with what to use instead (`instead` starts with
/// "; " or is empty).
pub fn unsupported(service: ServiceKind, what: &str, instead: &str) -> Failure {
    Failure::usage(format!("{} has no {what}{instead}", service_name(service)))
}

/// Resolved keys and endpoint; builds the managers.
pub struct Ctx {
    pub service: ServiceKind,
    endpoint: Option<String>,
    credentials: Credentials,
}

impl Ctx {
    /// Checks `--endpoint` and finds the key pair.
    pub fn new(common: &Common) -> Result<Ctx, Failure> {
        let endpoint = Self::endpoint(common)?;
        Ok(Ctx { service: common.service, endpoint, credentials: credentials::resolve(&common.keys)? })
    }

    /// For requests that are not signed (job status): the keys if there are any.
    pub fn without_keys(common: &Common) -> Result<Ctx, Failure> {
        let endpoint = Self::endpoint(common)?;
        let credentials = credentials::resolve(&common.keys).unwrap_or_else(|_| Credentials::new("-", "-"));
        Ok(Ctx { service: common.service, endpoint, credentials })
    }

    fn endpoint(common: &Common) -> Result<Option<String>, Failure> {
        common.endpoint.as_deref().map(|url| crate::upload::http_url("--endpoint", url)).transpose()
    }

    fn transport() -> Result<Http, Failure> {
        let http = ReqwestTransport::new().map_err(|e| Failure::other(format!("cannot set up HTTP: {e}")))?;
        Ok(RetryReads::new(http, TokioRuntime::default()))
    }

    pub fn wcs(&self) -> Result<WcsManager<Http>, Failure> {
        let endpoint = self.endpoint.as_deref().ok_or_else(|| {
            Failure::usage(
                "--endpoint is required for WCS: the management host, e.g. https://ACCOUNT.mgr0.v1.wcsapi.com",
            )
        })?;
        Ok(WcsManager::new(Self::transport()?, self.credentials.clone(), endpoint))
    }

    /// The bucket's base URL: `--endpoint` with `{bucket}` filled in, or the cn-bj domain.
    pub fn ufile_base(&self, bucket: &str) -> String {
        match &self.endpoint {
            Some(url) => url.replace("{bucket}", bucket),
            // HTTPS: a signed request seen on the wire can be replayed until it expires.
            None => format!("https://{bucket}.cn-bj.ufileos.com"),
        }
    }

    pub fn ufile(&self, bucket: &str) -> Result<UfileManager<Http>, Failure> {
        Ok(UfileManager::new(Self::transport()?, self.credentials.clone(), self.ufile_base(bucket), bucket))
    }

    /// A manager for UCloud API calls (bucket management): `--endpoint` is the API.
    pub fn ufile_api(&self) -> Result<UfileManager<Http>, Failure> {
        let api = self.endpoint.clone().unwrap_or_else(|| ufile::DEFAULT_API_URL.to_owned());
        Ok(UfileManager::new(Self::transport()?, self.credentials.clone(), "http://unused.invalid", "-")
            .with_api_url(api))
    }

    pub fn wantu(&self, namespace: &str) -> Result<WantuManager<Http>, Failure> {
        let endpoint = self.endpoint.clone().unwrap_or_else(|| wantu::DEFAULT_ENDPOINT.to_owned());
        Ok(WantuManager::new(Self::transport()?, self.credentials.clone(), endpoint, namespace))
    }
}

/// Run `future` on a one-thread runtime.
pub fn block_on(future: impl Future<Output = Result<(), Failure>>) -> Result<(), Failure> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::other(format!("cannot start the async runtime: {e}")))?
        .block_on(future)
}

/// One line: what failed, the kind, the service's words, its status, code and request id, and what
/// to check. A mistake caught before sending is a usage error (exit 2).
pub fn failure(what: &str, err: &Error) -> Failure {
    failure_hinted(what, err, "check the bucket, the key and --endpoint")
}

/// [`failure`], with what to check when the service refused the request as invalid.
pub fn failure_hinted(what: &str, err: &Error, refused_hint: &str) -> Failure {
    let message = crate::error_text(err);
    let local = err.status().is_none();
    let hint = match err.kind() {
        ErrorKind::InvalidInput if local => "check the arguments (see --help)",
        ErrorKind::InvalidInput => refused_hint,
        ErrorKind::Auth => "check the access key, the secret key and --endpoint",
        ErrorKind::Network => "check --endpoint and the network",
        ErrorKind::Server => "check --endpoint, or try again later",
        ErrorKind::Io => "check the file and its directory",
        _ => "run the command again", // integrity, aborted
    };
    let text = format!("{what} failed ({}): {message}; {hint}", err.kind());
    if err.kind() == ErrorKind::InvalidInput && local { Failure::usage(text) } else { Failure::other(text) }
}

/// Whether the service said "no such object" (WCS 404/612, UFile 404, Wantu NoSuchFile).
pub fn is_missing(err: &Error) -> bool {
    matches!(err.code(), Some("404" | "612" | "NoSuchFile"))
}

pub fn missing(service: ServiceKind, bucket: &str, key: &str) -> Failure {
    let container = if service == ServiceKind::Wantu { "namespace" } else { "bucket" };
    Failure::other(format!("no object {key:?} in {container} {bucket:?}"))
}

/// `failure`, or `missing` when the service said there is no such object.
fn object_failure(what: &str, service: ServiceKind, bucket: &str, key: &str, err: &Error) -> Failure {
    if is_missing(err) { missing(service, bucket, key) } else { failure(what, err) }
}

/// `BUCKET/PREFIX` → `("BUCKET", "PREFIX")`.
pub fn split_location(location: &str) -> Result<(&str, &str), Failure> {
    let (bucket, prefix) = location.split_once('/').unwrap_or((location, ""));
    if bucket.is_empty() {
        return Err(Failure::usage(format!("{location:?} names no bucket: give BUCKET or BUCKET/PREFIX")));
    }
    Ok((bucket, prefix))
}

fn non_empty(what: &str, value: &str) -> Result<(), Failure> {
    if value.is_empty() { Err(Failure::usage(format!("{what} is empty"))) } else { Ok(()) }
}

// ---- entries -----------------------------------------------------------------------------------

fn secs_rfc3339(secs: Option<u64>) -> Value {
    json!(secs.map(|s| output::rfc3339(s.saturating_mul(1000))))
}

pub fn wcs_item(item: WcsItem) -> Entry {
    Entry {
        key: item.key,
        size: item.fsize,
        etag: Some(item.hash),
        mime: item.mime_type,
        modified_ms: item.put_time,
        extra: vec![("expiration_date", json!(item.expiration_date.filter(|d| !d.is_empty())))],
    }
}

fn wcs_stat(stat: ObjectStat, key: &str) -> Entry {
    Entry {
        key: if stat.key.is_empty() { key.to_owned() } else { stat.key },
        size: stat.fsize,
        etag: Some(stat.hash),
        mime: stat.mime_type,
        modified_ms: stat.put_time,
        extra: vec![
            ("expiration_date", json!(stat.expiration_date.filter(|d| !d.is_empty()))),
            ("storage_class", json!(stat.storage_class)),
            ("appendable", json!(stat.appendable)),
            ("next_append_position", json!(stat.next_append_position)),
        ],
    }
}

fn ufile_object(o: ObjectEntry) -> Entry {
    Entry {
        key: o.key,
        size: o.size,
        etag: o.etag.map(|e| e.trim_matches('"').to_owned()),
        mime: o.mime,
        modified_ms: o.last_modified.map(|s| s.saturating_mul(1000)),
        extra: vec![("storage_class", json!(o.storage_class)), ("created", secs_rfc3339(o.create_time))],
    }
}

fn ufile_head(info: ObjectInfo) -> Entry {
    Entry {
        key: info.key,
        size: Some(info.size),
        etag: Some(info.etag),
        mime: Some(info.mime),
        modified_ms: info.last_modified_secs.map(|s| s.saturating_mul(1000)),
        extra: vec![
            ("storage_class", json!(info.storage_class)),
            ("created", secs_rfc3339(info.create_time)),
            ("user_meta", json!(info.user_meta)),
        ],
    }
}

pub fn wantu_file(f: WantuFile) -> Entry {
    Entry {
        key: f.key(),
        size: f.file_size,
        etag: f.e_tag,
        mime: f.mime_type,
        modified_ms: f.file_modified,
        extra: vec![
            ("url", json!(f.url)),
            ("file_id", json!(f.file_id.filter(|i| !i.is_empty()))),
            ("is_image", json!(f.is_image)),
            ("meta", json!(f.meta)),
        ],
    }
}

/// A Wantu folder path (`/a/b`) as a listing prefix (`a/b/`).
fn folder_prefix(dir: &str) -> String {
    let dir = dir.trim_matches('/');
    if dir.is_empty() { String::new() } else { format!("{dir}/") }
}

// ---- ls --------------------------------------------------------------------------------------------

#[derive(Args)]
pub struct LsArgs {
    #[command(flatten)]
    common: Common,
    /// The bucket (Wantu: the namespace), and a key prefix (Wantu: a folder).
    #[arg(value_name = "BUCKET[/PREFIX]")]
    location: String,
    /// Stop after N entries.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    limit: Option<u64>,
    /// Entries per request, 1 to 1000 [default: 1000 (Wantu: 100), or --limit when smaller].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=1000))]
    page_size: Option<u64>,
    /// Directory mode: keys directly under PREFIX, deeper ones rolled up into DIR lines (WCS and
    /// UFile; Wantu always lists one folder: its sub-folders, then its files).
    #[arg(long, short = 'd')]
    dirs: bool,
}

pub fn ls(args: LsArgs) -> Result<(), Failure> {
    let (bucket, prefix) = split_location(&args.location)?;
    let ctx = Ctx::new(&args.common)?;
    let mut out = Out::new(args.common.json);
    block_on(async {
        let limit = args.limit;
        let page_size = |default: u64| args.page_size.unwrap_or(default).min(limit.unwrap_or(u64::MAX));
        match ctx.service {
            ServiceKind::Wcs => {
                let manager = ctx.wcs()?;
                let mut query = ListQuery::new(bucket).limit(page_size(1000) as u32);
                if !prefix.is_empty() {
                    query = query.prefix(prefix);
                }
                if args.dirs {
                    query = query.mode(ListMode::FilesFirst);
                }
                let pages = manager.list_pages(query).map(|page| match page {
                    Ok(page) => page
                        .items
                        .into_iter()
                        .map(|i| Ok(Row::Object(wcs_item(i))))
                        .chain(page.common_prefixes.into_iter().map(|p| Ok(Row::Prefix(p))))
                        .collect(),
                    Err(e) => vec![Err(e)],
                });
                print_rows(pages, &mut out, limit).await
            }
            ServiceKind::Ufile => {
                let manager = ctx.ufile(bucket)?;
                let size = page_size(1000) as usize;
                let items = manager.list_objects(prefix, if args.dirs { "/" } else { "" }, size).map(|item| {
                    item.map(|item| match item {
                        UfileItem::Object(o) => Row::Object(ufile_object(o)),
                        UfileItem::CommonPrefix(p) => Row::Prefix(p),
                    })
                });
                print_rows(items.ready_chunks(size), &mut out, limit).await
            }
            ServiceKind::Wantu => {
                let manager = ctx.wantu(bucket)?;
                let size = page_size(100);
                let folders = manager.list_folders(prefix, size).map(|f| f.map(|f| Row::Prefix(folder_prefix(&f.dir))));
                let files = manager.list_files(prefix, size).map(|f| f.map(|f| Row::Object(wantu_file(f))));
                print_rows(folders.chain(files).ready_chunks(size as usize), &mut out, limit).await
            }
        }
    })
}

/// Print rows batch by batch (a batch: what one page brought), flushing after each, until `limit`
/// rows or the first error. Human output starts with a heading, once the first page has come.
async fn print_rows(
    batches: impl Stream<Item = Vec<yunup::Result<Row>>>,
    out: &mut Out,
    limit: Option<u64>,
) -> Result<(), Failure> {
    let mut batches = pin!(batches);
    let mut left = limit.unwrap_or(u64::MAX);
    let mut heading = !out.json;
    while left > 0 {
        let Some(batch) = batches.next().await else { break };
        for row in batch {
            let row = row.map_err(|e| failure("listing", &e))?;
            if std::mem::take(&mut heading) {
                out.line(LIST_HEADING)?;
            }
            if out.json {
                out.json(&row.to_json())?;
            } else {
                out.line(&row.to_line())?;
            }
            left -= 1;
            if left == 0 {
                break;
            }
        }
        out.flush()?;
    }
    if heading {
        out.line(LIST_HEADING)?;
    }
    out.flush()
}

// ---- stat, rm ------------------------------------------------------------------------------------

#[derive(Args)]
pub struct StatArgs {
    #[command(flatten)]
    common: Common,
    /// The bucket (Wantu: the namespace).
    #[arg(value_name = "BUCKET")]
    bucket: String,
    /// The object key (Wantu: `dir/name`).
    #[arg(value_name = "KEY")]
    key: String,
}

pub fn stat(args: StatArgs) -> Result<(), Failure> {
    non_empty("KEY", &args.key)?;
    let ctx = Ctx::new(&args.common)?;
    let (bucket, key, service) = (args.bucket.as_str(), args.key.as_str(), ctx.service);
    let fail = |e: Error| object_failure("stat", service, bucket, key, &e);
    block_on(async {
        let entry = match service {
            ServiceKind::Wcs => wcs_stat(ctx.wcs()?.stat(bucket, key).await.map_err(fail)?, key),
            ServiceKind::Ufile => ufile_head(
                ctx.ufile(bucket)?.head(key).await.map_err(fail)?.ok_or_else(|| missing(service, bucket, key))?,
            ),
            ServiceKind::Wantu => wantu_file(
                ctx.wantu(bucket)?.file_info(key).await.map_err(fail)?.ok_or_else(|| missing(service, bucket, key))?,
            ),
        };
        let mut out = Out::new(args.common.json);
        out.either(&entry.to_json(), &entry.to_text())
    })
}

#[derive(Args)]
pub struct RmArgs {
    #[command(flatten)]
    common: Common,
    /// The bucket (Wantu: the namespace).
    #[arg(value_name = "BUCKET")]
    bucket: String,
    /// The object keys to delete, in order (stops at the first failure).
    #[arg(value_name = "KEY", required_unless_present = "prefix", conflicts_with = "prefix")]
    keys: Vec<String>,
    /// WCS: delete every object whose key starts with PREFIX (`in` takes `inbox` too), as a job
    /// the service runs; prints its id, or with --wait its status.
    #[arg(long, value_name = "PREFIX")]
    prefix: Option<String>,
    /// With --prefix: wait for the job to finish and print its status (as `yunup jobs wait`).
    #[arg(long)]
    wait: bool,
    #[command(flatten)]
    wait_options: WaitOptions,
}

pub fn rm(args: RmArgs) -> Result<(), Failure> {
    if let Some(prefix) = &args.prefix {
        if args.common.service != ServiceKind::Wcs {
            return Err(unsupported(args.common.service, "rm --prefix", "; deleting by key prefix is WCS's"));
        }
        non_empty("BUCKET", &args.bucket)?;
        // An empty prefix would be the whole bucket: too much to do by a slip of a variable.
        non_empty("--prefix", prefix)?;
        let task = FmgrTask::delete_prefix(&args.bucket, prefix);
        return bulk_job(&args.common, "rm --prefix", task, args.wait.then_some(args.wait_options));
    }
    if args.wait {
        return Err(Failure::usage("--wait goes with --prefix (objects named by KEY are deleted at once)"));
    }
    for key in &args.keys {
        non_empty("KEY", key)?;
    }
    let ctx = Ctx::new(&args.common)?;
    let (bucket, service) = (args.bucket.as_str(), ctx.service);
    let mut out = Out::new(args.common.json);
    block_on(async {
        enum M {
            Wcs(WcsManager<Http>),
            Ufile(UfileManager<Http>),
            Wantu(WantuManager<Http>),
        }
        let manager = match service {
            ServiceKind::Wcs => M::Wcs(ctx.wcs()?),
            ServiceKind::Ufile => M::Ufile(ctx.ufile(bucket)?),
            ServiceKind::Wantu => M::Wantu(ctx.wantu(bucket)?),
        };
        for key in &args.keys {
            let result = match &manager {
                M::Wcs(m) => m.delete(bucket, key).await,
                M::Ufile(m) => m.delete(key).await,
                M::Wantu(m) => m.delete_file(key).await,
            };
            result.map_err(|e| object_failure("delete", service, bucket, key, &e))?;
            out.either(&json!({"bucket": bucket, "key": key, "deleted": true}), &format!("deleted {bucket}/{key}\n"))?;
            out.flush()?;
        }
        Ok(())
    })
}

/// A WCS operation on many objects: one fmgr job; its id, or with `wait` its final status.
fn bulk_job(common: &Common, what: &str, task: FmgrTask, wait: Option<WaitOptions>) -> Result<(), Failure> {
    let ctx = Ctx::new(common)?;
    jobs::submit(&ctx, what, task, &JobOptions::default(), wait, common.json)
}

// ---- cp, mv --------------------------------------------------------------------------------------

#[derive(Args)]
pub struct CopyArgs {
    #[command(flatten)]
    common: Common,
    #[arg(value_name = "SRC_BUCKET")]
    src_bucket: String,
    #[arg(value_name = "SRC_KEY")]
    src_key: String,
    #[arg(value_name = "DST_BUCKET")]
    dst_bucket: String,
    #[arg(value_name = "DST_KEY")]
    dst_key: String,
}

pub fn cp(args: CopyArgs) -> Result<(), Failure> {
    match args.common.service {
        ServiceKind::Ufile => {
            return Err(unsupported(ServiceKind::Ufile, "copy", "; download and upload the object instead"));
        }
        ServiceKind::Wantu => return Err(unsupported(ServiceKind::Wantu, "copy", "; only mv (rename)")),
        ServiceKind::Wcs => {}
    }
    copy_or_move(args, false)
}

pub fn mv(args: CopyArgs) -> Result<(), Failure> {
    match args.common.service {
        ServiceKind::Ufile => return Err(unsupported(ServiceKind::Ufile, "move or rename", "")),
        ServiceKind::Wantu if args.src_bucket != args.dst_bucket => {
            return Err(Failure::usage(
                "Wantu renames within one namespace: SRC_BUCKET and DST_BUCKET must be the same",
            ));
        }
        _ => {}
    }
    copy_or_move(args, true)
}

fn copy_or_move(args: CopyArgs, moving: bool) -> Result<(), Failure> {
    non_empty("SRC_KEY", &args.src_key)?;
    non_empty("DST_KEY", &args.dst_key)?;
    let ctx = Ctx::new(&args.common)?;
    let (what, done) = if moving { ("move", "moved") } else { ("copy", "copied") };
    let (sb, sk, db, dk) = (&args.src_bucket, &args.src_key, &args.dst_bucket, &args.dst_key);
    let fail = |e: Error| object_failure(what, ctx.service, sb, sk, &e);
    block_on(async {
        match (ctx.service, moving) {
            (ServiceKind::Wcs, false) => ctx.wcs()?.copy(sb, sk, db, dk).await.map_err(fail)?,
            (ServiceKind::Wcs, true) => ctx.wcs()?.move_object(sb, sk, db, dk).await.map_err(fail)?,
            _ => {
                ctx.wantu(sb)?.rename(sk, dk).await.map_err(fail)?;
            }
        }
        let value = json!({"operation": what, "src_bucket": sb, "src_key": sk, "dst_bucket": db, "dst_key": dk});
        Out::new(args.common.json).either(&value, &format!("{done} {sb}/{sk} to {db}/{dk}\n"))
    })
}

// ---- expire --------------------------------------------------------------------------------------

#[derive(Args)]
pub struct ExpireArgs {
    #[command(flatten)]
    common: Common,
    #[arg(value_name = "BUCKET")]
    bucket: String,
    #[arg(value_name = "KEY", required_unless_present_any = ["prefix", "all"], conflicts_with_all = ["prefix", "all"])]
    key: Option<String>,
    /// Keep the object N more days; 0 deletes it soon, -1 keeps it for ever.
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = clap::value_parser!(i64).range(-1..))]
    days: i64,
    /// For an m3u8 playlist: leave its .ts segments alone (by default they expire with it).
    #[arg(long, conflicts_with_all = ["prefix", "all"])]
    playlist_only: bool,
    /// Every object under the directory DIR (`in` is `in/...`, not `inbox`), as a job the
    /// service runs; prints its id, or with --wait its status.
    #[arg(long, value_name = "DIR", conflicts_with = "all")]
    prefix: Option<String>,
    /// Every object of BUCKET, as a job the service runs (as --prefix).
    #[arg(long)]
    all: bool,
    /// With --prefix or --all: wait for the job to finish and print its status.
    #[arg(long)]
    wait: bool,
    #[command(flatten)]
    wait_options: WaitOptions,
}

pub fn expire(args: ExpireArgs) -> Result<(), Failure> {
    if args.common.service != ServiceKind::Wcs {
        return Err(unsupported(args.common.service, "expire", "; object retention (setdeadline) is WCS's"));
    }
    let Some(key) = &args.key else {
        non_empty("BUCKET", &args.bucket)?;
        if let Some(prefix) = &args.prefix {
            // An empty DIR would silently mean the whole bucket: that is what --all says.
            non_empty("--prefix (for the whole bucket, --all)", prefix)?;
        }
        let task = FmgrTask::set_deadline(&args.bucket, args.prefix.as_deref(), args.days)?;
        return bulk_job(&args.common, "expire", task, args.wait.then_some(args.wait_options));
    };
    if args.wait {
        return Err(Failure::usage("--wait goes with --prefix or --all (one object's expiry is set at once)"));
    }
    non_empty("KEY", key)?;
    let ctx = Ctx::new(&args.common)?;
    let (bucket, key, days) = (args.bucket.as_str(), key.as_str(), args.days);
    block_on(async {
        let relevance = args.playlist_only.then_some(false);
        ctx.wcs()?
            .set_deadline(bucket, key, days, relevance)
            .await
            .map_err(|e| object_failure("expire", ctx.service, bucket, key, &e))?;
        let text = match days {
            -1 => format!("{bucket}/{key} never expires\n"),
            0 => format!("{bucket}/{key} will be deleted soon\n"),
            1 => format!("{bucket}/{key} expires in 1 day\n"),
            n => format!("{bucket}/{key} expires in {n} days\n"),
        };
        Out::new(args.common.json).either(&json!({"bucket": bucket, "key": key, "days": days}), &text)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations() {
        assert_eq!(split_location("b").ok(), Some(("b", "")));
        assert_eq!(split_location("b/a/c/").ok(), Some(("b", "a/c/")));
        assert!(split_location("/x").is_err());
        assert_eq!(folder_prefix("/a/b"), "a/b/");
        assert_eq!(folder_prefix("/"), "");
    }

    #[test]
    fn failures_name_kind_status_code_and_request_id() {
        let err = Error::auth("the signature was refused").with_status(401).with_code("401").with_request_id("r1");
        let f = failure("stat", &err);
        assert_eq!(f.exit, 1);
        assert_eq!(
            f.message,
            "stat failed (auth): the signature was refused (HTTP 401, code 401, request id r1); \
             check the access key, the secret key and --endpoint"
        );
        assert_eq!(failure("ls", &Error::invalid_input("limit\n too big")).exit, 2);
        assert!(is_missing(&Error::invalid_input("x").with_code("612")));
    }
}
