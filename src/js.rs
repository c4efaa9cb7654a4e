//! The JavaScript surface (npm package `yunup`): thin wrappers that convert and delegate.
//!
//! Nothing here computes anything itself. Hashers wrap [`crate::hash`], token minting wraps
//! [`crate::sign`]. Errors become a JS `Error` named `YunupError` with `kind`, `code`, `status`
//! and `requestId` fields so that callers can branch without parsing messages.

use js_sys::{Reflect, Uint8Array};
use serde::Deserialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::Blob;

use crate::hash::{self, AnyEtag, EtagKind, Hasher as _};
use crate::sign::{self, Credentials};
use crate::{Error, ErrorKind};

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &'static str = r#"
/** Access key pair. Only for backends and edge workers: never ship a secret key to a browser. */
export interface Credentials {
  accessKey: string;
  secretKey: string;
}

/** Which etag to compute: the WCS `hash` or the UFile object `ETag`. */
export type EtagKind = "wcs" | "ufile";

/** A WCS upload policy (protocols/wcs.md §1.2). `deadline` is Unix time in milliseconds;
 *  when omitted, the token expires one hour from now. */
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
 *  -1 for never; when omitted, the token expires one hour from now. */
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

/** The error every yunup function throws (`errorClass()` returns the class). */
export declare class YunupError extends Error {
  name: "YunupError";
  kind: "invalid-input" | "auth" | "network" | "server" | "integrity" | "aborted" | "io";
  /** The service's own code (WCS `code`, UFile `RetCode`, Wantu `code`) or yunup's
   *  (`paused`, `cancelled`, `token-expired`, ...). */
  code?: string;
  status?: number;
  requestId?: string;
}

/** Where uploads go and how tokens are obtained. Exactly one of `token`, `tokenUrl`,
 *  `getToken` (WCS and Wantu; UFile needs `tokenUrl` or `getToken`: it signs every request). */
export interface UploaderConfig {
  service: "wcs" | "ufile" | "wantu";
  /** WCS/Wantu: the upload host. UFile: scheme, host and (path style) `/bucket`. */
  endpoint: string;
  /** Bucket (WCS, UFile) or namespace (Wantu). */
  bucket: string;
  /** A fixed upload token (WCS, Wantu). */
  token?: string;
  /** Your backend's base URL; it answers `/api/token/wcs`, `/api/token/wantu`, `/api/token/ufile`. */
  tokenUrl?: string;
  /** Your own async provider. */
  getToken?: (request: TokenRequest) => string | Promise<string>;
  /** Parts in flight at once (default 3). */
  concurrency?: number;
  /** WCS block size (multiple of 4 MiB) or Wantu part size (100 KB–10 MB). */
  partSize?: number;
  /** WCS bytes per mkblk/bput request (default: the whole block). */
  chunkSize?: number;
  /** Files up to this size go in one request (default 4 MiB). */
  multipartThreshold?: number;
  /** Tries per request (default 6). */
  maxAttempts?: number;
  /** First backoff bound in ms (default 200). */
  retryBaseDelayMs?: number;
  /** Keep checkpoints (localStorage in pages) and resume from them (default true). */
  resume?: boolean;
}

/** What `getToken` is asked for. */
export type TokenRequest =
  | { kind: "upload-token"; service: "wcs" | "wantu"; bucket: string; key: string; refresh: boolean }
  | { kind: "ufile-signature"; service: "ufile"; method: string; bucket: string; key: string;
      contentMd5: string; contentType: string; date: string };

/** Progress that never goes backwards. */
export interface UploadProgress {
  total?: number;
  /** Bytes the service confirmed. */
  confirmed: number;
  /** Bytes sent, confirmed or not: byte by byte in pages and workers (XHR), per part elsewhere. */
  sent: number;
  inFlight: number;
  partsDone: number;
  partsTotal?: number;
  /** Bytes of `confirmed` a saved checkpoint vouched for (sent before a reload, not by this run). */
  resumed: number;
  /** confirmed / total, when the total is known. */
  fraction?: number;
}

