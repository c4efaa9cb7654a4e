//! `yunup fetch` (WCS `fmgr/fetch`: the service downloads a URL into a bucket), `yunup zip` (WCS
//! `fmgr/compress`: the service zips objects into one) and `yunup jobs status|wait` (WCS `fmgr`
//! and `fops` job status, which needs no keys).

use clap::{Args, Subcommand, ValueEnum};
use serde_json::{Value, json};
use yunup::ErrorKind;
use yunup::manage::wcs::{FmgrTask, JobItem, JobKind, JobOptions, JobState, JobStatus, WcsManager};
use yunup::runtime::native::TokioRuntime;
use yunup::service::ServiceKind;

use super::output::{Out, fields, human_size};
use super::{Common, Ctx, block_on, failure, failure_hinted, unsupported};
use crate::Failure;

#[derive(Args)]
pub struct FetchArgs {
    #[command(flatten)]
    common: Common,
    /// The http(s) URL the service downloads.
    #[arg(value_name = "URL")]
    url: String,
    #[arg(value_name = "BUCKET")]
    bucket: String,
    /// The key to store it as [default: the URL's path].
    #[arg(value_name = "KEY")]
    key: Option<String>,
    /// The expected MD5 of the download (hex).
    #[arg(long, value_name = "HEX")]
    md5: Option<String>,
    /// The service POSTs the job's result to this URL.
    #[arg(long, value_name = "URL")]
    notify_url: Option<String>,
    /// Fetch even when the key exists.
    #[arg(long)]
    force: bool,
    /// Wait for the job to finish and print its status (as `yunup jobs wait`).
    #[arg(long)]
    wait: bool,
    #[command(flatten)]
    wait_options: WaitOptions,
}

#[derive(Args)]
pub struct ZipArgs {
    #[command(flatten)]
    common: Common,
    /// The bucket of the objects to zip.
    #[arg(value_name = "BUCKET")]
    bucket: String,
    /// The keys to zip; one ending in `/` zips every object under it.
    #[arg(value_name = "KEY", required_unless_present = "key_list", conflicts_with = "key_list")]
    keys: Vec<String>,
    /// Zip the keys listed one per line in this object of BUCKET instead (for many keys).
    #[arg(long, value_name = "KEY")]
    key_list: Option<String>,
    /// Where the archive goes: BUCKET/KEY.
    #[arg(long, value_name = "BUCKET/KEY")]
    to: String,
    /// The service POSTs the job's result to this URL.
    #[arg(long, value_name = "URL")]
    notify_url: Option<String>,
    /// Wait for the job to finish and print its status (as `yunup jobs wait`).
    #[arg(long)]
    wait: bool,
    #[command(flatten)]
    wait_options: WaitOptions,
}

#[derive(Args, Clone, Copy)]
pub struct WaitOptions {
    /// How long to wait before giving up, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 600)]
    timeout: u64,
    /// Milliseconds between status polls.
    #[arg(long, value_name = "MS", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(10..))]
    interval: u64,
}

#[derive(Subcommand)]
pub enum JobsCommand {
    /// Print a job's status now.
    Status(JobArgs),
    /// Poll until the job finishes; print its status. Exit 1 when the job (or a task of it) failed.
    Wait(JobWaitArgs),
}

#[derive(Args)]
pub struct JobArgs {
    #[command(flatten)]
    common: Common,
    /// The job's persistentId, as `yunup fetch` printed it.
    #[arg(value_name = "ID")]
    id: String,
    /// Which kind of job: fmgr (fetch, copy, move, delete...) or fops (persistent processing).
    #[arg(long, value_enum, default_value_t = Kind::Fmgr)]
    kind: Kind,
}

#[derive(Args)]
pub struct JobWaitArgs {
    #[command(flatten)]
    job: JobArgs,
    #[command(flatten)]
    wait: WaitOptions,
}

#[derive(Clone, Copy, ValueEnum)]
enum Kind {
    Fmgr,
    Fops,
}

