//! WCS management (protocols/wcs.md §7–§10): buckets, listings, stat, delete, copy, move,
//! retention, the async `fmgr` jobs, persistent processing (`fops`) and live-recording lists.
//!
//! Two layers, as for uploads:
//!
//! * [`WcsRequests`] builds each request, signed with a management token over
//!   `path[?query]\n[body]` (§2), and the `parse_*` functions read the replies. No I/O.
//! * [`WcsManager`] sends them through any [`Transport`] and returns typed results.
//!
//! Errors are the crate's one [`Error`]: the service's `code` and `message`, the HTTP status and
//! the `X-Reqid`, read the same way as upload errors. A missing object is code `404` (or `612`
//! from services that speak Qiniu's dialect): see [`is_not_found`].
//!
//! ```no_run
//! # async fn demo(transport: impl yunup::engine::Transport) -> yunup::Result<()> {
//! use futures_util::StreamExt;
//! use yunup::manage::wcs::{Fop, JobOptions, ListQuery, WcsManager};
//! use yunup::sign::Credentials;
//!
//! // `transport`: `runtime::native::ReqwestTransport::new()?` natively, `runtime::web::FetchTransport` in wasm.
//! let wcs = WcsManager::new(transport, Credentials::new("AK", "SK"), "https://acct.mgr0.v1.wcsapi.com");
//! let mut items = std::pin::pin!(wcs.list(ListQuery::new("photos").prefix("2024/")));
//! while let Some(item) = items.next().await {
//!     println!("{}", item?.key);
//! }
//! let fop = Fop::vframe("jpg").param("offset", 10).saveas("photos", "cover.jpg");
//! let id = wcs.fops("photos", "movie.mp4", &fop, &JobOptions::default()).await?;
//! # Ok(()) }
//! ```

use std::fmt;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use serde::{Deserialize, Deserializer, Serialize};

use crate::encoding::{percent_encode, urlsafe_b64};
use crate::engine::{Runtime, Transport};
use crate::lenient;
use crate::manage::paging::Cursors;
use crate::service::wcs::reply_error;
use crate::service::{HttpRequest, HttpResponse, Method, ServiceKind, json_reply, unexpected_reply};
use crate::sign::Credentials;
use crate::sign::wcs::{encoded_entry, management_token};
use crate::{Error, ErrorKind, Result};

const AUTH_HINT: &str =
    " (the management token was refused: check the AccessKey/SecretKey pair and the management host)";

/// Most entries a listing page may hold (§7).
pub const MAX_LIST_LIMIT: u32 = 1000;

/// Whether `err` says the object (or bucket) does not exist: code `404`, `612` or `631`.
pub fn is_not_found(err: &Error) -> bool {
    matches!(err.code(), Some("404" | "612" | "631"))
}

// ---- queries and options ------------------------------------------------------------------------

/// How a listing treats `/` (§7). Without a mode the listing is flat: every key that starts
/// with the prefix, in key order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ListMode {
    /// `mode=0`: the prefix is a directory; its files first, then its sub-directories
    /// (in [`ListPage::common_prefixes`]).
    FilesFirst,
    /// `mode=1`: the same, sub-directories first.
    DirsFirst,
}

impl ListMode {
    pub fn as_str(self) -> &'static str {
        match self {
            ListMode::FilesFirst => "0",
            ListMode::DirsFirst => "1",
        }
    }
}

/// What to list: `GET /list?bucket=...`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListQuery {
    pub bucket: String,
    /// Keys starting with this (sent URL-safe base64 encoded).
    pub prefix: Option<String>,
    /// Where to continue: the marker of the previous page.
    pub marker: Option<String>,
    /// Entries per page, 1 to 1000 (the service's default is 1000).
    pub limit: Option<u32>,
    pub mode: Option<ListMode>,
    /// Upload-time window, Unix milliseconds (the Go SDK calls it deprecated).
    pub start_time: Option<u64>,
    pub end_time: Option<u64>,
}

impl ListQuery {
    pub fn new(bucket: impl Into<String>) -> Self {
        ListQuery { bucket: bucket.into(), ..Default::default() }
    }
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = Some(prefix.into());
        self
    }
    pub fn marker(mut self, marker: impl Into<String>) -> Self {
        self.marker = Some(marker.into());
        self
    }
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = Some(limit);
        self
    }
    pub fn mode(mut self, mode: ListMode) -> Self {
        self.mode = Some(mode);
        self
    }
    pub fn time_window(mut self, start_ms: Option<u64>, end_ms: Option<u64>) -> Self {
        self.start_time = start_ms;
        self.end_time = end_ms;
        self
    }
}

/// Options of an async job (`fmgr`, `fops`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JobOptions {
    /// The service POSTs the job's result here (§8.3); sent URL-safe base64 encoded.
    pub notify_url: Option<String>,
    /// `force=1`: redo even when the output exists.
    pub force: bool,
    /// `separate=1`: notify once per task instead of once per job.
    pub separate: bool,
}

impl JobOptions {
    pub fn notify(url: impl Into<String>) -> Self {
        JobOptions { notify_url: Some(url.into()), ..Default::default() }
    }
}

/// Live-recording files of one stream: `GET /wslive/list` (§10).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WsliveQuery {
    pub channel: String,
    /// `YYYYMMDDhhmmss`.
    pub start_time: String,
    /// `YYYYMMDDhhmmss`.
    pub end_time: String,
    pub bucket: String,
    /// 1-based index of the first file (service default 1).
    pub start: Option<u32>,
    /// How many files (service default: all).
    pub limit: Option<u32>,
}

// ---- fops strings ---------------------------------------------------------------------------------

/// One processing command for `/fops` (and `persistentOps`), built the way the SDKs build them
/// (§9.2): `cmd[/arg]/name/value...`, optionally piped (`|`) into further commands and ending in
/// `|saveas/<EncodedEntryURI>`.
///
/// Values go in as given, so they must not contain `/`, `|` or `;`; use
/// [`Fop::param_b64`] for values the service expects base64 encoded.
///
/// ```
/// use yunup::manage::wcs::Fop;
/// let fop = Fop::vframe("jpg").param("offset", 10).saveas("mybucket", "a.jpg");
/// assert_eq!(fop.to_string(), "vframe/jpg/offset/10|saveas/bXlidWNrZXQ6YS5qcGc=");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Fop(String);

impl Fop {
    /// A command by name, e.g. `Fop::new("avthumb").arg("mp4")`.
    pub fn new(command: impl Into<String>) -> Self {
        Fop(command.into())
    }

    /// A command string written elsewhere, taken as is.
    pub fn raw(text: impl Into<String>) -> Self {
        Fop(text.into())
    }

    /// `vframe/<format>`: a frame of a video as an image.
    pub fn vframe(format: &str) -> Self {
        Fop::new("vframe").arg(format)
    }

    /// `avthumb/<format>`: transcode audio or video.
    pub fn avthumb(format: &str) -> Self {
        Fop::new("avthumb").arg(format)
    }

    /// `imageMogr2/<format>`: image processing.
    pub fn image_mogr2(format: &str) -> Self {
        Fop::new("imageMogr2").arg(format)
    }

    /// `decompression/<format>`: unpack an archive (`zip`, `tar`, ...).
    pub fn decompression(format: &str) -> Self {
        Fop::new("decompression").arg(format)
    }

    /// Append `/<value>`.
    pub fn arg(mut self, value: impl fmt::Display) -> Self {
        self.0.push('/');
        self.0.push_str(&value.to_string());
        self
    }

    /// Append `/<name>/<value>`.
    pub fn param(self, name: &str, value: impl fmt::Display) -> Self {
        self.arg(name).arg(value)
    }

    /// Append `/<name>/<urlsafe_b64(value)>`.
    pub fn param_b64(self, name: &str, value: &str) -> Self {
        self.arg(name).arg(urlsafe_b64(value))
    }

    /// Pipe into a further command: `self|next`.
    pub fn pipe(mut self, next: Fop) -> Self {
        self.0.push('|');
        self.0.push_str(&next.0);
        self
    }

    /// Save the output as `bucket:key`: `|saveas/<EncodedEntryURI>`.
    pub fn saveas(self, bucket: &str, key: &str) -> Self {
        self.pipe(Fop::new("saveas").arg(encoded_entry(bucket, Some(key))))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Fop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Several commands run on the same input, joined with `;`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Fops(pub Vec<Fop>);

impl Fops {
    pub fn new() -> Self {
        Fops(Vec::new())
    }

    /// Add a command.
    pub fn and(mut self, fop: Fop) -> Self {
        self.0.push(fop);
        self
    }
}

impl From<Fop> for Fops {
    fn from(fop: Fop) -> Self {
        Fops(vec![fop])
    }
}

impl FromIterator<Fop> for Fops {
    fn from_iter<I: IntoIterator<Item = Fop>>(iter: I) -> Self {
        Fops(iter.into_iter().collect())
    }
}

impl fmt::Display for Fops {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, fop) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(";")?;
            }
            f.write_str(fop.as_str())?;
        }
        Ok(())
    }
}

