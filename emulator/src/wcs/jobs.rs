//! Async jobs (wcs.md §8, §9): `POST /fmgr/<op>` and `POST /fops` answer `{"persistentId"}` at
//! once; the job then runs in a background task, its state kept in the store (`jobs` table) after
//! every step, so that it survives a restart (unfinished jobs are picked up again when the
//! emulator starts; finished tasks are not redone). Status: `GET /fmgr/status` and
//! `GET /status/get/prefop`, both without auth (§2.3).
//!
//! Observable transitions: the job is `0` (queued) for one step, then `1` (processing) while its
//! tasks run one by one (each task is `1` for one step, then `3` succeeded or `2` failed), then
//! `3` (done). With a `notifyURL` it then goes `4` (notifying) → `6` (notified) or `5` (every
//! attempt failed). A step is 200 ms, or `YUNUP_EMULATOR_JOB_STEP_MS`. The job-level code stays
//! `3` when some tasks failed (the real sample never shows another; UNVERIFIED): look at the items.
//!
//! Notifications (§8.3): `POST <notifyURL>`, `Content-Type: text/plain; charset=UTF-8`, body =
//! URL-safe base64 of the status JSON (its `code` 3 when every task succeeded, 2 otherwise),
//! `Authorization: <AK>:<urlsafe_b64(hex(HMAC-SHA1(SK, notifyURL + "\n" + body)))>` with the key
//! pair that submitted the job. With `separate=1`, one notification per task, sent as it
//! finishes (items = that task), instead of one per job. Three attempts (at once, after 200 ms,
//! after 1 s; the real service retries 8 times over minutes); any 2xx answer counts.
//!
//! fmgr tasks (`fops=<task;task...>`, values not percent-encoded):
//! * `fetch` downloads `http://` URLs (the emulator cannot do TLS) of up to 256 MiB; the key is
//!   `key`, else the URL's path; `prefix` is joined with `/`; `md5` (hex, or base64 of hex as the
//!   Java SDK sends it) is verified; `decompression` is not emulated (the task fails).
//! * `copy`/`move` (`resource/<entry>/bucket/<b64>[/key/][/prefix/]`, default: the source key),
//!   `delete`, `deletePrefix` (`[/output/<entry>]` writes the deleted keys, one per line) and
//!   `deletem3u8` (`[/deletets/1]` also deletes the segments the playlist names).
//! * `setdeadline` (`bucket/<b64>[/prefix/<b64>]/deadline/<days>`, or `deleteAfterDays` as Java
//!   sends it) sets the retention of every object in the bucket, or under the prefix taken as a
//!   directory (`in` matches `in/a`, not `inbox`), as `POST /setdeadline` does for one.
//! * `compress` (`bucket/<b64>/keys/<b64>|<b64>...[/keyList/<b64>]/saveas/<entry>`) zips the keys
//!   (a key ending in `/` is every object under it) or, without `keys`, those listed one per line
//!   in the `keyList` object of the bucket (a `bucket:key` entry is accepted too). Each object is
//!   an entry named by its key; the archive is stored, not deflated (the real service's
//!   compression is UNVERIFIED), and the task fails above 256 MiB of input, on a missing key, or
//!   when the keys name no object.
//! * As for the synchronous calls, a destination that exists is replaced; `force` is ignored.
//!   Other ops are refused with 400.
//!
//! fops (`bucket=&key=&fops=<b64 "cmd|...|saveas/<entry>;cmd...">`): the emulator cannot
//! process media, so every command produces a **deterministic placeholder**: a `text/plain`
//! object whose content is
//! `yunup-emulator placeholder output\nfop: <command>\ninput: <bucket>:<key>\ninput-hash: <etag>\ninput-size: <bytes>\n`,
//! saved at the `saveas` entry, or without one at `<key>-<first 12 hex of SHA-1(command)>.<ext>`
//! in the input's bucket (`<ext>` = the command's first argument, e.g. `jpg` in `vframe/jpg/...`,
//! when it is a short alphanumeric word, else `out`). An output that exists is kept (task
//! succeeded, nothing rewritten) unless `force=1`. A command whose name is not a word fails.

use axum::http::request::Parts;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use yunup::encoding::urlsafe_b64;
use yunup::hash::{Hasher, Sha1};

use super::manage::{b64_text, copy_object, delete_object, m3u8_segments, move_object, need_bucket};
use super::objects::{check_management_body, decode_entry};
use super::{WcsError, WcsResult, callback, json_reply};
use crate::http::{AppState, header_text, pair, parse_pairs, percent_decode};
use crate::store::{Object, ObjectAttrs, Service, now_ms};

const FETCH_LIMIT: usize = 256 << 20;
/// The most bytes of objects one `compress` task zips, and of the `keyList` object it reads.
const COMPRESS_LIMIT: u64 = 256 << 20;
const KEY_LIST_LIMIT: u64 = 16 << 20;

fn step_ms() -> u64 {
    std::env::var("YUNUP_EMULATOR_JOB_STEP_MS").ok().and_then(|v| v.parse().ok()).unwrap_or(200)
}