export interface UploadOptions {
  key: string;
  mime?: string;
  /** Names the content for resume when the source has no name (Blob, bytes). */
  fingerprint?: string;
  onProgress?: (progress: UploadProgress) => void;
  /** Aborting it cancels the upload (and aborts it on the service). */
  signal?: AbortSignal;
}

export interface UploadResult {
  service: "wcs" | "ufile" | "wantu";
  key: string;
  size: number;
  /** The service's etag, verified equal to `localEtag`. */
  etag: string;
  localEtag: string;
  /** The last reply's body (returnBody, callbacks). */
  response: string;
}

/** What can be uploaded. */
export type UploadSource = Blob | File | Uint8Array | ArrayBuffer | ReadableStream<Uint8Array>;
"#;

#[wasm_bindgen(inline_js = r#"
export class YunupError extends Error {
  constructor(message, kind, code, status, requestId) {
    super(message);
    this.name = "YunupError";
    this.kind = kind;
    if (code !== undefined) this.code = code;
    if (status !== undefined) this.status = status;
    if (requestId !== undefined) this.requestId = requestId;
  }
}
export function makeYunupError(message, kind, code, status, requestId) {
  return new YunupError(message, kind, code, status, requestId);
}
export function yunupErrorClass() { return YunupError; }
"#)]
extern "C" {
    #[wasm_bindgen(js_name = makeYunupError)]
    fn make_yunup_error(
        message: &str,
        kind: &str,
        code: Option<String>,
        status: Option<u16>,
        request_id: Option<String>,
    ) -> JsValue;
    #[wasm_bindgen(js_name = yunupErrorClass)]
    fn yunup_error_class() -> JsValue;
}

/// The `YunupError` class (a subclass of `Error`), for `instanceof` checks.
#[wasm_bindgen(js_name = errorClass, unchecked_return_type = "typeof YunupError")]
pub fn error_class() -> JsValue {
    yunup_error_class()
}

/// Turn a yunup [`Error`] into a `YunupError` carrying its fields.
pub(crate) fn to_js(err: Error) -> JsValue {
    make_yunup_error(
        err.message(),
        err.kind().as_str(),
        err.code().map(str::to_owned),
        err.status(),
        err.request_id().map(str::to_owned),
    )
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
    let c: JsCredentials = from_js(value, "credentials ({ accessKey, secretKey })")?;
    if c.access_key.is_empty() || c.secret_key.is_empty() {
        return Err(to_js(Error::invalid_input("credentials need a non-empty accessKey and secretKey")));
    }
    Ok(Credentials::new(c.access_key, c.secret_key))
}

/// One hour from now, in milliseconds: the default token lifetime.
fn one_hour_from_now_ms() -> u64 {
    js_sys::Date::now() as u64 + 3_600_000
}

// ---- one-shot hashes -------------------------------------------------------------------------

/// MD5 of `data` as hex (lower-case unless `upper`).
#[wasm_bindgen(js_name = md5)]
pub fn md5_hex(data: &[u8], upper: Option<bool>) -> String {
    let d = hash::Md5::digest(data);
    if upper.unwrap_or(false) { d.to_hex_upper() } else { d.to_hex() }
}

/// SHA-1 of `data` as lower-case hex.
#[wasm_bindgen(js_name = sha1)]
pub fn sha1_hex(data: &[u8]) -> String {
    hash::Sha1::digest(data).to_hex()
}

/// CRC-32 (IEEE) of `data`.
#[wasm_bindgen]
pub fn crc32(data: &[u8]) -> u32 {
    hash::Crc32::digest(data)
}

/// The WCS `hash` of `data`.
#[wasm_bindgen(js_name = wcsEtag)]
pub fn wcs_etag(data: &[u8]) -> String {
    hash::WcsEtag::digest(data)
}