// ---- fmgr tasks -----------------------------------------------------------------------------------

/// The `fmgr` operations (§8): each is `POST /fmgr/<op>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum FmgrOp {
    Fetch,
    Copy,
    Move,
    Delete,
    DeletePrefix,
    DeleteM3u8,
    SetDeadline,
    Compress,
}

impl FmgrOp {
    /// The path segment: `fetch`, `copy`, `move`, `delete`, `deletePrefix`, `deletem3u8`,
    /// `setdeadline`, `compress`.
    pub fn as_str(self) -> &'static str {
        match self {
            FmgrOp::Fetch => "fetch",
            FmgrOp::Copy => "copy",
            FmgrOp::Move => "move",
            FmgrOp::Delete => "delete",
            FmgrOp::DeletePrefix => "deletePrefix",
            FmgrOp::DeleteM3u8 => "deletem3u8",
            FmgrOp::SetDeadline => "setdeadline",
            FmgrOp::Compress => "compress",
        }
    }
}

/// One task of an `fmgr` job: `name/value/name/value...`, values URL-safe base64 encoded where
/// the protocol says so (§8.1). Tasks of one job must share their operation.
///
/// ```
/// use yunup::manage::wcs::FmgrTask;
/// let task = FmgrTask::fetch("http://example.com/a.png", "pics").key("a.png");
/// assert_eq!(
///     task.spec(),
///     "fetchURL/aHR0cDovL2V4YW1wbGUuY29tL2EucG5n/bucket/cGljcw==/key/YS5wbmc="
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FmgrTask {
    op: FmgrOp,
    params: Vec<(&'static str, String)>,
}

impl FmgrTask {
    fn new(op: FmgrOp) -> Self {
        FmgrTask { op, params: Vec::new() }
    }

    fn b64(mut self, name: &'static str, value: &str) -> Self {
        self.params.push((name, urlsafe_b64(value)));
        self
    }

    fn plain(mut self, name: &'static str, value: String) -> Self {
        self.params.push((name, value));
        self
    }

    /// Download `url` into `bucket`; the key is the URL's path unless [`FmgrTask::key`] is set.
    pub fn fetch(url: &str, bucket: &str) -> Self {
        Self::new(FmgrOp::Fetch).b64("fetchURL", url).b64("bucket", bucket)
    }

    /// Copy `src_bucket:src_key` into `dst_bucket` (same key unless [`FmgrTask::key`] is set).
    pub fn copy(src_bucket: &str, src_key: &str, dst_bucket: &str) -> Self {
        Self::new(FmgrOp::Copy).plain("resource", encoded_entry(src_bucket, Some(src_key))).b64("bucket", dst_bucket)
    }

    /// Move `src_bucket:src_key` into `dst_bucket` (same key unless [`FmgrTask::key`] is set).
    pub fn move_object(src_bucket: &str, src_key: &str, dst_bucket: &str) -> Self {
        Self::new(FmgrOp::Move).plain("resource", encoded_entry(src_bucket, Some(src_key))).b64("bucket", dst_bucket)
    }

    pub fn delete(bucket: &str, key: &str) -> Self {
        Self::new(FmgrOp::Delete).b64("bucket", bucket).b64("key", key)
    }

    /// Delete every object whose key starts with `prefix`.
    pub fn delete_prefix(bucket: &str, prefix: &str) -> Self {
        Self::new(FmgrOp::DeletePrefix).b64("bucket", bucket).b64("prefix", prefix)
    }

    /// Delete an m3u8 playlist; with [`FmgrTask::delete_ts`] also the segments it names.
    pub fn delete_m3u8(bucket: &str, key: &str) -> Self {
        Self::new(FmgrOp::DeleteM3u8).b64("bucket", bucket).b64("key", key)
    }

    /// Keep every object of `bucket`, or of the directory `prefix` in it (`in` is `in/...`, not
    /// `inbox`), `days` more days: 0 deletes them soon, -1 keeps them for ever. The batch form
    /// of [`WcsManager::set_deadline`](crate::manage::wcs::WcsManager::set_deadline).
    pub fn set_deadline(bucket: &str, prefix: Option<&str>, days: i64) -> Result<Self> {
        check_days(days)?;
        let task = Self::new(FmgrOp::SetDeadline).b64("bucket", bucket);
        let task = match prefix.filter(|p| !p.is_empty()) {
            Some(prefix) => task.b64("prefix", prefix),
            None => task,
        };
        Ok(task.plain("deadline", days.to_string()))
    }

    /// Zip `keys` of `bucket` (a key ending in `/` stands for every object under it) into the
    /// object `into_bucket:into_key`.
    pub fn compress(bucket: &str, keys: &[&str], into_bucket: &str, into_key: &str) -> Result<Self> {
        if keys.is_empty() || keys.iter().any(|k| k.is_empty()) {
            return Err(Error::invalid_input("compress needs at least one key, and no empty key"));
        }
        non_empty("the archive's key", into_key)?;
        let keys: Vec<String> = keys.iter().map(urlsafe_b64).collect();
        Ok(Self::new(FmgrOp::Compress)
            .b64("bucket", bucket)
            .plain("keys", keys.join("|"))
            .plain("saveas", encoded_entry(into_bucket, Some(into_key))))
    }

    /// Zip the keys listed one per line (not encoded) in the object `key_list` of `bucket`, for
    /// more keys than a request carries; otherwise as [`FmgrTask::compress`].
    pub fn compress_listed(bucket: &str, key_list: &str, into_bucket: &str, into_key: &str) -> Result<Self> {
        non_empty("the key list's key", key_list)?;
        non_empty("the archive's key", into_key)?;
        Ok(Self::new(FmgrOp::Compress)
            .b64("bucket", bucket)
            .b64("keyList", key_list)
            .plain("saveas", encoded_entry(into_bucket, Some(into_key))))
    }

    /// The destination key (fetch, copy, move).
    pub fn key(self, key: &str) -> Self {
        self.b64("key", key)
    }

    /// A prefix for the destination key (fetch, copy, move).
    pub fn prefix(self, prefix: &str) -> Self {
        self.b64("prefix", prefix)
    }

    /// Fetch: the expected MD5 of the download (lower-case hex).
    pub fn md5(self, md5_hex: &str) -> Self {
        let hex: String = md5_hex.chars().filter(char::is_ascii_hexdigit).collect();
        self.plain("md5", hex.to_ascii_lowercase())
    }

    /// Fetch: unpack the download (`zip`, `tar`, `gzip`, ...).
    pub fn decompression(self, format: &str) -> Self {
        let format: String = format.chars().filter(char::is_ascii_alphanumeric).collect();
        self.plain("decompression", format)
    }

    /// deletePrefix: write the list of deleted keys to `bucket:key`.
    pub fn output(self, bucket: &str, key: &str) -> Self {
        self.plain("output", encoded_entry(bucket, Some(key)))
    }

    /// deletem3u8: also delete the `.ts` segments.
    pub fn delete_ts(self, yes: bool) -> Self {
        self.plain("deletets", if yes { "1" } else { "0" }.to_owned())
    }

    pub fn op(&self) -> FmgrOp {
        self.op
    }

    /// The task as the service reads it.
    pub fn spec(&self) -> String {
        let mut out = String::new();
        for (i, (name, value)) in self.params.iter().enumerate() {
            if i > 0 {
                out.push('/');
            }
            out.push_str(name);
            out.push('/');
            out.push_str(value);
        }
        out
    }
}

// ---- replies --------------------------------------------------------------------------------------

fn string<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<String, D::Error> {
    Ok(lenient::opt_string(d)?.unwrap_or_default())
}

fn opt_bool<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<bool>, D::Error> {
    Ok(lenient::opt_string(d)?.map(|s| matches!(s.trim().to_ascii_lowercase().as_str(), "true" | "1")))
}

fn vec_or_null<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> std::result::Result<Vec<T>, D::Error> {
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

/// A bucket of the account.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketInfo {
    #[serde(default, deserialize_with = "string")]
    pub name: String,
}

/// One object in a listing.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListItem {
    #[serde(default, deserialize_with = "string")]
    pub key: String,
    /// Upload time, Unix milliseconds.
    #[serde(default, deserialize_with = "lenient::opt_u64")]
    pub put_time: Option<u64>,
    #[serde(default, deserialize_with = "string")]
    pub hash: String,
    #[serde(default, deserialize_with = "lenient::opt_u64")]
    pub fsize: Option<u64>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub mime_type: Option<String>,
    /// When the object expires ("" or absent: never).
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub expiration_date: Option<String>,
}