impl From<Kind> for JobKind {
    fn from(kind: Kind) -> Self {
        match kind {
            Kind::Fmgr => JobKind::Fmgr,
            Kind::Fops => JobKind::Fops,
        }
    }
}

fn only_wcs(common: &Common, what: &str) -> Result<(), Failure> {
    match common.service {
        ServiceKind::Wcs => Ok(()),
        other => Err(unsupported(other, what, "; jobs are WCS's fmgr and fops")),
    }
}

pub fn fetch(args: FetchArgs) -> Result<(), Failure> {
    only_wcs(&args.common, "fetch")?;
    crate::upload::http_url("URL", &args.url)?;
    if args.bucket.is_empty() {
        return Err(Failure::usage("BUCKET is empty"));
    }
    let ctx = Ctx::new(&args.common)?;
    let mut task = FmgrTask::fetch(&args.url, &args.bucket);
    if let Some(key) = args.key.as_deref().filter(|k| !k.is_empty()) {
        task = task.key(key);
    }
    if let Some(md5) = &args.md5 {
        if md5.len() != 32 || !md5.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Failure::usage(format!("--md5 {md5:?} is not 32 hex digits")));
        }
        task = task.md5(md5);
    }
    let options = JobOptions { notify_url: args.notify_url.clone(), force: args.force, separate: false };
    submit(&ctx, "fetch", task, &options, args.wait.then_some(args.wait_options), args.common.json)
}

pub fn zip(args: ZipArgs) -> Result<(), Failure> {
    only_wcs(&args.common, "zip")?;
    if args.bucket.is_empty() {
        return Err(Failure::usage("BUCKET is empty"));
    }
    let (to_bucket, to_key) = args
        .to
        .split_once('/')
        .filter(|(b, k)| !b.is_empty() && !k.is_empty())
        .ok_or_else(|| Failure::usage(format!("--to {:?} is not BUCKET/KEY", args.to)))?;
    let task = match &args.key_list {
        Some(list) => FmgrTask::compress_listed(&args.bucket, list, to_bucket, to_key),
        None => FmgrTask::compress(
            &args.bucket,
            &args.keys.iter().map(String::as_str).collect::<Vec<_>>(),
            to_bucket,
            to_key,
        ),
    }?;
    let ctx = Ctx::new(&args.common)?;
    let options = JobOptions { notify_url: args.notify_url.clone(), force: false, separate: false };
    submit(&ctx, "zip", task, &options, args.wait.then_some(args.wait_options), args.common.json)
}

/// Submit one fmgr task; print its job id, or with `wait` its final status.
pub(super) fn submit(
    ctx: &Ctx,
    what: &str,
    task: FmgrTask,
    options: &JobOptions,
    wait: Option<WaitOptions>,
    json: bool,
) -> Result<(), Failure> {
    block_on(async {
        let manager = ctx.wcs()?;
        let id = manager.fmgr(&[task], options).await.map_err(|e| failure(what, &e))?;
        if let Some(wait) = wait {
            return wait_and_print(&manager, JobKind::Fmgr, &id, wait, json).await;
        }
        let text = format!("job {id} submitted; see `yunup jobs wait --service wcs --endpoint URL {id}`\n");
        Out::new(json).either(&json!({ "id": id }), &text)
    })
}

pub fn jobs(command: JobsCommand) -> Result<(), Failure> {
    let (job, wait) = match command {
        JobsCommand::Status(job) => (job, None),
        JobsCommand::Wait(args) => (args.job, Some(args.wait)),
    };
    only_wcs(&job.common, "jobs")?;
    if job.id.is_empty() {
        return Err(Failure::usage("ID is empty"));
    }
    // Status requests are not signed: keys are optional.
    let ctx = Ctx::without_keys(&job.common)?;
    block_on(async {
        let manager = ctx.wcs()?;
        let kind = JobKind::from(job.kind);
        match wait {
            Some(wait) => wait_and_print(&manager, kind, &job.id, wait, job.common.json).await,
            None => {
                let status = match kind {
                    JobKind::Fmgr => manager.fmgr_status(&job.id).await,
                    JobKind::Fops => manager.fops_status(&job.id).await,
                };
                let status = status.map_err(|e| status_failure(&e))?;
                Out::new(job.common.json).either(&status_json(&status), &status_text(&status))
            }
        }
    })
}