/// A job as stored (the `state` column).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Record {
    /// `fmgr` or `fops`.
    kind: String,
    /// The fmgr operation (`fetch`, ...); `fops` for fops.
    op: String,
    access_key: String,
    notify_url: Option<String>,
    force: bool,
    separate: bool,
    /// `http://<Host>` of the submission, for the `url` of results.
    base_url: String,
    /// fops: the input object.
    bucket: String,
    key: String,
    input_fsize: Option<u64>,
    code: i64,
    desc: String,
    tasks: Vec<String>,
    items: Vec<Value>,
}

impl Record {
    fn status_json(&self, id: &str) -> Value {
        let mut status = json!({
            "id": id,
            "code": self.code,
            "desc": self.desc,
            "separate": i64::from(self.separate),
            "items": self.items,
        });
        if self.kind == "fops" {
            status["inputkey"] = json!(self.key);
            status["inputbucket"] = json!(self.bucket);
            status["inputfsize"] = json!(self.input_fsize);
        }
        status
    }

    fn all_succeeded(&self) -> bool {
        self.items.iter().all(|i| i["code"] == 3)
    }
}

fn pending_item(cmd: &str) -> Value {
    json!({"cmd": cmd, "code": 0, "desc": "pending", "error": null})
}

fn object_url(base_url: &str, object: &Object) -> String {
    format!(
        "{base_url}/{}/{}",
        yunup::encoding::percent_encode(&object.bucket, false),
        yunup::encoding::percent_encode(&object.key, true)
    )
}

fn done_item(cmd: &str, desc: &str, object: Option<&Object>, base_url: &str) -> Value {
    let mut item = json!({"cmd": cmd, "code": 3, "desc": desc, "error": null});
    if let Some(o) = object {
        item["key"] = json!(o.key);
        item["hash"] = json!(o.digests.wcs_etag);
        item["fsize"] = json!(o.size);
        item["url"] = json!(object_url(base_url, o));
    }
    item
}

fn failed_item(cmd: &str, error: &str) -> Value {
    json!({"cmd": cmd, "code": 2, "desc": "failed", "error": error})
}

// ---- submission -----------------------------------------------------------------------------------

fn base_url(parts: &Parts) -> String {
    match header_text(&parts.headers, "host") {
        "" => "http://127.0.0.1".to_owned(),
        host => format!("http://{host}"),
    }
}

fn options(fields: &[(String, String)]) -> WcsResult<(Option<String>, bool, bool)> {
    let notify = match pair(fields, "notifyURL").filter(|u| !u.is_empty()) {
        Some(u) => Some(b64_text("notifyURL", u)?),
        None => None,
    };
    let flag = |name: &str| pair(fields, name).map(str::trim) == Some("1");
    Ok((notify, flag("force"), flag("separate")))
}

fn respond_with_id(id: &str) -> Response {
    json_reply(200, json!({ "persistentId": id }).to_string())
}

fn start(state: &AppState, record: &Record) -> WcsResult<String> {
    let text = serde_json::to_string(record).map_err(|e| WcsError::new(500, e.to_string()))?;
    let job = state.store.create_job(Service::Wcs, &record.kind, &text)?;
    spawn(state.clone(), job.id.clone());
    Ok(job.id)
}

/// `POST /fmgr/<op>`.
pub async fn submit_fmgr(state: &AppState, parts: &Parts, body: &[u8], op: &str) -> WcsResult<Response> {
    let access_key = check_management_body(state, parts, body)?;
    if !matches!(op, "fetch" | "copy" | "move" | "delete" | "deletePrefix" | "deletem3u8" | "setdeadline" | "compress")
    {
        return Err(WcsError::new(400, format!("fmgr/{op} is not supported by the emulator")));
    }
    let fields = parse_pairs(&String::from_utf8_lossy(body));
    let fops = pair(&fields, "fops").map(str::trim).filter(|f| !f.is_empty());
    let fops = fops.ok_or_else(|| WcsError::new(400, "no fops: send fops=<task>[;<task>...]"))?;
    let tasks: Vec<String> = fops.split(';').map(str::trim).filter(|t| !t.is_empty()).map(str::to_owned).collect();
    for spec in &tasks {
        let task = Task::parse(op, spec).map_err(|e| WcsError::new(400, format!("task {spec:?}: {e}")))?;
        for bucket in task.buckets() {
            need_bucket(state, bucket)?;
        }
    }
    let (notify_url, force, separate) = options(&fields)?;
    let record = Record {
        kind: "fmgr".into(),
        op: op.to_owned(),
        access_key,
        notify_url,
        force,
        separate,
        base_url: base_url(parts),
        bucket: String::new(),
        key: String::new(),
        input_fsize: None,
        code: 0,
        desc: "queued".into(),
        items: tasks.iter().map(|t| pending_item(t)).collect(),
        tasks,
    };
    Ok(respond_with_id(&start(state, &record)?))
}

