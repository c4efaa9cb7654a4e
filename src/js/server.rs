//! The part of the JS surface that holds a secret key: token minting and the management classes.
//! For backends and edge workers only (feature `server`, on by default; the package's browser
//! build is compiled without it).

use std::rc::Rc;

use js_sys::Uint8Array;
use serde::Deserialize;
use wasm_bindgen::prelude::*;

use super::{Fields, bytes_of, js_type, object, to_js, whole_number};
use crate::Error;
use crate::engine::RetryReads;
use crate::runtime::web::{FetchTransport, WebRuntime};
use crate::sign::{self, Credentials};
use web_sys::AbortSignal;

#[wasm_bindgen(typescript_custom_section)]
const TS_SERVER: &'static str = r#"
/** Access key pair. Only for backends and edge workers: never ship a secret key to a browser. */
export interface Credentials {
  accessKey: string;
  secretKey: string;
}

/** A WCS upload policy (protocols/wcs.md §1.2). `deadline` is Unix time in milliseconds;
 *  when omitted, the token expires one hour from now. A deadline in seconds and a field not
 *  listed here are refused. */
export interface WcsPutPolicy {
  scope: string;
  deadline?: number | string;
  saveKey?: string;
  fsizeLimit?: number;
  overwrite?: 0 | 1;
  returnUrl?: string;
  returnBody?: string;
  callbackUrl?: string;
  callbackBody?: string;
  persistentOps?: string;
  persistentNotifyUrl?: string;
  contentDetect?: string;
  detectNotifyURL?: string;
  detectNotifyRule?: string;
  separate?: 0 | 1;
  instant?: number;
  hashAlgorithm?: string;
  lastModifiedTime?: string;
}

/** A Wantu upload policy (protocols/wantu.md §2). `expiration` is Unix time in milliseconds,
 *  -1 for never; when omitted, the token expires one hour from now. An expiration in seconds
 *  and a field not listed here are refused. */
export interface WantuUploadPolicy {
  namespace?: string;
  bucket?: string;
  expiration?: number | string;
  insertOnly?: 0 | 1;
  detectMime?: 0 | 1;
  dir?: string;
  name?: string;
  sizeLimit?: number;
  mimeLimit?: string;
  callbackUrl?: string;
  callbackHost?: string;
  callbackBody?: string;
  callbackBodyType?: string;
  returnUrl?: string;
  returnBody?: string;
  mediaEncode?: string;
}

/** One UFile request to sign (protocols/ufile.md §2). Empty strings for headers not sent. */
export interface UfileSignRequest {
  method: "GET" | "HEAD" | "PUT" | "POST" | "DELETE" | string;
  bucket: string;
  key: string;
  contentMd5?: string;
  contentType?: string;
  date?: string;
  /** Already encoded put policy (callback), appended to the signature. */
  putPolicy?: string;
}
"#;

/// A string argument, or a `YunupError` naming what was given. Not a `&str`/`String` parameter:
/// wasm-bindgen's glue takes a number there for a pointer and the call dies in a wasm trap
/// ("memory access out of bounds").
fn text(value: &JsValue, what: &str) -> Result<String, JsValue> {
    value
        .as_string()
        .ok_or_else(|| to_js(Error::invalid_input(format!("{what} must be a string, not {}", js_type(value)))))
}

/// A promise of `work`'s result, or one rejected with `args`' error: a method that returns a
/// promise reports bad arguments through it too, so `await` and `.catch` see every failure.
fn promise<A: 'static, F: std::future::Future<Output = Result<JsValue, JsValue>> + 'static>(
    args: Result<A, JsValue>,
    work: impl FnOnce(A) -> F,
) -> js_sys::Promise {
    match args {
        Ok(args) => wasm_bindgen_futures::future_to_promise(work(args)),
        Err(err) => js_sys::Promise::reject(&err),
    }
}

/// `url` unless it is not one that requests can go to (see [`crate::service::url_problem`]):
/// caught when the manager is made, rather than as a network error on its first call.
fn endpoint(url: String, what: &str) -> Result<String, JsValue> {
    match crate::service::url_problem(url.trim()) {
        Some(problem) => Err(to_js(Error::invalid_input(format!("{what} {url:?} {problem}")))),
        None => Ok(url),
    }
}

/// An optional argument, unless it is absent, `undefined` or `null`.
fn given(value: Option<JsValue>) -> Option<JsValue> {
    value.filter(|v| !v.is_null() && !v.is_undefined())
}

/// An optional options object read by `read`: absent, `undefined` or `null` is read as `{}`,
/// so that defaults are spelt once, in `read`. Fields not in `known` are refused.
fn read_options<T>(
    options: Option<JsValue>,
    what: &str,
    known: &str,
    read: impl FnOnce(&Fields) -> Result<T, JsValue>,
) -> Result<T, JsValue> {
    let options = given(options).unwrap_or_else(|| js_sys::Object::new().into());
    let fields = Fields::of(&options, what)?;
    fields.only(known)?;
    read(&fields)
}

