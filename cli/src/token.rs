//! `yunup token`, `yunup sign`, `yunup presign`: thin front ends over `yunup::sign`.

use std::time::{SystemTime, UNIX_EPOCH};

use clap::{Args, Subcommand};
use serde_json::{Map, Value};
use yunup::sign::{ufile, wantu, wcs};

use crate::manage::output::Out;
use crate::{Failure, KeyArgs, credentials};

#[derive(Subcommand)]
pub enum TokenCommand {
    /// A WCS upload token.
    ///
    /// With --policy alone, that JSON is validated and signed byte for byte (it must hold scope
    /// and deadline). With --scope or --expires-in too, the fields are merged into a new policy.
    Wcs(WcsTokenArgs),
    /// A Wantu `UPLOAD_AK_TOP` upload token (same --policy rules, with namespace/expiration).
    Wantu(WantuTokenArgs),
}

#[derive(Args)]
pub struct WcsTokenArgs {
    /// `BUCKET` (any key) or `BUCKET:KEY` (exactly that key).
    #[arg(long)]
    scope: Option<String>,
    /// Lifetime in seconds from now [default: 3600].
    #[arg(long, value_name = "SECS")]
    expires_in: Option<u64>,
    /// Policy JSON (protocols/wcs.md §1.2 fields, camelCase).
    #[arg(long, value_name = "JSON")]
    policy: Option<String>,
    #[command(flatten)]
    keys: KeyArgs,
}

#[derive(Args)]
pub struct WantuTokenArgs {
    /// The Wantu namespace (space).
    #[arg(long)]
    namespace: Option<String>,
    /// Lifetime in seconds from now [default: 3600].
    #[arg(long, value_name = "SECS")]
    expires_in: Option<u64>,
    /// Policy JSON (protocols/wantu.md §2 fields).
    #[arg(long, value_name = "JSON")]
    policy: Option<String>,
    #[command(flatten)]
    keys: KeyArgs,
}

#[derive(Subcommand)]
pub enum SignCommand {
    /// The UFile `Authorization` value (`UCloud <public key>:<signature>`).
    Ufile(UfileSignArgs),
    /// The WCS management token (`Authorization` value) for one management API request.
    Wcs(WcsSignArgs),
}

#[derive(Args)]
pub struct WcsSignArgs {
    /// The request URL, or just its path and query (`/stat/<entry>`), exactly as it will be sent.
    #[arg(long)]
    url: String,
    /// The exact request body, if any.
    #[arg(long, default_value = "")]
    body: String,
    #[command(flatten)]
    keys: KeyArgs,
}

#[derive(Args)]
pub struct UfileSignArgs {
    #[arg(long)]
    method: String,
    #[arg(long)]
    bucket: String,
    #[arg(long)]
    key: String,
    /// Lower-case hex MD5 of the body, when the request sends `Content-MD5`.
    #[arg(long, default_value = "")]
    content_md5: String,
    /// The `Content-Type` the request sends.
    #[arg(long, default_value = "")]
    content_type: String,
    /// The `Date` header the request sends (any format; usually empty).
    #[arg(long, default_value = "")]
    date: String,
    /// An encoded put policy (callback) to append.
    #[arg(long, value_name = "BASE64")]
    put_policy: Option<String>,
    #[command(flatten)]
    keys: KeyArgs,
}

#[derive(Subcommand)]
pub enum PresignCommand {
    /// A presigned UFile URL for a private bucket.
    Ufile(UfilePresignArgs),
}

#[derive(Args)]
pub struct UfilePresignArgs {
    #[arg(long, default_value = "GET")]
    method: String,
    #[arg(long)]
    bucket: String,
    #[arg(long)]
    key: String,
    /// Lifetime in seconds from now.
    #[arg(long, value_name = "SECS")]
    expires_in: u64,
    #[arg(long, default_value = "")]
    content_type: String,
    #[arg(long, default_value = "")]
    content_md5: String,
    /// Scheme and host to put in front [default: https://BUCKET.cn-bj.ufileos.com].
    #[arg(long, value_name = "URL")]
    base_url: Option<String>,
    #[command(flatten)]
    keys: KeyArgs,
}

const DEFAULT_LIFETIME_SECS: u64 = 3600;

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

fn deadline_ms(expires_in: Option<u64>) -> Result<u64, Failure> {
    let secs = expires_in.unwrap_or(DEFAULT_LIFETIME_SECS);
    if secs == 0 {
        return Err(Failure::usage("--expires-in must be at least 1 second"));
    }
    now_secs()
        .checked_add(secs)
        .and_then(|s| s.checked_mul(1000))
        .ok_or_else(|| Failure::usage("--expires-in is too large"))
}

/// [`deadline_ms`] as a Wantu `expiration`, which is signed.
fn expiration_ms(expires_in: Option<u64>) -> Result<i64, Failure> {
    i64::try_from(deadline_ms(expires_in)?).map_err(|_| Failure::usage("--expires-in is too large"))
}

/// Parse `--policy` as a JSON object, with a message that names the flag.
fn policy_object(text: &str) -> Result<Map<String, Value>, Failure> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(Failure::usage("--policy must be a JSON object")),
        Err(e) => Err(Failure::usage(format!("--policy is not valid JSON: {e}"))),
    }
}