/// `POST /fops`.
pub async fn submit_fops(state: &AppState, parts: &Parts, body: &[u8]) -> WcsResult<Response> {
    let access_key = check_management_body(state, parts, body)?;
    let fields = parse_pairs(&String::from_utf8_lossy(body));
    let bucket = b64_text("bucket", pair(&fields, "bucket").unwrap_or(""))?;
    let key = b64_text("key", pair(&fields, "key").unwrap_or(""))?;
    let fops = b64_text("fops", pair(&fields, "fops").unwrap_or(""))?;
    let tasks: Vec<String> = fops.split(';').map(str::trim).filter(|t| !t.is_empty()).map(str::to_owned).collect();
    if tasks.is_empty() {
        return Err(WcsError::new(400, "no fops: send fops=<b64 of cmd[|saveas/<entry>][;cmd...]>"));
    }
    for cmd in &tasks {
        Fop::parse(cmd).map_err(|e| WcsError::new(400, format!("fop {cmd:?}: {e}")))?;
    }
    let input = super::objects::find_object(state, &bucket, &key)?;
    let (notify_url, force, separate) = options(&fields)?;
    let record = Record {
        kind: "fops".into(),
        op: "fops".into(),
        access_key,
        notify_url,
        force,
        separate,
        base_url: base_url(parts),
        bucket,
        key,
        input_fsize: Some(input.size),
        code: 0,
        desc: "queued".into(),
        items: tasks.iter().map(|t| pending_item(t)).collect(),
        tasks,
    };
    Ok(respond_with_id(&start(state, &record)?))
}

/// `persistentOps` of an upload token (§11): an fops job on the new object. `None` when the
/// ops are empty or malformed (the upload still succeeds; `$(persistentId)` is then empty).
pub(crate) fn submit_persistent_ops(
    state: &AppState,
    access_key: &str,
    object: &Object,
    ops: &str,
    notify_url: Option<&str>,
    base_url: &str,
) -> Option<String> {
    let tasks: Vec<String> = ops.split(';').map(str::trim).filter(|t| !t.is_empty()).map(str::to_owned).collect();
    if tasks.is_empty() || tasks.iter().any(|t| Fop::parse(t).is_err()) {
        return None;
    }
    let record = Record {
        kind: "fops".into(),
        op: "fops".into(),
        access_key: access_key.to_owned(),
        notify_url: notify_url.filter(|u| !u.is_empty()).map(str::to_owned),
        force: false,
        separate: false,
        base_url: base_url.to_owned(),
        bucket: object.bucket.clone(),
        key: object.key.clone(),
        input_fsize: Some(object.size),
        code: 0,
        desc: "queued".into(),
        items: tasks.iter().map(|t| pending_item(t)).collect(),
        tasks,
    };
    start(state, &record).ok()
}

/// `GET /fmgr/status?persistentId=` and `GET /status/get/prefop?persistentId=` (no auth).
pub fn status(state: &AppState, parts: &Parts, kind: &str) -> WcsResult<Response> {
    let q = parse_pairs(parts.uri.query().unwrap_or(""));
    let id = pair(&q, "persistentId").unwrap_or("").trim();
    if id.is_empty() {
        return Err(WcsError::new(400, "no persistentId given"));
    }
    let not_found = || WcsError::new(404, format!("no {kind} job with persistentId {id:?}"));
    let job = state.store.job(Service::Wcs, id)?.filter(|j| j.kind == kind).ok_or_else(not_found)?;
    let record: Record = serde_json::from_str(&job.state).map_err(|_| not_found())?;
    Ok(json_reply(200, record.status_json(id).to_string()))
}

// ---- running --------------------------------------------------------------------------------------

/// Run every job a previous process left unfinished.
pub(crate) fn resume_all(state: &AppState) {
    if tokio::runtime::Handle::try_current().is_err() {
        return;
    }
    match state.store.unfinished_jobs(Service::Wcs) {
        Ok(jobs) => {
            for job in jobs {
                println!("wcs job {}: resuming ({})", job.id, job.kind);
                spawn(state.clone(), job.id);
            }
        }
        Err(e) => println!("wcs jobs: cannot read unfinished jobs: {e}"),
    }
}

fn spawn(state: AppState, id: String) {
    tokio::spawn(async move {
        if let Err(e) = run(&state, &id).await {
            println!("wcs job {id}: stopped: {}", e.message);
        }
    });
}

fn save(state: &AppState, id: &str, record: &Record, done: bool) -> WcsResult<()> {
    let text = serde_json::to_string(record).map_err(|e| WcsError::new(500, e.to_string()))?;
    state.store.update_job(id, &text, done)?;
    Ok(())
}

async fn sleep(ms: u64) {
    tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
}