fn from_js<T: for<'de> Deserialize<'de>>(value: JsValue, what: &str) -> Result<T, JsValue> {
    serde_wasm_bindgen::from_value(value)
        .map_err(|e| to_js(Error::invalid_input(format!("{what} is not of the expected shape: {e}"))))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsCredentials {
    access_key: String,
    secret_key: String,
}

fn credentials(value: JsValue) -> Result<Credentials, JsValue> {
    // Not `from_js`: serde's message quotes a value of the wrong type, which may be the key.
    let c: JsCredentials = serde_wasm_bindgen::from_value(value).map_err(|_| {
        to_js(Error::invalid_input("credentials must be an object { accessKey, secretKey } of two strings"))
    })?;
    if c.access_key.is_empty() || c.secret_key.is_empty() {
        return Err(to_js(Error::invalid_input("credentials need a non-empty accessKey and secretKey")));
    }
    Ok(Credentials::new(c.access_key, c.secret_key))
}

/// A policy from the caller's object. A field the policy does not have is refused: the policy is
/// read leniently (as tokens from other SDKs must be), so a misspelt field would be dropped from
/// the token without a word.
fn policy_from_js<T: for<'de> Deserialize<'de>>(policy: JsValue, what: &str, fields: &str) -> Result<T, JsValue> {
    Fields::of(&policy, what)?.only(fields)?;
    from_js(policy, what)
}

/// Wantu's `expiration` for a token that never expires.
const NEVER: i64 = -1;

/// Refuse a token lifetime in seconds where milliseconds are meant (`Date.now() / 1000`): the
/// token would have expired in 1970 and every upload with it would be refused. Anything before
/// 1973 in milliseconds is taken as that mistake. A deadline a little in the past is allowed:
/// tests mint expired tokens on purpose.
fn in_milliseconds(what: &str, field: &str, at: i64) -> Result<(), JsValue> {
    const YEAR_1973_MS: i64 = 100_000_000_000;
    if at >= YEAR_1973_MS {
        return Ok(());
    }
    let seconds = if at > 0 { format!(" ({at} s is {} ms)", at.saturating_mul(1000)) } else { String::new() };
    Err(to_js(Error::invalid_input(format!(
        "{what}: `{field}` {at} is before 1973: it is Unix time in milliseconds, not seconds{seconds}"
    ))))
}

/// One hour from now, in milliseconds: the default token lifetime.
fn one_hour_from_now_ms() -> u64 {
    js_sys::Date::now() as u64 + 3_600_000
}

// ---- token minting for backends and edge workers ---------------------------------------------

/// WCS tokens: `wcs.uploadToken(credentials, policy)`, `wcs.managementToken(...)`.
#[wasm_bindgen(js_name = wcs)]
pub struct JsWcs;

#[wasm_bindgen(js_class = wcs)]
impl JsWcs {
    /// An upload token for `policy`. Without `deadline` the token lasts one hour.
    #[wasm_bindgen(js_name = uploadToken)]
    pub fn upload_token(
        #[wasm_bindgen(unchecked_param_type = "Credentials")] credentials: JsValue,
        #[wasm_bindgen(unchecked_param_type = "WcsPutPolicy")] policy: JsValue,
    ) -> Result<String, JsValue> {
        let credentials = self::credentials(credentials)?;
        let mut policy =
            policy_from_js::<sign::wcs::PutPolicy>(policy, "the WCS put policy", sign::wcs::PutPolicy::FIELDS)?;
        let deadline = *policy.deadline.get_or_insert_with(one_hour_from_now_ms);
        in_milliseconds("the WCS put policy", "deadline", deadline as i64)?;
        sign::wcs::upload_token(&credentials, &policy).map_err(to_js)
    }

    /// A management token for a request to `pathAndQuery` with `body` (the bytes sent: a
    /// string is its UTF-8; omitted, `undefined` or `null` for none).
    #[wasm_bindgen(js_name = managementToken)]
    pub fn management_token(
        #[wasm_bindgen(unchecked_param_type = "Credentials")] credentials: JsValue,
        #[wasm_bindgen(js_name = pathAndQuery, unchecked_param_type = "string")] path_and_query: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "BufferSource | string | null")] body: Option<JsValue>,
    ) -> Result<String, JsValue> {
        let credentials = self::credentials(credentials)?;
        let path_and_query = text(&path_and_query, "wcs.managementToken: pathAndQuery")?;
        // Not `Option<Vec<u8>>`: its glue reads a string as that many zero bytes and an
        // `ArrayBuffer` as none, and the token would sign a body other than the one sent.
        let body = match given(body) {
            Some(body) => bytes_of(&body, "wcs.managementToken: body")?,
            None => Vec::new(),
        };
        Ok(sign::wcs::management_token(&credentials, &path_and_query, &body))
    }
}

/// Wantu tokens: `wantu.uploadToken(credentials, policy)`.
#[wasm_bindgen(js_name = wantu)]
pub struct JsWantu;

#[wasm_bindgen(js_class = wantu)]
impl JsWantu {
    /// An `UPLOAD_AK_TOP` token for `policy`. Without `expiration` the token lasts one hour.
    #[wasm_bindgen(js_name = uploadToken)]
    pub fn upload_token(
        #[wasm_bindgen(unchecked_param_type = "Credentials")] credentials: JsValue,
        #[wasm_bindgen(unchecked_param_type = "WantuUploadPolicy")] policy: JsValue,
    ) -> Result<String, JsValue> {
        let credentials = self::credentials(credentials)?;
        let what = "the Wantu upload policy";
        let mut policy = policy_from_js::<sign::wantu::UploadPolicy>(policy, what, sign::wantu::UploadPolicy::FIELDS)?;
        match *policy.expiration.get_or_insert_with(|| one_hour_from_now_ms() as i64) {
            NEVER => {}
            expiration => in_milliseconds(what, "expiration", expiration)?,
        }
        sign::wantu::upload_token(&credentials, &policy).map_err(to_js)
    }
}

/// UFile signatures: `ufile.sign(credentials, request)`.
#[wasm_bindgen(js_name = ufile)]
pub struct JsUfile;

#[wasm_bindgen(js_class = ufile)]
impl JsUfile {
    /// The `Authorization` header value (`UCloud <publicKey>:<signature>`) for one request.
    pub fn sign(
        #[wasm_bindgen(unchecked_param_type = "Credentials")] credentials: JsValue,
        #[wasm_bindgen(unchecked_param_type = "UfileSignRequest")] request: JsValue,
    ) -> Result<String, JsValue> {
        let credentials = self::credentials(credentials)?;
        let request: sign::ufile::SignRequest = from_js(request, "the UFile sign request")?;
        sign::ufile::authorization(&credentials, &request).map_err(to_js)
    }
}

// ---- management (edge workers and backends: these hold the secret key) ------------------------

use crate::manage::wcs::{FmgrTask, JobKind, JobOptions, JobStatus, ListMode, ListQuery, WcsManager};
use crate::runtime::web::AbortableRuntime;

/// `value` as plain JS objects. A `None` is `undefined`, as the types' optional fields say, not
/// `null`: a listing's last page came back with `marker: null`, which a loop that stops on ""
/// or `undefined` passed back, starting the listing over.
fn to_js_value<T: serde::Serialize>(value: &T) -> Result<JsValue, JsValue> {
    let serializer = serde_wasm_bindgen::Serializer::new().serialize_maps_as_objects(true);
    value.serialize(&serializer).map_err(|e| to_js(Error::invalid_input(e.to_string())))
}

#[wasm_bindgen(typescript_custom_section)]
const TS_MANAGE: &'static str = r#"
/** How a manager sends. */
export interface ManagerOptions {
  /** A request that makes no progress for this long (ms) is abandoned as a `network` error
   *  (a read is then tried again): default 120000. */
  idleTimeoutMs?: number;
  /** Aborts every request of this manager, and `waitJob`'s waiting, as an `aborted` error.
   *  Make a manager per incoming request to tie its calls to that request. */
  signal?: AbortSignal;
}
/** How a WCS background job reports back. */
export interface WcsJobOptions {
  /** The service POSTs the job's status here when it ends (see `JobStatus` in the crate). */
  notifyUrl?: string;
  /** Redo the work even where its output exists. */
  force?: boolean;
  /** One notification per task instead of one per job. */
  separate?: boolean;
}
/** One task of `WcsManager.fmgr`. Keys of copy/move/fetch default to the source's key (the
 *  URL's path for fetch); `toPrefix`/`prefix` is put in front of it. */
export type WcsFmgrTask =
  | { op: "fetch"; url: string; bucket: string; key?: string; prefix?: string; md5?: string; decompression?: string }
  | { op: "copy" | "move"; from: WcsObjectRef; toBucket: string; toKey?: string; toPrefix?: string }
  | { op: "delete"; bucket: string; key: string }
  /** `output`: where the list of deleted keys is written. */
  | { op: "deletePrefix"; bucket: string; prefix: string; output?: WcsObjectRef }
  /** `deleteTs`: the playlist's segments too. */
  | { op: "deleteM3u8"; bucket: string; key: string; deleteTs?: boolean }
  /** Every object of the bucket, or of the directory `prefix`: whole `days`, 0 to delete
   *  soon, -1 to keep for ever. */
  | { op: "setDeadline"; bucket: string; prefix?: string; days: number }
  /** Zip `keys` (a key ending in "/" is everything under it), or the keys listed one per line
   *  in the object `keyList`, into the object `into`. */
  | { op: "compress"; bucket: string; keys: string[]; into: WcsObjectRef }
  | { op: "compress"; bucket: string; keyList: string; into: WcsObjectRef };
/** One task's outcome in a `WcsJobStatus`; `code` 3 succeeded, 2 failed. */
export interface WcsJobItem {
  cmd: string;
  code?: number;
  desc?: string;
  error?: string;
  key?: string;
  hash?: string;
  fsize?: number;
  url?: string;
  costTime?: number;
  duration?: string;
  bit_rate?: string;
  resolution?: string;
}
/** Where a WCS background job is, as the service reports it, with `state` by name. A finished
 *  job ("done", "notifying", ...) may still have failed tasks: look at `items`. */
export interface WcsJobStatus {
  id: string;
  code?: number;
  desc?: string;
  state: "queued" | "processing" | "failed" | "done" | "notifying" | "notify-failed" | "notified" | `code-${number}`;
  finished: boolean;
  separate?: number;
  /** fops: the input object. */
  inputbucket?: string;
  inputkey?: string;
  inputfsize?: number;
  items: WcsJobItem[];
}
/** One page of a WCS listing; pass `marker` back for the next page ("" or absent when done). */
export interface WcsListPage {
  marker?: string;
  commonPrefixes: string[];
  items: { key: string; putTime?: number; hash?: string; fsize?: number; mimeType?: string; expirationDate?: string }[];
}
/** `limit`: 1 to 1000 entries per page. `mode`: list `prefix` as a directory, its files and
 *  its sub-directories (in `commonPrefixes`): 0 files first, 1 sub-directories first. */
export interface WcsListQuery { bucket: string; prefix?: string; marker?: string; limit?: number; mode?: 0 | 1 }
/** An object of a WCS bucket, for `WcsManager.copy` and `move`. */
export interface WcsObjectRef { bucket: string; key: string }
/** `UfileManager.list`'s query: keys under `prefix` after `marker`; `limit` 1 to 1000
 *  (default 100); `delimiter` "/" rolls keys up into directories. */
export interface UfileListQuery { prefix?: string; marker?: string; limit?: number; delimiter?: string }
/** One page of `UfileManager.list`. Pass `marker` back for the next page; it is absent on the
 *  last. Times are Unix seconds. */
export interface UfileListPage {
  marker?: string;
  commonPrefixes: string[];
  items: {
    key: string;
    size?: number;
    etag?: string;
    mimeType?: string;
    storageClass?: string;
    lastModified?: number;
    createTime?: number;
    userMeta: Record<string, string>;
  }[];
}
/** What `UfileManager.head` says about an object. */
export interface UfileObjectInfo { key: string; size: number; etag: string; mimeType: string }
/** A part of an object from `UfileManager.fetchRange`: its bytes from `start`, and the
 *  object's whole size and ETag. */
export interface UfileRange { start: number; total: number; etag: string; data: Uint8Array }
/** What `WcsManager.stat` says about an object. */
export interface WcsObjectStat {
  key: string;
  fsize?: number;
  hash: string;
  mimeType?: string;
  putTime?: number;
  expirationDate?: string;
  storageClass?: string;
  appendable: boolean;
  nextAppendPosition?: number;
}
"#;

/// How the management classes send: reads are tried again after a busy server or a broken
/// connection (see [`RetryReads`]), writes go once.
type Http = RetryReads<FetchTransport, WebRuntime>;

/// The transport of a manager made with `options` (`{ idleTimeoutMs, signal }`, or nothing),
/// and its `signal`, which aborts every request the manager sends.
fn http(options: Option<JsValue>, what: &str) -> Result<(Http, Option<AbortSignal>), JsValue> {
    let (idle_ms, signal) =
        read_options(options, what, "idleTimeoutMs, signal", |f| Ok((f.idle_timeout_ms()?, f.signal()?)))?;
    let transport = FetchTransport::new(signal.clone()).with_idle_timeout_ms(idle_ms);
    Ok((RetryReads::new(transport, WebRuntime), signal))
}

/// WCS management from an edge worker or a backend: `new WcsManager(credentials, manageUrl)`,
/// optionally with `{ idleTimeoutMs, signal }` (see [`http`]). The signal is kept for
/// `waitJob`'s sleeps.
#[wasm_bindgen(js_name = WcsManager)]
pub struct JsWcsManager(Rc<WcsManager<Http>>, Option<AbortSignal>);

#[wasm_bindgen(js_class = WcsManager)]
impl JsWcsManager {
    /// `endpoint`: the management host (`https://<account>.mgr0.v1.wcsapi.com`; without a
    /// scheme, `http://` is assumed, as the Python SDK does).
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_param_type = "Credentials")] credentials: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string")] endpoint: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "ManagerOptions")] options: Option<JsValue>,
    ) -> Result<JsWcsManager, JsValue> {
        let credentials = self::credentials(credentials)?;
        let (http, signal) = http(options, "WcsManager: the options ({ idleTimeoutMs?, signal? })")?;
        let manager = WcsManager::new(http, credentials, text(&endpoint, "WcsManager: the endpoint")?);
        self::endpoint(manager.requests().base_url(), "WcsManager: the endpoint")?;
        Ok(JsWcsManager(Rc::new(manager), signal))
    }

    /// One page of a listing.
    #[wasm_bindgen(unchecked_return_type = "Promise<WcsListPage>")]
    pub fn list(&self, #[wasm_bindgen(unchecked_param_type = "WcsListQuery")] query: JsValue) -> js_sys::Promise {
        let manager = self.0.clone();
        promise(list_query(&query), |list| async move { to_js_value(&manager.list_page(&list).await.map_err(to_js)?) })
    }

    /// What the service knows about an object (`fsize`, `hash`, `mimeType`, `putTime`, ...).
    #[wasm_bindgen(unchecked_return_type = "Promise<WcsObjectStat>")]
    pub fn stat(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] bucket: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string")] key: JsValue,
    ) -> js_sys::Promise {
        let manager = self.0.clone();
        promise(bucket_and_key("WcsManager.stat", &bucket, &key), |(bucket, key)| async move {
            to_js_value(&manager.stat(&bucket, &key).await.map_err(to_js)?)
        })
    }

    /// Delete an object.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn delete(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] bucket: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string")] key: JsValue,
    ) -> js_sys::Promise {
        let manager = self.0.clone();
        promise(bucket_and_key("WcsManager.delete", &bucket, &key), |(bucket, key)| async move {
            manager.delete(&bucket, &key).await.map_err(to_js)?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Copy `from` to `to` (each `{ bucket, key }`); an object at `to` is replaced.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn copy(
        &self,
        #[wasm_bindgen(unchecked_param_type = "WcsObjectRef")] from: JsValue,
        #[wasm_bindgen(unchecked_param_type = "WcsObjectRef")] to: JsValue,
    ) -> js_sys::Promise {
        let manager = self.0.clone();
        promise(from_and_to("WcsManager.copy", &from, &to), |(from, to)| async move {
            manager.copy(&from.0, &from.1, &to.0, &to.1).await.map_err(to_js)?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Move (rename) `from` to `to` (each `{ bucket, key }`); an object at `to` is replaced.
    #[wasm_bindgen(js_name = move, unchecked_return_type = "Promise<void>")]
    pub fn move_object(
        &self,
        #[wasm_bindgen(unchecked_param_type = "WcsObjectRef")] from: JsValue,
        #[wasm_bindgen(unchecked_param_type = "WcsObjectRef")] to: JsValue,
    ) -> js_sys::Promise {
        let manager = self.0.clone();
        promise(from_and_to("WcsManager.move", &from, &to), |(from, to)| async move {
            manager.move_object(&from.0, &from.1, &to.0, &to.1).await.map_err(to_js)?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Keep an object `days` more days: a whole number, 0 to delete it soon, -1 to keep it for
    /// ever. `relevance` (m3u8 only): whether the playlist's `.ts` files follow (service
    /// default: they do).
    #[wasm_bindgen(js_name = setDeadline, unchecked_return_type = "Promise<void>")]
    pub fn set_deadline(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] bucket: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string")] key: JsValue,
        days: f64,
        #[wasm_bindgen(unchecked_optional_param_type = "{ relevance?: boolean }")] options: Option<JsValue>,
    ) -> js_sys::Promise {
        let what = "WcsManager.setDeadline";
        let args = (|| {
            let (bucket, key) = bucket_and_key(what, &bucket, &key)?;
            // Not an i64 parameter: wasm-bindgen would truncate 1.5 to 1 and NaN to 0 (delete).
            let days = whole_days(days).ok_or_else(|| {
                to_js(Error::invalid_input(format!(
                    "{what}: days must be a whole number of days, 0 (delete soon) or -1 (never expire), not {days}"
                )))
            })?;
            let what = format!("{what}: the options ({{ relevance? }})");
            let relevance = read_options(options, &what, "relevance", |f| f.boolean("relevance"))?;
            Ok((bucket, key, days, relevance))
        })();
        let manager = self.0.clone();
        promise(args, |(bucket, key, days, relevance)| async move {
            manager.set_deadline(&bucket, &key, days, relevance).await.map_err(to_js)?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// The account's buckets: `[{ name }]`.
    #[wasm_bindgen(unchecked_return_type = "Promise<{ name: string }[]>")]
    pub fn buckets(&self) -> js_sys::Promise {
        let manager = self.0.clone();
        promise(Ok(()), |()| async move { to_js_value(&manager.buckets().await.map_err(to_js)?) })
    }

    /// Start an `fmgr` job (fetch, copy, move, delete, ... on many objects; every task of one
    /// job has the same `op`). Resolves to its `persistentId` once the service has taken it.
    #[wasm_bindgen(unchecked_return_type = "Promise<string>")]
    pub fn fmgr(
        &self,
        #[wasm_bindgen(unchecked_param_type = "WcsFmgrTask[]")] tasks: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "WcsJobOptions")] options: Option<JsValue>,
    ) -> js_sys::Promise {
        let what = "WcsManager.fmgr";
        let args = (|| Ok((fmgr_tasks(what, &tasks)?, job_options(what, options)?)))();
        let manager = self.0.clone();
        promise(args, |(tasks, options)| async move {
            Ok(JsValue::from(manager.fmgr(&tasks, &options).await.map_err(to_js)?))
        })
    }

    /// Start persistent processing of an object: `fops` as the service reads it, commands
    /// separated by `;`, each with its `|saveas/<entry>`. Resolves to its `persistentId`.
    #[wasm_bindgen(unchecked_return_type = "Promise<string>")]
    pub fn fops(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] bucket: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string")] key: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string")] fops: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "WcsJobOptions")] options: Option<JsValue>,
    ) -> js_sys::Promise {
        let what = "WcsManager.fops";
        let args = (|| {
            let (bucket, key) = bucket_and_key(what, &bucket, &key)?;
            Ok((bucket, key, text(&fops, &format!("{what}: the fops"))?, job_options(what, options)?))
        })();
        let manager = self.0.clone();
        promise(args, |(bucket, key, fops, options)| async move {
            Ok(JsValue::from(manager.fops(&bucket, &key, fops, &options).await.map_err(to_js)?))
        })
    }

    /// Where a job is now: `kind` "fmgr" or "fops", as it was started.
    #[wasm_bindgen(js_name = jobStatus, unchecked_return_type = "Promise<WcsJobStatus>")]
    pub fn job_status(
        &self,
        #[wasm_bindgen(unchecked_param_type = "\"fmgr\" | \"fops\"")] kind: JsValue,
        #[wasm_bindgen(js_name = persistentId, unchecked_param_type = "string")] persistent_id: JsValue,
    ) -> js_sys::Promise {
        let args = job_ref("WcsManager.jobStatus", &kind, &persistent_id);
        let manager = self.0.clone();
        promise(args, |(kind, id)| async move {
            let status = match kind {
                JobKind::Fmgr => manager.fmgr_status(&id).await,
                JobKind::Fops => manager.fops_status(&id).await,
            };
            job_status_js(&status.map_err(to_js)?)
        })
    }

    /// Poll a job every `intervalMs` (default 1000, at least 10) until it is `finished`, for at
    /// most `timeoutMs` (default 600000; then a `server` error with code `job-timeout`). The
    /// manager's `signal` stops the wait at once. A finished job may still have failed tasks:
    /// look at `items`.
    #[wasm_bindgen(js_name = waitJob, unchecked_return_type = "Promise<WcsJobStatus>")]
    pub fn wait_job(
        &self,
        #[wasm_bindgen(unchecked_param_type = "\"fmgr\" | \"fops\"")] kind: JsValue,
        #[wasm_bindgen(js_name = persistentId, unchecked_param_type = "string")] persistent_id: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "{ intervalMs?: number; timeoutMs?: number }")] options: Option<
            JsValue,
        >,
    ) -> js_sys::Promise {
        let what = "WcsManager.waitJob";
        let args = (|| {
            let (kind, id) = job_ref(what, &kind, &persistent_id)?;
            let what = format!("{what}: the options ({{ intervalMs?, timeoutMs? }})");
            let (interval_ms, timeout_ms) = read_options(options, &what, "intervalMs, timeoutMs", |f| {
                let interval_ms = match f.count("intervalMs")? {
                    Some(ms @ 10..) => ms,
                    Some(_) => return Err(f.wrong("intervalMs", "at least 10 (ms between polls)")),
                    None => 1000,
                };
                Ok((interval_ms, f.count("timeoutMs")?.unwrap_or(600_000)))
            })?;
            Ok((kind, id, interval_ms, timeout_ms))
        })();
        let (manager, runtime) = (self.0.clone(), AbortableRuntime { signal: self.1.clone() });
        promise(args, |(kind, id, interval_ms, timeout_ms)| async move {
            job_status_js(&manager.wait(kind, &id, &runtime, interval_ms, timeout_ms).await.map_err(to_js)?)
        })
    }
}

/// A job's status as `WcsJobStatus`: the service's fields, and its `state` by name and whether
/// it is `finished`, so that callers need not know the codes.
fn job_status_js(status: &JobStatus) -> Result<JsValue, JsValue> {
    // Set on the serialized object: `#[serde(flatten)]` costs the Node module 0.9 kB gz more.
    let value = to_js_value(status)?;
    let state = status.state();
    js_sys::Reflect::set(&value, &"state".into(), &state.to_string().into())?;
    js_sys::Reflect::set(&value, &"finished".into(), &state.is_finished().into())?;
    Ok(value)
}

/// A job's `kind` ("fmgr" or "fops") and `persistentId`.
fn job_ref(what: &str, kind: &JsValue, persistent_id: &JsValue) -> Result<(JobKind, String), JsValue> {
    let kind = match kind.as_string().as_deref() {
        Some("fmgr") => JobKind::Fmgr,
        Some("fops") => JobKind::Fops,
        _ => {
            return Err(to_js(Error::invalid_input(format!(
                "{what}: the kind must be \"fmgr\" or \"fops\" (how the job was started), not {}",
                js_type(kind)
            ))));
        }
    };
    Ok((kind, text(persistent_id, &format!("{what}: the persistentId"))?))
}

/// `{ notifyUrl?, force?, separate? }`, or nothing.
fn job_options(what: &str, options: Option<JsValue>) -> Result<JobOptions, JsValue> {
    let what = format!("{what}: the options ({{ notifyUrl?, force?, separate? }})");
    read_options(options, &what, "notifyUrl, force, separate", |f| {
        Ok(JobOptions {
            notify_url: f.string("notifyUrl")?.filter(|u| !u.is_empty()),
            force: f.boolean("force")?.unwrap_or(false),
            separate: f.boolean("separate")?.unwrap_or(false),
        })
    })
}

/// The tasks of an `fmgr` job, each a `WcsFmgrTask` (`{ op, ... }`).
fn fmgr_tasks(what: &str, tasks: &JsValue) -> Result<Vec<FmgrTask>, JsValue> {
    let Some(tasks) = tasks.dyn_ref::<js_sys::Array>().filter(|t| t.length() > 0) else {
        return Err(to_js(Error::invalid_input(format!(
            "{what}: the tasks must be a non-empty array of {{ op, ... }}"
        ))));
    };
    tasks.iter().enumerate().map(|(i, task)| fmgr_task(&format!("{what}: task {i}"), &task)).collect()
}

fn fmgr_task(what: &str, task: &JsValue) -> Result<FmgrTask, JsValue> {
    let fields = Fields::of(task, what)?;
    let op = fields.required_string("op")?;
    let object = |name: &str| {
        let value = fields.get(name).ok_or_else(|| fields.wrong(name, "given ({ bucket, key })"))?;
        object_ref(&value, &format!("{what}: `{name}` ({{ bucket, key }})"))
    };
    let task = match op.as_str() {
        "fetch" => {
            fields.only("op, url, bucket, key, prefix, md5, decompression")?;
            let task = FmgrTask::fetch(&fields.required_string("url")?, &fields.required_string("bucket")?);
            let task = destination(task, &fields, "key", "prefix")?;
            let task = match fields.string("md5")? {
                Some(md5) => task.md5(&md5),
                None => task,
            };
            match fields.string("decompression")? {
                Some(format) => task.decompression(&format),
                None => task,
            }
        }
        "copy" | "move" => {
            fields.only("op, from, toBucket, toKey, toPrefix")?;
            let (bucket, key) = object("from")?;
            let to_bucket = fields.required_string("toBucket")?;
            let task = if op == "copy" {
                FmgrTask::copy(&bucket, &key, &to_bucket)
            } else {
                FmgrTask::move_object(&bucket, &key, &to_bucket)
            };
            destination(task, &fields, "toKey", "toPrefix")?
        }
        "delete" => {
            fields.only("op, bucket, key")?;
            FmgrTask::delete(&fields.required_string("bucket")?, &fields.required_string("key")?)
        }
        "deletePrefix" => {
            fields.only("op, bucket, prefix, output")?;
            let task = FmgrTask::delete_prefix(&fields.required_string("bucket")?, &fields.required_string("prefix")?);
            match fields.get("output") {
                Some(_) => {
                    let (bucket, key) = object("output")?;
                    task.output(&bucket, &key)
                }
                None => task,
            }
        }
        "deleteM3u8" => {
            fields.only("op, bucket, key, deleteTs")?;
            let task = FmgrTask::delete_m3u8(&fields.required_string("bucket")?, &fields.required_string("key")?);
            match fields.boolean("deleteTs")? {
                Some(yes) => task.delete_ts(yes),
                None => task,
            }
        }
        "setDeadline" => {
            fields.only("op, bucket, prefix, days")?;
            let days = fields.get("days").and_then(|d| d.as_f64()).and_then(whole_days);
            let days = days
                .ok_or_else(|| fields.wrong("days", "a whole number of days, 0 (delete soon) or -1 (never expire)"))?;
            let prefix = fields.string("prefix")?;
            FmgrTask::set_deadline(&fields.required_string("bucket")?, prefix.as_deref(), days).map_err(to_js)?
        }
        "compress" => {
            fields.only("op, bucket, keys, keyList, into")?;
            let bucket = fields.required_string("bucket")?;
            let (into_bucket, into_key) = object("into")?;
            match (fields.get("keys"), fields.string("keyList")?) {
                (Some(keys), None) => {
                    let keys: Option<Vec<String>> =
                        keys.dyn_ref::<js_sys::Array>().and_then(|a| a.iter().map(|k| k.as_string()).collect());
                    let keys = keys.ok_or_else(|| fields.wrong("keys", "an array of strings"))?;
                    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
                    FmgrTask::compress(&bucket, &keys, &into_bucket, &into_key).map_err(to_js)?
                }
                (None, Some(list)) => {
                    FmgrTask::compress_listed(&bucket, &list, &into_bucket, &into_key).map_err(to_js)?
                }
                _ => return Err(fields.wrong("keys", "given, or else `keyList` (one of the two)")),
            }
        }
        _ => {
            return Err(
                fields.wrong("op", "one of fetch, copy, move, delete, deletePrefix, deleteM3u8, setDeadline, compress")
            );
        }
    };
    Ok(task)
}

/// A fetch, copy or move task's destination key or key prefix, when given.
fn destination(task: FmgrTask, fields: &Fields, key: &str, prefix: &str) -> Result<FmgrTask, JsValue> {
    let task = match fields.string(key)? {
        Some(key) => task.key(&key),
        None => task,
    };
    Ok(match fields.string(prefix)? {
        Some(prefix) => task.prefix(&prefix),
        None => task,
    })
}

/// Days to keep objects: a whole number, or -1 for ever. Not an `i64` cast: 1.5 would become 1
/// and NaN 0, which deletes.
fn whole_days(days: f64) -> Option<i64> {
    if days == -1.0 { Some(-1) } else { whole_number(days).map(|d| d as i64) }
}

/// An object's bucket and key.
type ObjectRef = (String, String);

/// `from` and `to` of a copy or move, each `{ bucket, key }`.
fn from_and_to(what: &str, from: &JsValue, to: &JsValue) -> Result<(ObjectRef, ObjectRef), JsValue> {
    let object = |value: &JsValue, name: &str| object_ref(value, &format!("{what}: `{name}` ({{ bucket, key }})"));
    Ok((object(from, "from")?, object(to, "to")?))
}

/// A `{ bucket, key }` argument; `what` names it in errors.
fn object_ref(value: &JsValue, what: &str) -> Result<ObjectRef, JsValue> {
    let fields = Fields::of(value, what)?;
    fields.only("bucket, key")?;
    Ok((fields.required_string("bucket")?, fields.required_string("key")?))
}

fn bucket_and_key(what: &str, bucket: &JsValue, key: &JsValue) -> Result<(String, String), JsValue> {
    Ok((text(bucket, &format!("{what}: the bucket"))?, text(key, &format!("{what}: the key"))?))
}

impl Fields<'_> {
    /// `name` (`limit`, Wantu's `pageSize`): entries per page of a listing, 1 to 1000 (what
    /// WCS and UFile take). Here, not with the other readers in `js`: only the managers list,
    /// and the browser build has none.
    fn page_limit(&self, name: &str) -> Result<Option<u32>, JsValue> {
        match self.count(name)? {
            Some(n @ 1..=1000) => Ok(Some(n as u32)),
            Some(_) => Err(self.wrong(name, "from 1 to 1000")),
            None => Ok(None),
        }
    }
}

/// The listing's query object. A field it does not know is refused: a misspelt `limt` or
/// `prefx` would list something other than what was asked, without a word.
fn list_query(query: &JsValue) -> Result<ListQuery, JsValue> {
    let fields = Fields::of(query, "WcsManager.list: the query ({ bucket, prefix?, marker?, limit?, mode? })")?;
    fields.only("bucket, prefix, marker, limit, mode")?;
    let mut list = ListQuery::new(fields.required_string("bucket")?);
    list.prefix = fields.string("prefix")?;
    list.marker = fields.string("marker")?.filter(|m| !m.is_empty());
    list.limit = fields.page_limit("limit")?;
    list.mode = match fields.count("mode")? {
        Some(0) => Some(ListMode::FilesFirst),
        Some(1) => Some(ListMode::DirsFirst),
        Some(_) => return Err(fields.wrong("mode", "0 (files first) or 1 (directories first)")),
        None => None,
    };
    Ok(list)
}

use crate::manage::ufile::UfileManager;

/// UFile management from an edge worker or a backend:
/// `new UfileManager(credentials, baseUrl, bucket)` (base URL as for uploads: bucket host, or
/// `http://host/bucket` path style), optionally with `{ idleTimeoutMs }` (see [`http`]).
#[wasm_bindgen(js_name = UfileManager)]
pub struct JsUfileManager(Rc<UfileManager<Http>>);

#[wasm_bindgen(js_class = UfileManager)]
impl JsUfileManager {
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_param_type = "Credentials")] credentials: JsValue,
        #[wasm_bindgen(js_name = baseUrl, unchecked_param_type = "string")] base_url: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string")] bucket: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "ManagerOptions")] options: Option<JsValue>,
    ) -> Result<JsUfileManager, JsValue> {
        let credentials = self::credentials(credentials)?;
        let base_url = endpoint(text(&base_url, "UfileManager: the base URL")?, "UfileManager: the base URL")?;
        let bucket = text(&bucket, "UfileManager: the bucket")?;
        if bucket.is_empty() {
            return Err(to_js(Error::invalid_input("UfileManager: the bucket is empty")));
        }
        let (http, _signal) = http(options, "UfileManager: the options ({ idleTimeoutMs?, signal? })")?;
        Ok(JsUfileManager(Rc::new(UfileManager::new(http, credentials, base_url, bucket))))
    }

    /// A presigned download URL for a private bucket, valid for `ttlSecs` (a whole number of
    /// seconds, at least 1).
    #[wasm_bindgen(js_name = privateUrl)]
    pub fn private_url(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] key: JsValue,
        #[wasm_bindgen(js_name = ttlSecs)] ttl_secs: f64,
    ) -> Result<String, JsValue> {
        let key = text(&key, "UfileManager.privateUrl: the key")?;
        // Not a u32 parameter: wasm-bindgen would wrap -1 to 2^32 - 1, a URL valid for 136 years.
        let ttl_secs = whole_number(ttl_secs)
            .filter(|&t| t > 0)
            .ok_or_else(|| to_js(Error::invalid_input("ttlSecs must be a whole number of seconds, at least 1")))?;
        self.0.private_url_valid_for(&key, ttl_secs).map_err(to_js)
    }

    /// `{ key, size, etag, mimeType, ... }`, or `null` when there is no such object.
    #[wasm_bindgen(unchecked_return_type = "Promise<UfileObjectInfo | null>")]
    pub fn head(&self, #[wasm_bindgen(unchecked_param_type = "string")] key: JsValue) -> js_sys::Promise {
        let manager = self.0.clone();
        promise(text(&key, "UfileManager.head: the key"), |key| async move {
            match manager.head(&key).await.map_err(to_js)? {
                Some(info) => Ok(object(&[
                    ("key", info.key.as_str().into()),
                    ("size", JsValue::from_f64(info.size as f64)),
                    ("etag", info.etag.as_str().into()),
                    ("mimeType", info.mime.as_str().into()),
                ])),
                None => Ok(JsValue::NULL),
            }
        })
    }

    /// Bytes `start..=end` (`end` omitted or `Infinity`: to the end) of an object:
    /// `{ start, total, etag, data: Uint8Array }`. Offsets are whole numbers of bytes; negative
    /// ones (`slice(-100)` style) are refused rather than read as 0.
    #[wasm_bindgen(js_name = fetchRange, unchecked_return_type = "Promise<UfileRange>")]
    pub fn fetch_range(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] key: JsValue,
        start: f64,
        end: Option<f64>,
    ) -> js_sys::Promise {
        let offset = |n: f64, what: &str| {
            whole_number(n).ok_or_else(|| {
                to_js(Error::invalid_input(format!(
                    "fetchRange: {what} must be a whole number of bytes, from 0 to 2^53 (where JS numbers stop being exact)"
                )))
            })
        };
        let args = (|| {
            let key = text(&key, "UfileManager.fetchRange: the key")?;
            let start = offset(start, "start")?;
            let end = match end {
                Some(e) if e == f64::INFINITY => None,
                Some(e) => Some(offset(e, "end")?),
                None => None,
            };
            Ok((key, start, end))
        })();
        let manager = self.0.clone();
        promise(args, |(key, start, end)| async move {
            let chunk = manager.fetch_range(&key, start, end).await.map_err(to_js)?;
            Ok(object(&[
                ("start", JsValue::from_f64(chunk.start as f64)),
                ("total", JsValue::from_f64(chunk.total as f64)),
                ("etag", chunk.etag.as_str().into()),
                ("data", Uint8Array::from(&chunk.data[..]).into()),
            ]))
        })
    }

    /// One page of the bucket's objects (UFile's ListObjects), in key order: those under
    /// `prefix` after `marker`, `limit` (1 to 1000, default 100) at most. With `delimiter` "/"
    /// the keys below the next "/" are rolled up into `commonPrefixes`. Pass the page's
    /// `marker` back for the next page; it is absent on the last.
    #[wasm_bindgen(unchecked_return_type = "Promise<UfileListPage>")]
    pub fn list(
        &self,
        #[wasm_bindgen(unchecked_optional_param_type = "UfileListQuery")] query: Option<JsValue>,
    ) -> js_sys::Promise {
        // No query: the bucket from its first key.
        let what = "UfileManager.list: the query ({ prefix?, marker?, limit?, delimiter? })";
        let args = read_options(query, what, "prefix, marker, limit, delimiter", |fields| {
            let limit = fields.page_limit("limit")?.unwrap_or(100) as usize;
            let text = |name: &str| fields.string(name).map(Option::unwrap_or_default);
            Ok((text("prefix")?, text("marker")?, text("delimiter")?, limit))
        });
        let manager = self.0.clone();
        promise(args, |(prefix, marker, delimiter, limit)| async move {
            let page = manager.list_objects_page(&prefix, &marker, &delimiter, limit).await.map_err(to_js)?;
            let marker = page.next().map_err(to_js)?.map_or(JsValue::UNDEFINED, JsValue::from_str);
            let items: js_sys::Array = page.objects.iter().map(listed_object).collect();
            let prefixes: js_sys::Array = page.common_prefixes.iter().map(|p| JsValue::from_str(p)).collect();
            Ok(object(&[("items", items.into()), ("commonPrefixes", prefixes.into()), ("marker", marker)]))
        })
    }

    /// Delete an object.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn delete(&self, #[wasm_bindgen(unchecked_param_type = "string")] key: JsValue) -> js_sys::Promise {
        let manager = self.0.clone();
        promise(text(&key, "UfileManager.delete: the key"), |key| async move {
            manager.delete(&key).await.map_err(to_js)?;
            Ok(JsValue::UNDEFINED)
        })
    }
}

