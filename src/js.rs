//! The JavaScript surface (npm package `yunup`): thin wrappers that convert and delegate.
//!
//! Nothing here computes anything itself. Hashers wrap [`crate::hash`], token minting wraps
//! [`crate::sign`]. Errors become a JS `Error` named `YunupError` with `kind`, `code`, `status`
//! and `requestId` fields so that callers can branch without parsing messages.
//!
//! What needs the secret key (token minting, the management classes) is in [`server`], behind the
//! default feature `server`. The package's browser build turns it off: a page never holds a
//! secret, and it does not download that code either.

use js_sys::{Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::Blob;

use crate::Error;
use crate::hash::{self, AnyEtag, EtagKind, Hasher as _};
use crate::sign;

#[cfg(feature = "server")]
mod server;
#[cfg(feature = "server")]
pub use server::{JsUfile, JsUfileManager, JsWantu, JsWantuManager, JsWcs, JsWcsManager};

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &'static str = r#"
/** Which etag to compute: the WCS `hash` or the UFile object `ETag`. */
export type EtagKind = "wcs" | "ufile";

/** The error every yunup function throws (`errorClass()` returns the class). */
export declare class YunupError extends Error {
  name: "YunupError";
  kind: "invalid-input" | "auth" | "network" | "server" | "integrity" | "aborted" | "io";
  /** The service's own code (WCS `code`, UFile `RetCode`, Wantu `code`) or yunup's
   *  (`paused`, `cancelled`, `token-expired`, ...). `commit-unconfirmed`: the commit's reply
   *  was lost and its retry found the upload closed (a whole-object upload: the key taken), so
   *  the object is probably stored: look before uploading again. `stored-damaged` (kind
   *  `integrity`): the service stored other bytes than sent and the token may not replace
   *  them: delete the object, then upload again. `token-target`: the upload token is for
   *  another bucket, key or folder (the service would store the file there); nothing was
   *  sent. */
  code?: string;
  status?: number;
  requestId?: string;
}

/** Where uploads go and how tokens are obtained. Exactly one of `token`, `tokenUrl`,
 *  `getToken` (WCS and Wantu; UFile needs `tokenUrl` or `getToken`: it signs every request).
 *  The constructor refuses (`invalid-input`) what an upload would: an endpoint that is not an
 *  http(s) URL, an empty bucket, a part size the service refuses, zero concurrency or
 *  attempts, and a field not listed here (a misspelt option would otherwise be ignored). */
export interface UploaderConfig {
  service: "wcs" | "ufile" | "wantu";
  /** WCS/Wantu: the upload host. UFile: scheme, host and (path style) `/bucket`. */
  endpoint: string;
  /** Bucket (WCS, UFile) or namespace (Wantu). */
  bucket: string;
  /** A fixed upload token (WCS, Wantu). */
  token?: string;
  /** Your backend's base URL; it answers `/api/token/wcs`, `/api/token/wantu`, `/api/token/ufile`.
   *  A query in it (`?tenant=...`) is sent along with each route's own. */
  tokenUrl?: string;
  /** Your own async provider. */
  getToken?: (request: TokenRequest) => string | Promise<string>;
  /** Parts in flight at once (default 3). */
  concurrency?: number;
  /** WCS block size (multiple of 4 MiB, up to 1 GiB) or Wantu part size (100 KB–10 MB; by
   * default 4 MiB, or larger for a file that would need over Wantu's 10 000 parts). */
  partSize?: number;
  /** WCS bytes per mkblk/bput request, at least 1 (default: the whole block). */
  chunkSize?: number;
  /** Files up to this size go in one request (default 4 MiB, at most 1 GiB). Files over what one
   * request of the service takes (WCS 500 MB, UFile 512 MB, Wantu 10 MiB) go in parts anyway. */
  multipartThreshold?: number;
  /** Tries per request, at least 1 (default 6; 1: no retries). */
  maxAttempts?: number;
  /** First backoff bound in ms (default 200). */
  retryBaseDelayMs?: number;
  /** A request that makes no progress for this long (ms; no bytes of its body sent, no reply,
   *  no bytes of the reply) is abandoned as a `network` error and tried again: a dead connection
   *  or a hung server cannot hold an upload (default 120000, as the native `yunup`). Applies to
   *  `tokenUrl` requests too. */
  idleTimeoutMs?: number;
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
  /** Called as bytes go out and parts are confirmed (never going back). If it throws, the upload
   *  pauses and `done` rejects with code `progress-callback-threw` and what it threw. */
  onProgress?: (progress: UploadProgress) => void;
  /** Aborting it cancels the upload (and aborts it on the service). */
  signal?: AbortSignal;
}

/** An upload that stopped before it finished and can resume (`Uploader.pending()`). */
export interface PendingUpload {
  key: string;
  /** Names the content: pass the entry to `discard()`. */
  fingerprint: string;
  size: number;
  /** Bytes the service confirmed before it stopped. */
  confirmed: number;
  partsDone: number;
  /** When the upload started (ms since the epoch). */
  startedAt: number;
  /**
   * Being uploaded right now (in a page: by it or another tab of the origin, through Web Locks;
   * elsewhere: by this Uploader): not one to offer to resume. Uploading its file again or
   * `discard()` is refused with code `upload-in-progress` until it stops.
   */
  running: boolean;
  /** For a `File`: its name and `lastModified`, to ask the user for the same file again. */
  name?: string;
  lastModified?: number;
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
"#;

// What can be uploaded: in the browser entry's build, without Node's files, a string is no source.
#[cfg(feature = "node-files")]
#[wasm_bindgen(typescript_custom_section)]
const TS_UPLOAD_SOURCE: &'static str = r#"
/** What can be uploaded (a path or a `FileHandle` in Node only). */
export type UploadSource = Blob | File | Uint8Array | ArrayBuffer | ReadableStream<Uint8Array> | NodeFile;

/** Node only: a path (Node >= 20.16), or a `FileHandle` of `fs/promises` (left open). Read with
 *  `handle.read()`, several times cheaper than a file-backed `Blob` from `fs.openAsBlob`. */
export type NodeFile = string | { fd: number; read(options: { buffer: Uint8Array; offset: number; length: number; position: number }): Promise<{ bytesRead: number }>; stat(): Promise<{ size: number; mtimeMs: number; dev: number; ino: number; isFile(): boolean }> };
"#;

#[cfg(not(feature = "node-files"))]
#[wasm_bindgen(typescript_custom_section)]
const TS_UPLOAD_SOURCE: &'static str = r#"
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

/// Reads the fields of an options object (`Reflect.get`, no serde: the browser build carries no
/// deserializer for JS values). `what` names the object in error messages.
struct Fields<'a> {
    object: &'a JsValue,
    what: &'a str,
}

impl<'a> Fields<'a> {
    fn of(object: &'a JsValue, what: &'a str) -> Result<Self, JsValue> {
        if object.is_object() {
            Ok(Fields { object, what })
        } else {
            Err(to_js(Error::invalid_input(format!("{what} must be an object"))))
        }
    }

    /// Refuse fields not in `known` (names separated by ", "): a misspelt option (`partsize`)
    /// would otherwise be ignored without a word. One string, not a slice to join: `join`
    /// costs over 1 KB of wasm.
    fn only(&self, known: &str) -> Result<(), JsValue> {
        let unknown = js_sys::Object::keys(self.object.unchecked_ref::<js_sys::Object>())
            .iter()
            .filter_map(|k| k.as_string())
            .find(|k| !known.split(", ").any(|name| name == k));
        match unknown {
            Some(name) => {
                Err(to_js(Error::invalid_input(format!("{}: unknown field `{name}` (known: {known})", self.what))))
            }
            None => Ok(()),
        }
    }

    fn wrong(&self, name: &str, expected: &str) -> JsValue {
        to_js(Error::invalid_input(format!("{}: `{name}` must be {expected}", self.what)))
    }

    /// The field, unless it is absent, `undefined` or `null`.
    fn get(&self, name: &str) -> Option<JsValue> {
        Reflect::get(self.object, &JsValue::from_str(name)).ok().filter(|v| !v.is_undefined() && !v.is_null())
    }

    fn string(&self, name: &str) -> Result<Option<String>, JsValue> {
        self.get(name).map(|v| v.as_string().ok_or_else(|| self.wrong(name, "a string"))).transpose()
    }

    fn required_string(&self, name: &str) -> Result<String, JsValue> {
        self.string(name)?.ok_or_else(|| self.wrong(name, "given (a string)"))
    }

    /// A non-negative integer (see [`whole_number`]).
    fn count(&self, name: &str) -> Result<Option<u64>, JsValue> {
        self.get(name)
            .map(|v| v.as_f64().and_then(whole_number).ok_or_else(|| self.wrong(name, "a non-negative integer")))
            .transpose()
    }

    /// `idleTimeoutMs`: ms without progress before a request is abandoned (see the web
    /// transports), by default [`crate::runtime::IDLE_TIMEOUT`].
    fn idle_timeout_ms(&self) -> Result<u32, JsValue> {
        match self.count("idleTimeoutMs")? {
            None => Ok(crate::runtime::web::IDLE_MS),
            Some(0) => {
                Err(self.wrong("idleTimeoutMs", "at least 1 (ms without progress before a request is abandoned)"))
            }
            Some(ms) => Ok(u32::try_from(ms).unwrap_or(u32::MAX)),
        }
    }

    fn boolean(&self, name: &str) -> Result<Option<bool>, JsValue> {
        self.get(name).map(|v| v.as_bool().ok_or_else(|| self.wrong(name, "true or false"))).transpose()
    }

    /// `signal`: an `AbortSignal` that stops what the options are for.
    fn signal(&self) -> Result<Option<web_sys::AbortSignal>, JsValue> {
        self.get("signal")
            .map(|s| s.dyn_into::<web_sys::AbortSignal>().map_err(|_| self.wrong("signal", "an AbortSignal")))
            .transpose()
    }

    fn function(&self, name: &str) -> Result<Option<js_sys::Function>, JsValue> {
        self.get(name).map(|v| v.dyn_into::<js_sys::Function>().map_err(|_| self.wrong(name, "a function"))).transpose()
    }
}

/// A JS number as a non-negative integer, if it is one: not negative, NaN, fractional or above
/// 2^53 (where JS numbers stop being exact). Plain `as` casts would quietly turn -1 into 0 or
/// `u32::MAX`, and NaN into 0.
pub(crate) fn whole_number(n: f64) -> Option<u64> {
    (n >= 0.0 && n.fract() == 0.0 && n <= 9_007_199_254_740_992.0).then_some(n as u64)
}

// ---- one-shot hashes -------------------------------------------------------------------------

/// The bytes of `data`: a `Uint8Array` (a Node `Buffer` too), any other typed array or
/// `DataView` (the bytes it views), an `ArrayBuffer`, an array of byte values, or a string (its
/// UTF-8). Anything else is a `YunupError`.
///
/// Why not a `&[u8]` parameter: wasm-bindgen's glue copies whatever it is given as if it were
/// an array of numbers, so a string hashed as that many zero bytes and an `ArrayBuffer` as
/// nothing, silently. The one copy into wasm memory is the same either way. Not generic over
/// what is done with the bytes: a copy per caller cost ~12 KB of wasm.
fn bytes_of(data: &JsValue, what: &str) -> Result<Vec<u8>, JsValue> {
    if let Some(array) = data.dyn_ref::<Uint8Array>() {
        return Ok(array.to_vec());
    }
    if let Some(text) = data.as_string() {
        return Ok(text.into_bytes());
    }
    if js_sys::ArrayBuffer::is_view(data) {
        // Another typed array or a DataView (or a Uint8Array of another realm): its bytes.
        let view: &Uint8Array = data.unchecked_ref();
        let bytes = Uint8Array::new_with_byte_offset_and_length(&view.buffer(), view.byte_offset(), view.byte_length());
        return Ok(bytes.to_vec());
    }
    if data.is_instance_of::<js_sys::ArrayBuffer>() {
        return Ok(Uint8Array::new(data).to_vec());
    }
    if let Some(array) = data.dyn_ref::<js_sys::Array>() {
        let bytes: Option<Vec<u8>> =
            array.iter().map(|v| v.as_f64().and_then(whole_number).and_then(|n| u8::try_from(n).ok())).collect();
        return bytes.ok_or_else(|| {
            to_js(Error::invalid_input(format!("{what}: an array of data must hold byte values (integers 0 to 255)")))
        });
    }
    Err(to_js(Error::invalid_input(format!(
        "{what}: the data must be a Uint8Array (or Buffer), another typed array, a DataView, an ArrayBuffer or a string, not {}",
        js_type(data)
    ))))
}

/// `typeof value`, with `null` and class names told apart, for error messages.
fn js_type(value: &JsValue) -> String {
    if value.is_null() {
        return "null".to_owned();
    }
    let name = value
        .dyn_ref::<js_sys::Object>()
        .map(|o| String::from(o.constructor().name()))
        .filter(|name| !name.is_empty() && value.is_object());
    name.map_or_else(|| value.js_typeof().as_string().unwrap_or_default(), |n| format!("a {n}"))
}

/// MD5 of `data` as hex (lower-case unless `upper`).
#[wasm_bindgen(js_name = md5)]
pub fn md5_hex(
    #[wasm_bindgen(unchecked_param_type = "BufferSource | string")] data: JsValue,
    upper: Option<bool>,
) -> Result<String, JsValue> {
    let d = hash::Md5::digest(&bytes_of(&data, "md5")?);
    Ok(if upper.unwrap_or(false) { d.to_hex_upper() } else { d.to_hex() })
}

/// SHA-1 of `data` as lower-case hex.
#[wasm_bindgen(js_name = sha1)]
pub fn sha1_hex(
    #[wasm_bindgen(unchecked_param_type = "BufferSource | string")] data: JsValue,
) -> Result<String, JsValue> {
    Ok(hash::Sha1::digest(&bytes_of(&data, "sha1")?).to_hex())
}

/// CRC-32 (IEEE) of `data`.
#[wasm_bindgen]
pub fn crc32(#[wasm_bindgen(unchecked_param_type = "BufferSource | string")] data: JsValue) -> Result<u32, JsValue> {
    Ok(hash::Crc32::digest(&bytes_of(&data, "crc32")?))
}

/// The WCS `hash` of `data`.
#[wasm_bindgen(js_name = wcsEtag)]
pub fn wcs_etag(
    #[wasm_bindgen(unchecked_param_type = "BufferSource | string")] data: JsValue,
) -> Result<String, JsValue> {
    Ok(hash::WcsEtag::digest(&bytes_of(&data, "wcsEtag")?))
}

/// The UFile object `ETag` of `data`.
#[wasm_bindgen(js_name = ufileEtag)]
pub fn ufile_etag(
    #[wasm_bindgen(unchecked_param_type = "BufferSource | string")] data: JsValue,
) -> Result<String, JsValue> {
    Ok(hash::UfileEtag::digest(&bytes_of(&data, "ufileEtag")?))
}

/// The UFile multipart part `ETag` of `data`.
#[wasm_bindgen(js_name = ufilePartEtag)]
pub fn ufile_part_etag(
    #[wasm_bindgen(unchecked_param_type = "BufferSource | string")] data: JsValue,
) -> Result<String, JsValue> {
    Ok(hash::UfilePartEtag::digest(&bytes_of(&data, "ufilePartEtag")?))
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
            pub fn update(
                &mut self,
                #[wasm_bindgen(unchecked_param_type = "BufferSource | string")] data: JsValue,
            ) -> Result<(), JsValue> {
                self.0.update(&bytes_of(&data, concat!($js, ".update"))?);
                Ok(())
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

/// The etag (`"wcs"` or `"ufile"`) of a `Blob` or `File`, read in 4 MiB slices (a few at a
/// time): the whole file is never held in memory. Bytes in memory (as for [`md5`]) are hashed
/// as they are.
#[wasm_bindgen(unchecked_return_type = "string")]
pub async fn etag(
    #[wasm_bindgen(unchecked_param_type = "Blob | BufferSource | string")] data: JsValue,
    #[wasm_bindgen(unchecked_param_type = "EtagKind")] kind: JsValue,
) -> Result<JsValue, JsValue> {
    let kind: EtagKind = kind
        .as_string()
        .ok_or_else(|| {
            to_js(Error::invalid_input(format!("etag: the kind must be \"wcs\" or \"ufile\", not {}", js_type(&kind))))
        })?
        .parse()
        .map_err(to_js)?;
    let mut hasher = AnyEtag::new(kind);
    let Some(blob) = data.dyn_ref::<Blob>() else {
        hasher.update(&bytes_of(&data, "etag")?);
        return Ok(hasher.finalize().into());
    };
    // Both etags are made of the SHA-1s of 4 MiB blocks: read several at once and let WebCrypto
    // hash them where there is one (native code; off the JS thread in Node; in a browser by two
    // Web Workers for a large file, else between macrotask turns, a few ms per block, so the page
    // stays responsive).
    crate::runtime::web::blob_block_digests(blob, |digest| hasher.push_block_digest(digest)).await.map_err(to_js)?;
    Ok(hasher.finalize().into())
}

// ---- uploads --------------------------------------------------------------------------------

use std::cell::RefCell;
use std::rc::Rc;

use crate::engine::{self, BackendTokens, Control, Progress, Target, TokenProvider, UploadOptions};
#[cfg(feature = "node-files")]
use crate::runtime::web::NodeFileSource;
use crate::runtime::web::{BlobSource, FetchTransport, StreamSource, WebCheckpoints, WebRuntime, WebTransport};
use crate::service::ServiceKind;

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
    #[cfg(feature = "node-files")]
    NodeFile(NodeFileSource),
}

/// What `upload()` was given, before the part of opening it that has to wait (a Node file's
/// `open` and `stat`), which happens inside the task: its errors reject `done`.
enum SourceArg {
    Ready(AnySource),
    /// A path or a `FileHandle`, and the caller's fingerprint.
    #[cfg(feature = "node-files")]
    NodeFile(JsValue, Option<String>),
}

impl SourceArg {
    async fn open(self) -> crate::Result<AnySource> {
        match self {
            SourceArg::Ready(source) => Ok(source),
            #[cfg(feature = "node-files")]
            SourceArg::NodeFile(file, fingerprint) => {
                NodeFileSource::open(&file, fingerprint).await.map(AnySource::NodeFile)
            }
        }
    }
}

impl engine::Source for AnySource {
    fn size(&self) -> Option<u64> {
        match self {
            AnySource::Blob(s) => s.size(),
            AnySource::Bytes(s) => s.size(),
            AnySource::Stream(s) => s.size(),
            #[cfg(feature = "node-files")]
            AnySource::NodeFile(s) => s.size(),
        }
    }
    fn fingerprint(&self) -> Option<String> {
        match self {
            AnySource::Blob(s) => s.fingerprint(),
            AnySource::Bytes(s) => s.fingerprint(),
            AnySource::Stream(s) => s.fingerprint(),
            #[cfg(feature = "node-files")]
            AnySource::NodeFile(s) => s.fingerprint(),
        }
    }
    async fn read(&mut self, offset: u64, len: u64) -> crate::Result<bytes::Bytes> {
        match self {
            AnySource::Blob(s) => s.read(offset, len).await,
            AnySource::Bytes(s) => s.read(offset, len).await,
            AnySource::Stream(s) => s.read(offset, len).await,
            #[cfg(feature = "node-files")]
            AnySource::NodeFile(s) => s.read(offset, len).await,
        }
    }
    async fn changed(&mut self) -> crate::Result<bool> {
        match self {
            // A Blob is a snapshot: a File whose file changed fails its reads instead.
            AnySource::Blob(_) | AnySource::Bytes(_) | AnySource::Stream(_) => Ok(false),
            #[cfg(feature = "node-files")]
            AnySource::NodeFile(s) => s.changed().await,
        }
    }
}

fn to_source(value: JsValue, fingerprint: Option<String>) -> Result<SourceArg, JsValue> {
    #[cfg(feature = "node-files")]
    if value.is_string() || NodeFileSource::is_handle(&value) {
        return Ok(SourceArg::NodeFile(value, fingerprint));
    }
    to_ready_source(value, fingerprint).map(SourceArg::Ready)
}

fn to_ready_source(value: JsValue, fingerprint: Option<String>) -> Result<AnySource, JsValue> {
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
    Err(to_js(Error::invalid_input(
        "upload() takes a Blob, File, Uint8Array, ArrayBuffer or ReadableStream, or in Node a path or a FileHandle",
    )))
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
    /// Requests fail after this long without progress (`idleTimeoutMs`).
    idle_ms: u32,
}

impl UploaderParts {
    /// An engine for work outside an upload task (giving up saved uploads, listing them).
    fn engine(&self) -> engine::Uploader<WebTransport, Rc<JsTokens>, Rc<WebCheckpoints>, WebRuntime> {
        engine::Uploader::new(self.transport(None), self.tokens.clone(), self.checkpoints.clone(), WebRuntime)
    }

    /// This uploader's transport, its requests aborted by `signal` (an upload's).
    fn transport(&self, signal: Option<web_sys::AbortSignal>) -> WebTransport {
        WebTransport::auto(signal).with_idle_timeout_ms(self.idle_ms)
    }

    /// The target of `key` on this uploader's service, endpoint and bucket.
    fn target(&self, key: String, mime: String) -> Target {
        Target { service: self.service, endpoint: self.endpoint.clone(), bucket: self.bucket.clone(), key, mime }
    }
}

/// A saved upload as `pending()` lists it.
fn pending_object(pending: &engine::PendingUpload) -> JsValue {
    let c = &pending.checkpoint;
    let mut entries = vec![
        ("running", JsValue::from_bool(pending.running)),
        ("key", JsValue::from_str(&c.key)),
        ("fingerprint", JsValue::from_str(&c.fingerprint)),
        ("size", JsValue::from_f64(c.size as f64)),
        ("confirmed", JsValue::from_f64(c.confirmed() as f64)),
        ("partsDone", JsValue::from_f64(c.parts.len() as f64)),
        ("startedAt", JsValue::from_f64(c.created_ms as f64)),
    ];
    if let Some((name, modified)) = crate::runtime::web::file_of_fingerprint(&c.fingerprint) {
        entries.push(("name", JsValue::from_str(name)));
        entries.push(("lastModified", JsValue::from_f64(modified as f64)));
    }
    object(&entries)
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
        let c = Fields::of(&config, "the uploader configuration")?;
        c.only(
            "service, endpoint, bucket, token, tokenUrl, getToken, concurrency, partSize, chunkSize, \
             multipartThreshold, maxAttempts, retryBaseDelayMs, idleTimeoutMs, resume",
        )?;
        let idle_ms = c.idle_timeout_ms()?;
        let service: ServiceKind = c.required_string("service")?.parse().map_err(to_js)?;
        let endpoint = c.required_string("endpoint")?;
        let bucket = c.required_string("bucket")?;
        let tokens = match (c.string("token")?, c.string("tokenUrl")?, c.function("getToken")?) {
            (Some(token), None, None) => JsTokens::Fixed(engine::FixedToken(token)),
            (None, Some(url), None) => JsTokens::Backend(BackendTokens::with_transport(
                url,
                FetchTransport::default().with_idle_timeout_ms(idle_ms),
            )),
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
        if let Some(n) = c.count("concurrency")? {
            // Beyond usize (wasm32: 4 Gi) is as good as unbounded; `as` would wrap 2^32 to 0.
            options.concurrency = usize::try_from(n).unwrap_or(usize::MAX);
        }
        options.part_size = c.count("partSize")?;
        options.chunk_size = c.count("chunkSize")?;
        if let Some(t) = c.count("multipartThreshold")? {
            options.multipart_threshold = t;
        }
        if let Some(n) = c.count("maxAttempts")? {
            options.retry.max_attempts = u32::try_from(n).unwrap_or(u32::MAX);
        }
        if let Some(ms) = c.count("retryBaseDelayMs")? {
            options.retry.base_delay_ms = ms;
        }
        if let Some(resume) = c.boolean("resume")? {
            options.resume = resume;
        }
        engine::check_setup(service, &endpoint, &bucket, &options).map_err(to_js)?;
        WebCheckpoints::prune(engine::Runtime::now_ms(&WebRuntime));
        Ok(JsUploader(Rc::new(UploaderParts {
            service,
            endpoint,
            bucket,
            tokens: Rc::new(tokens),
            checkpoints: Rc::new(WebCheckpoints::default()),
            options,
            idle_ms,
        })))
    }

    /// Start uploading `source`. Returns at once; `task.done` settles with the result or a
    /// `YunupError`.
    pub fn upload(
        &self,
        #[wasm_bindgen(unchecked_param_type = "UploadSource")] source: JsValue,
        #[wasm_bindgen(unchecked_param_type = "UploadOptions")] options: JsValue,
    ) -> Result<UploadTask, JsValue> {
        let o = Fields::of(&options, "the upload options ({ key, ... })")?;
        o.only("key, mime, fingerprint, onProgress, signal")?;
        let key = o.required_string("key")?;
        let on_progress = o.function("onProgress")?;
        let signal = o.signal()?;
        let (mime, fingerprint) = (o.string("mime")?, o.string("fingerprint")?);
        let parts = self.0.clone();
        // A File knows its type; store it unless the caller says otherwise.
        let mime = mime.or_else(|| source.dyn_ref::<Blob>().map(|b| b.type_()).filter(|t| !t.is_empty()));
        let source = to_source(source, fingerprint)?;
        let target = parts.target(key, mime.unwrap_or_default());
        let control = Control::new();
        let controller = web_sys::AbortController::new()
            .map_err(|_| to_js(Error::invalid_input("this runtime has no AbortController")))?;
        // Removed when the upload ends: a signal shared by many uploads must not keep them all.
        let listener = match &signal {
            Some(signal) => {
                if signal.aborted() {
                    control.cancel();
                }
                let (control, controller) = (control.clone(), controller.clone());
                let on_abort = Closure::<dyn FnMut()>::new(move || {
                    control.cancel();
                    controller.abort();
                });
                let _ = signal.add_event_listener_with_callback("abort", on_abort.as_ref().unchecked_ref());
                Some((signal.clone(), on_abort))
            }
            None => None,
        };
        let blob = match &source {
            SourceArg::Ready(AnySource::Blob(s)) => Some(s.blob().clone()),
            _ => None,
        };
        let transport = parts.transport(Some(controller.signal())).with_source(blob);
        let task_control = control.clone();
        let state = Rc::new(RefCell::new(TaskState::default()));
        let task_state = state.clone();
        let task_parts = parts.clone();
        let done = wasm_bindgen_futures::future_to_promise(async move {
            let uploader =
                engine::Uploader::new(transport, parts.tokens.clone(), parts.checkpoints.clone(), WebRuntime);
            // An onProgress that throws pauses the upload, and `done` says what it threw: an
            // exception swallowed here would hide a bug in the page.
            let thrown: RefCell<Option<JsValue>> = RefCell::new(None);
            let mut report = |p: Progress| {
                if let Some(f) = on_progress.as_ref().filter(|_| thrown.borrow().is_none())
                    && let Err(e) = f.call1(&JsValue::NULL, &progress_object(&p))
                {
                    *thrown.borrow_mut() = Some(e);
                    control.pause();
                }
            };
            let outcome = async {
                let mut source = source.open().await?;
                state.borrow_mut().fingerprint = engine::Source::fingerprint(&source);
                uploader.upload(&mut source, &target, &parts.options, &control, &mut report).await
            }
            .await;
            if let Some((signal, on_abort)) = listener {
                let _ = signal.remove_event_listener_with_callback("abort", on_abort.as_ref().unchecked_ref());
            }
            let mut state = state.borrow_mut();
            state.target = Some(target);
            // Stored is stored, whatever the callback did.
            if let (Err(_), Some(e)) = (&outcome, thrown.take()) {
                let what = crate::runtime::web::js_message(&e);
                return Err(to_js(
                    Error::invalid_input(format!(
                        "onProgress threw ({what}), so the upload was paused: fix the callback and upload the file again (a multipart upload resumes where it stopped)"
                    ))
                    .with_code("progress-callback-threw"),
                ));
            }
            let result = outcome.map_err(to_js)?;
            state.succeeded = true;
            // Through JSON text: the browser build carries no serializer for JS values.
            js_sys::JSON::parse(&crate::json::to_string(&result).map_err(to_js)?)
        });
        Ok(UploadTask { control: task_control, controller, done, state: task_state, parts: task_parts })
    }

    /// The uploads to this uploader's service, endpoint and bucket that stopped before they
    /// finished (paused, failed, or cut off by a reload or a closed tab) and can still resume,
    /// oldest first. Upload the same file to the same `key` to resume one (a `File` of the same
    /// `name`, size and `lastModified`), or `discard()` it.
    #[wasm_bindgen(unchecked_return_type = "Promise<PendingUpload[]>")]
    pub fn pending(&self) -> js_sys::Promise {
        let parts = self.0.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let list = parts.engine().pending(parts.service, &parts.endpoint, &parts.bucket).await;
            Ok(list.iter().map(pending_object).collect::<js_sys::Array>().into())
        })
    }

    /// Give up a pending upload without its file: its multipart upload is aborted on the service
    /// and its checkpoint dropped. Takes an entry of `pending()` (its `key` and `fingerprint`);
    /// resolves to whether there was such an upload to give up, and rejects (`code:
    /// "upload-in-progress"`) while it is uploading again (in this page or another).
    #[wasm_bindgen(unchecked_return_type = "Promise<boolean>")]
    pub fn discard(
        &self,
        #[wasm_bindgen(unchecked_param_type = "{ key: string; fingerprint: string }")] upload: JsValue,
    ) -> Result<js_sys::Promise, JsValue> {
        let o = Fields::of(&upload, "the upload to discard (an entry of pending())")?;
        let (key, fingerprint) = (o.required_string("key")?, o.required_string("fingerprint")?);
        let parts = self.0.clone();
        Ok(wasm_bindgen_futures::future_to_promise(async move {
            let target = parts.target(key, String::new());
            parts.engine().discard(&fingerprint, &target, &parts.options).await.map(JsValue::from).map_err(to_js)
        }))
    }
}