async fn wait_and_print(
    manager: &WcsManager<super::Http>,
    kind: JobKind,
    id: &str,
    wait: WaitOptions,
    json: bool,
) -> Result<(), Failure> {
    let runtime = TokioRuntime::default();
    let status =
        manager.wait(kind, id, &runtime, wait.interval, wait.timeout.saturating_mul(1000)).await.map_err(|e| {
            if e.code() == Some("job-timeout") && e.kind() == ErrorKind::Server {
                Failure::other(format!(
                    "job {id} did not finish within {} s; wait again, or raise --timeout",
                    wait.timeout
                ))
            } else {
                status_failure(&e)
            }
        })?;
    let mut out = Out::new(json);
    out.either(&status_json(&status), &status_text(&status))?;
    out.flush()?;
    if let JobState::Other(code) = status.state() {
        // Not a success we can vouch for: a script must not carry on as if it were one.
        return Err(Failure::other(format!(
            "job {id} stopped in a state yunup does not know (code {code}); look at its status above"
        )));
    }
    let failed: Vec<&JobItem> = status.items.iter().filter(|i| i.failed()).collect();
    if status.state() == JobState::Failed || !failed.is_empty() {
        let why = failed
            .iter()
            .find_map(|i| i.error.as_deref().or(i.desc.as_deref()).filter(|e| !e.is_empty()))
            .or(status.desc.as_deref())
            .unwrap_or("no reason given");
        return Err(Failure::other(format!(
            "job {id} failed ({} of {} tasks): {why}",
            failed.len(),
            status.items.len()
        )));
    }
    Ok(())
}

fn status_failure(err: &yunup::Error) -> Failure {
    failure_hinted("job status", err, "check ID, --kind and --endpoint")
}

/// `state (desc)`, without a desc that only repeats the state.
fn state_text(code: Option<i64>, desc: Option<&str>) -> String {
    let state = code.map(|c| JobState::from_code(c).to_string()).unwrap_or_else(|| "-".into());
    match desc.filter(|d| !d.is_empty() && !d.eq_ignore_ascii_case(&state)) {
        Some(desc) => format!("{state} ({desc})"),
        None => state,
    }
}

/// The library's status with a `state` name added.
fn status_json(status: &JobStatus) -> Value {
    let mut value = serde_json::to_value(status).unwrap_or_else(|_| json!({}));
    if let Value::Object(map) = &mut value {
        map.insert("state".into(), json!(status.state().to_string()));
        map.insert("finished".into(), json!(status.state().is_finished()));
    }
    value
}

fn status_text(status: &JobStatus) -> String {
    let mut rows = vec![
        ("id".to_owned(), status.id.clone()),
        ("state".to_owned(), state_text(status.code, status.desc.as_deref())),
    ];
    if let Some(key) = &status.input_key {
        rows.push(("input".into(), format!("{}/{key}", status.input_bucket.as_deref().unwrap_or(""))));
    }
    let mut text = fields(&rows);
    for (n, item) in status.items.iter().enumerate() {
        let mut line = format!("task {}: {}", n + 1, state_text(item.code, None));
        if let Some(key) = item.key.as_deref().filter(|k| !k.is_empty()) {
            line.push_str(&format!("  {key}"));
        }
        if let Some(size) = item.fsize {
            line.push_str(&format!("  {}", human_size(size)));
        }
        if let Some(error) = item.error.as_deref().filter(|e| !e.is_empty()) {
            line.push_str(&format!("  error: {error}"));
        } else if let Some(desc) = item.desc.as_deref().filter(|d| !d.is_empty()) {
            line.push_str(&format!("  {desc}"));
        }
        text.push_str(&line);
        text.push('\n');
    }
    text
}