async fn run(state: &AppState, id: &str) -> WcsResult<()> {
    let job = state.store.job(Service::Wcs, id)?.ok_or_else(|| WcsError::new(404, "the job is gone"))?;
    let mut record: Record =
        serde_json::from_str(&job.state).map_err(|e| WcsError::new(500, format!("unreadable job state: {e}")))?;
    // One object per task, whatever the stored state says (indexing below relies on it).
    let tasks = record.tasks.clone();
    record.items.resize_with(tasks.len(), Value::default);
    for (item, task) in record.items.iter_mut().zip(&tasks) {
        if !item.is_object() {
            *item = pending_item(task);
        }
    }
    let step = step_ms();
    if record.code == 0 {
        sleep(step).await;
        record.code = 1;
        record.desc = "processing".into();
        save(state, id, &record, false)?;
    }
    if record.code == 1 {
        for i in 0..record.tasks.len() {
            if matches!(record.items[i]["code"].as_i64(), Some(2 | 3)) {
                continue;
            }
            let cmd = record.tasks[i].clone();
            record.items[i]["code"] = json!(1);
            record.items[i]["desc"] = json!("processing");
            save(state, id, &record, false)?;
            sleep(step).await;
            let started = now_ms();
            let mut item = if record.kind == "fops" {
                run_fop(state, &record, &cmd).await
            } else {
                run_fmgr(state, &record, &cmd).await
            };
            if record.kind == "fops" {
                item["costTime"] = json!(now_ms().saturating_sub(started));
            }
            record.items[i] = item;
            save(state, id, &record, false)?;
            if record.separate
                && let Some(url) = record.notify_url.clone()
            {
                let mut one = record.clone();
                one.items = vec![record.items[i].clone()];
                one.code = if one.all_succeeded() { 3 } else { 2 };
                let delivered = notify(state, &record.access_key, &url, &one.status_json(id)).await;
                record.items[i]["notified"] = json!(delivered);
            }
        }
        record.code = 3;
        record.desc = if record.all_succeeded() { "fileOperateSucceed" } else { "some tasks failed: see items" }.into();
        save(state, id, &record, record.notify_url.is_none())?;
    }
    let Some(url) = record.notify_url.clone() else { return Ok(()) };
    if record.code == 3 || record.code == 4 {
        record.code = 4;
        record.desc = "notifying".into();
        save(state, id, &record, false)?;
        let delivered = if record.separate {
            record.items.iter().all(|i| i["notified"] == json!(true))
        } else {
            let mut body = record.clone();
            body.code = if record.all_succeeded() { 3 } else { 2 };
            body.desc =
                if record.all_succeeded() { "fileOperateSucceed" } else { "some tasks failed: see items" }.into();
            notify(state, &record.access_key, &url, &body.status_json(id)).await
        };
        record.code = if delivered { 6 } else { 5 };
        record.desc = if delivered { "notify succeeded" } else { "notify failed" }.into();
        save(state, id, &record, true)?;
    }
    Ok(())
}

/// POST the notification; true when some attempt got a 2xx.
async fn notify(state: &AppState, access_key: &str, url: &str, status: &Value) -> bool {
    let body = urlsafe_b64(status.to_string());
    let authorization = state
        .credentials
        .iter()
        .find(|c| c.access_key() == access_key)
        .or_else(|| state.credentials.first())
        .map(|c| yunup::sign::wcs::sign(c, format!("{url}\n{body}").as_bytes()))
        .unwrap_or_default();
    for delay in [0, 200, 1000] {
        sleep(delay).await;
        match callback::notify(url, &body, &authorization).await {
            Ok(answer) if (200..300).contains(&answer.status) => return true,
            Ok(answer) => println!("wcs job notification to {url}: answered {}", answer.status),
            Err(e) => println!("wcs job notification: {e}"),
        }
    }
    false
}

// ---- fmgr tasks -----------------------------------------------------------------------------------

#[derive(Debug, PartialEq, Eq)]
enum Task {
    Fetch {
        url: String,
        bucket: String,
        key: Option<String>,
        prefix: Option<String>,
        md5: Option<String>,
        decompression: Option<String>,
    },
    Copy {
        from: (String, String),
        bucket: String,
        key: Option<String>,
        prefix: Option<String>,
        is_move: bool,
    },
    Delete {
        bucket: String,
        key: String,
    },
    DeletePrefix {
        bucket: String,
        prefix: String,
        output: Option<(String, String)>,
    },
    DeleteM3u8 {
        bucket: String,
        key: String,
        delete_ts: bool,
    },
    SetDeadline {
        bucket: String,
        prefix: Option<String>,
        days: i64,
    },
    Compress {
        bucket: String,
        keys: Vec<String>,
        key_list: Option<String>,
        saveas: (String, String),
    },
}

/// `name/value/name/value...` (unknown names kept, ignored by the ops).
fn spec_pairs(spec: &str) -> Result<Vec<(String, String)>, String> {
    let parts: Vec<&str> = spec.split('/').collect();
    if !parts.len().is_multiple_of(2) {
        return Err("a task is name/value pairs separated by /".into());
    }
    Ok(parts.chunks(2).map(|c| (c[0].to_owned(), c[1].to_owned())).collect())
}

fn b64(what: &str, value: &str) -> Result<String, String> {
    b64_text(what, value).map_err(|e| e.message)
}

fn md5_hex(value: &str) -> Result<String, String> {
    let is_hex = |s: &str| s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit());
    if is_hex(value) {
        return Ok(value.to_ascii_lowercase());
    }
    // The Java SDK base64-encodes it.
    match b64("md5", value) {
        Ok(text) if is_hex(text.trim()) => Ok(text.trim().to_ascii_lowercase()),
        _ => Err(format!("md5 {value:?} is not 32 hex digits")),
    }
}