/// One page of a listing.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListPage {
    #[serde(default, deserialize_with = "vec_or_null")]
    pub items: Vec<ListItem>,
    /// Sub-directories (with a [`ListMode`]), each the full prefix ending in `/`.
    #[serde(default, deserialize_with = "vec_or_null")]
    pub common_prefixes: Vec<String>,
    /// Where the next page starts; `None` on the last page.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub marker: Option<String>,
}

/// What `stat` says about an object.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectStat {
    /// The key (`name` on the wire).
    #[serde(default, rename = "name", deserialize_with = "string")]
    pub key: String,
    #[serde(default, deserialize_with = "lenient::opt_u64")]
    pub fsize: Option<u64>,
    #[serde(default, deserialize_with = "string")]
    pub hash: String,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub mime_type: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_u64")]
    pub put_time: Option<u64>,
    /// When the object expires ("" or absent: never).
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub expiration_date: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub storage_class: Option<String>,
    /// An append-upload object (`x-wcs-object-type: Appendable`).
    #[serde(default, skip_deserializing)]
    pub appendable: bool,
    /// For appendable objects: where the next append starts.
    #[serde(default, skip_deserializing)]
    pub next_append_position: Option<u64>,
}

#[derive(Deserialize)]
struct StatEnvelope {
    #[serde(default, deserialize_with = "opt_bool")]
    result: Option<bool>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    code: Option<String>,
}

impl StatEnvelope {
    /// A non-2xx status in `code`.
    fn refuses(&self) -> bool {
        self.code.as_deref().is_some_and(|code| !code.starts_with('2') && code.parse::<u16>().is_ok())
    }
}

/// Where an async job is (`code` of §8.2/§9.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum JobState {
    /// 0
    Queued,
    /// 1
    Processing,
    /// 2 (in notifications: a failed task)
    Failed,
    /// 3: every task ran (see each [`JobItem`] for its outcome)
    Done,
    /// 4: done, the notification is being sent
    Notifying,
    /// 5: done, the notification failed
    NotifyFailed,
    /// 6: done and notified
    Notified,
    Other(i64),
}

impl JobState {
    pub fn from_code(code: i64) -> Self {
        match code {
            0 => JobState::Queued,
            1 => JobState::Processing,
            2 => JobState::Failed,
            3 => JobState::Done,
            4 => JobState::Notifying,
            5 => JobState::NotifyFailed,
            6 => JobState::Notified,
            other => JobState::Other(other),
        }
    }

    /// The work is over (whatever the notification does next).
    pub fn is_finished(self) -> bool {
        !matches!(self, JobState::Queued | JobState::Processing)
    }
}

/// The state's name as the CLI prints it and the npm package reports it: `queued`, `processing`,
/// `failed`, `done`, `notifying`, `notify-failed`, `notified`, or `code-<n>` for a code yunup
/// does not know.
impl fmt::Display for JobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            JobState::Queued => "queued",
            JobState::Processing => "processing",
            JobState::Failed => "failed",
            JobState::Done => "done",
            JobState::Notifying => "notifying",
            JobState::NotifyFailed => "notify-failed",
            JobState::Notified => "notified",
            JobState::Other(code) => return write!(f, "code-{code}"),
        };
        f.write_str(name)
    }
}

/// One task's outcome inside a [`JobStatus`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobItem {
    /// The task or command as submitted.
    #[serde(default, deserialize_with = "string")]
    pub cmd: String,
    /// 0 pending, 1 processing, 2 failed, 3 succeeded.
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    pub code: Option<i64>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub desc: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub error: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub key: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub hash: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_u64")]
    pub fsize: Option<u64>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub url: Option<String>,
    /// Milliseconds the task took (fops).
    #[serde(default, deserialize_with = "lenient::opt_u64")]
    pub cost_time: Option<u64>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub duration: Option<String>,
    #[serde(default, rename = "bit_rate", deserialize_with = "lenient::opt_string")]
    pub bit_rate: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub resolution: Option<String>,
}

impl JobItem {
    pub fn succeeded(&self) -> bool {
        self.code == Some(3)
    }
    pub fn failed(&self) -> bool {
        self.code == Some(2)
    }
}

/// The state of an `fmgr` or `fops` job (`/fmgr/status`, `/status/get/prefop`, and the body of
/// their notifications).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobStatus {
    #[serde(default, deserialize_with = "string")]
    pub id: String,
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    pub code: Option<i64>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub desc: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    pub separate: Option<i64>,
    /// fops: the input object.
    #[serde(default, rename = "inputbucket", deserialize_with = "lenient::opt_string")]
    pub input_bucket: Option<String>,
    #[serde(default, rename = "inputkey", deserialize_with = "lenient::opt_string")]
    pub input_key: Option<String>,
    #[serde(default, rename = "inputfsize", deserialize_with = "lenient::opt_u64")]
    pub input_fsize: Option<u64>,
    #[serde(default, deserialize_with = "vec_or_null")]
    pub items: Vec<JobItem>,
}

impl JobStatus {
    pub fn state(&self) -> JobState {
        JobState::from_code(self.code.unwrap_or(-1))
    }

    /// Parse a notification body: URL-safe base64 of the status JSON (§8.3).
    pub fn from_notification(body: &[u8]) -> Result<JobStatus> {
        let text = std::str::from_utf8(body).map_err(|_| Error::invalid_input("the notification is not text"))?;
        let json = crate::encoding::decode_base64_lenient(text)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .unwrap_or_else(|| text.to_owned());
        crate::json::from_str(&json, "the WCS job notification")
    }
}

/// Live-recording files (§10; the reply shape is not documented anywhere: this reads
/// `{"items": [...], "total": n}` and a bare array alike).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WsliveList {
    #[serde(default, deserialize_with = "lenient::opt_u64")]
    pub total: Option<u64>,
    #[serde(default, deserialize_with = "vec_or_null")]
    pub items: Vec<ListItem>,
}

// ---- the sans-IO layer -----------------------------------------------------------------------------

/// Builds signed management requests for one account and management host.
#[derive(Clone, Debug)]
pub struct WcsRequests {
    credentials: Credentials,
    /// Scheme and authority, no trailing slash.
    origin: String,
    /// A path prefix of the endpoint ("" normally); signed with the rest of the path.
    base_path: String,
}

/// A retention in days: more than 0, 0 (delete soon) or -1 (never expire).
fn check_days(days: i64) -> Result<()> {
    if days < -1 {
        return Err(Error::invalid_input(format!(
            "a deadline is a number of days, 0 (delete soon) or -1 (never expire), not {days}"
        )));
    }
    Ok(())
}

fn non_empty(what: &str, value: &str) -> Result<()> {
    if value.is_empty() {
        return Err(Error::invalid_input(format!("the {what} is empty")));
    }
    Ok(())
}

/// A query value: URL-safe base64 and plain tokens go as the SDKs send them; anything else is
/// percent-encoded (the signature covers the query exactly as sent either way).
fn query_value(value: &str) -> String {
    let safe = value.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'=' | b'.' | b'~'));
    if safe { value.to_owned() } else { percent_encode(value, false) }
}

impl WcsRequests {
    /// `endpoint` is the management host (`https://<account>.mgr0.v1.wcsapi.com`); without a
    /// scheme, `http://` is assumed (as the Python SDK does).
    pub fn new(credentials: Credentials, endpoint: &str) -> Self {
        let endpoint = endpoint.trim().trim_end_matches('/');
        let endpoint = if endpoint.contains("://") { endpoint.to_owned() } else { format!("http://{endpoint}") };
        let after_scheme = endpoint.find("://").map_or(0, |i| i + 3);
        let (origin, base_path) = match endpoint[after_scheme..].find('/') {
            Some(i) => (endpoint[..after_scheme + i].to_owned(), endpoint[after_scheme + i..].to_owned()),
            None => (endpoint.clone(), String::new()),
        };
        WcsRequests { credentials, origin, base_path }
    }

    /// Where requests go: the endpoint as given, with `http://` when it had no scheme.
    pub fn base_url(&self) -> String {
        format!("{}{}", self.origin, self.base_path)
    }

    fn unsigned(&self, method: Method, path_and_query: &str) -> HttpRequest {
        HttpRequest::new(method, format!("{}{}{path_and_query}", self.origin, self.base_path))
    }