/// The UFile object `ETag` of `data`.
#[wasm_bindgen(js_name = ufileEtag)]
pub fn ufile_etag(data: &[u8]) -> String {
    hash::UfileEtag::digest(data)
}

/// The UFile multipart part `ETag` of `data`.
#[wasm_bindgen(js_name = ufilePartEtag)]
pub fn ufile_part_etag(data: &[u8]) -> String {
    hash::UfilePartEtag::digest(data)
}

// ---- incremental hashers ---------------------------------------------------------------------
//
// `digest()` finalizes a copy, so a hasher can report an intermediate value and keep going.

macro_rules! js_hasher {
    ($rust:ident, $js:literal, $inner:ty, $out:ty, |$h:ident| $finish:expr, $doc:literal) => {
        #[doc = $doc]
        #[wasm_bindgen(js_name = $js)]
        #[derive(Default)]
        pub struct $rust($inner);

        #[wasm_bindgen(js_class = $js)]
        impl $rust {
            #[wasm_bindgen(constructor)]
            pub fn new() -> Self {
                Self::default()
            }

            /// Feed more bytes; any chunking gives the same digest.
            pub fn update(&mut self, data: &[u8]) {
                self.0.update(data);
            }

            /// The digest of everything fed so far.
            pub fn digest(&self) -> $out {
                let $h = self.0.clone();
                $finish
            }
        }
    };
}

js_hasher!(JsMd5, "Md5", hash::Md5, String, |h| h.finalize().to_hex(), "Incremental MD5 (hex digest).");
js_hasher!(JsSha1, "Sha1", hash::Sha1, String, |h| h.finalize().to_hex(), "Incremental SHA-1 (hex digest).");
js_hasher!(JsCrc32, "Crc32", hash::Crc32, u32, |h| h.finalize(), "Incremental CRC-32.");
js_hasher!(JsWcsEtag, "WcsEtag", hash::WcsEtag, String, |h| h.finalize(), "Incremental WCS etag.");
js_hasher!(JsUfileEtag, "UfileEtag", hash::UfileEtag, String, |h| h.finalize(), "Incremental UFile etag.");

/// Bytes read from a `Blob` per step: one etag block, so memory stays at a few MiB whatever the
/// file size, and each `arrayBuffer()` call is large enough to amortise its cost.
const BLOB_SLICE: f64 = hash::ETAG_BLOCK_SIZE as f64;

