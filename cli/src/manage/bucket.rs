//! `yunup bucket ls|create|rm|describe|set-private|set-public` (UFile through the UCloud API; WCS
//! lists its buckets) and `yunup folder exists|create|rm` (Wantu).

use std::pin::pin;

use clap::{Args, Subcommand};
use futures_util::StreamExt;
use serde_json::{Value, json};
use yunup::manage::ufile::{BucketInfo, BucketType};
use yunup::service::ServiceKind;

use super::output::{Out, fields, rfc3339};
use super::{Common, Ctx, block_on, failure_hinted, unsupported};
use crate::Failure;

#[derive(Subcommand)]
pub enum BucketCommand {
    /// List the account's buckets (WCS, UFile).
    Ls(BucketLsArgs),
    /// Create a bucket (UFile).
    Create(BucketCreateArgs),
    /// Delete an empty bucket (UFile).
    Rm(BucketNameArgs),
    /// Describe one bucket: type, region, domains, dates (UFile).
    Describe(BucketNameArgs),
    /// Make a bucket private: reads need a signature (UFile).
    SetPrivate(BucketNameArgs),
    /// Make a bucket public: anyone may read its objects (UFile).
    SetPublic(BucketNameArgs),
}

#[derive(Args)]
pub struct BucketLsArgs {
    #[command(flatten)]
    common: Common,
}

#[derive(Args)]
pub struct BucketNameArgs {
    #[command(flatten)]
    common: Common,
    #[arg(value_name = "NAME")]
    name: String,
}

#[derive(Args)]
pub struct BucketCreateArgs {
    #[command(flatten)]
    common: Common,
    #[arg(value_name = "NAME")]
    name: String,
    /// Create it private (reads need a signature) [default: public].
    #[arg(long)]
    private: bool,
    /// The region, e.g. cn-bj [default: the API's].
    #[arg(long, value_name = "REGION")]
    region: Option<String>,
}

/// What the service said about a bucket action, in one line.
fn failure(what: &str, err: &yunup::Error) -> Failure {
    failure_hinted(what, err, "check NAME and --endpoint (the UCloud API)")
}

const NO_BUCKETS_WANTU: &str = "; namespaces are made in the console (see `yunup folder` for folders)";

pub fn run(command: BucketCommand) -> Result<(), Failure> {
    match command {
        BucketCommand::Ls(args) => ls(args),
        BucketCommand::Create(args) => {
            ufile_only(&args.common, "bucket creation")?;
            let kind = if args.private { BucketType::Private } else { BucketType::Public };
            let region = args.region.clone().unwrap_or_default();
            change(&args.common, &args.name, move |ctx, name| async move {
                let r = ctx
                    .ufile_api()?
                    .create_bucket(&name, kind, &region)
                    .await
                    .map_err(|e| failure("bucket create", &e))?;
                Ok((
                    json!({"name": r.bucket_name, "id": r.bucket_id, "type": kind.as_str()}),
                    format!("created {} bucket {name} ({})\n", kind.as_str(), r.bucket_id),
                ))
            })
        }
        BucketCommand::Rm(args) => {
            ufile_only(&args.common, "bucket deletion")?;
            change(&args.common, &args.name, |ctx, name| async move {
                let r = ctx.ufile_api()?.delete_bucket(&name).await.map_err(|e| failure("bucket rm", &e))?;
                Ok((json!({"name": name, "id": r.bucket_id, "deleted": true}), format!("deleted bucket {name}\n")))
            })
        }
        BucketCommand::Describe(args) => {
            ufile_only(&args.common, "bucket description")?;
            change(&args.common, &args.name, |ctx, name| async move {
                let info = ctx.ufile_api()?.describe_bucket(&name).await.map_err(|e| failure("bucket describe", &e))?;
                let info = info.ok_or_else(|| Failure::other(format!("no bucket {name:?}")))?;
                Ok((bucket_json(&info), bucket_text(&info)))
            })
        }
        BucketCommand::SetPrivate(args) => set_type(args, BucketType::Private),
        BucketCommand::SetPublic(args) => set_type(args, BucketType::Public),
    }
}