impl Task {
    fn parse(op: &str, spec: &str) -> Result<Task, String> {
        let pairs = spec_pairs(spec)?;
        let get = |name: &str| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
        let need = |name: &str| get(name).filter(|v| !v.is_empty()).ok_or_else(|| format!("no {name} given"));
        let opt_b64 = |name: &str| get(name).filter(|v| !v.is_empty()).map(|v| b64(name, v)).transpose();
        Ok(match op {
            "fetch" => Task::Fetch {
                url: b64("fetchURL", need("fetchURL")?)?,
                bucket: b64("bucket", need("bucket")?)?,
                key: opt_b64("key")?,
                prefix: opt_b64("prefix")?,
                md5: get("md5").filter(|v| !v.is_empty()).map(md5_hex).transpose()?,
                decompression: get("decompression").filter(|v| !v.is_empty()).map(str::to_owned),
            },
            "copy" | "move" => Task::Copy {
                from: decode_entry(need("resource")?).map_err(|e| e.message)?,
                bucket: b64("bucket", need("bucket")?)?,
                key: opt_b64("key")?,
                prefix: opt_b64("prefix")?,
                is_move: op == "move",
            },
            "delete" => Task::Delete { bucket: b64("bucket", need("bucket")?)?, key: b64("key", need("key")?)? },
            "deletePrefix" => Task::DeletePrefix {
                bucket: b64("bucket", need("bucket")?)?,
                prefix: b64("prefix", need("prefix")?)?,
                output: get("output")
                    .filter(|v| !v.is_empty())
                    .map(|v| decode_entry(v).map_err(|e| e.message))
                    .transpose()?,
            },
            "deletem3u8" => Task::DeleteM3u8 {
                bucket: b64("bucket", need("bucket")?)?,
                key: b64("key", need("key")?)?,
                delete_ts: get("deletets").map(str::trim) == Some("1"),
            },
            "setdeadline" => {
                let days = get("deadline").or_else(|| get("deleteAfterDays")).ok_or("no deadline given")?;
                Task::SetDeadline {
                    bucket: b64("bucket", need("bucket")?)?,
                    prefix: opt_b64("prefix")?,
                    days: match days.trim().parse::<i64>() {
                        Ok(d) if d >= -1 => d,
                        _ => return Err(format!("deadline is a number of days, 0 or -1, not {days:?}")),
                    },
                }
            }
            "compress" => {
                // `|` between keys; the documentation renders it `¦`, so that is taken too.
                let keys = get("keys").unwrap_or("").split(['|', '¦']).filter(|k| !k.is_empty());
                let keys = keys.map(|k| b64("keys", k)).collect::<Result<Vec<_>, _>>()?;
                // keys wins over keyList; the PHP example spells it keylist.
                let key_list = if keys.is_empty() { get("keyList").or_else(|| get("keylist")) } else { None };
                let key_list = key_list.filter(|v| !v.is_empty()).map(|v| b64("keyList", v)).transpose()?;
                if keys.is_empty() && key_list.is_none() {
                    return Err("no keys or keyList given".into());
                }
                Task::Compress {
                    bucket: b64("bucket", need("bucket")?)?,
                    keys,
                    key_list,
                    saveas: decode_entry(need("saveas")?).map_err(|e| e.message)?,
                }
            }
            other => return Err(format!("fmgr/{other} is not supported")),
        })
    }

    /// Buckets that must exist when the job is submitted.
    fn buckets(&self) -> Vec<&str> {
        match self {
            Task::Fetch { bucket, .. }
            | Task::Delete { bucket, .. }
            | Task::DeletePrefix { bucket, .. }
            | Task::DeleteM3u8 { bucket, .. }
            | Task::SetDeadline { bucket, .. } => vec![bucket],
            Task::Copy { from, bucket, .. } => vec![&from.0, bucket],
            Task::Compress { bucket, saveas, .. } => vec![bucket, &saveas.0],
        }
    }
}

/// `prefix` + `/` + `key` (no doubled slash).
fn join_key(prefix: Option<&str>, key: &str) -> String {
    match prefix.filter(|p| !p.is_empty()) {
        Some(p) if p.ends_with('/') => format!("{p}{key}"),
        Some(p) => format!("{p}/{key}"),
        None => key.to_owned(),
    }
}

async fn run_fmgr(state: &AppState, record: &Record, cmd: &str) -> Value {
    let task = match Task::parse(&record.op, cmd) {
        Ok(t) => t,
        Err(e) => return failed_item(cmd, &e),
    };
    match run_task(state, &task).await {
        Ok((desc, object)) => done_item(cmd, &desc, object.as_ref(), &record.base_url),
        Err(e) => failed_item(cmd, &e),
    }
}

fn object_or(state: &AppState, bucket: &str, key: &str) -> Result<Object, String> {
    match state.store.object(Service::Wcs, bucket, key) {
        Ok(Some(o)) => Ok(o),
        Ok(None) => Err(format!("file not found: {bucket}:{key}")),
        Err(e) => Err(e.to_string()),
    }
}