/// The etag (`"wcs"` or `"ufile"`) of a `Blob` or `File`, read in 4 MiB slices: the whole file
/// is never held in memory.
#[wasm_bindgen(unchecked_return_type = "string")]
pub async fn etag(
    blob: Blob,
    #[wasm_bindgen(unchecked_param_type = "EtagKind")] kind: String,
) -> Result<JsValue, JsValue> {
    let kind: EtagKind = kind.parse().map_err(to_js)?;
    let mut hasher = AnyEtag::new(kind);
    let size = blob.size();
    let mut buf = Vec::new();
    let mut offset = 0.0;
    while offset < size {
        let end = (offset + BLOB_SLICE).min(size);
        let read_error =
            |_| to_js(Error::new(ErrorKind::Io, format!("could not read the file at byte {}", offset as u64)));
        let slice = blob.slice_with_f64_and_f64(offset, end).map_err(read_error)?;
        let array_buffer = JsFuture::from(slice.array_buffer()).await.map_err(read_error)?;
        let bytes = Uint8Array::new(&array_buffer);
        buf.resize(bytes.length() as usize, 0);
        bytes.copy_to(&mut buf);
        hasher.update(&buf);
        offset = end;
    }
    Ok(hasher.finalize().into())
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
        let mut policy: sign::wcs::PutPolicy = from_js(policy, "the WCS put policy")?;
        policy.deadline.get_or_insert_with(one_hour_from_now_ms);
        sign::wcs::upload_token(&credentials, &policy).map_err(to_js)
    }

    /// A management token for a request to `pathAndQuery` with `body` (empty for none).
    #[wasm_bindgen(js_name = managementToken)]
    pub fn management_token(
        #[wasm_bindgen(unchecked_param_type = "Credentials")] credentials: JsValue,
        #[wasm_bindgen(js_name = pathAndQuery)] path_and_query: &str,
        body: Option<Vec<u8>>,
    ) -> Result<String, JsValue> {
        let credentials = self::credentials(credentials)?;
        Ok(sign::wcs::management_token(&credentials, path_and_query, body.as_deref().unwrap_or_default()))
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
        let mut policy: sign::wantu::UploadPolicy = from_js(policy, "the Wantu upload policy")?;
        policy.expiration.get_or_insert_with(|| one_hour_from_now_ms() as i64);
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

// ---- uploads --------------------------------------------------------------------------------

use std::rc::Rc;

use crate::engine::{self, BackendTokens, Control, Progress, Target, TokenProvider, UploadOptions};
use crate::runtime::web::{BlobSource, FetchTransport, StreamSource, WebCheckpoints, WebRuntime, WebTransport};
use crate::service::ServiceKind;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsUploaderConfig {
    service: String,
    endpoint: String,
    bucket: String,
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    token_url: Option<String>,
    #[serde(default)]
    concurrency: Option<usize>,
    #[serde(default)]
    part_size: Option<u64>,
    #[serde(default)]
    chunk_size: Option<u64>,
    #[serde(default)]
    multipart_threshold: Option<u64>,
    #[serde(default)]
    max_attempts: Option<u32>,
    #[serde(default)]
    retry_base_delay_ms: Option<u64>,
    #[serde(default)]
    resume: Option<bool>,
}

/// Where tokens come from in JS.
enum JsTokens {
    Fixed(engine::FixedToken),
    Backend(BackendTokens<FetchTransport>),
    Function(js_sys::Function),
}

impl JsTokens {
    async fn call(&self, function: &js_sys::Function, request: JsValue) -> crate::Result<String> {
        let fail = |e: JsValue| {
            let message = e
                .dyn_ref::<js_sys::Error>()
                .map(|e| String::from(e.message()))
                .unwrap_or_else(|| e.as_string().unwrap_or_default());
            Error::auth(format!("getToken failed: {message}"))
        };
        let value = function.call1(&JsValue::NULL, &request).map_err(fail)?;
        let value = match value.dyn_into::<js_sys::Promise>() {
            Ok(promise) => JsFuture::from(promise).await.map_err(fail)?,
            Err(value) => value,
        };
        value.as_string().ok_or_else(|| Error::auth("getToken must return (a promise of) a string"))
    }
}

fn object(entries: &[(&str, JsValue)]) -> JsValue {
    let o = js_sys::Object::new();
    for (k, v) in entries {
        let _ = Reflect::set(&o, &JsValue::from_str(k), v);
    }
    o.into()
}

impl TokenProvider for JsTokens {
    async fn upload_token(&self, target: &Target, refresh: bool) -> crate::Result<String> {
        match self {
            JsTokens::Fixed(t) => t.upload_token(target, refresh).await,
            JsTokens::Backend(b) => b.upload_token(target, refresh).await,
            JsTokens::Function(f) => {
                let request = object(&[
                    ("kind", "upload-token".into()),
                    ("service", target.service.as_str().into()),
                    ("bucket", target.bucket.as_str().into()),
                    ("key", target.key.as_str().into()),
                    ("refresh", refresh.into()),
                ]);
                self.call(f, request).await
            }
        }
    }

    async fn sign(&self, r: &sign::ufile::SignRequest) -> crate::Result<String> {
        match self {
            JsTokens::Fixed(t) => t.sign(r).await,
            JsTokens::Backend(b) => b.sign(r).await,
            JsTokens::Function(f) => {
                let request = object(&[
                    ("kind", "ufile-signature".into()),
                    ("service", "ufile".into()),
                    ("method", r.method.as_str().into()),
                    ("bucket", r.bucket.as_str().into()),
                    ("key", r.key.as_str().into()),
                    ("contentMd5", r.content_md5.as_str().into()),
                    ("contentType", r.content_type.as_str().into()),
                    ("date", r.date.as_str().into()),
                ]);
                self.call(f, request).await
            }
        }
    }
}

/// Anything `upload()` accepts, behind one [`engine::Source`].
enum AnySource {
    Blob(BlobSource),
    Bytes(engine::BytesSource),
    Stream(StreamSource),
}

impl engine::Source for AnySource {
    fn size(&self) -> Option<u64> {
        match self {
            AnySource::Blob(s) => s.size(),
            AnySource::Bytes(s) => s.size(),
            AnySource::Stream(s) => s.size(),
        }
    }
    fn fingerprint(&self) -> Option<String> {
        match self {
            AnySource::Blob(s) => s.fingerprint(),
            AnySource::Bytes(s) => s.fingerprint(),
            AnySource::Stream(s) => s.fingerprint(),
        }
    }
    async fn read(&mut self, offset: u64, len: u64) -> crate::Result<bytes::Bytes> {
        match self {
            AnySource::Blob(s) => s.read(offset, len).await,
            AnySource::Bytes(s) => s.read(offset, len).await,
            AnySource::Stream(s) => s.read(offset, len).await,
        }
    }
}

fn to_source(value: JsValue, fingerprint: Option<String>) -> Result<AnySource, JsValue> {
    if let Some(blob) = value.dyn_ref::<Blob>() {
        return Ok(AnySource::Blob(BlobSource::new(blob.clone(), fingerprint)));
    }
    if let Some(bytes) = value.dyn_ref::<Uint8Array>() {
        let mut source = engine::BytesSource::new(bytes.to_vec());
        if let Some(f) = fingerprint {
            source = source.with_fingerprint(f);
        }
        return Ok(AnySource::Bytes(source));
    }
    if let Some(buffer) = value.dyn_ref::<js_sys::ArrayBuffer>() {
        let mut source = engine::BytesSource::new(Uint8Array::new(buffer).to_vec());
        if let Some(f) = fingerprint {
            source = source.with_fingerprint(f);
        }
        return Ok(AnySource::Bytes(source));
    }
    if let Some(stream) = value.dyn_ref::<web_sys::ReadableStream>() {
        return StreamSource::new(stream.clone()).map(AnySource::Stream).map_err(to_js);
    }
    Err(to_js(Error::invalid_input("upload() takes a Blob, File, Uint8Array, ArrayBuffer or ReadableStream")))
}

fn progress_object(p: &Progress) -> JsValue {
    let mut entries = vec![
        ("confirmed", JsValue::from_f64(p.confirmed as f64)),
        ("inFlight", JsValue::from_f64(p.in_flight as f64)),
        ("sent", JsValue::from_f64(p.sent as f64)),
        ("partsDone", JsValue::from_f64(p.parts_done as f64)),
        ("resumed", JsValue::from_f64(p.resumed as f64)),
    ];
    if let Some(total) = p.total {
        entries.push(("total", JsValue::from_f64(total as f64)));
    }
    if let Some(parts) = p.parts_total {
        entries.push(("partsTotal", JsValue::from_f64(parts as f64)));
    }
    if let Some(f) = p.fraction() {
        entries.push(("fraction", JsValue::from_f64(f)));
    }
    object(&entries)
}

struct UploaderParts {
    service: ServiceKind,
    endpoint: String,
    bucket: String,
    tokens: Rc<JsTokens>,
    checkpoints: Rc<WebCheckpoints>,
    options: UploadOptions,
}

/// Uploads files to one service with tokens from your backend:
/// `const task = new Uploader(config).upload(file, { key, onProgress, signal }); await task.done`.
#[wasm_bindgen(js_name = Uploader)]
pub struct JsUploader(Rc<UploaderParts>);

#[wasm_bindgen(js_class = Uploader)]
impl JsUploader {
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_param_type = "UploaderConfig")] config: JsValue,
    ) -> Result<JsUploader, JsValue> {
        let get_token =
            Reflect::get(&config, &"getToken".into()).ok().and_then(|f| f.dyn_into::<js_sys::Function>().ok());
        let c: JsUploaderConfig = from_js(config, "the uploader configuration")?;
        let service: ServiceKind = c.service.parse().map_err(to_js)?;
        let tokens = match (c.token, c.token_url, get_token) {
            (Some(token), None, None) => JsTokens::Fixed(engine::FixedToken(token)),
            (None, Some(url), None) => JsTokens::Backend(BackendTokens::with_transport(url, FetchTransport::default())),
            (None, None, Some(f)) => JsTokens::Function(f),
            _ => {
                return Err(to_js(Error::invalid_input(
                    "give the uploader exactly one of token, tokenUrl or getToken",
                )));
            }
        };
        if service == ServiceKind::Ufile && matches!(tokens, JsTokens::Fixed(_)) {
            return Err(to_js(Error::invalid_input(
                "UFile signs every request: use tokenUrl or getToken, not a fixed token",
            )));
        }
        let mut options = UploadOptions::default();
        if let Some(n) = c.concurrency {
            options.concurrency = n;
        }
        options.part_size = c.part_size;
        options.chunk_size = c.chunk_size;
        if let Some(t) = c.multipart_threshold {
            options.multipart_threshold = t;
        }
        if let Some(n) = c.max_attempts {
            options.retry.max_attempts = n.max(1);
        }
        if let Some(ms) = c.retry_base_delay_ms {
            options.retry.base_delay_ms = ms;
        }
        if let Some(resume) = c.resume {
            options.resume = resume;
        }
        Ok(JsUploader(Rc::new(UploaderParts {
            service,
            endpoint: c.endpoint,
            bucket: c.bucket,
            tokens: Rc::new(tokens),
            checkpoints: Rc::new(WebCheckpoints::default()),
            options,
        })))
    }

    /// Start uploading `source`. Returns at once; `task.done` settles with the result or a
    /// `YunupError`.
    pub fn upload(
        &self,
        #[wasm_bindgen(unchecked_param_type = "UploadSource")] source: JsValue,
        #[wasm_bindgen(unchecked_param_type = "UploadOptions")] options: JsValue,
    ) -> Result<UploadTask, JsValue> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct PerUpload {
            key: String,
            #[serde(default)]
            mime: Option<String>,
            #[serde(default)]
            fingerprint: Option<String>,
        }
        let on_progress =
            Reflect::get(&options, &"onProgress".into()).ok().and_then(|f| f.dyn_into::<js_sys::Function>().ok());
        let signal =
            Reflect::get(&options, &"signal".into()).ok().and_then(|s| s.dyn_into::<web_sys::AbortSignal>().ok());
        let per: PerUpload = from_js(options, "the upload options ({ key, ... })")?;
        let parts = self.0.clone();
        // A File knows its type; store it unless the caller says otherwise.
        let mime = per.mime.or_else(|| source.dyn_ref::<Blob>().map(|b| b.type_()).filter(|t| !t.is_empty()));
        let mut source = to_source(source, per.fingerprint)?;
        let target = Target {
            service: parts.service,
            endpoint: parts.endpoint.clone(),
            bucket: parts.bucket.clone(),
            key: per.key,
            mime: mime.unwrap_or_default(),
        };
        let control = Control::new();
        let controller = web_sys::AbortController::new()
            .map_err(|_| to_js(Error::invalid_input("this runtime has no AbortController")))?;
        if let Some(signal) = &signal {
            if signal.aborted() {
                control.cancel();
            }
            let (control, controller) = (control.clone(), controller.clone());
            let on_abort = Closure::once_into_js(move || {
                control.cancel();
                controller.abort();
            });
            let _ = signal.add_event_listener_with_callback("abort", on_abort.unchecked_ref());
        }
        let blob = match &source {
            AnySource::Blob(s) => Some(s.blob().clone()),
            _ => None,
        };
        let transport = WebTransport::auto(Some(controller.signal())).with_source(blob);
        let task_control = control.clone();
        let done = wasm_bindgen_futures::future_to_promise(async move {
            let uploader =
                engine::Uploader::new(transport, parts.tokens.clone(), parts.checkpoints.clone(), WebRuntime);
            let mut report = |p: Progress| {
                if let Some(f) = &on_progress {
                    let _ = f.call1(&JsValue::NULL, &progress_object(&p));
                }
            };
            let result =
                uploader.upload(&mut source, &target, &parts.options, &control, &mut report).await.map_err(to_js)?;
            let serializer = serde_wasm_bindgen::Serializer::json_compatible();
            serde::Serialize::serialize(&result, &serializer).map_err(|e| to_js(Error::invalid_input(e.to_string())))
        });
        Ok(UploadTask { control: task_control, controller, done })
    }
}