/// A count as a JS number, or `undefined` where the reply had none (the types' optional fields).
fn optional_number(n: Option<u64>) -> JsValue {
    n.map_or(JsValue::UNDEFINED, |n| JsValue::from_f64(n as f64))
}

/// A ListObjects entry as the `UfileListPage` type has it; fields the reply left out are
/// `undefined`.
fn listed_object(entry: &crate::manage::ufile::ObjectEntry) -> JsValue {
    let number = optional_number;
    let text = |t: &Option<String>| t.as_deref().map_or(JsValue::UNDEFINED, JsValue::from_str);
    let meta = js_sys::Object::new();
    for (name, value) in &entry.user_meta {
        let _ = js_sys::Reflect::set(&meta, &name.into(), &value.into());
    }
    object(&[
        ("key", entry.key.as_str().into()),
        ("size", number(entry.size)),
        ("etag", text(&entry.etag)),
        ("mimeType", text(&entry.mime)),
        ("storageClass", text(&entry.storage_class)),
        ("lastModified", number(entry.last_modified)),
        ("createTime", number(entry.create_time)),
        ("userMeta", meta.into()),
    ])
}

use crate::manage::wantu::{WantuFile, WantuFolder, WantuManager, WantuPage};

#[wasm_bindgen(typescript_custom_section)]
const TS_WANTU_MANAGE: &'static str = r#"
/** A Wantu file as the manage API describes it; `key` is `dir/name` without the leading "/",
 *  the key an upload of it used. Fields the service left out are absent. */