async fn run_task(state: &AppState, task: &Task) -> Result<(String, Option<Object>), String> {
    let store = &state.store;
    let msg = |e: WcsError| e.message;
    match task {
        Task::Fetch { url, bucket, key, prefix, md5, decompression } => {
            if decompression.is_some() {
                return Err("decompression is not emulated".into());
            }
            let default_key = || {
                let rest = url.split_once("://").map_or(url.as_str(), |(_, r)| r);
                let path = rest.find('/').map_or("", |i| &rest[i + 1..]);
                percent_decode(path.split(['?', '#']).next().unwrap_or(""))
            };
            let key = join_key(prefix.as_deref(), &key.clone().unwrap_or_else(default_key));
            super::check_key(&key).map_err(msg)?;
            let answer = callback::get(url, FETCH_LIMIT).await?;
            if !(200..300).contains(&answer.status) {
                return Err(format!("the source answered HTTP {}", answer.status));
            }
            let mut writer = store.blob_writer().await.map_err(|e| e.to_string())?;
            writer.write(&answer.body).await.map_err(|e| e.to_string())?;
            let blob = writer.commit().await.map_err(|e| e.to_string())?;
            if let Some(expected) = md5
                && *expected != blob.digests.md5()
            {
                store.discard_blob(&blob);
                return Err(format!("md5 mismatch: expected {expected}, fetched {}", blob.digests.md5()));
            }
            let mime = match answer.content_type.as_deref().unwrap_or("").split(';').next().unwrap_or("").trim() {
                "" | "application/octet-stream" => super::template::mime_for(&key).to_owned(),
                m => m.to_owned(),
            };
            let object = store
                .put_object(Service::Wcs, bucket, &key, &blob, &ObjectAttrs { mime: &mime, meta: "{}" }, true)
                .map_err(|e| e.to_string())?;
            Ok(("fileOperateSucceed".into(), Some(object)))
        }
        Task::Copy { from, bucket, key, prefix, is_move } => {
            let source = object_or(state, &from.0, &from.1)?;
            let key = join_key(prefix.as_deref(), key.as_deref().unwrap_or(&from.1));
            super::check_key(&key).map_err(msg)?;
            let object = if *is_move {
                move_object(store, &source, bucket, &key).map_err(msg)?
            } else if (from.0.as_str(), from.1.as_str()) == (bucket.as_str(), key.as_str()) {
                source
            } else {
                copy_object(store, &source, bucket, &key).await.map_err(msg)?
            };
            Ok(("fileOperateSucceed".into(), Some(object)))
        }
        Task::Delete { bucket, key } => {
            delete_object(store, bucket, key).map_err(msg)?;
            Ok(("fileOperateSucceed".into(), None))
        }
        Task::DeletePrefix { bucket, prefix, output } => {
            let mut deleted = Vec::new();
            loop {
                let batch = store.list_objects(Service::Wcs, bucket, prefix, "", 500).map_err(|e| e.to_string())?;
                if batch.is_empty() {
                    break;
                }
                for object in batch {
                    store.delete_object(Service::Wcs, bucket, &object.key).map_err(|e| e.to_string())?;
                    deleted.push(object.key);
                }
            }
            let mut result = None;
            if let Some((out_bucket, out_key)) = output {
                let list: String = deleted.iter().map(|k| format!("{k}\n")).collect();
                result = Some(put_text(state, out_bucket, out_key, &list, "text/plain").await?);
            }
            Ok((format!("deleted {} objects", deleted.len()), result))
        }
        Task::DeleteM3u8 { bucket, key, delete_ts } => {
            let playlist = object_or(state, bucket, key)?;
            let mut count = 0;
            if *delete_ts {
                for segment in m3u8_segments(store, &playlist).await {
                    if store.delete_object(Service::Wcs, bucket, &segment).is_ok() {
                        count += 1;
                    }
                }
            }
            delete_object(store, bucket, key).map_err(msg)?;
            Ok((format!("deleted the playlist and {count} segments"), None))
        }
        Task::SetDeadline { bucket, prefix, days } => {
            // A directory match: `in` is the directory `in/`, never `inbox`.
            let dir = match prefix.as_deref().filter(|p| !p.is_empty()) {
                Some(p) if p.ends_with('/') => p.to_owned(),
                Some(p) => format!("{p}/"),
                None => String::new(),
            };
            let objects = all_objects(state, bucket, &dir)?;
            for object in &objects {
                super::manage::apply_deadline(store, object, *days).map_err(msg)?;
            }
            Ok((format!("set the deadline of {} objects", objects.len()), None))
        }
        Task::Compress { bucket, keys, key_list, saveas } => {
            let keys = match key_list {
                Some(list) => listed_keys(state, bucket, list).await?,
                None => keys.clone(),
            };
            let mut objects: Vec<Object> = Vec::new();
            for key in &keys {
                let found = match key.ends_with('/') {
                    true => all_objects(state, bucket, key)?,
                    false => vec![object_or(state, bucket, key)?],
                };
                for object in found {
                    if !objects.iter().any(|o| o.key == object.key) {
                        objects.push(object);
                    }
                }
            }
            if objects.is_empty() {
                return Err(format!("nothing to zip: no object under {}", keys.join(", ")));
            }
            let total: u64 = objects.iter().map(|o| o.size).sum();
            if total > COMPRESS_LIMIT {
                return Err(format!("the emulator zips up to {COMPRESS_LIMIT} bytes, these objects are {total}"));
            }
            let mut zip = super::zip::ZipWriter::default();
            for object in &objects {
                let data = tokio::fs::read(store.blob_path(&object.blob)).await.map_err(|e| e.to_string())?;
                zip.add(&object.key, &data, object.created_ms)?;
            }
            let archive = put_bytes(state, &saveas.0, &saveas.1, &zip.finish(), "application/zip").await?;
            Ok(("fileOperateSucceed".into(), Some(archive)))
        }
    }
}