/// Fields of `given` that the typed policy dropped: typos such as `"scop"`, which would otherwise
/// vanish silently from the token.
fn reject_unknown_fields(given: &Map<String, Value>, typed: &Value) -> Result<(), Failure> {
    let kept = typed.as_object();
    let unknown: Vec<&str> = given
        .iter()
        .filter(|(k, v)| !v.is_null() && !kept.is_some_and(|m| m.contains_key(*k)))
        .map(|(k, _)| k.as_str())
        .collect();
    if unknown.is_empty() {
        Ok(())
    } else {
        Err(Failure::usage(format!("--policy has unknown fields: {}", unknown.join(", "))))
    }
}

pub fn run_token(cmd: TokenCommand) -> Result<(), Failure> {
    let token = match cmd {
        TokenCommand::Wcs(args) => wcs_token(args)?,
        TokenCommand::Wantu(args) => wantu_token(args)?,
    };
    Out::new(false).line(&token)
}

fn wcs_token(args: WcsTokenArgs) -> Result<String, Failure> {
    let credentials = credentials::resolve(&args.keys)?;
    let merge = args.scope.is_some() || args.expires_in.is_some();
    let Some(text) = args.policy.as_deref() else {
        let scope = args.scope.ok_or_else(|| Failure::usage("--scope is required (BUCKET or BUCKET:KEY)"))?;
        let policy = wcs::PutPolicy::new(scope, deadline_ms(args.expires_in)?);
        return Ok(wcs::upload_token(&credentials, &policy)?);
    };
    let given = policy_object(text)?;
    let mut policy = wcs::PutPolicy::from_json(text)?;
    reject_unknown_fields(&given, &serde_json::to_value(&policy).unwrap_or_default())?;
    if !merge {
        policy.validate()?;
        return Ok(wcs::upload_token_for_json(&credentials, text));
    }
    if let Some(scope) = args.scope {
        policy.scope = scope;
    }
    if args.expires_in.is_some() || policy.deadline.is_none() {
        policy.deadline = Some(deadline_ms(args.expires_in)?);
    }
    Ok(wcs::upload_token(&credentials, &policy)?)
}

fn wantu_token(args: WantuTokenArgs) -> Result<String, Failure> {
    let credentials = credentials::resolve(&args.keys)?;
    let merge = args.namespace.is_some() || args.expires_in.is_some();
    let Some(text) = args.policy.as_deref() else {
        let namespace = args.namespace.ok_or_else(|| Failure::usage("--namespace is required"))?;
        let policy = wantu::UploadPolicy {
            namespace: Some(namespace),
            expiration: Some(expiration_ms(args.expires_in)?),
            ..Default::default()
        };
        return Ok(wantu::upload_token(&credentials, &policy)?);
    };
    let given = policy_object(text)?;
    let mut policy = wantu::UploadPolicy::from_json(text)?;
    reject_unknown_fields(&given, &serde_json::to_value(&policy).unwrap_or_default())?;
    if !merge {
        policy.validate()?;
        return Ok(wantu::upload_token_for_json(&credentials, text));
    }
    if let Some(namespace) = args.namespace {
        policy.namespace = Some(namespace);
    }
    if args.expires_in.is_some() || policy.expiration.is_none() {
        policy.expiration = Some(expiration_ms(args.expires_in)?);
    }
    Ok(wantu::upload_token(&credentials, &policy)?)
}

pub fn run_sign(cmd: SignCommand) -> Result<(), Failure> {
    let args = match cmd {
        SignCommand::Ufile(args) => args,
        SignCommand::Wcs(args) => {
            let credentials = credentials::resolve(&args.keys)?;
            let target = path_and_query(&args.url)?;
            return Out::new(false).line(&wcs::management_token(&credentials, target, args.body.as_bytes()));
        }
    };
    let credentials = credentials::resolve(&args.keys)?;
    let request = ufile::SignRequest {
        method: args.method,
        bucket: args.bucket,
        key: args.key,
        content_md5: args.content_md5,
        content_type: args.content_type,
        date: args.date,
        put_policy: args.put_policy,
        ..Default::default()
    };
    Out::new(false).line(&ufile::authorization(&credentials, &request)?)
}

pub fn run_presign(cmd: PresignCommand) -> Result<(), Failure> {
    let PresignCommand::Ufile(args) = cmd;
    let credentials = credentials::resolve(&args.keys)?;
    if args.expires_in == 0 {
        return Err(Failure::usage("--expires-in must be at least 1 second"));
    }
    let base_url = args.base_url.unwrap_or_else(|| format!("https://{}.cn-bj.ufileos.com", args.bucket));
    let request = ufile::PresignRequest {
        method: args.method,
        bucket: args.bucket,
        key: args.key,
        expires: now_secs().saturating_add(args.expires_in),
        content_type: args.content_type,
        content_md5: args.content_md5,
    };
    Out::new(false).line(&ufile::presigned_url(&credentials, &base_url, &request)?)
}

/// The request target of `url`: what WCS signs. A bare `/path?query` is taken as is.
fn path_and_query(url: &str) -> Result<&str, Failure> {
    let rest = match url.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("/", |i| &rest[i..]),
        None => url,
    };
    let rest = rest.split('#').next().unwrap_or(rest);
    if rest.starts_with('/') {
        Ok(rest)
    } else {
        Err(Failure::usage(format!("--url {url:?} is neither a URL nor a path starting with '/'")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_targets() {
        assert_eq!(path_and_query("http://h.example/stat/abc?x=1").ok(), Some("/stat/abc?x=1"));
        assert_eq!(path_and_query("https://h.example").ok(), Some("/"));
        assert_eq!(path_and_query("/fops").ok(), Some("/fops"));
        assert!(path_and_query("stat").is_err());
    }
}