/// An upload in progress.
#[wasm_bindgen]
pub struct UploadTask {
    control: Control,
    controller: web_sys::AbortController,
    done: js_sys::Promise,
}

#[wasm_bindgen]
impl UploadTask {
    /// Settles with the `UploadResult`, or rejects with a `YunupError`.
    #[wasm_bindgen(getter, unchecked_return_type = "Promise<UploadResult>")]
    pub fn done(&self) -> js_sys::Promise {
        self.done.clone()
    }

    /// Stop, keeping the checkpoint: uploading the same file again resumes (also after a page
    /// reload). `done` rejects with `kind: "aborted"`, `code: "paused"`.
    pub fn pause(&self) {
        self.control.pause();
        self.controller.abort();
    }

    /// Stop and give up: the multipart upload is aborted on the service and the checkpoint is
    /// dropped. `done` rejects with `kind: "aborted"`, `code: "cancelled"`.
    pub fn cancel(&self) {
        self.control.cancel();
        self.controller.abort();
    }
}

// ---- management (edge workers and backends: these hold the secret key) ------------------------

use crate::manage::wcs::{ListQuery, WcsManager};

fn to_js_value<T: serde::Serialize>(value: &T) -> Result<JsValue, JsValue> {
    let serializer = serde_wasm_bindgen::Serializer::json_compatible();
    value.serialize(&serializer).map_err(|e| to_js(Error::invalid_input(e.to_string())))
}