/// Every object of `bucket` whose key starts with `prefix`, in key order.
fn all_objects(state: &AppState, bucket: &str, prefix: &str) -> Result<Vec<Object>, String> {
    let mut objects: Vec<Object> = Vec::new();
    loop {
        let marker = objects.last().map_or("", |o| o.key.as_str());
        let batch = state.store.list_objects(Service::Wcs, bucket, prefix, marker, 500).map_err(|e| e.to_string())?;
        if batch.is_empty() {
            return Ok(objects);
        }
        objects.extend(batch);
    }
}

/// The keys a `keyList` object names, one per line (not encoded). `list` is a key of `bucket`,
/// or a `bucket:key` entry (UNVERIFIED which one the service takes).
async fn listed_keys(state: &AppState, bucket: &str, list: &str) -> Result<Vec<String>, String> {
    let object = match (object_or(state, bucket, list), list.split_once(':')) {
        (Ok(o), _) => o,
        (Err(_), Some((b, k))) => object_or(state, b, k)?,
        (Err(e), None) => return Err(e),
    };
    if object.size > KEY_LIST_LIMIT {
        return Err(format!("the keyList {list} is {} bytes, more than the emulator reads", object.size));
    }
    let text = tokio::fs::read(state.store.blob_path(&object.blob)).await.map_err(|e| e.to_string())?;
    let keys: Vec<String> =
        String::from_utf8_lossy(&text).lines().map(str::trim).filter(|k| !k.is_empty()).map(str::to_owned).collect();
    if keys.is_empty() {
        return Err(format!("the keyList {list} names no keys"));
    }
    Ok(keys)
}

async fn put_text(state: &AppState, bucket: &str, key: &str, text: &str, mime: &str) -> Result<Object, String> {
    put_bytes(state, bucket, key, text.as_bytes(), mime).await
}

async fn put_bytes(state: &AppState, bucket: &str, key: &str, bytes: &[u8], mime: &str) -> Result<Object, String> {
    if state.store.bucket(Service::Wcs, bucket).map_err(|e| e.to_string())?.is_none() {
        return Err(format!("bucket {bucket:?} does not exist"));
    }
    super::check_key(key).map_err(|e| e.message)?;
    let store = &state.store;
    let mut writer = store.blob_writer().await.map_err(|e| e.to_string())?;
    writer.write(bytes).await.map_err(|e| e.to_string())?;
    let blob = writer.commit().await.map_err(|e| e.to_string())?;
    store
        .put_object(Service::Wcs, bucket, key, &blob, &ObjectAttrs { mime, meta: "{}" }, true)
        .map_err(|e| e.to_string())
}

// ---- fops -----------------------------------------------------------------------------------------

/// One fops command: the first stage's argument, and where its output goes.
#[derive(Debug, PartialEq, Eq)]
struct Fop {
    first_arg: Option<String>,
    saveas: Option<(String, String)>,
}

impl Fop {
    fn parse(cmd: &str) -> Result<Fop, String> {
        let mut stages = cmd.split('|').map(str::trim);
        let first = stages.next().unwrap_or("");
        let mut words = first.split('/');
        let name = words.next().unwrap_or("");
        let word = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !word(name) {
            return Err(format!("{name:?} is not a command name"));
        }
        let first_arg = words.next().map(str::to_owned);
        let mut saveas = None;
        for stage in stages {
            if let Some(entry) = stage.strip_prefix("saveas/") {
                saveas = Some(decode_entry(entry).map_err(|e| e.message)?);
            } else if !word(stage.split('/').next().unwrap_or("")) {
                return Err(format!("{stage:?} is not a command"));
            }
        }
        Ok(Fop { first_arg, saveas })
    }

    /// Where the output goes without `saveas`: next to the input.
    fn default_key(&self, cmd: &str, input_key: &str) -> String {
        let ext = self
            .first_arg
            .as_deref()
            .filter(|a| !a.is_empty() && a.len() <= 5 && a.bytes().all(|b| b.is_ascii_alphanumeric()))
            .unwrap_or("out");
        let digest = Sha1::digest(cmd.as_bytes()).to_hex();
        format!("{input_key}-{}.{ext}", &digest[..12])
    }
}

