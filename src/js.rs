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

/** The error every yunup function throws. */
export interface YunupError extends Error {
  name: "YunupError";
  kind: "invalid-input" | "auth" | "network" | "server" | "integrity" | "aborted" | "io";
  code?: string;
  status?: number;
  requestId?: string;
}
"#;

/// Turn a yunup [`Error`] into a JS `Error` carrying its fields.
fn to_js(err: Error) -> JsValue {
    let js = js_sys::Error::new(err.message());
    js.set_name("YunupError");
    let set = |k: &str, v: JsValue| {
        let _ = Reflect::set(&js, &JsValue::from_str(k), &v);
    };
    set("kind", err.kind().as_str().into());
    if let Some(code) = err.code() {
        set("code", code.into());
    }
    if let Some(status) = err.status() {
        set("status", status.into());
    }
    if let Some(id) = err.request_id() {
        set("requestId", id.into());
    }
    js.into()
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
        let read_error = |_| to_js(Error::new(ErrorKind::Io, format!("could not read the file at byte {offset}")));
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