#[wasm_bindgen(typescript_custom_section)]
const TS_MANAGE: &'static str = r#"
/** One page of a WCS listing; pass `marker` back for the next page ("" or absent when done). */
export interface WcsListPage {
  marker?: string;
  commonPrefixes: string[];
  items: { key: string; putTime?: number; hash?: string; fsize?: number; mimeType?: string; expirationDate?: string }[];
}
export interface WcsListQuery { bucket: string; prefix?: string; marker?: string; limit?: number }
"#;

/// WCS management from an edge worker or a backend: `new WcsManager(credentials, manageUrl)`.
#[wasm_bindgen(js_name = WcsManager)]
pub struct JsWcsManager(Rc<WcsManager<FetchTransport>>);

#[wasm_bindgen(js_class = WcsManager)]
impl JsWcsManager {
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_param_type = "Credentials")] credentials: JsValue,
        endpoint: &str,
    ) -> Result<JsWcsManager, JsValue> {
        let credentials = self::credentials(credentials)?;
        Ok(JsWcsManager(Rc::new(WcsManager::new(FetchTransport::default(), credentials, endpoint))))
    }

    /// One page of a listing.
    #[wasm_bindgen(unchecked_return_type = "Promise<WcsListPage>")]
    pub fn list(
        &self,
        #[wasm_bindgen(unchecked_param_type = "WcsListQuery")] query: JsValue,
    ) -> Result<js_sys::Promise, JsValue> {
        #[derive(Deserialize)]
        struct Query {
            bucket: String,
            #[serde(default)]
            prefix: Option<String>,
            #[serde(default)]
            marker: Option<String>,
            #[serde(default)]
            limit: Option<u32>,
        }
        let q: Query = from_js(query, "the list query ({ bucket, prefix?, marker?, limit? })")?;
        let mut list = ListQuery::new(q.bucket);
        list.prefix = q.prefix;
        list.marker = q.marker.filter(|m| !m.is_empty());
        list.limit = q.limit;
        let manager = self.0.clone();
        Ok(wasm_bindgen_futures::future_to_promise(async move {
            to_js_value(&manager.list_page(&list).await.map_err(to_js)?)
        }))
    }

    /// What the service knows about an object (`fsize`, `hash`, `mimeType`, `putTime`, ...).
    pub fn stat(&self, bucket: String, key: String) -> js_sys::Promise {
        let manager = self.0.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            to_js_value(&manager.stat(&bucket, &key).await.map_err(to_js)?)
        })
    }

    /// Delete an object.
    pub fn delete(&self, bucket: String, key: String) -> js_sys::Promise {
        let manager = self.0.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            manager.delete(&bucket, &key).await.map_err(to_js)?;
            Ok(JsValue::UNDEFINED)
        })
    }
}