fn ufile_only(common: &Common, what: &str) -> Result<(), Failure> {
    match common.service {
        ServiceKind::Ufile => Ok(()),
        ServiceKind::Wcs => Err(unsupported(ServiceKind::Wcs, what, "; only `bucket ls`")),
        ServiceKind::Wantu => Err(unsupported(ServiceKind::Wantu, what, NO_BUCKETS_WANTU)),
    }
}

fn set_type(args: BucketNameArgs, kind: BucketType) -> Result<(), Failure> {
    ufile_only(&args.common, "bucket access setting")?;
    change(&args.common, &args.name, move |ctx, name| async move {
        let r = ctx.ufile_api()?.update_bucket(&name, kind).await.map_err(|e| failure("bucket update", &e))?;
        Ok((
            json!({"name": name, "id": r.bucket_id, "type": kind.as_str()}),
            format!("bucket {name} is now {}\n", kind.as_str()),
        ))
    })
}

/// One bucket action: check NAME, resolve keys, run `action`, print its JSON or text.
fn change<F, Fut>(common: &Common, name: &str, action: F) -> Result<(), Failure>
where
    F: FnOnce(Ctx, String) -> Fut,
    Fut: std::future::Future<Output = Result<(Value, String), Failure>>,
{
    if name.is_empty() {
        return Err(Failure::usage("NAME is empty"));
    }
    let ctx = Ctx::new(common)?;
    block_on(async {
        let (value, text) = action(ctx, name.to_owned()).await?;
        Out::new(common.json).either(&value, &text)
    })
}

fn ls(args: BucketLsArgs) -> Result<(), Failure> {
    if args.common.service == ServiceKind::Wantu {
        return Err(unsupported(ServiceKind::Wantu, "bucket listing", NO_BUCKETS_WANTU));
    }
    let ctx = Ctx::new(&args.common)?;
    let mut out = Out::new(args.common.json);
    block_on(async {
        match ctx.service {
            ServiceKind::Wcs => {
                let buckets = ctx.wcs()?.buckets().await.map_err(|e| failure("bucket ls", &e))?;
                if !out.json {
                    out.line("NAME")?;
                }
                for bucket in buckets {
                    if out.json { out.json(&json!({"name": bucket.name}))? } else { out.line(&bucket.name)? }
                }
            }
            _ => {
                let manager = ctx.ufile_api()?;
                let mut buckets = pin!(manager.buckets(100).ready_chunks(100));
                let mut heading = !out.json;
                while let Some(batch) = buckets.next().await {
                    for bucket in batch {
                        let b = bucket.map_err(|e| failure("bucket ls", &e))?;
                        if std::mem::take(&mut heading) {
                            out.line(&format!(
                                "{:<32}  {:<7}  {:<10}  {:<20}  ID",
                                "NAME", "TYPE", "REGION", "CREATED (UTC)"
                            ))?;
                        }
                        if out.json {
                            out.json(&bucket_json(&b))?;
                        } else {
                            let created = b
                                .create_time
                                .map(|s| super::output::human_time(s.saturating_mul(1000)))
                                .unwrap_or_default();
                            out.line(&format!(
                                "{:<32}  {:<7}  {:<10}  {:<20}  {}",
                                b.bucket_name, b.bucket_type, b.region, created, b.bucket_id
                            ))?;
                        }
                    }
                    out.flush()?;
                }
            }
        }
        out.flush()
    })
}