export interface WantuFile {
  key: string;
  /** "/" or "/a/b". */
  dir: string;
  name: string;
  namespace?: string;
  url?: string;
  isImage?: boolean;
  fileSize?: number;
  mimeType?: string;
  /** Upper-case hex MD5. */
  eTag?: string;
  /** Unix milliseconds. */
  fileModified?: number;
  fileId?: string;
  /** The `meta-*` fields given at upload. */
  meta: Record<string, string>;
}
/** A Wantu folder; `dir` is its whole path ("/a/b"). */
export interface WantuFolder { dir: string; name?: string; namespace?: string }
/** Which page of a Wantu listing: the entries directly in `dir` ("/" or "", the root, by
 *  default), `page` 1-based (default 1), `pageSize` 1 to 1000 (default 100). */
export interface WantuListQuery { dir?: string; page?: number; pageSize?: number }
/** One page of a Wantu listing. Ask for `nextPage` next; it is absent on the last page. */
export interface WantuPage<T> {
  page: number;
  pageSize: number;
  totalCount?: number;
  totalPage?: number;
  nextPage?: number;
  items: T[];
}
"#;

/// Wantu management from an edge worker or a backend:
/// `new WantuManager(credentials, endpoint, namespace)` (the manage host,
/// `https://rs.media.aliyun.com`), optionally with `{ idleTimeoutMs, signal }` (see [`http`]).
/// Files are named by keys as for uploads (`a/b/c.jpg`), folders by their path (`a/b` or `/a/b`;
/// "" or "/" is the root). Not in browsers: they drop the `Date` header the requests are signed
/// with ([`crate::runtime::web::sends_date_header`]), so the constructor refuses there.
#[wasm_bindgen(js_name = WantuManager)]
pub struct JsWantuManager(Rc<WantuManager<Http>>);