    fn signed(&self, method: Method, path_and_query: &str, body: Option<String>) -> HttpRequest {
        let target = format!("{}{path_and_query}", self.base_path);
        let body = body.map(Bytes::from).unwrap_or_default();
        let token = management_token(&self.credentials, &target, &body);
        let mut request = self.unsigned(method, path_and_query).header("Authorization", token);
        if !body.is_empty() {
            request = request.header("Content-Type", "application/x-www-form-urlencoded").body(body);
        }
        request
    }

    /// `GET /bucket/list`.
    pub fn buckets(&self) -> HttpRequest {
        self.signed(Method::Get, "/bucket/list", None)
    }

    /// `GET /list?bucket=&limit=&prefix=&mode=&marker=&startTime=&endTime=`.
    pub fn list(&self, query: &ListQuery) -> Result<HttpRequest> {
        non_empty("bucket name", &query.bucket)?;
        let mut q = format!("bucket={}", query_value(&query.bucket));
        if let Some(limit) = query.limit {
            if limit == 0 || limit > MAX_LIST_LIMIT {
                return Err(Error::invalid_input(format!(
                    "a listing page holds 1 to {MAX_LIST_LIMIT} entries, not {limit}"
                )));
            }
            q.push_str(&format!("&limit={limit}"));
        }
        if let Some(prefix) = query.prefix.as_deref().filter(|p| !p.is_empty()) {
            q.push_str(&format!("&prefix={}", urlsafe_b64(prefix)));
        }
        if let Some(mode) = query.mode {
            q.push_str(&format!("&mode={}", mode.as_str()));
        }
        if let Some(marker) = query.marker.as_deref().filter(|m| !m.is_empty()) {
            q.push_str(&format!("&marker={}", query_value(marker)));
        }
        if let Some(t) = query.start_time {
            q.push_str(&format!("&startTime={t}"));
        }
        if let Some(t) = query.end_time {
            q.push_str(&format!("&endTime={t}"));
        }
        Ok(self.signed(Method::Get, &format!("/list?{q}"), None))
    }

    fn entry(bucket: &str, key: &str) -> Result<String> {
        non_empty("bucket name", bucket)?;
        non_empty("object key", key)?;
        // The entry is `bucket:key`, split at the first ':': bucket "a:b" with key "k" would
        // name the object "b:k" in bucket "a", and a delete would remove that one.
        if bucket.contains(':') {
            return Err(Error::invalid_input(format!(
                "the bucket name {bucket:?} has a ':', which WCS would read as bucket:key (another object): check the bucket name"
            )));
        }
        Ok(encoded_entry(bucket, Some(key)))
    }

    /// `GET /stat/<EncodedEntryURI>`.
    pub fn stat(&self, bucket: &str, key: &str) -> Result<HttpRequest> {
        Ok(self.signed(Method::Get, &format!("/stat/{}", Self::entry(bucket, key)?), None))
    }

    /// `POST /delete/<EncodedEntryURI>`.
    pub fn delete(&self, bucket: &str, key: &str) -> Result<HttpRequest> {
        Ok(self.signed(Method::Post, &format!("/delete/{}", Self::entry(bucket, key)?), None))
    }

    /// `POST /copy/<src>/<dst>`.
    pub fn copy(&self, src_bucket: &str, src_key: &str, dst_bucket: &str, dst_key: &str) -> Result<HttpRequest> {
        let path = format!("/copy/{}/{}", Self::entry(src_bucket, src_key)?, Self::entry(dst_bucket, dst_key)?);
        Ok(self.signed(Method::Post, &path, None))
    }

    /// `POST /move/<src>/<dst>`.
    pub fn move_object(&self, src_bucket: &str, src_key: &str, dst_bucket: &str, dst_key: &str) -> Result<HttpRequest> {
        let path = format!("/move/{}/{}", Self::entry(src_bucket, src_key)?, Self::entry(dst_bucket, dst_key)?);
        Ok(self.signed(Method::Post, &path, None))
    }

    /// `POST /setdeadline` with `bucket=&key=&deadline=<days>[&relevance=]`: `days` > 0 keeps the
    /// object that many days, 0 deletes it as soon as possible, -1 keeps it for ever.
    /// `relevance` (m3u8 only): also apply to the playlist's `.ts` files (service default yes).
    pub fn set_deadline(&self, bucket: &str, key: &str, days: i64, relevance: Option<bool>) -> Result<HttpRequest> {
        Self::entry(bucket, key)?;
        check_days(days)?;
        let mut body = format!("bucket={}&key={}&deadline={days}", urlsafe_b64(bucket), urlsafe_b64(key));
        if let Some(r) = relevance {
            body.push_str(if r { "&relevance=1" } else { "&relevance=0" });
        }
        Ok(self.signed(Method::Post, "/setdeadline", Some(body)))
    }

    fn job_options(body: &mut String, options: &JobOptions) {
        if let Some(url) = options.notify_url.as_deref().filter(|u| !u.is_empty()) {
            body.push_str(&format!("&notifyURL={}", urlsafe_b64(url)));
        }
        if options.separate {
            body.push_str("&separate=1");
        }
        if options.force {
            body.push_str("&force=1");
        }
    }

    /// `POST /fmgr/<op>` with `fops=<task;task...>[&notifyURL=][&separate=1][&force=1]` (values
    /// not percent-encoded, as every SDK sends them).
    pub fn fmgr(&self, tasks: &[FmgrTask], options: &JobOptions) -> Result<HttpRequest> {
        let op = tasks.first().map(FmgrTask::op).ok_or_else(|| Error::invalid_input("an fmgr job needs a task"))?;
        if let Some(other) = tasks.iter().find(|t| t.op != op) {
            return Err(Error::invalid_input(format!(
                "one fmgr job runs one operation: {} and {} need separate jobs",
                op.as_str(),
                other.op.as_str()
            )));
        }
        let specs: Vec<String> = tasks.iter().map(FmgrTask::spec).collect();
        let mut body = format!("fops={}", specs.join(";"));
        Self::job_options(&mut body, options);
        Ok(self.signed(Method::Post, &format!("/fmgr/{}", op.as_str()), Some(body)))
    }

    /// `GET /fmgr/status?persistentId=` (no token: the SDKs send none).
    pub fn fmgr_status(&self, persistent_id: &str) -> Result<HttpRequest> {
        non_empty("persistentId", persistent_id)?;
        Ok(self.unsigned(Method::Get, &format!("/fmgr/status?persistentId={}", query_value(persistent_id))))
    }

    /// `POST /fops` with `bucket=&key=&fops=<b64>[&notifyURL=][&separate=1][&force=1]`.
    pub fn fops(&self, bucket: &str, key: &str, fops: &str, options: &JobOptions) -> Result<HttpRequest> {
        Self::entry(bucket, key)?;
        non_empty("fops string", fops)?;
        let mut body = format!("bucket={}&key={}&fops={}", urlsafe_b64(bucket), urlsafe_b64(key), urlsafe_b64(fops));
        Self::job_options(&mut body, options);
        Ok(self.signed(Method::Post, "/fops", Some(body)))
    }

    /// `GET /status/get/prefop?persistentId=` (no token).
    pub fn fops_status(&self, persistent_id: &str) -> Result<HttpRequest> {
        non_empty("persistentId", persistent_id)?;
        Ok(self.unsigned(Method::Get, &format!("/status/get/prefop?persistentId={}", query_value(persistent_id))))
    }

    /// `GET /wslive/list?channelname=&startTime=&endTime=&bucket=[&start=][&limit=]`.
    pub fn wslive_list(&self, query: &WsliveQuery) -> Result<HttpRequest> {
        non_empty("channel name", &query.channel)?;
        non_empty("bucket name", &query.bucket)?;
        for (what, t) in [("start time", &query.start_time), ("end time", &query.end_time)] {
            if t.len() != 14 || !t.bytes().all(|b| b.is_ascii_digit()) {
                return Err(Error::invalid_input(format!("the {what} is YYYYMMDDhhmmss, not {t:?}")));
            }
        }
        let mut q = format!(
            "channelname={}&startTime={}&endTime={}&bucket={}",
            query_value(&query.channel),
            query.start_time,
            query.end_time,
            query_value(&query.bucket)
        );
        if let Some(start) = query.start {
            q.push_str(&format!("&start={start}"));
        }
        if let Some(limit) = query.limit {
            q.push_str(&format!("&limit={limit}"));
        }
        Ok(self.signed(Method::Get, &format!("/wslive/list?{q}"), None))
    }
}