/// What a task knows once it has ended: enough for `cancel()` to forget a stopped upload.
#[derive(Default)]
struct TaskState {
    target: Option<Target>,
    fingerprint: Option<String>,
    succeeded: bool,
}

/// An upload in progress.
#[wasm_bindgen]
pub struct UploadTask {
    control: Control,
    controller: web_sys::AbortController,
    done: js_sys::Promise,
    state: Rc<RefCell<TaskState>>,
    parts: Rc<UploaderParts>,
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
    /// dropped. `done` rejects with `kind: "aborted"`, `code: "cancelled"`. Also after the task
    /// was paused or failed: then the upload it saved is given up, and uploading the same file
    /// again starts from the beginning. The promise settles when that is done (it never rejects).
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn cancel(&self) -> js_sys::Promise {
        self.control.cancel();
        self.controller.abort();
        let (done, state, parts) = (self.done.clone(), self.state.clone(), self.parts.clone());
        wasm_bindgen_futures::future_to_promise(async move {
            let _ = JsFuture::from(done).await;
            let (target, fingerprint) = {
                let state = state.borrow();
                match (&state.target, &state.fingerprint, state.succeeded) {
                    (Some(target), Some(fingerprint), false) => (target.clone(), fingerprint.clone()),
                    _ => return Ok(JsValue::UNDEFINED),
                }
            };
            // The upload's own cancel path has already done this, unless the task had stopped
            // before: then its checkpoint is still there.
            // Busy only if the same file to the same key started again meanwhile: that upload
            // carries on, as the one given up here has already stopped.
            let _ = parts.engine().discard(&fingerprint, &target, &parts.options).await;
            Ok(JsValue::UNDEFINED)
        })
    }
}