#[wasm_bindgen(js_class = WantuManager)]
impl JsWantuManager {
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_param_type = "Credentials")] credentials: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string")] endpoint: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string")] namespace: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "ManagerOptions")] options: Option<JsValue>,
    ) -> Result<JsWantuManager, JsValue> {
        let credentials = self::credentials(credentials)?;
        let endpoint = self::endpoint(text(&endpoint, "WantuManager: the endpoint")?, "WantuManager: the endpoint")?;
        let namespace = text(&namespace, "WantuManager: the namespace")?;
        if namespace.trim().is_empty() {
            return Err(to_js(Error::invalid_input("WantuManager: the namespace is empty")));
        }
        let (http, _signal) = http(options, "WantuManager: the options ({ idleTimeoutMs?, signal? })")?;
        if !crate::runtime::web::sends_date_header() {
            return Err(to_js(Error::invalid_input(
                "WantuManager cannot work here: this runtime (a browser) drops the Date header that \
                 Wantu's manage API signs. Use it from Node or an edge worker, where the secret key belongs",
            )));
        }
        Ok(JsWantuManager(Rc::new(WantuManager::new(http, credentials, endpoint, namespace))))
    }

    /// Whether the file `key` exists.
    #[wasm_bindgen(js_name = fileExists, unchecked_return_type = "Promise<boolean>")]
    pub fn file_exists(&self, #[wasm_bindgen(unchecked_param_type = "string")] key: JsValue) -> js_sys::Promise {
        let manager = self.0.clone();
        promise(text(&key, "WantuManager.fileExists: the key"), |key| async move {
            Ok(manager.file_exists(&key).await.map_err(to_js)?.into())
        })
    }

    /// The file's size, type, eTag, URL and metadata, or `null` when there is no such file.
    #[wasm_bindgen(js_name = fileInfo, unchecked_return_type = "Promise<WantuFile | null>")]
    pub fn file_info(&self, #[wasm_bindgen(unchecked_param_type = "string")] key: JsValue) -> js_sys::Promise {
        let manager = self.0.clone();
        promise(text(&key, "WantuManager.fileInfo: the key"), |key| async move {
            match manager.file_info(&key).await.map_err(to_js)? {
                Some(file) => wantu_file(&file),
                None => Ok(JsValue::NULL),
            }
        })
    }

    /// Rename (or move, within the namespace) the file `from` to `to`, which must not exist
    /// (the service refuses with 409 `FileAlreadyExists`). Resolves to the file under its new
    /// name.
    #[wasm_bindgen(unchecked_return_type = "Promise<WantuFile>")]
    pub fn rename(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] from: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string")] to: JsValue,
    ) -> js_sys::Promise {
        let what = "WantuManager.rename";
        let args = (|| Ok((text(&from, &format!("{what}: from"))?, text(&to, &format!("{what}: to"))?)))();
        let manager = self.0.clone();
        promise(args, |(from, to)| async move { wantu_file(&manager.rename(&from, &to).await.map_err(to_js)?) })
    }

    /// Delete the file `key` (a `YunupError` with status 404, code `NoSuchFile`, when it is not
    /// there).
    #[wasm_bindgen(js_name = deleteFile, unchecked_return_type = "Promise<void>")]
    pub fn delete_file(&self, #[wasm_bindgen(unchecked_param_type = "string")] key: JsValue) -> js_sys::Promise {
        let manager = self.0.clone();
        promise(text(&key, "WantuManager.deleteFile: the key"), |key| async move {
            manager.delete_file(&key).await.map_err(to_js)?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// One page of the files directly in `dir`, by name.
    #[wasm_bindgen(js_name = listFiles, unchecked_return_type = "Promise<WantuPage<WantuFile>>")]
    pub fn list_files(
        &self,
        #[wasm_bindgen(unchecked_optional_param_type = "WantuListQuery")] query: Option<JsValue>,
    ) -> js_sys::Promise {
        let manager = self.0.clone();
        promise(wantu_list_query(query, "WantuManager.listFiles"), |(dir, page, size)| async move {
            let reply = manager.list_files_page(&dir, page, size).await.map_err(to_js)?;
            wantu_page(page, size, reply, wantu_file)
        })
    }

    /// Whether the folder `dir` exists.
    #[wasm_bindgen(js_name = folderExists, unchecked_return_type = "Promise<boolean>")]
    pub fn folder_exists(&self, #[wasm_bindgen(unchecked_param_type = "string")] dir: JsValue) -> js_sys::Promise {
        let manager = self.0.clone();
        promise(text(&dir, "WantuManager.folderExists: the folder"), |dir| async move {
            Ok(manager.folder_exists(&dir).await.map_err(to_js)?.into())
        })
    }

    /// Create the folder `dir` and its parents; one that exists is not an error.
    #[wasm_bindgen(js_name = createFolder, unchecked_return_type = "Promise<void>")]
    pub fn create_folder(&self, #[wasm_bindgen(unchecked_param_type = "string")] dir: JsValue) -> js_sys::Promise {
        let manager = self.0.clone();
        promise(text(&dir, "WantuManager.createFolder: the folder"), |dir| async move {
            manager.create_folder(&dir).await.map_err(to_js)?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Delete the empty folder `dir` (409 `DirNotEmpty` while it holds files or folders).
    #[wasm_bindgen(js_name = deleteFolder, unchecked_return_type = "Promise<void>")]
    pub fn delete_folder(&self, #[wasm_bindgen(unchecked_param_type = "string")] dir: JsValue) -> js_sys::Promise {
        let manager = self.0.clone();
        promise(text(&dir, "WantuManager.deleteFolder: the folder"), |dir| async move {
            manager.delete_folder(&dir).await.map_err(to_js)?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// One page of the folders directly in `dir`, by name.
    #[wasm_bindgen(js_name = listFolders, unchecked_return_type = "Promise<WantuPage<WantuFolder>>")]
    pub fn list_folders(
        &self,
        #[wasm_bindgen(unchecked_optional_param_type = "WantuListQuery")] query: Option<JsValue>,
    ) -> js_sys::Promise {
        let manager = self.0.clone();
        promise(wantu_list_query(query, "WantuManager.listFolders"), |(dir, page, size)| async move {
            let reply = manager.list_folders_page(&dir, page, size).await.map_err(to_js)?;
            wantu_page(page, size, reply, to_js_value::<WantuFolder>)
        })
    }
}

/// A listing's `{ dir?, page?, pageSize? }`: the root, page 1 and 100 entries unless given.
fn wantu_list_query(query: Option<JsValue>, method: &str) -> Result<(String, u64, u64), JsValue> {
    let what = format!("{method}: the query ({{ dir?, page?, pageSize? }})");
    read_options(query, &what, "dir, page, pageSize", |fields| {
        let page = match fields.count("page")? {
            Some(0) => return Err(fields.wrong("page", "at least 1 (pages count from 1)")),
            page => page.unwrap_or(1),
        };
        let size = fields.page_limit("pageSize")?.unwrap_or(100);
        Ok((fields.string("dir")?.unwrap_or_default(), page, u64::from(size)))
    })
}

/// A file as the `WantuFile` type has it: the service's fields and its `key`.
fn wantu_file(file: &WantuFile) -> Result<JsValue, JsValue> {
    let value = to_js_value(file)?;
    js_sys::Reflect::set(&value, &"key".into(), &file.key().into())?;
    Ok(value)
}

/// A listing page as the `WantuPage` type has it, with `nextPage` when there is one.
fn wantu_page<I>(
    page: u64,
    size: u64,
    reply: WantuPage<I>,
    item: impl Fn(&I) -> Result<JsValue, JsValue>,
) -> Result<JsValue, JsValue> {
    let number = optional_number;
    let (total_count, total_page) = (number(reply.total_count), number(reply.total_page));
    let (items, next) = crate::manage::wantu::next_page(page, size, reply).map_err(to_js)?;
    let items = items.iter().map(item).collect::<Result<js_sys::Array, JsValue>>()?;
    Ok(object(&[
        ("page", JsValue::from_f64(page as f64)),
        ("pageSize", JsValue::from_f64(size as f64)),
        ("totalCount", total_count),
        ("totalPage", total_page),
        ("nextPage", number(next)),
        ("items", items.into()),
    ]))
}