// ---- reply parsers ------------------------------------------------------------------------------

fn check(response: &HttpResponse, what: &str) -> Result<()> {
    if response.is_success() { Ok(()) } else { Err(reply_error(response, what, AUTH_HINT)) }
}

fn parse<T: serde::de::DeserializeOwned>(response: &HttpResponse, what: &str) -> Result<T> {
    check(response, what)?;
    json_reply(ServiceKind::Wcs, what, response)
}

/// Whether a 2xx reply's JSON body says failure with a non-2xx `code` (a bucket that does not
/// exist is `{"code":"631",...}`); not for job replies, whose `code` is the job's state.
fn body_refuses(response: &HttpResponse, what: &str) -> bool {
    let envelope: Option<StatEnvelope> =
        std::str::from_utf8(&response.body).ok().and_then(|t| crate::json::from_str(t, what).ok());
    envelope.is_some_and(|e| e.refuses())
}

/// A reply that only says OK (`{"code":200,"message":"OK"}`, delete/copy/move/setdeadline).
/// An empty body is taken as OK too (copy's and move's exact replies are UNVERIFIED), but
/// anything else that is not a JSON object (a proxy's HTML page, a truncated body) is an error,
/// not a success.
pub fn parse_ok(response: &HttpResponse, what: &str) -> Result<()> {
    check(response, what)?;
    if response.body.iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    let envelope: StatEnvelope = json_reply(ServiceKind::Wcs, what, response)?;
    if envelope.refuses() { Err(reply_error(response, what, AUTH_HINT)) } else { Ok(()) }
}

/// [`parse`] for replies whose `code`, when there is one, is a status: a non-2xx one is a refusal.
fn parse_checked<T: serde::de::DeserializeOwned>(response: &HttpResponse, what: &str) -> Result<T> {
    check(response, what)?;
    if body_refuses(response, what) {
        return Err(reply_error(response, what, AUTH_HINT));
    }
    json_reply(ServiceKind::Wcs, what, response)
}

pub fn parse_buckets(response: &HttpResponse) -> Result<Vec<BucketInfo>> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Reply {
        Wrapped {
            #[serde(default, deserialize_with = "vec_or_null")]
            buckets: Vec<BucketInfo>,
        },
        Bare(Vec<BucketInfo>),
    }
    Ok(match parse_checked::<Reply>(response, "the bucket list")? {
        Reply::Wrapped { buckets } | Reply::Bare(buckets) => buckets,
    })
}

pub fn parse_list(response: &HttpResponse) -> Result<ListPage> {
    let mut page: ListPage = parse_checked(response, "the listing")?;
    page.marker = page.marker.filter(|m| !m.is_empty());
    Ok(page)
}

pub fn parse_stat(response: &HttpResponse) -> Result<ObjectStat> {
    check(response, "stat")?;
    let envelope: StatEnvelope = json_reply(ServiceKind::Wcs, "stat", response)?;
    if envelope.result == Some(false) || envelope.refuses() {
        return Err(reply_error(response, "stat", AUTH_HINT));
    }
    let mut stat: ObjectStat = json_reply(ServiceKind::Wcs, "stat", response)?;
    stat.appendable = response.header("x-wcs-object-type").is_some_and(|t| t.eq_ignore_ascii_case("appendable"));
    stat.next_append_position = ["x-wcs-next-append-position", "x-wcs-next-append-positon"]
        .iter()
        .find_map(|h| response.header(h).and_then(|v| v.trim().parse().ok()));
    Ok(stat)
}

/// The `persistentId` of a submitted `fmgr` or `fops` job.
pub fn parse_persistent_id(response: &HttpResponse, what: &str) -> Result<String> {
    #[derive(Deserialize)]
    struct Reply {
        #[serde(default, rename = "persistentId", deserialize_with = "lenient::opt_string")]
        persistent_id: Option<String>,
    }
    let reply: Reply = parse(response, what)?;
    reply.persistent_id.filter(|id| !id.is_empty()).ok_or_else(|| unexpected_reply(ServiceKind::Wcs, what, response))
}

pub fn parse_job_status(response: &HttpResponse) -> Result<JobStatus> {
    parse(response, "the job status")
}

pub fn parse_wslive(response: &HttpResponse) -> Result<WsliveList> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Reply {
        Wrapped(WsliveList),
        Bare(Vec<ListItem>),
    }
    Ok(match parse::<Reply>(response, "the live-recording list")? {
        Reply::Wrapped(list) => list,
        Reply::Bare(items) => WsliveList { total: Some(items.len() as u64), items },
    })
}

// ---- the client ---------------------------------------------------------------------------------

/// Which status endpoint a job id belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobKind {
    /// `/fmgr/*` jobs, polled at `/fmgr/status`.
    Fmgr,
    /// `/fops` jobs, polled at `/status/get/prefop`.
    Fops,
}

/// WCS management through a [`Transport`].
#[derive(Clone, Debug)]
pub struct WcsManager<T: Transport> {
    transport: T,
    requests: WcsRequests,
}

impl<T: Transport> WcsManager<T> {
    /// `endpoint` is the management host, e.g. `https://<account>.mgr0.v1.wcsapi.com`.
    pub fn new(transport: T, credentials: Credentials, endpoint: impl AsRef<str>) -> Self {
        WcsManager { transport, requests: WcsRequests::new(credentials, endpoint.as_ref()) }
    }

    /// The request builder, for callers that send requests themselves.
    pub fn requests(&self) -> &WcsRequests {
        &self.requests
    }

    pub fn transport(&self) -> &T {
        &self.transport
    }

    async fn send(&self, request: HttpRequest) -> Result<HttpResponse> {
        self.transport.send(request).await
    }

    /// The account's buckets.
    pub async fn buckets(&self) -> Result<Vec<BucketInfo>> {
        parse_buckets(&self.send(self.requests.buckets()).await?)
    }

    /// One page of a listing; continue with its [`ListPage::marker`].
    pub async fn list_page(&self, query: &ListQuery) -> Result<ListPage> {
        parse_list(&self.send(self.requests.list(query)?).await?)
    }