fn bucket_json(b: &BucketInfo) -> Value {
    let secs = |s: Option<u64>| json!(s.map(|s| rfc3339(s.saturating_mul(1000))));
    json!({
        "name": b.bucket_name,
        "id": b.bucket_id,
        "type": b.bucket_type,
        "region": b.region,
        "storage_class": b.storage_class,
        "biz": b.biz,
        "tag": b.tag,
        "domains": b.domain.as_ref().map(|d| json!({"src": d.src, "cdn": d.cdn, "custom_src": d.custom_src, "custom_cdn": d.custom_cdn})),
        "created": secs(b.create_time),
        "modified": secs(b.modify_time),
    })
}

fn bucket_text(b: &BucketInfo) -> String {
    let mut rows = vec![
        ("name".to_owned(), b.bucket_name.clone()),
        ("id".to_owned(), b.bucket_id.clone()),
        ("type".to_owned(), b.bucket_type.clone()),
        ("region".to_owned(), b.region.clone()),
    ];
    for (name, value) in [("storage class", &b.storage_class), ("biz", &b.biz), ("tag", &b.tag)] {
        if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
            rows.push((name.to_owned(), v.to_owned()));
        }
    }
    if let Some(d) = &b.domain {
        for (name, list) in [("domains", &d.src), ("cdn domains", &d.cdn), ("custom domains", &d.custom_src)] {
            if !list.is_empty() {
                rows.push((name.to_owned(), list.join(", ")));
            }
        }
    }
    for (name, secs) in [("created", b.create_time), ("modified", b.modify_time)] {
        if let Some(s) = secs {
            rows.push((name.to_owned(), format!("{} UTC", super::output::human_time(s.saturating_mul(1000)))));
        }
    }
    fields(&rows)
}

// ---- folders (Wantu) ---------------------------------------------------------------------------

#[derive(Subcommand)]
pub enum FolderCommand {
    /// Print whether a folder exists (true or false; exit 0 either way).
    Exists(FolderArgs),
    /// Create a folder and its parents (done if it exists).
    Create(FolderArgs),
    /// Delete an empty folder.
    Rm(FolderArgs),
}

#[derive(Args)]
pub struct FolderArgs {
    #[command(flatten)]
    common: Common,
    /// The namespace.
    #[arg(value_name = "NAMESPACE")]
    namespace: String,
    /// The folder: a/b or /a/b.
    #[arg(value_name = "DIR")]
    dir: String,
}

pub fn folder(command: FolderCommand) -> Result<(), Failure> {
    let (args, op) = match command {
        FolderCommand::Exists(a) => (a, "exists"),
        FolderCommand::Create(a) => (a, "create"),
        FolderCommand::Rm(a) => (a, "rm"),
    };
    if args.common.service != ServiceKind::Wantu {
        return Err(unsupported(
            args.common.service,
            "folders",
            "; keys are flat (`yunup ls --dirs` rolls them up by '/')",
        ));
    }
    if args.namespace.is_empty() {
        return Err(Failure::usage("NAMESPACE is empty"));
    }
    let ctx = Ctx::new(&args.common)?;
    let (ns, dir) = (args.namespace.as_str(), args.dir.as_str());
    let shown = format!("{ns}:/{}", dir.trim_matches('/'));
    block_on(async {
        let manager = ctx.wantu(ns)?;
        let what = format!("folder {op}");
        let failure = |what: &str, e: &yunup::Error| failure_hinted(what, e, "check NAMESPACE, DIR and --endpoint");
        let (value, text) = match op {
            "exists" => {
                let exists = manager.folder_exists(dir).await.map_err(|e| failure(&what, &e))?;
                (json!({"namespace": ns, "dir": dir, "exists": exists}), format!("{exists}\n"))
            }
            "create" => {
                manager.create_folder(dir).await.map_err(|e| failure(&what, &e))?;
                (json!({"namespace": ns, "dir": dir, "created": true}), format!("created folder {shown}\n"))
            }
            _ => {
                manager.delete_folder(dir).await.map_err(|e| failure(&what, &e))?;
                (json!({"namespace": ns, "dir": dir, "deleted": true}), format!("deleted folder {shown}\n"))
            }
        };
        Out::new(args.common.json).either(&value, &text)
    })
}