/// The deterministic placeholder a media command produces.
fn placeholder(cmd: &str, input: &Object) -> String {
    format!(
        "yunup-emulator placeholder output\nfop: {cmd}\ninput: {}:{}\ninput-hash: {}\ninput-size: {}\n",
        input.bucket, input.key, input.digests.wcs_etag, input.size
    )
}

async fn run_fop(state: &AppState, record: &Record, cmd: &str) -> Value {
    let fop = match Fop::parse(cmd) {
        Ok(f) => f,
        Err(e) => return failed_item(cmd, &e),
    };
    let input = match object_or(state, &record.bucket, &record.key) {
        Ok(o) => o,
        Err(e) => return failed_item(cmd, &e),
    };
    let (bucket, key) =
        fop.saveas.clone().unwrap_or_else(|| (record.bucket.clone(), fop.default_key(cmd, &record.key)));
    if !record.force
        && let Ok(Some(existing)) = state.store.object(Service::Wcs, &bucket, &key)
    {
        return done_item(cmd, "the output exists; force=1 redoes it", Some(&existing), &record.base_url);
    }
    match put_text(state, &bucket, &key, &placeholder(cmd, &input), "text/plain").await {
        Ok(object) => {
            let mut item = done_item(cmd, "The fop was processed successfully", Some(&object), &record.base_url);
            item["detail"] = json!([]);
            item
        }
        Err(e) => failed_item(cmd, &e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tasks_parse_as_the_sdks_write_them() {
        let spec = format!(
            "fetchURL/{}/bucket/{}/key/{}/md5/{}",
            urlsafe_b64("http://h/a.png"),
            urlsafe_b64("b"),
            urlsafe_b64("k"),
            urlsafe_b64("5eb63bbbe01eeed093cb22bb8f5acdc3")
        );
        assert_eq!(
            Task::parse("fetch", &spec).unwrap(),
            Task::Fetch {
                url: "http://h/a.png".into(),
                bucket: "b".into(),
                key: Some("k".into()),
                prefix: None,
                md5: Some("5eb63bbbe01eeed093cb22bb8f5acdc3".into()),
                decompression: None,
            }
        );
        let copy = format!("resource/{}/bucket/{}", urlsafe_b64("b:k"), urlsafe_b64("c"));
        assert!(matches!(Task::parse("move", &copy).unwrap(), Task::Copy { is_move: true, .. }));
        assert!(Task::parse("delete", "bucket/Yg==").is_err());
        assert!(Task::parse("delete", "bucket/Yg==/key").is_err());
        assert!(Task::parse("compress", "bucket/Yg==").is_err(), "no keys");
        assert!(Task::parse("compress", "bucket/Yg==/keys/YQ==").is_err(), "no saveas");
        let zip = format!("bucket/Yg==/keys/YQ==|Yi8=¦Yw==/keyList/bA==/saveas/{}", urlsafe_b64("b:z.zip"));
        assert_eq!(
            Task::parse("compress", &zip).unwrap(),
            Task::Compress {
                bucket: "b".into(),
                keys: vec!["a".into(), "b/".into(), "c".into()],
                key_list: None,
                saveas: ("b".into(), "z.zip".into())
            }
        );
        let listed = Task::parse("compress", &format!("bucket/Yg==/keys//keylist/bA==/saveas/{}", urlsafe_b64("b:z")));
        assert!(matches!(listed.unwrap(), Task::Compress { key_list: Some(l), .. } if l == "l"));
        assert_eq!(
            Task::parse("setdeadline", "bucket/Yg==/prefix/aW4=/deleteAfterDays/7").unwrap(),
            Task::SetDeadline { bucket: "b".into(), prefix: Some("in".into()), days: 7 }
        );
        assert!(Task::parse("setdeadline", "bucket/Yg==/deadline/-2").is_err());
        assert!(Task::parse("setdeadline", "bucket/Yg==").is_err());
        assert_eq!(join_key(Some("in"), "a"), "in/a");
        assert_eq!(join_key(Some("in/"), "a"), "in/a");
        assert_eq!(join_key(None, "a"), "a");
    }

    #[test]
    fn fops_parse_and_name_their_outputs() {
        let fop = Fop::parse("vframe/jpg/offset/10|saveas/bXlidWNrZXQ6YS5qcGc=").unwrap();
        assert_eq!(fop.saveas, Some(("mybucket".into(), "a.jpg".into())));
        let fop = Fop::parse("avthumb/mp4/s/640x360").unwrap();
        let key = fop.default_key("avthumb/mp4/s/640x360", "v.mov");
        assert!(key.starts_with("v.mov-") && key.ends_with(".mp4"), "{key}");
        assert_eq!(key, fop.default_key("avthumb/mp4/s/640x360", "v.mov"), "deterministic");
        assert!(Fop::parse("bad name/x").is_err());
        assert!(Fop::parse("vframe/jpg|saveas/!!!").is_err());
        assert!(Fop::parse("a|b c").is_err());
    }
}