    /// Every page of a listing, each fetched when the previous one has been taken. An error ends
    /// the stream after it is yielded.
    pub fn list_pages(&self, query: ListQuery) -> impl Stream<Item = Result<ListPage>> + '_ {
        // The state: the next page's query, or the error that follows the page that caused it.
        let cursors = Cursors::new("WCS", &query.marker.clone().unwrap_or_default());
        futures_util::stream::unfold(Some(Ok((query, cursors))), move |state| async move {
            let (query, mut cursors) = match state? {
                Ok(next) => next,
                Err(e) => return Some((Err(e), None)),
            };
            match self.list_page(&query).await {
                Ok(page) => {
                    let next = page.marker.clone().map(|m| match cursors.advance(m) {
                        Ok(m) => Ok((ListQuery { marker: Some(m), ..query }, cursors)),
                        Err(e) => Err(e),
                    });
                    Some((Ok(page), next))
                }
                Err(e) => Some((Err(e), None)),
            }
        })
    }

    /// Every object of a listing, pages fetched on demand.
    pub fn list(&self, query: ListQuery) -> impl Stream<Item = Result<ListItem>> + '_ {
        self.list_pages(query).flat_map(|page| {
            let items: Vec<Result<ListItem>> = match page {
                Ok(page) => page.items.into_iter().map(Ok).collect(),
                Err(e) => vec![Err(e)],
            };
            futures_util::stream::iter(items)
        })
    }

    pub async fn stat(&self, bucket: &str, key: &str) -> Result<ObjectStat> {
        parse_stat(&self.send(self.requests.stat(bucket, key)?).await?)
    }

    pub async fn delete(&self, bucket: &str, key: &str) -> Result<()> {
        parse_ok(&self.send(self.requests.delete(bucket, key)?).await?, "delete")
    }

    /// Copy an object; an object at the destination is replaced.
    pub async fn copy(&self, src_bucket: &str, src_key: &str, dst_bucket: &str, dst_key: &str) -> Result<()> {
        let request = self.requests.copy(src_bucket, src_key, dst_bucket, dst_key)?;
        parse_ok(&self.send(request).await?, "copy")
    }

    /// Move (rename) an object; an object at the destination is replaced.
    #[doc(alias = "move")]
    pub async fn move_object(&self, src_bucket: &str, src_key: &str, dst_bucket: &str, dst_key: &str) -> Result<()> {
        let request = self.requests.move_object(src_bucket, src_key, dst_bucket, dst_key)?;
        parse_ok(&self.send(request).await?, "move")
    }

    /// Keep an object `days` days (0: delete soon, -1: for ever); see [`WcsRequests::set_deadline`].
    pub async fn set_deadline(&self, bucket: &str, key: &str, days: i64, relevance: Option<bool>) -> Result<()> {
        parse_ok(&self.send(self.requests.set_deadline(bucket, key, days, relevance)?).await?, "setdeadline")
    }

    /// Submit an `fmgr` job; returns its `persistentId`.
    pub async fn fmgr(&self, tasks: &[FmgrTask], options: &JobOptions) -> Result<String> {
        parse_persistent_id(&self.send(self.requests.fmgr(tasks, options)?).await?, "the fmgr job")
    }

    pub async fn fmgr_status(&self, persistent_id: &str) -> Result<JobStatus> {
        parse_job_status(&self.send(self.requests.fmgr_status(persistent_id)?).await?)
    }

    /// Submit persistent processing of `bucket:key` (a [`Fop`], [`Fops`] or a string); returns
    /// its `persistentId`.
    pub async fn fops(&self, bucket: &str, key: &str, fops: impl fmt::Display, options: &JobOptions) -> Result<String> {
        let request = self.requests.fops(bucket, key, &fops.to_string(), options)?;
        parse_persistent_id(&self.send(request).await?, "the fops job")
    }

    pub async fn fops_status(&self, persistent_id: &str) -> Result<JobStatus> {
        parse_job_status(&self.send(self.requests.fops_status(persistent_id)?).await?)
    }

    /// Poll a job every `interval_ms` until [`JobState::is_finished`], for at most `timeout_ms`
    /// (then a [`ErrorKind::Server`] error with code `job-timeout`). The last sleep is cut short
    /// to poll once more at the deadline, so a long interval does not overrun the timeout.
    pub async fn wait(
        &self,
        kind: JobKind,
        persistent_id: &str,
        runtime: &impl Runtime,
        interval_ms: u64,
        timeout_ms: u64,
    ) -> Result<JobStatus> {
        let started = runtime.now_ms();
        loop {
            let status = match kind {
                JobKind::Fmgr => self.fmgr_status(persistent_id).await?,
                JobKind::Fops => self.fops_status(persistent_id).await?,
            };
            if status.state().is_finished() {
                return Ok(status);
            }
            let elapsed = runtime.now_ms().saturating_sub(started);
            if elapsed >= timeout_ms {
                return Err(Error::new(
                    ErrorKind::Server,
                    format!("WCS job {persistent_id} did not finish within {timeout_ms} ms"),
                )
                .with_code("job-timeout"));
            }
            runtime.sleep(interval_ms.max(1).min(timeout_ms - elapsed)).await;
        }
    }

    pub async fn wslive_list(&self, query: &WsliveQuery) -> Result<WsliveList> {
        parse_wslive(&self.send(self.requests.wslive_list(query)?).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::block_on;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn reqs() -> WcsRequests {
        WcsRequests::new(Credentials::new("ak-example", "sk-example"), "http://mgr.example/")
    }

    fn reply(status: u16, body: &str) -> HttpResponse {
        HttpResponse { status, headers: vec![("x-reqid".into(), "rid".into())], body: Bytes::from(body.to_owned()) }
    }

    fn body(r: &HttpRequest) -> &str {
        std::str::from_utf8(&r.body).unwrap()
    }

    /// A ':' in the bucket name would move the split of `bucket:key`: "public:victim" with key
    /// "x" named the object "victim:x" in bucket "public", and a delete removed it.
    #[test]
    fn a_bucket_name_with_a_colon_is_refused_not_read_as_another_object() {
        let r = reqs();
        for err in [
            r.stat("public:victim", "x").unwrap_err(),
            r.delete("public:victim", "x").unwrap_err(),
            r.copy("public", "a", "public:victim", "x").unwrap_err(),
            r.move_object("public:victim", "x", "public", "b").unwrap_err(),
        ] {
            assert_eq!(err.kind(), ErrorKind::InvalidInput);
            assert!(err.message().contains("\"public:victim\" has a ':'"), "{err}");
        }
        // A ':' in the key is fine: the split is at the first one.
        assert!(r.stat("public", "victim:x").is_ok());
    }

    /// protocols/wcs.md §2.2 / wcs_vectors.py: the same tokens from the request builders.
    #[test]
    fn requests_match_the_spec_vectors() {
        let r = reqs().stat("mybucket", "a.txt").unwrap();
        assert_eq!(r.url, "http://mgr.example/stat/bXlidWNrZXQ6YS50eHQ=");
        assert_eq!(
            r.header_value("Authorization"),
            Some("ak-example:MjhkZGM5MGNhOTY5MzZjOGJlYWRjYjI2OTE4ZjVhNzNkOWZiOTBhMg==")
        );
        let r = reqs().list(&ListQuery::new("mybucket").limit(10).prefix("dir/")).unwrap();
        assert_eq!(r.url, "http://mgr.example/list?bucket=mybucket&limit=10&prefix=ZGlyLw==");
        assert_eq!(
            r.header_value("Authorization"),
            Some("ak-example:OTBmMjBkZDQ4ZjdjOGQ5ZTA2OTZiMjU3ZjBjOGRhNjU3NTNjYTUxYQ==")
        );
        let fop = Fop::vframe("jpg").param("offset", 10).saveas("mybucket", "a.jpg");
        let r = reqs().fops("mybucket", "a.txt", &fop.to_string(), &JobOptions::default()).unwrap();
        assert_eq!(r.method, Method::Post);
        assert_eq!(r.url, "http://mgr.example/fops");
        assert_eq!(
            body(&r),
            "bucket=bXlidWNrZXQ=&key=YS50eHQ=&fops=dmZyYW1lL2pwZy9vZmZzZXQvMTB8c2F2ZWFzL2JYbGlkV05yWlhRNllTNXFjR2M9"
        );
        assert_eq!(
            r.header_value("Authorization"),
            Some("ak-example:MWZlMzdmZDcyNmQxNTI2ZmMxM2ZjMWQ1OWM0OTEwMWUyNzM4MTJhZg==")
        );
    }

    #[test]
    fn fop_strings_match_the_sdk_examples() {
        // Go README (§9.1): avthumb/flv/s/480x384|saveas/<images:gjh.flv>.
        let fop = Fop::avthumb("flv").param("s", "480x384").saveas("images", "gjh.flv");
        assert_eq!(fop.as_str(), "avthumb/flv/s/480x384|saveas/aW1hZ2VzOmdqaC5mbHY=");
        assert_eq!(urlsafe_b64(fop.as_str()), "YXZ0aHVtYi9mbHYvcy80ODB4Mzg0fHNhdmVhcy9hVzFoWjJWek9tZHFhQzVtYkhZPQ==");
        // §9.2 examples: pipes, several params, `;` lists, b64 parameters.
        let mogr = Fop::image_mogr2("jpg").param("crop", "500x500").param("gravity", "CENTER").param("lowpoly", 1);
        assert_eq!(mogr.as_str(), "imageMogr2/jpg/crop/500x500/gravity/CENTER/lowpoly/1");
        let list = Fops::new()
            .and(Fop::avthumb("mp4").param("s", "640x360").param("vb", "1.25m"))
            .and(Fop::avthumb("flv").param("vb", "1.25m"));
        assert_eq!(list.to_string(), "avthumb/mp4/s/640x360/vb/1.25m;avthumb/flv/vb/1.25m");
        let unzip = Fop::decompression("zip").param_b64("dir", "out/").pipe(Fop::new("saveas").arg("bGlzdA=="));
        assert_eq!(unzip.as_str(), "decompression/zip/dir/b3V0Lw==|saveas/bGlzdA==");
        let collected: Fops = [Fop::raw("a/b"), Fop::raw("c")].into_iter().collect();
        assert_eq!(collected.to_string(), "a/b;c");
    }

    #[test]
    fn list_requests_and_limits() {
        let q = ListQuery::new("b").marker("m a+b").mode(ListMode::DirsFirst).time_window(Some(1), Some(2));
        let r = reqs().list(&q).unwrap();
        assert_eq!(r.url, "http://mgr.example/list?bucket=b&mode=1&marker=m%20a%2Bb&startTime=1&endTime=2");
        let token = management_token(
            &Credentials::new("ak-example", "sk-example"),
            "/list?bucket=b&mode=1&marker=m%20a%2Bb&startTime=1&endTime=2",
            b"",
        );
        assert_eq!(r.header_value("Authorization"), Some(token.as_str()));
        for bad in [0, 1001] {
            assert_eq!(reqs().list(&ListQuery::new("b").limit(bad)).unwrap_err().kind(), ErrorKind::InvalidInput);
        }
        assert!(reqs().list(&ListQuery::new("")).is_err());
        // An endpoint with a path prefix signs the whole path.
        let r = WcsRequests::new(Credentials::new("a", "s"), "mgr.example/base").buckets();
        assert_eq!(r.url, "http://mgr.example/base/bucket/list");
        assert_eq!(
            r.header_value("Authorization").unwrap(),
            management_token(&Credentials::new("a", "s"), "/base/bucket/list", b"")
        );
    }

    #[test]
    fn object_requests() {
        let r = reqs().delete("b", "k").unwrap();
        assert_eq!((r.method, r.url.as_str()), (Method::Post, "http://mgr.example/delete/Yjpr"));
        assert!(r.body.is_empty());
        let r = reqs().copy("b", "k", "c", "k2").unwrap();
        assert_eq!(r.url, format!("http://mgr.example/copy/Yjpr/{}", urlsafe_b64("c:k2")));
        let r = reqs().move_object("b", "k", "c", "k2").unwrap();
        assert_eq!(r.url, format!("http://mgr.example/move/Yjpr/{}", urlsafe_b64("c:k2")));
        let r = reqs().set_deadline("b", "k", 7, Some(false)).unwrap();
        assert_eq!(body(&r), "bucket=Yg==&key=aw==&deadline=7&relevance=0");
        let token = management_token(&Credentials::new("ak-example", "sk-example"), "/setdeadline", &r.body);
        assert_eq!(r.header_value("Authorization"), Some(token.as_str()));
        assert!(reqs().set_deadline("b", "k", -2, None).is_err());
        assert!(reqs().stat("b", "").is_err());
    }

    #[test]
    fn fmgr_requests() {
        let tasks = [
            FmgrTask::fetch("http://h/x.png", "b").prefix("in/").md5("ABCDEF0123"),
            FmgrTask::fetch("http://h/y", "b").key("y2").decompression("zip"),
        ];
        let opts = JobOptions { notify_url: Some("http://n/cb".into()), force: true, separate: true };
        let r = reqs().fmgr(&tasks, &opts).unwrap();
        assert_eq!(r.url, "http://mgr.example/fmgr/fetch");
        assert_eq!(
            body(&r),
            format!(
                "fops=fetchURL/{}/bucket/Yg==/prefix/aW4v/md5/abcdef0123;fetchURL/{}/bucket/Yg==/key/eTI=/decompression/zip\
                 &notifyURL={}&separate=1&force=1",
                urlsafe_b64("http://h/x.png"),
                urlsafe_b64("http://h/y"),
                urlsafe_b64("http://n/cb")
            )
        );
        let token = management_token(&Credentials::new("ak-example", "sk-example"), "/fmgr/fetch", &r.body);
        assert_eq!(r.header_value("Authorization"), Some(token.as_str()));

        let copy = FmgrTask::copy("b", "k", "c").key("k2");
        assert_eq!(copy.spec(), format!("resource/Yjpr/bucket/Yw==/key/{}", urlsafe_b64("k2")));
        assert_eq!(FmgrTask::move_object("b", "k", "c").op(), FmgrOp::Move);
        assert_eq!(FmgrTask::delete("b", "k").spec(), "bucket/Yg==/key/aw==");
        assert_eq!(FmgrTask::delete_prefix("b", "p/").output("b", "l").spec(), "bucket/Yg==/prefix/cC8=/output/Yjps");
        assert_eq!(FmgrTask::delete_m3u8("b", "k").delete_ts(true).spec(), "bucket/Yg==/key/aw==/deletets/1");
        // setdeadline and compress as wcs.md §8.1 spells them (prefix before deadline).
        assert_eq!(FmgrTask::set_deadline("b", Some("in"), 7).unwrap().spec(), "bucket/Yg==/prefix/aW4=/deadline/7");
        assert_eq!(FmgrTask::set_deadline("b", None, -1).unwrap().spec(), "bucket/Yg==/deadline/-1");
        assert!(FmgrTask::set_deadline("b", None, -2).is_err());
        let zip = FmgrTask::compress("b", &["a", "d/"], "c", "z.zip").unwrap();
        assert_eq!(zip.spec(), format!("bucket/Yg==/keys/YQ==|ZC8=/saveas/{}", urlsafe_b64("c:z.zip")));
        assert_eq!(zip.op().as_str(), "compress");
        assert!(FmgrTask::compress("b", &[], "c", "z.zip").is_err());
        assert!(FmgrTask::compress("b", &["a", ""], "c", "z.zip").is_err());
        assert!(FmgrTask::compress("b", &["a"], "c", "").is_err());
        let listed = FmgrTask::compress_listed("b", "list.txt", "c", "z.zip").unwrap();
        assert_eq!(
            listed.spec(),
            format!("bucket/Yg==/keyList/{}/saveas/{}", urlsafe_b64("list.txt"), urlsafe_b64("c:z.zip"))
        );
        let r = reqs().fmgr(&[FmgrTask::delete_prefix("b", "p")], &JobOptions::default()).unwrap();
        assert_eq!(r.url, "http://mgr.example/fmgr/deletePrefix");
        assert_eq!(body(&r), "fops=bucket/Yg==/prefix/cA==");
        assert!(reqs().fmgr(&[], &JobOptions::default()).is_err());
        let mixed = reqs().fmgr(&[FmgrTask::delete("b", "k"), copy], &JobOptions::default()).unwrap_err();
        assert!(mixed.message().contains("separate jobs"), "{mixed}");

        let r = reqs().fmgr_status("id-1").unwrap();
        assert_eq!(r.url, "http://mgr.example/fmgr/status?persistentId=id-1");
        assert!(r.header_value("Authorization").is_none());
        let r = reqs().fops_status("id-1").unwrap();
        assert_eq!(r.url, "http://mgr.example/status/get/prefop?persistentId=id-1");
    }

    #[test]
    fn wslive_requests() {
        let q = WsliveQuery {
            channel: "live 1".into(),
            start_time: "20240101000000".into(),
            end_time: "20240102000000".into(),
            bucket: "b".into(),
            start: Some(1),
            limit: Some(10),
        };
        let r = reqs().wslive_list(&q).unwrap();
        assert_eq!(
            r.url,
            "http://mgr.example/wslive/list?channelname=live%201&startTime=20240101000000&endTime=20240102000000&bucket=b&start=1&limit=10"
        );
        assert!(reqs().wslive_list(&WsliveQuery { start_time: "2024".into(), ..q }).is_err());
    }

    #[test]
    fn replies_parse_leniently() {
        let buckets =
            parse_buckets(&reply(200, r#"{"code":"200","message":"OK","buckets":[{"name":"a"},{"name":"b"}]}"#))
                .unwrap();
        assert_eq!(buckets.iter().map(|b| b.name.as_str()).collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(parse_buckets(&reply(200, r#"[{"name":"x"}]"#)).unwrap()[0].name, "x");

        let page = parse_list(&reply(
            200,
            r#"{"marker":"","commonPrefixes":null,"items":[{"key":"k","putTime":"1700000000000","hash":"Fh","fsize":"3","mimeType":"text/plain","expirationDate":""}]}"#,
        ))
        .unwrap();
        assert_eq!(page.marker, None);
        assert_eq!(page.items[0].fsize, Some(3));
        assert_eq!(page.items[0].put_time, Some(1_700_000_000_000));
        let page = parse_list(&reply(200, r#"{"marker":"m1","commonPrefixes":["d/"],"items":[]}"#)).unwrap();
        assert_eq!((page.marker.as_deref(), page.common_prefixes.as_slice()), (Some("m1"), &["d/".to_owned()][..]));

        // The doc's all-strings stat, and the emulator's numbers.
        let stat = parse_stat(&reply(
            200,
            r#"{"result":"true","code":"200","name":"k","message":"OK","fsize":"11","hash":"Fq","mimeType":"text/plain","putTime":"5","expirationDate":"","storageClass":"Standard"}"#,
        ))
        .unwrap();
        assert_eq!((stat.key.as_str(), stat.fsize, stat.put_time, stat.appendable), ("k", Some(11), Some(5), false));
        let mut appendable = reply(200, r#"{"result":true,"code":200,"name":"k","fsize":4}"#);
        appendable.headers.push(("x-wcs-object-type".into(), "Appendable".into()));
        appendable.headers.push(("x-wcs-next-append-positon".into(), "4".into()));
        let stat = parse_stat(&appendable).unwrap();
        assert_eq!((stat.appendable, stat.next_append_position), (true, Some(4)));
        let err = parse_stat(&reply(200, r#"{"result":false,"code":404,"message":"file not exist"}"#)).unwrap_err();
        assert_eq!((err.code(), err.request_id()), (Some("404"), Some("rid")));
        assert!(is_not_found(&err));

        assert_eq!(parse_persistent_id(&reply(200, r#"{"persistentId":"p1"}"#), "fops").unwrap(), "p1");
        assert_eq!(parse_persistent_id(&reply(200, "{}"), "fops").unwrap_err().kind(), ErrorKind::Server);
        parse_ok(&reply(200, r#"{"code":200,"message":"OK"}"#), "copy").unwrap();
        parse_ok(&reply(200, ""), "copy").unwrap();
        assert!(parse_ok(&reply(200, r#"{"code":"612","message":"no such file"}"#), "copy").is_err());
        // A 2xx that is not the service's JSON (a proxy's page, a cut-off body) is not a success.
        for body in ["<html>OK</html>", r#"{"code":200,"#, r#""OK""#] {
            let err = parse_ok(&reply(200, body), "delete").unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Server, "{body}: {err}");
        }
        // A listing that says the bucket does not exist in its body is not an empty bucket.
        let missing = reply(200, r#"{"code":"631","message":"bucket not exist","items":[]}"#);
        assert_eq!(parse_list(&missing).unwrap_err().code(), Some("631"));
        assert_eq!(
            parse_buckets(&reply(200, r#"{"code":"401","message":"bad token"}"#)).unwrap_err().code(),
            Some("401")
        );
    }

    #[test]
    fn job_status_and_notifications() {
        // §8.2's real sample.
        let sample = r#"{"id":"20105464540f197414d51a861240d921ef206","code":3,"desc":"fileOperateSucceed","separate":0,"items":[{"cmd":"resource/x/bucket/y/key/z","code":3,"desc":"fileOperateSucceed","error":null,"hash":"lj6NH8CEuuCKd2fBoxe2FJlrl5lT","fsize":6437836,"key":"test_src_file_1691978251166.mp4","url":"http://h/test_src_file_1691978251166.mp4"}]}"#;
        let status = parse_job_status(&reply(200, sample)).unwrap();
        assert_eq!(status.state(), JobState::Done);
        assert!(status.state().is_finished() && status.items[0].succeeded());
        assert_eq!(status.items[0].fsize, Some(6_437_836));
        assert_eq!(status.items[0].error, None);
        let from_notify = JobStatus::from_notification(urlsafe_b64(sample).as_bytes()).unwrap();
        assert_eq!(from_notify, status);
        // prefop (§9.3): strings for numbers, input fields, bit_rate.
        let prefop = r#"{"id":"p","code":"1","desc":"processing","inputkey":"a.mp4","inputbucket":"b","inputfsize":"10","items":[{"cmd":"vframe/jpg","code":"1","costTime":"12","bit_rate":"800k","detail":[]}]}"#;
        let status = parse_job_status(&reply(200, prefop)).unwrap();
        assert_eq!(status.state(), JobState::Processing);
        assert!(!status.state().is_finished());
        assert_eq!((status.input_key.as_deref(), status.input_fsize), (Some("a.mp4"), Some(10)));
        assert_eq!(status.items[0].bit_rate.as_deref(), Some("800k"));
        assert_eq!(JobState::from_code(6), JobState::Notified);
        assert_eq!(JobState::from_code(9), JobState::Other(9));
    }

    #[test]
    fn errors_carry_code_status_and_request_id() {
        let err = parse_list(&reply(401, r#"{"code":401,"message":"bad token","error":"bad token"}"#)).unwrap_err();
        assert_eq!(
            (err.kind(), err.status(), err.code(), err.request_id()),
            (ErrorKind::Auth, Some(401), Some("401"), Some("rid"))
        );
        assert!(err.message().contains("management token"), "{err}");
        let err = parse_stat(&reply(404, r#"{"code":"612","message":"no such file or directory"}"#)).unwrap_err();
        assert_eq!((err.kind(), err.code()), (ErrorKind::InvalidInput, Some("612")));
        assert!(is_not_found(&err));
        let err = parse_buckets(&reply(502, "<html>")).unwrap_err();
        assert_eq!((err.kind(), err.code()), (ErrorKind::Server, Some("502")));
        let err = parse_wslive(&reply(200, "not json")).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Server);
        let list = parse_wslive(&reply(200, r#"{"code":200,"total":1,"items":[{"key":"a","fsize":1}]}"#)).unwrap();
        assert_eq!((list.total, list.items[0].key.as_str()), (Some(1), "a"));
        let bare = parse_wslive(&reply(200, r#"[{"key":"a"}]"#)).unwrap();
        assert_eq!(bare.total, Some(1));
    }

    /// A transport that answers from a script and records the requests.
    struct Script {
        replies: std::cell::RefCell<Vec<HttpResponse>>,
        seen: std::cell::RefCell<Vec<String>>,
    }

    impl Transport for Script {
        async fn send(&self, request: HttpRequest) -> Result<HttpResponse> {
            self.seen.borrow_mut().push(request.url);
            let mut replies = self.replies.borrow_mut();
            if replies.is_empty() {
                return Err(Error::new(ErrorKind::Network, "no more replies"));
            }
            Ok(replies.remove(0))
        }
    }

    #[test]
    fn listings_page_on_demand() {
        let script = Script {
            replies: std::cell::RefCell::new(vec![
                reply(200, r#"{"marker":"m1","items":[{"key":"a"},{"key":"b"}]}"#),
                reply(200, r#"{"marker":"m2","items":[{"key":"c"}]}"#),
                reply(200, r#"{"items":[{"key":"d"}]}"#),
            ]),
            seen: Default::default(),
        };
        let manager = WcsManager::new(script, Credentials::new("a", "s"), "http://m");
        block_on(async {
            let mut items = std::pin::pin!(manager.list(ListQuery::new("b").limit(2)));
            assert_eq!(items.next().await.unwrap().unwrap().key, "a");
            assert_eq!(manager.transport().seen.borrow().len(), 1, "the second page waits until needed");
            let mut rest = Vec::new();
            while let Some(item) = items.next().await {
                rest.push(item.unwrap().key);
            }
            assert_eq!(rest, ["b", "c", "d"]);
            let seen = manager.transport().seen.borrow().clone();
            assert_eq!(
                seen,
                [
                    "http://m/list?bucket=b&limit=2",
                    "http://m/list?bucket=b&limit=2&marker=m1",
                    "http://m/list?bucket=b&limit=2&marker=m2"
                ]
            );
        });
        // Waiting: a 60 s interval with a 5 s timeout polls at 0 and at 5 s, then gives up,
        // instead of sleeping the whole minute first.
        struct Clock(std::cell::Cell<u64>);
        impl Runtime for Clock {
            async fn sleep(&self, ms: u64) {
                self.0.set(self.0.get() + ms);
            }
            fn now_ms(&self) -> u64 {
                self.0.get()
            }
            fn random(&self) -> f64 {
                0.0
            }
        }
        let running = r#"{"id":"j","code":1,"desc":"processing","items":[]}"#;
        let script = Script {
            replies: std::cell::RefCell::new(vec![reply(200, running), reply(200, running), reply(200, running)]),
            seen: Default::default(),
        };
        let manager = WcsManager::new(script, Credentials::new("a", "s"), "http://m");
        let clock = Clock(std::cell::Cell::new(1_000));
        let err = block_on(manager.wait(JobKind::Fmgr, "j", &clock, 60_000, 5_000)).unwrap_err();
        assert_eq!(err.code(), Some("job-timeout"));
        assert_eq!((clock.0.get(), manager.transport().seen.borrow().len()), (6_000, 2));

        // A service whose markers go round (m1, m2, m1) ends the stream with an error after the
        // page that pointed back, not a loop.
        let script = Script {
            replies: std::cell::RefCell::new(vec![
                reply(200, r#"{"marker":"m1","items":[]}"#),
                reply(200, r#"{"marker":"m2","items":[]}"#),
                reply(200, r#"{"marker":"m1","items":[{"key":"x"}]}"#),
                reply(200, r#"{"marker":"m2","items":[]}"#),
            ]),
            seen: Default::default(),
        };
        let manager = WcsManager::new(script, Credentials::new("a", "s"), "http://m");
        block_on(async {
            let pages: Vec<Result<ListPage>> = manager.list_pages(ListQuery::new("b")).collect().await;
            assert_eq!(pages.len(), 4, "{pages:?}");
            assert_eq!(pages[2].as_ref().unwrap().items[0].key, "x");
            assert!(pages[3].as_ref().unwrap_err().message().contains("\"m1\" a second time"));
            assert_eq!(manager.transport().seen.borrow().len(), 3);
        });
    }
}