use crate::manage::ufile::UfileManager;

/// UFile management from an edge worker or a backend:
/// `new UfileManager(credentials, baseUrl, bucket)` (base URL as for uploads: bucket host, or
/// `http://host/bucket` path style).
#[wasm_bindgen(js_name = UfileManager)]
pub struct JsUfileManager(Rc<UfileManager<FetchTransport>>);

#[wasm_bindgen(js_class = UfileManager)]
impl JsUfileManager {
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_param_type = "Credentials")] credentials: JsValue,
        #[wasm_bindgen(js_name = baseUrl)] base_url: String,
        bucket: String,
    ) -> Result<JsUfileManager, JsValue> {
        let credentials = self::credentials(credentials)?;
        Ok(JsUfileManager(Rc::new(UfileManager::new(FetchTransport::default(), credentials, base_url, bucket))))
    }

    /// A presigned download URL for a private bucket, valid for `ttlSecs`.
    #[wasm_bindgen(js_name = privateUrl)]
    pub fn private_url(&self, key: &str, #[wasm_bindgen(js_name = ttlSecs)] ttl_secs: u32) -> Result<String, JsValue> {
        self.0.private_url_valid_for(key, u64::from(ttl_secs)).map_err(to_js)
    }

    /// `{ key, size, etag, mimeType, ... }`, or `null` when there is no such object.
    pub fn head(&self, key: String) -> js_sys::Promise {
        let manager = self.0.clone();
        wasm_bindgen_futures::future_to_promise(async move {
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

    /// Bytes `start..=end` (`end` omitted: to the end) of an object:
    /// `{ start, total, etag, data: Uint8Array }`.
    #[wasm_bindgen(js_name = fetchRange)]
    pub fn fetch_range(&self, key: String, start: f64, end: Option<f64>) -> js_sys::Promise {
        let manager = self.0.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let chunk = manager.fetch_range(&key, start as u64, end.map(|e| e as u64)).await.map_err(to_js)?;
            Ok(object(&[
                ("start", JsValue::from_f64(chunk.start as f64)),
                ("total", JsValue::from_f64(chunk.total as f64)),
                ("etag", chunk.etag.as_str().into()),
                ("data", Uint8Array::from(&chunk.data[..]).into()),
            ]))
        })
    }

    /// Delete an object.
    pub fn delete(&self, key: String) -> js_sys::Promise {
        let manager = self.0.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            manager.delete(&key).await.map_err(to_js)?;
            Ok(JsValue::UNDEFINED)
        })
    }
}
