//! UCloud UFile (US3): request signatures, presigned URLs, put policies, the management API
//! signature, the rules a backend applies before signing for a browser, and verification.
//!
//! UFile has two unrelated schemes (protocols/ufile.md §0):
//!
//! * the **object API** signs `VERB\nContent-MD5\nContent-Type\nDate\n<X-UCloud-* headers>/bucket/key`
//!   with HMAC-SHA1 and writes it in **standard** base64 (`+/=`, not URL-safe), sent as
//!   `Authorization: UCloud <PublicKey>:<Signature>` (§2.1); presigned URLs sign the same shape with
//!   `Expires` in place of `Date` (§3.2);
//! * the **management API** (`api.ucloud.cn`) is a plain SHA-1, in lower-case hex, over the sorted
//!   parameters followed by the private key (§7.1).
//!
//! Nothing in an object signature covers the body length, the query string (`uploadId`,
//! `partNumber`…) or time (the `Date` line is opaque and the service does not check skew): a header
//! signature is valid forever and for every part of a multipart upload. [`SigningPolicy`] is where
//! a backend limits what it signs.

use std::collections::BTreeMap;

use hmac::Mac as _;
use serde::{Deserialize, Deserializer, Serialize};

use super::{Credentials, SecretLookup, constant_time_eq, hmac_sha1, known_secret};
use crate::encoding::{B64_STANDARD, append_b64, decode_base64_lenient, percent_encode, std_b64, urlsafe_b64};
use crate::hash::{Hasher as _, Sha1};
use crate::{Error, Result, lenient};

/// The HTTP methods UFile object requests use.
pub const METHODS: [&str; 5] = ["GET", "HEAD", "PUT", "POST", "DELETE"];

/// One request to sign, as a token server receives it (the JS SDK's query, the mobile SDKs'
/// `applyAuth` JSON — whose snake_case names are accepted as aliases, protocols/ufile.md §9.3).
///
/// Every field is signed exactly as given: `content_type` and `content_md5` must be the header
/// values the uploader will send (for a form POST, the file's MIME type, §4.3), `date` the `Date`
/// header or empty.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SignRequest {
    /// GET, HEAD, PUT, POST or DELETE (any case; signed upper-case).
    pub method: String,
    pub bucket: String,
    /// The raw object key, not URL-encoded; empty for bucket-level requests (list, list parts).
    #[serde(default)]
    pub key: String,
    /// Lower-case hex MD5 of the body (32 characters), or empty when no `Content-MD5` is sent.
    #[serde(default, alias = "content_md5")]
    pub content_md5: String,
    #[serde(default, alias = "content_type")]
    pub content_type: String,
    #[serde(default)]
    pub date: String,
    /// `X-UCloud-*` request headers. Other names are ignored (§2.1 step 1). The official clients
    /// send none, and neither should a browser: see [`string_to_sign_variants`] for what servers
    /// accept.
    #[serde(default, alias = "ucloud_headers")]
    pub ucloud_headers: Vec<(String, String)>,
    /// The already-encoded put policy ([`UploadPolicy::encode`]), appended to the signed string and
    /// to the header. Empty counts as absent, as in the reference token servers.
    #[serde(default, alias = "put_policy")]
    pub put_policy: Option<String>,
}

impl SignRequest {
    /// The policy, when there is a non-empty one.
    fn policy(&self) -> Option<&str> {
        self.put_policy.as_deref().filter(|p| !p.is_empty())
    }

    /// `VERB\nMD5\nCT\nDate\n<canonical X-UCloud-* headers>/bucket/key[encodedPolicy]` (§2.1, §2.5):
    /// the policy follows the resource with no separator.
    pub fn string_to_sign(&self) -> String {
        let mut s = String::with_capacity(self.string_to_sign_len_hint());
        self.write_string_to_sign(|piece| s.push_str(piece));
        s
    }

    /// [`SignRequest::string_to_sign`] in pieces, for signing without building the string.
    fn write_string_to_sign(&self, mut put: impl FnMut(&str)) {
        // No X-UCloud-* headers is the usual case (every official client): skip building the block.
        let headers = if self.ucloud_headers.is_empty() {
            String::new()
        } else {
            canonicalized_headers(&self.ucloud_headers, &["x-ucloud-"])
        };
        write_string_to_sign_base(self, &headers, &mut put);
        if let Some(policy) = self.policy() {
            put(policy);
        }
    }

    fn string_to_sign_len_hint(&self) -> usize {
        8 + self.content_md5.len()
            + self.content_type.len()
            + self.date.len()
            + self.bucket.len()
            + self.key.len()
            + self.put_policy.as_ref().map_or(0, String::len)
    }

    /// Check what would otherwise make a signature the service rejects, or an ambiguous signed
    /// string: the method, an empty bucket, a key starting with `/` (rejected in practice,
    /// ufile-gosdk#7), a Content-MD5 that is not hex, line breaks in header values, a policy that is
    /// not base64.
    pub fn validate(&self) -> Result<()> {
        check_method(&self.method)?;
        check_bucket(&self.bucket)?;
        check_key(&self.key, false)?;
        check_content_md5(&self.content_md5)?;
        check_header_value("content_type", &self.content_type)?;
        check_header_value("date", &self.date)?;
        for (name, value) in &self.ucloud_headers {
            check_header_value("a ucloud header name", name)?;
            check_header_value("a ucloud header value", value)?;
        }
        if let Some(policy) = self.policy()
            && !policy.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'-' | b'_' | b'='))
        {
            return Err(Error::invalid_input(
                "put_policy must be the base64-encoded policy (UploadPolicy::encode), not JSON text",
            ));
        }
        Ok(())
    }
}

/// The fixed lines and the resource, around an already-canonicalized header block.
fn string_to_sign_base(request: &SignRequest, canonical_headers: &str) -> String {
    let mut s = String::with_capacity(request.string_to_sign_len_hint() + canonical_headers.len());
    write_string_to_sign_base(request, canonical_headers, &mut |piece| s.push_str(piece));
    s
}

/// [`string_to_sign_base`] in pieces: the one place that lays the lines out.
fn write_string_to_sign_base(request: &SignRequest, canonical_headers: &str, put: &mut impl FnMut(&str)) {
    // The verb upper-cased, without an allocation for the known ones.
    let upper;
    let method = match METHODS.iter().find(|m| m.eq_ignore_ascii_case(&request.method)) {
        Some(known) => known,
        None => {
            upper = request.method.to_ascii_uppercase();
            upper.as_str()
        }
    };
    for piece in [
        method,
        "\n",
        &request.content_md5,
        "\n",
        &request.content_type,
        "\n",
        &request.date,
        "\n",
        canonical_headers,
        "/",
        &request.bucket,
        "/",
        &request.key,
    ] {
        put(piece);
    }
}

/// The canonical header block of §2.1 over the headers whose (case-insensitive) name starts with
/// one of `prefixes`: names lower-cased and sorted bytewise, repeated headers merged as `v1,v2` in
/// the order given, values trimmed and unfolded, each line `name:value\n`. Empty when none match.
pub fn canonicalized_headers(headers: &[(String, String)], prefixes: &[&str]) -> String {
    let prefixes: Vec<String> = prefixes.iter().map(|p| p.to_ascii_lowercase()).collect();
    let mut merged: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, value) in headers {
        let name = name.trim().to_ascii_lowercase();
        if prefixes.iter().any(|p| name.starts_with(p.as_str())) {
            merged.entry(name).or_default().push(unfold(value));
        }
    }
    let mut out = String::new();
    for (name, values) in &merged {
        out.push_str(name);
        out.push(':');
        out.push_str(&values.join(","));
        out.push('\n');
    }
    out
}

/// Trim, and replace obsolete line folding (a line break followed by blanks) with one space.
fn unfold(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.trim().chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\r' || c == '\n' {
            while chars.peek().is_some_and(|c| c.is_whitespace()) {
                chars.next();
            }
            out.push(' ');
        } else {
            out.push(c);
        }
    }
    out
}

/// For servers and the emulator: every StringToSign (without policy) a genuine client may have
/// signed for `request` (its `ucloud_headers` and `put_policy` ignored), given the request headers
/// as received. The SDKs disagree (§2.2), so a server should accept any of these, in this order:
///
/// * (a) no header block — Go, JS, Python, the token servers;
/// * (b) the documented `x-ucloud-*` block — Node v1;
/// * (c) `x-ufile-copy-source` and `x-ufile-copy-source-range` only — Java, for Copy;
/// * (d) every `x-ufile-*` and `x-ucloud-*` header — the Go SDK of 2019.
///
/// Duplicates are removed, so without such headers this is one string. The Python `listobjects`
/// suffix (§6.4, variant e) depends on the query; a server adds it itself.
pub fn string_to_sign_variants(request: &SignRequest, headers: &[(String, String)]) -> Vec<String> {
    let blocks = [
        String::new(),
        canonicalized_headers(headers, &["x-ucloud-"]),
        canonicalized_headers(headers, &["x-ufile-copy-source"]),
        canonicalized_headers(headers, &["x-ufile-", "x-ucloud-"]),
    ];
    let mut out: Vec<String> = Vec::with_capacity(blocks.len());
    for block in blocks {
        let s = string_to_sign_base(request, &block);
        if !out.contains(&s) {
            out.push(s);
        }
    }
    out
}

/// `Base64Std(HMAC-SHA1(PrivateKey, string_to_sign))`: 28 characters.
pub fn signature(credentials: &Credentials, string_to_sign: &str) -> String {
    std_b64(credentials.hmac_sha1(string_to_sign.as_bytes()))
}

/// The `Authorization` value for `request`: `UCloud <pub>:<sig>`, or `UCloud <pub>:<sig>:<policy>`
/// with a put policy. Validates the request first ([`SignRequest::validate`]).
pub fn authorization(credentials: &Credentials, request: &SignRequest) -> Result<String> {
    request.validate()?;
    // The string to sign goes into the MAC piece by piece and the header into one buffer (no
    // format!): token servers sign in a hot loop.
    let mut mac = credentials.keyed_hmac_sha1();
    request.write_string_to_sign(|piece| mac.update(piece.as_bytes()));
    let mac: [u8; 20] = mac.finalize().into_bytes().into();
    let policy = request.policy().unwrap_or("");
    let mut out = String::with_capacity(7 + credentials.access_key().len() + 1 + 28 + 1 + policy.len());
    out.push_str("UCloud ");
    out.push_str(credentials.access_key());
    out.push(':');
    append_b64(B64_STANDARD, &mac, &mut out);
    if !policy.is_empty() {
        out.push(':');
        out.push_str(policy);
    }
    Ok(out)
}

/// A put policy (§2.5): what UFile POSTs to your server after a PutFile or FinishMultipartUpload,
/// whose JSON answer it relays to the uploader.
///
/// On the wire: compact camelCase JSON, empty fields left out, URL-safe base64 with padding (as the
/// doc, Go and Java write it). Java refuses encoded policies over 4096 bytes; the service limit is
/// not known.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadPolicy {
    /// Where UFile sends the callback (the doc says http only).
    #[serde(default, skip_serializing_if = "is_blank", deserialize_with = "lenient::opt_string")]
    pub callback_url: Option<String>,
    /// `k1=v1&k2=v2` or JSON text, with `$(x:name)` placeholders from `callback_var`.
    #[serde(default, skip_serializing_if = "is_blank", deserialize_with = "lenient::opt_string")]
    pub callback_body: Option<String>,
    /// e.g. `application/json`.
    #[serde(default, skip_serializing_if = "is_blank", deserialize_with = "lenient::opt_string")]
    pub callback_body_type: Option<String>,
    /// e.g. `POST` (PHP sends it).
    #[serde(default, skip_serializing_if = "is_blank", deserialize_with = "lenient::opt_string")]
    pub callback_method: Option<String>,
    /// `"x:name": "value"` pairs substituted into `callback_body`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty", deserialize_with = "string_map")]
    pub callback_var: BTreeMap<String, String>,
}

fn is_blank(v: &Option<String>) -> bool {
    v.as_deref().is_none_or(str::is_empty)
}

/// A JSON object of strings (numbers kept as text), `null` as empty, `null` values dropped.
fn string_map<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<BTreeMap<String, String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(transparent)]
    struct Value(#[serde(deserialize_with = "lenient::opt_string")] Option<String>);
    let map: Option<BTreeMap<String, Value>> = Option::deserialize(d)?;
    Ok(map.unwrap_or_default().into_iter().filter_map(|(k, Value(v))| v.map(|v| (k, v))).collect())
}

impl UploadPolicy {
    /// A policy that calls `callback_url` back with `callback_body`.
    pub fn new(callback_url: impl Into<String>, callback_body: impl Into<String>) -> Self {
        UploadPolicy {
            callback_url: Some(callback_url.into()),
            callback_body: Some(callback_body.into()),
            ..Default::default()
        }
    }

    /// Parse policy JSON as any UFile SDK writes it (unknown fields ignored, nulls as absent).
    pub fn from_json(text: &str) -> Result<Self> {
        crate::json::from_str(text, "the UFile put policy")
    }

    /// Compact JSON.
    pub fn to_json(&self) -> Result<String> {
        crate::json::to_string(self)
    }

    /// The value for [`SignRequest::put_policy`]: URL-safe, padded base64 of the compact JSON.
    /// A policy is only a callback, so `callbackUrl` is required.
    pub fn encode(&self) -> Result<String> {
        if is_blank(&self.callback_url) {
            return Err(Error::invalid_input(
                "the put policy has no callbackUrl: a UFile put policy only configures a callback",
            ));
        }
        Ok(urlsafe_b64(self.to_json()?))
    }

    /// Decode an encoded policy as received: URL-safe (doc, Go, Java) or standard (JS, PHP)
    /// alphabet, padded or not.
    pub fn decode(encoded: &str) -> Result<Self> {
        Self::from_json(&decode_policy_json(encoded)?)
    }
}

/// The JSON text of an encoded put policy, either alphabet.
pub fn decode_policy_json(encoded: &str) -> Result<String> {
    let bytes = decode_base64_lenient(encoded)?;
    String::from_utf8(bytes).map_err(|_| Error::invalid_input("the decoded put policy is not UTF-8 text"))
}

/// A presigned (query-string authenticated) URL to create (§3.2).
///
/// A presigned PUT signs its Content-Type (and Content-MD5 when given): the uploader must send
/// exactly those headers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PresignRequest {
    /// GET by default; HEAD for `private_head_url`, PUT for upload URLs.
    #[serde(default = "default_method")]
    pub method: String,
    pub bucket: String,
    pub key: String,
    /// Absolute expiry, Unix **seconds** (not a duration).
    #[serde(deserialize_with = "required_u64")]
    pub expires: u64,
    #[serde(default, alias = "content_type")]
    pub content_type: String,
    #[serde(default, alias = "content_md5")]
    pub content_md5: String,
}

fn default_method() -> String {
    "GET".to_owned()
}

fn required_u64<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<u64, D::Error> {
    lenient::opt_u64(d)?.ok_or_else(|| serde::de::Error::custom("expected Unix seconds, found nothing"))
}

impl Default for PresignRequest {
    fn default() -> Self {
        PresignRequest {
            method: default_method(),
            bucket: String::new(),
            key: String::new(),
            expires: 0,
            content_type: String::new(),
            content_md5: String::new(),
        }
    }
}

impl PresignRequest {
    /// A GET URL for `bucket`/`key` valid until `expires` (Unix seconds).
    pub fn get(bucket: impl Into<String>, key: impl Into<String>, expires: u64) -> Self {
        PresignRequest { bucket: bucket.into(), key: key.into(), expires, ..Default::default() }
    }

    /// `VERB\nMD5\nCT\nExpires\n/bucket/key` (§3.2; no header block, as every SDK signs it).
    pub fn string_to_sign(&self) -> String {
        let as_request = SignRequest {
            method: self.method.clone(),
            bucket: self.bucket.clone(),
            key: self.key.clone(),
            content_md5: self.content_md5.clone(),
            content_type: self.content_type.clone(),
            date: self.expires.to_string(),
            ..Default::default()
        };
        string_to_sign_base(&as_request, "")
    }

    /// Method, bucket, a non-empty key not starting with `/`, hex Content-MD5, a non-zero expiry.
    pub fn validate(&self) -> Result<()> {
        check_method(&self.method)?;
        check_bucket(&self.bucket)?;
        check_key(&self.key, true)?;
        check_content_md5(&self.content_md5)?;
        check_header_value("content_type", &self.content_type)?;
        if self.expires == 0 {
            return Err(Error::invalid_input("expires is missing: set it to an absolute Unix time in seconds"));
        }
        Ok(())
    }
}

/// Just the signature of a presigned URL: what `applyPrivateUrlAuth` answers (§9.3).
pub fn presign_signature(credentials: &Credentials, request: &PresignRequest) -> String {
    signature(credentials, &request.string_to_sign())
}

/// `<base_url>/<key>?UCloudPublicKey=<pub>&Expires=<n>&Signature=<sig>`, with the key
/// percent-encoded (`/` kept) and every query value percent-encoded — the signature too, as Go,
/// Java and Python's internal form do (`+`→`%2B`, `/`→`%2F`, `=`→`%3D`).
///
/// `base_url` is the bucket's origin, e.g. `https://mybucket.cn-bj.ufileos.com` (a trailing `/` is
/// ignored).
pub fn presigned_url(credentials: &Credentials, base_url: &str, request: &PresignRequest) -> Result<String> {
    request.validate()?;
    if base_url.trim().is_empty() {
        return Err(Error::invalid_input(
            "the base URL is empty: pass the bucket's URL, e.g. https://<bucket>.cn-bj.ufileos.com",
        ));
    }
    let sig = presign_signature(credentials, request);
    Ok(format!(
        "{}/{}?UCloudPublicKey={}&Expires={}&Signature={}",
        base_url.trim().trim_end_matches('/'),
        percent_encode(&request.key, true),
        percent_encode(credentials.access_key(), false),
        request.expires,
        percent_encode(&sig, false)
    ))
}

/// The management API signature (§7.1): parameters sorted by name bytewise (the first value of a
/// repeated name), `name + value` concatenated with no separator or encoding, the private key
/// appended, SHA-1 in lower-case hex. `params` must already contain `PublicKey`.
pub fn api_signature(params: &[(String, String)], private_key: &str) -> String {
    let mut sorted: BTreeMap<&str, &str> = BTreeMap::new();
    for (name, value) in params {
        sorted.entry(name.as_str()).or_insert(value.as_str());
    }
    let mut sha1 = Sha1::default();
    for (name, value) in sorted {
        sha1.update(name.as_bytes());
        sha1.update(value.as_bytes());
    }
    sha1.update(private_key.as_bytes());
    sha1.finalize().to_hex()
}

/// A complete management query string: `params` (any `PublicKey` or `Signature` among them
/// dropped), then `PublicKey`, percent-encoded, and `&Signature=<hex>` last. Append it to
/// `https://api.ucloud.cn/?`.
pub fn signed_api_query(credentials: &Credentials, params: &[(String, String)]) -> String {
    let mut all: Vec<(String, String)> =
        params.iter().filter(|(name, _)| name != "PublicKey" && name != "Signature").cloned().collect();
    all.push(("PublicKey".to_owned(), credentials.access_key().to_owned()));
    let sig = api_signature(&all, credentials.secret_key());
    let mut query: Vec<String> =
        all.iter().map(|(n, v)| format!("{}={}", percent_encode(n, false), percent_encode(v, false))).collect();
    query.push(format!("Signature={sig}"));
    query.join("&")
}

/// What a backend agrees to sign for a browser: one bucket, keys under a prefix, some methods, a
/// bounded URL lifetime and upload size.
///
/// A UFile signature never expires and does not cover the body or the query: whoever holds it can
/// repeat the request, upload any number of parts with it, and send a body of any length (unless
/// `content_md5` is signed, which pins the bytes). So `max_size` can only check the size the caller
/// **declares**; to bound what is stored, also have the browser send a signed Content-MD5, or check
/// the object afterwards (HEAD). For multipart uploads the limit applies to each request, not to
/// the total. The put policy is not inspected: a backend that signs browser-chosen policies lets the
/// browser pick the callback URL.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SigningPolicy {
    /// The only bucket that may be signed for.
    pub bucket: String,
    /// Keys must start with this (plain string prefix; empty allows every key, including the empty
    /// key of bucket-level requests such as listing).
    #[serde(default)]
    pub key_prefix: String,
    /// Methods that may be signed (any case). Empty allows nothing.
    #[serde(default)]
    pub allowed_methods: Vec<String>,
    /// Longest lifetime of a presigned URL, in seconds from now.
    #[serde(default)]
    pub max_expires_in: Option<u64>,
    /// Largest declared body for PUT and POST, in bytes. When set, PUT and POST must declare a size.
    #[serde(default)]
    pub max_size: Option<u64>,
}

fn denied(detail: String) -> Error {
    Error::auth(format!("refused to sign: {detail}")).with_code("policy-denied")
}

impl SigningPolicy {
    fn check_scope(&self, method: &str, bucket: &str, key: &str) -> Result<()> {
        if bucket != self.bucket {
            return Err(denied(format!("bucket {bucket:?} is not the allowed bucket {:?}", self.bucket)));
        }
        if !key.starts_with(&self.key_prefix) {
            return Err(denied(format!("key {key:?} is outside the allowed prefix {:?}", self.key_prefix)));
        }
        if !self.allowed_methods.iter().any(|m| m.eq_ignore_ascii_case(method)) {
            return Err(denied(format!(
                "method {} is not allowed (allowed: {})",
                method.to_ascii_uppercase(),
                if self.allowed_methods.is_empty() { "none".to_owned() } else { self.allowed_methods.join(", ") }
            )));
        }
        Ok(())
    }

    /// Check a header-signature request, with the body size the caller declares (`None`: not
    /// declared). Invalid requests fail with [`crate::ErrorKind::InvalidInput`]; refusals are
    /// [`crate::ErrorKind::Auth`] with code `policy-denied` and name the rule that failed.
    pub fn check_sign(&self, request: &SignRequest, declared_size: Option<u64>) -> Result<()> {
        request.validate()?;
        self.check_scope(&request.method, &request.bucket, &request.key)?;
        if let Some(max) = self.max_size
            && is_upload(&request.method)
        {
            match declared_size {
                None => {
                    return Err(denied(format!(
                        "the upload size is not declared, and uploads are limited to {max} bytes"
                    )));
                }
                Some(size) if size > max => {
                    return Err(denied(format!("the declared size {size} bytes is over the limit of {max} bytes")));
                }
                Some(_) => {}
            }
        }
        Ok(())
    }

    /// Check a presigned URL request at `now_secs`: scope as [`check_sign`](Self::check_sign), an
    /// expiry in the future and at most `max_expires_in` away. With `max_size` set, presigned PUT and
    /// POST URLs are refused: a URL cannot limit the size of what is sent to it.
    pub fn check_presign(&self, request: &PresignRequest, now_secs: u64) -> Result<()> {
        request.validate()?;
        self.check_scope(&request.method, &request.bucket, &request.key)?;
        if request.expires <= now_secs {
            return Err(denied(format!(
                "the URL would already be expired (expires {}, now {now_secs})",
                request.expires
            )));
        }
        if let Some(max) = self.max_expires_in
            && request.expires - now_secs > max
        {
            return Err(denied(format!(
                "the expiry is too far: {} s from now, the limit is {max} s",
                request.expires - now_secs
            )));
        }
        if let Some(max) = self.max_size
            && is_upload(&request.method)
        {
            return Err(denied(format!(
                "uploads are limited to {max} bytes and a presigned {} URL cannot enforce a size; use a header signature",
                request.method.to_ascii_uppercase()
            )));
        }
        Ok(())
    }
}

fn is_upload(method: &str) -> bool {
    method.eq_ignore_ascii_case("PUT") || method.eq_ignore_ascii_case("POST")
}

/// An `Authorization` value that passed [`verify_authorization`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedAuthorization {
    /// The PublicKey that signed.
    pub access_key: String,
    /// The encoded put policy exactly as received, when the header carried one
    /// ([`UploadPolicy::decode`] reads it).
    pub put_policy: Option<String>,
}

/// Check an `Authorization` value (header or form field): `UCloud <pub>:<sig>[:<policy>]`, scheme
/// spelled exactly so. `candidates` are the StringToSign variants the server accepts for the request
/// as received, **without** the policy ([`string_to_sign_variants`]); the policy from the header is
/// appended to each. Errors are [`crate::ErrorKind::Auth`] with a code of `malformed-token`,
/// `unknown-access-key` or `bad-signature`.
pub fn verify_authorization(
    authorization: &str,
    secrets: &(impl SecretLookup + ?Sized),
    candidates: &[String],
) -> Result<VerifiedAuthorization> {
    let Some(rest) = authorization.trim().strip_prefix("UCloud ") else {
        return Err(malformed("the Authorization value must start with \"UCloud \""));
    };
    let parts: Vec<&str> = rest.trim().split(':').collect();
    let (public_key, sig, policy) = match parts.as_slice() {
        [public_key, sig] => (*public_key, *sig, None),
        [public_key, sig, policy] => (*public_key, *sig, Some(*policy)),
        _ => return Err(malformed("expected PublicKey:Signature or PublicKey:Signature:Policy")),
    };
    if public_key.is_empty() || sig.is_empty() || policy.is_some_and(str::is_empty) {
        return Err(malformed("an empty PublicKey, Signature or Policy"));
    }
    if candidates.is_empty() {
        return Err(Error::invalid_input("no StringToSign candidates to check the signature against"));
    }
    let secret = known_secret(secrets, public_key, "PublicKey")?;
    let given = decode_base64_lenient(sig).unwrap_or_default();
    let matches = candidates.iter().any(|candidate| {
        let mut data = candidate.clone();
        data.push_str(policy.unwrap_or(""));
        constant_time_eq(&hmac_sha1(secret.as_bytes(), data.as_bytes()), &given)
    });
    if !matches {
        return Err(bad_signature());
    }
    Ok(VerifiedAuthorization { access_key: public_key.to_owned(), put_policy: policy.map(str::to_owned) })
}

/// Check a presigned URL's query (`UCloudPublicKey`, `Signature` percent-decoded, `Expires`)
/// against the `string_to_sign` the server rebuilt ([`PresignRequest::string_to_sign`] with the raw
/// key). As the doc says, expiry is checked before the signature: after the access key is found,
/// `now_secs > expires` fails with `token-expired`. Returns the PublicKey.
///
/// A `+` in the signature may have been turned into a space by form decoding; spaces are read back
/// as `+` (a signature has none).
pub fn verify_presigned(
    public_key: &str,
    signature: &str,
    expires: u64,
    secrets: &(impl SecretLookup + ?Sized),
    string_to_sign: &str,
    now_secs: u64,
) -> Result<String> {
    if public_key.is_empty() || signature.trim().is_empty() {
        return Err(malformed("UCloudPublicKey and Signature are required"));
    }
    let secret = known_secret(secrets, public_key, "PublicKey")?;
    if now_secs > expires {
        return Err(Error::auth(format!("the URL expired at {expires} (now {now_secs}): ask for a new one"))
            .with_code("token-expired"));
    }
    let given = decode_base64_lenient(&signature.trim().replace(' ', "+")).unwrap_or_default();
    if constant_time_eq(&hmac_sha1(secret.as_bytes(), string_to_sign.as_bytes()), &given) {
        Ok(public_key.to_owned())
    } else {
        Err(bad_signature())
    }
}

fn check_method(method: &str) -> Result<()> {
    if METHODS.iter().any(|m| m.eq_ignore_ascii_case(method)) {
        Ok(())
    } else {
        Err(Error::invalid_input(format!("method {method:?} cannot be signed: use one of {}", METHODS.join(", "))))
    }
}

fn check_bucket(bucket: &str) -> Result<()> {
    if bucket.is_empty() {
        return Err(Error::invalid_input("the bucket is empty"));
    }
    if bucket.contains('/') || bucket.chars().any(char::is_control) {
        return Err(Error::invalid_input(format!("{bucket:?} is not a bucket name")));
    }
    Ok(())
}

fn check_key(key: &str, required: bool) -> Result<()> {
    if required && key.is_empty() {
        return Err(Error::invalid_input("the key is empty"));
    }
    if key.starts_with('/') {
        return Err(Error::invalid_input(format!(
            "the key {key:?} starts with '/': UFile rejects such signatures; drop the leading slash"
        )));
    }
    Ok(())
}

fn check_content_md5(md5: &str) -> Result<()> {
    if md5.is_empty() || (md5.len() == 32 && md5.bytes().all(|b| b.is_ascii_hexdigit())) {
        Ok(())
    } else {
        Err(Error::invalid_input(format!(
            "content_md5 {md5:?} is not 32 hex characters: UFile wants the hex MD5 of the body, not base64"
        )))
    }
}

fn check_header_value(what: &str, value: &str) -> Result<()> {
    if value.bytes().any(|b| b == b'\r' || b == b'\n') {
        Err(Error::invalid_input(format!("{what} contains a line break")))
    } else {
        Ok(())
    }
}

fn malformed(detail: &str) -> Error {
    Error::auth(format!("malformed UFile authorization: {detail}")).with_code("malformed-token")
}

fn bad_signature() -> Error {
    Error::auth(
        "the UFile signature does not match: the request differs from what was signed, or another PrivateKey signed it",
    )
    .with_code("bad-signature")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;
    use crate::hash::Md5;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn demo() -> Credentials {
        Credentials::new("demo-public-key", "test-private-key")
    }

    fn put(bucket: &str, key: &str, content_type: &str) -> SignRequest {
        SignRequest {
            method: "PUT".into(),
            bucket: bucket.into(),
            key: key.into(),
            content_type: content_type.into(),
            ..Default::default()
        }
    }

    fn code<T: std::fmt::Debug>(r: Result<T>) -> String {
        r.unwrap_err().code().unwrap_or("<none>").to_owned()
    }

    /// protocols/ufile.md §2.4, private key `test-private-key`.
    #[test]
    fn spec_vectors() {
        let c = demo();
        let plain = put("demobucket", "demokey", "image/jpeg");
        assert_eq!(plain.string_to_sign(), "PUT\n\nimage/jpeg\n\n/demobucket/demokey");
        assert_eq!(signature(&c, &plain.string_to_sign()), "k0ft/BmcNWgSWSxGRhSq7VikWLI=");
        assert_eq!(authorization(&c, &plain).unwrap(), "UCloud demo-public-key:k0ft/BmcNWgSWSxGRhSq7VikWLI=");

        // Unsorted, mixed case, repeated and padded headers; a non-UCloud header is left out.
        let with_headers = SignRequest {
            ucloud_headers: vec![
                ("X-UCloud-Foo".into(), "foo".into()),
                ("X-UCloud-Bar".into(), "bar1".into()),
                ("Content-Length".into(), "5".into()),
                (" x-ucloud-bar".into(), " bar2 ".into()),
            ],
            ..put("demobucket", "demokey", "image/jpeg")
        };
        assert_eq!(
            with_headers.string_to_sign(),
            "PUT\n\nimage/jpeg\n\nx-ucloud-bar:bar1,bar2\nx-ucloud-foo:foo\n/demobucket/demokey"
        );
        assert_eq!(signature(&c, &with_headers.string_to_sign()), "w/A4vtbinzz25ohqs49UyB4Hlh0=");
        // `authorization` feeds the MAC in pieces: the same signature, lower-case verb included.
        let lower = SignRequest { method: "put".into(), ..with_headers };
        assert_eq!(authorization(&c, &lower).unwrap(), "UCloud demo-public-key:w/A4vtbinzz25ohqs49UyB4Hlh0=");

        let md5 = Md5::digest(b"hello").to_hex();
        let hello = SignRequest { content_md5: md5, ..put("demobucket", "hello.txt", "text/plain") };
        assert_eq!(
            hello.string_to_sign(),
            "PUT\n5d41402abc4b2a76b9719d911017c592\ntext/plain\n\n/demobucket/hello.txt"
        );
        assert_eq!(signature(&c, &hello.string_to_sign()), "FhCsGQaNAp0OmP6uBD1VX5LCC4I=");

        let get = PresignRequest::get("demobucket", "dir/a b.jpg", 1_700_000_000);
        assert_eq!(get.string_to_sign(), "GET\n\n\n1700000000\n/demobucket/dir/a b.jpg");
        assert_eq!(presign_signature(&c, &get), "4cstxA1JO/c6Bbks6VLw5JQ9qDs=");
    }

    /// protocols/ufile.md §7.1, the UCloud API doc's own vector.
    #[test]
    fn api_signature_vector() {
        let public_key = "ucloudsomeone@example.com1296235120854146120";
        let private_key = "46f09bb9fab4f12dfc160dae12273d5332b5debe";
        let params: Vec<(String, String)> =
            [("Action", "DescribeUHostInstance"), ("Region", "cn-bj2"), ("Limit", "10"), ("PublicKey", public_key)]
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
        assert_eq!(api_signature(&params, private_key), "cba5cf5ec4d4233d206b1b54951e3787350a642f");
        // Go keeps the first value of a repeated name.
        let mut repeated = params.clone();
        repeated.push(("Limit".into(), "99".into()));
        assert_eq!(api_signature(&repeated, private_key), "cba5cf5ec4d4233d206b1b54951e3787350a642f");

        let query = signed_api_query(&Credentials::new(public_key, private_key), &params[..3]);
        assert_eq!(
            query,
            "Action=DescribeUHostInstance&Region=cn-bj2&Limit=10&PublicKey=ucloudsomeone%40example.com1296235120854146120\
             &Signature=cba5cf5ec4d4233d206b1b54951e3787350a642f"
        );
        // A stale PublicKey/Signature among the inputs is replaced.
        assert_eq!(signed_api_query(&Credentials::new(public_key, private_key), &params), query);
    }

    /// Outputs of the official Python SDK (PyPI `ufile` 3.2.11), computed by hand with public key
    /// `demo-public-key` and private key `test-private-key`:
    ///
    /// * `ufile.baseufile.BaseUFile.authorization(method, bucket, key, header, mime_type)` (what
    ///   `FileManager.putfile`, `deletefile`, `head_file`, the multipart calls use),
    /// * `BaseUFile.signature(bucket, key, method, header={'Expires': ...})` (what
    ///   `FileManager.private_download_url` / `private_head_url` put in the URL),
    /// * `ufile.auth.Auth.bucket_signature(query)` (what `BucketManager` sends).
    ///
    /// tests/conformance/test_signatures.py recomputes them with the SDK itself against the CLI.
    #[test]
    fn python_sdk_outputs() {
        let c = demo();
        let cases = [
            // authorization('put', 'demobucket', 'demokey', mime_type='image/jpeg')
            (put("demobucket", "demokey", "image/jpeg"), "UCloud demo-public-key:k0ft/BmcNWgSWSxGRhSq7VikWLI="),
            // authorization('put', 'demobucket', 'photos/中文 a+b.jpg', header={'Content-Type': 'image/jpeg',
            //               'Content-MD5': '5d41402abc4b2a76b9719d911017c592'})
            (
                SignRequest {
                    content_md5: "5d41402abc4b2a76b9719d911017c592".into(),
                    ..put("demobucket", "photos/中文 a+b.jpg", "image/jpeg")
                },
                "UCloud demo-public-key:ZTgzYLvnk6L+BSHBXVWnwnCtUwo=",
            ),
            // authorization('delete', 'demobucket', 'dir/file.txt')
            (
                SignRequest { method: "delete".into(), ..put("demobucket", "dir/file.txt", "") },
                "UCloud demo-public-key:z6BFwSZzgFtlnUGmXE7mqNAl/Eg=",
            ),
            // authorization('post', 'demobucket', 'big.bin', mime_type='text/plain'): multipart init
            (
                SignRequest { method: "post".into(), ..put("demobucket", "big.bin", "text/plain") },
                "UCloud demo-public-key:2mFzShORFGOPl9xECLyxAcu+Q6M=",
            ),
            // authorization('get', 'demobucket', '', header={'Date': '20240101120000'}): a listing, Java date
            (
                SignRequest { method: "GET".into(), date: "20240101120000".into(), ..put("demobucket", "", "") },
                "UCloud demo-public-key:0/7ewOfXm8/Hr6ncEVVYm6TNWI8=",
            ),
        ];
        for (request, want) in cases {
            assert_eq!(authorization(&c, &request).unwrap(), want, "{request:?}");
        }
        // signature('demobucket', 'dir/a b.jpg', 'head', header={'Expires': '1700000000'})
        let head =
            PresignRequest { method: "HEAD".into(), ..PresignRequest::get("demobucket", "dir/a b.jpg", 1_700_000_000) };
        assert_eq!(presign_signature(&c, &head), "7OiH/6WBZnPJJb4TOLFbpBxNP1k=");
        // Auth('demo-public-key', 'test-private-key').bucket_signature({'Action': 'CreateBucket',
        //     'BucketName': 'demobucket', 'Region': 'cn-bj', 'Type': 'private'})
        let params: Vec<(String, String)> =
            [("Action", "CreateBucket"), ("BucketName", "demobucket"), ("Region", "cn-bj"), ("Type", "private")]
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
        assert!(signed_api_query(&c, &params).ends_with("&Signature=fd10bd63eb7aedbcf30d177a4be8232088fbbe52"));
    }

    #[test]
    fn put_policy_in_signature_and_header() {
        let c = demo();
        let mut policy = UploadPolicy::new("http://example.com/cb", "key=$(key)&name=$(x:name)");
        policy.callback_var.insert("x:name".into(), "demo".into());
        assert_eq!(
            policy.to_json().unwrap(),
            r#"{"callbackUrl":"http://example.com/cb","callbackBody":"key=$(key)&name=$(x:name)","callbackVar":{"x:name":"demo"}}"#
        );
        let encoded = policy.encode().unwrap();
        assert_eq!(
            encoded,
            "eyJjYWxsYmFja1VybCI6Imh0dHA6Ly9leGFtcGxlLmNvbS9jYiIsImNhbGxiYWNrQm9keSI6ImtleT0kKGtleSkmbmFtZT0kKHg6bmFtZSkiLCJjYWxsYmFja1ZhciI6eyJ4Om5hbWUiOiJkZW1vIn19"
        );
        let request = SignRequest { put_policy: Some(encoded.clone()), ..put("demobucket", "demokey", "image/jpeg") };
        assert_eq!(request.string_to_sign(), format!("PUT\n\nimage/jpeg\n\n/demobucket/demokey{encoded}"));
        // Python: base64.b64encode(hmac.new(b"test-private-key", sts.encode(), sha1).digest())
        assert_eq!(
            authorization(&c, &request).unwrap(),
            format!("UCloud demo-public-key:H07sR76WkK0C0ip16WK2kWUgLls=:{encoded}")
        );
        // An empty policy is no policy.
        let empty = SignRequest { put_policy: Some(String::new()), ..put("demobucket", "demokey", "image/jpeg") };
        assert_eq!(authorization(&c, &empty).unwrap(), "UCloud demo-public-key:k0ft/BmcNWgSWSxGRhSq7VikWLI=");
    }

    #[test]
    fn policy_codec_accepts_both_alphabets() {
        // A body whose base64 has '+' or '/' in the standard alphabet, so the two encodings differ.
        let policy = UploadPolicy {
            callback_body: Some("a=~~~&b=???>>>".into()),
            callback_body_type: Some("application/x-www-form-urlencoded".into()),
            callback_method: Some("POST".into()),
            ..UploadPolicy::new("http://10.0.0.1/cb", "")
        };
        let json = policy.to_json().unwrap();
        let url_safe = policy.encode().unwrap();
        let standard = std_b64(&json);
        assert_ne!(url_safe, standard, "the test needs a policy whose encodings differ");
        for encoded in [url_safe.as_str(), standard.as_str(), url_safe.trim_end_matches('=')] {
            assert_eq!(UploadPolicy::decode(encoded).unwrap(), policy);
        }
        // Lenient reading: nulls, numbers as values, unknown keys.
        let parsed = UploadPolicy::from_json(
            r#"{"callbackUrl":"http://h/cb","callbackBody":null,"callbackVar":{"x:n":5,"x:m":null},"other":1}"#,
        )
        .unwrap();
        assert_eq!(parsed.callback_body, None);
        assert_eq!(parsed.callback_var, BTreeMap::from([("x:n".to_owned(), "5".to_owned())]));
        assert!(UploadPolicy::decode("!!!").is_err());
        assert_eq!(UploadPolicy::default().encode().unwrap_err().kind(), ErrorKind::InvalidInput);
    }

    #[test]
    fn presigned_url_shape() {
        let c = demo();
        let request = PresignRequest::get("demobucket", "dir/a b/中文+.jpg", 1_700_000_000);
        let url = presigned_url(&c, "https://demobucket.cn-bj.ufileos.com/", &request).unwrap();
        let sig = presign_signature(&c, &request);
        assert_eq!(
            url,
            format!(
                "https://demobucket.cn-bj.ufileos.com/dir/a%20b/%E4%B8%AD%E6%96%87%2B.jpg\
                 ?UCloudPublicKey=demo-public-key&Expires=1700000000&Signature={}",
                percent_encode(&sig, false)
            )
        );
        // The spec vector's signature has '/' and '=': both must be encoded in the URL.
        let spec =
            presigned_url(&c, "http://b.example", &PresignRequest::get("demobucket", "dir/a b.jpg", 1_700_000_000));
        assert_eq!(
            spec.unwrap(),
            "http://b.example/dir/a%20b.jpg?UCloudPublicKey=demo-public-key&Expires=1700000000&Signature=4cstxA1JO%2Fc6Bbks6VLw5JQ9qDs%3D"
        );
        // The signature covers the raw key, so a server verifies what it percent-decodes.
        assert_eq!(
            verify_presigned("demo-public-key", &sig, 1_700_000_000, &c, &request.string_to_sign(), 1_600_000_000)
                .unwrap(),
            "demo-public-key"
        );
        // Presigned PUT signs its content type.
        let upload = PresignRequest {
            method: "PUT".into(),
            content_type: "application/octet-stream".into(),
            ..PresignRequest::get("demobucket", "up.bin", 1_700_000_000)
        };
        assert_eq!(upload.string_to_sign(), "PUT\n\napplication/octet-stream\n1700000000\n/demobucket/up.bin");
        assert!(presigned_url(&c, "", &upload).is_err());
        assert!(presigned_url(&c, "http://h", &PresignRequest::get("b", "", 1)).is_err());
        assert!(presigned_url(&c, "http://h", &PresignRequest::get("b", "k", 0)).is_err());
    }

    #[test]
    fn validation_errors_say_what_is_wrong() {
        let c = demo();
        let message = |r: SignRequest| authorization(&c, &r).unwrap_err().message().to_owned();
        assert!(message(SignRequest { method: "PATCH".into(), ..put("b", "k", "") }).contains("PATCH"));
        assert!(message(put("", "k", "")).contains("bucket is empty"));
        assert!(message(put("b", "/k", "")).contains("starts with '/'"));
        assert!(
            message(SignRequest { content_md5: "XUFAKrxLKna5cZ2REBfFkg==".into(), ..put("b", "k", "") })
                .contains("hex")
        );
        assert!(message(put("b", "k", "text/plain\nx-ucloud-a:b")).contains("line break"));
        assert!(
            message(SignRequest { put_policy: Some(r#"{"callbackUrl":"x"}"#.into()), ..put("b", "k", "") })
                .contains("base64")
        );
        let err = authorization(&c, &put("b", "/k", "")).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        // Lower-case methods and upper-case hex are fine; bucket-level requests have an empty key.
        let ok = SignRequest {
            method: "get".into(),
            content_md5: "5D41402ABC4B2A76B9719D911017C592".into(),
            ..put("b", "", "")
        };
        assert!(authorization(&c, &ok).unwrap().starts_with("UCloud demo-public-key:"));
        assert!(ok.string_to_sign().starts_with("GET\n"));
        assert!(ok.string_to_sign().ends_with("\n/b/"));
    }

    #[test]
    fn verify_authorization_round_trip_and_tampering() {
        let c = demo();
        let request = put("demobucket", "demokey", "image/jpeg");
        let header = authorization(&c, &request).unwrap();
        let candidates = string_to_sign_variants(&request, &[]);
        assert_eq!(candidates, vec![request.string_to_sign()]);
        let ok = verify_authorization(&header, &c, &candidates).unwrap();
        assert_eq!(ok, VerifiedAuthorization { access_key: "demo-public-key".into(), put_policy: None });

        // With a policy: the header's policy is appended to the candidates.
        let policy = UploadPolicy::new("http://h/cb", "k=$(key)").encode().unwrap();
        let with_policy = SignRequest { put_policy: Some(policy.clone()), ..request.clone() };
        let header_p = authorization(&c, &with_policy).unwrap();
        let ok = verify_authorization(&header_p, &c, &candidates).unwrap();
        assert_eq!(ok.put_policy.as_deref(), Some(policy.as_str()));
        // Swap in another policy under the same signature.
        let other = UploadPolicy::new("http://evil/cb", "k=$(key)").encode().unwrap();
        let (head, _) = header_p.rsplit_once(':').unwrap();
        assert_eq!(code(verify_authorization(&format!("{head}:{other}"), &c, &candidates)), "bad-signature");
        // Dropping the policy breaks the signature too.
        assert_eq!(code(verify_authorization(head, &c, &candidates)), "bad-signature");

        // A different request, secret or key.
        let other_key = string_to_sign_variants(&put("demobucket", "otherkey", "image/jpeg"), &[]);
        assert_eq!(code(verify_authorization(&header, &c, &other_key)), "bad-signature");
        let wrong = Credentials::new("demo-public-key", "wrong-secret-9");
        assert_eq!(code(verify_authorization(&header, &wrong, &candidates)), "bad-signature");
        let stranger = Credentials::new("someone-else", "test-private-key");
        assert_eq!(code(verify_authorization(&header, &stranger, &candidates)), "unknown-access-key");
        for bad in [
            "",
            "UCloud",
            "ucloud demo-public-key:k0ft/BmcNWgSWSxGRhSq7VikWLI=",
            "UCloud x",
            "UCloud a:b:c:d",
            "UCloud :sig",
            "Bearer a:b",
        ] {
            assert_eq!(code(verify_authorization(bad, &c, &candidates)), "malformed-token", "{bad:?}");
        }
        assert_eq!(verify_authorization(&header, &c, &[]).unwrap_err().kind(), ErrorKind::InvalidInput);
        // Messages never contain secrets.
        let err = verify_authorization(&header, &wrong, &candidates).unwrap_err();
        assert!(!err.message().contains("test-private-key") && !err.message().contains("wrong-secret-9"));
        assert!(!format!("{c:?}").contains("test-private-key"));
    }

    #[test]
    fn variants_cover_every_sdk() {
        let c = demo();
        let base = SignRequest {
            method: "PUT".into(),
            bucket: "demobucket".into(),
            key: "copy.jpg".into(),
            content_type: "image/jpeg".into(),
            ..Default::default()
        };
        let headers: Vec<(String, String)> = [
            ("X-Ufile-Copy-Source", "/src/a.jpg"),
            ("X-Ufile-Metadata-Directive", "COPY"),
            ("X-UCloud-Trace", "t1"),
            ("Content-Type", "image/jpeg"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let variants = string_to_sign_variants(&base, &headers);
        assert_eq!(
            variants,
            vec![
                "PUT\n\nimage/jpeg\n\n/demobucket/copy.jpg".to_owned(),
                "PUT\n\nimage/jpeg\n\nx-ucloud-trace:t1\n/demobucket/copy.jpg".to_owned(),
                "PUT\n\nimage/jpeg\n\nx-ufile-copy-source:/src/a.jpg\n/demobucket/copy.jpg".to_owned(),
                "PUT\n\nimage/jpeg\n\nx-ucloud-trace:t1\nx-ufile-copy-source:/src/a.jpg\nx-ufile-metadata-directive:COPY\n/demobucket/copy.jpg".to_owned(),
            ]
        );
        // A Java-style client signing (c) verifies against the variants.
        let sig = signature(&c, &variants[2]);
        assert!(verify_authorization(&format!("UCloud demo-public-key:{sig}"), &c, &variants).is_ok());
        // Folded header values are unfolded.
        assert_eq!(
            canonicalized_headers(&[("X-UCloud-A".into(), " a\r\n   b ".into())], &["x-ucloud-"]),
            "x-ucloud-a:a b\n"
        );
    }

    #[test]
    fn verify_presigned_checks_expiry_first() {
        let c = demo();
        let request = PresignRequest::get("demobucket", "dir/a b.jpg", 1_700_000_000);
        let sts = request.string_to_sign();
        let sig = presign_signature(&c, &request);
        assert!(verify_presigned("demo-public-key", &sig, 1_700_000_000, &c, &sts, 1_700_000_000).is_ok());
        assert_eq!(
            code(verify_presigned("demo-public-key", &sig, 1_700_000_000, &c, &sts, 1_700_000_001)),
            "token-expired"
        );
        // Expired and tampered: expiry is reported.
        assert_eq!(
            code(verify_presigned("demo-public-key", "AAAA", 1_700_000_000, &c, &sts, 1_800_000_000)),
            "token-expired"
        );
        // A later Expires than signed.
        let later = PresignRequest { expires: 1_900_000_000, ..request.clone() }.string_to_sign();
        assert_eq!(code(verify_presigned("demo-public-key", &sig, 1_900_000_000, &c, &later, 0)), "bad-signature");
        assert_eq!(code(verify_presigned("nobody", &sig, 1_700_000_000, &c, &sts, 0)), "unknown-access-key");
        assert_eq!(code(verify_presigned("demo-public-key", "", 1_700_000_000, &c, &sts, 0)), "malformed-token");
        // Form decoding turned '+' into ' ': still verifies. Find a signature with a '+'.
        let with_plus = (0..200u64)
            .map(|i| PresignRequest::get("demobucket", format!("k{i}"), 1_700_000_000))
            .find(|r| presign_signature(&c, r).contains('+'))
            .unwrap();
        let spaced = presign_signature(&c, &with_plus).replace('+', " ");
        assert!(
            verify_presigned("demo-public-key", &spaced, 1_700_000_000, &c, &with_plus.string_to_sign(), 0).is_ok()
        );
    }

    #[test]
    fn signing_policy_accepts_and_refuses() {
        let policy = SigningPolicy {
            bucket: "demobucket".into(),
            key_prefix: "users/42/".into(),
            allowed_methods: vec!["put".into(), "POST".into(), "GET".into()],
            max_expires_in: Some(600),
            max_size: Some(10 << 20),
        };
        let request = put("demobucket", "users/42/a.jpg", "image/jpeg");
        assert!(policy.check_sign(&request, Some(1024)).is_ok());
        assert!(policy.check_sign(&request, Some(10 << 20)).is_ok());
        let refusal = |r: Result<()>| {
            let err = r.unwrap_err();
            assert_eq!((err.kind(), err.code()), (ErrorKind::Auth, Some("policy-denied")), "{err}");
            err.message().to_owned()
        };
        assert!(refusal(policy.check_sign(&put("otherbucket", "users/42/a.jpg", ""), Some(1))).contains("bucket"));
        assert!(refusal(policy.check_sign(&put("demobucket", "users/43/a.jpg", ""), Some(1))).contains("prefix"));
        assert!(refusal(policy.check_sign(&put("demobucket", "users/42", ""), Some(1))).contains("prefix"));
        let delete = SignRequest { method: "DELETE".into(), ..request.clone() };
        assert!(refusal(policy.check_sign(&delete, None)).contains("method DELETE is not allowed"));
        assert!(refusal(policy.check_sign(&request, Some((10 << 20) + 1))).contains("over the limit"));
        assert!(refusal(policy.check_sign(&request, None)).contains("not declared"));
        // GET needs no size.
        let get = SignRequest { method: "GET".into(), ..request.clone() };
        assert!(policy.check_sign(&get, None).is_ok());
        // Invalid requests are invalid input, not refusals.
        assert_eq!(
            policy.check_sign(&put("demobucket", "/users/42/a", ""), Some(1)).unwrap_err().kind(),
            ErrorKind::InvalidInput
        );
        // No methods listed: nothing is allowed.
        let closed = SigningPolicy { allowed_methods: vec![], ..policy.clone() };
        assert!(refusal(closed.check_sign(&get, None)).contains("allowed: none"));

        let now = 1_700_000_000;
        let url = PresignRequest::get("demobucket", "users/42/a.jpg", now + 600);
        assert!(policy.check_presign(&url, now).is_ok());
        assert!(
            refusal(policy.check_presign(&PresignRequest { expires: now + 601, ..url.clone() }, now))
                .contains("too far")
        );
        assert!(
            refusal(policy.check_presign(&PresignRequest { expires: now, ..url.clone() }, now)).contains("expired")
        );
        assert!(
            refusal(policy.check_presign(&PresignRequest { key: "users/4/a".into(), ..url.clone() }, now))
                .contains("prefix")
        );
        assert!(
            refusal(policy.check_presign(&PresignRequest { method: "HEAD".into(), ..url.clone() }, now))
                .contains("HEAD")
        );
        let presigned_put = PresignRequest { method: "PUT".into(), ..url.clone() };
        assert!(refusal(policy.check_presign(&presigned_put, now)).contains("cannot enforce a size"));
        let unlimited = SigningPolicy { max_size: None, max_expires_in: None, ..policy.clone() };
        assert!(unlimited.check_presign(&presigned_put, now).is_ok());
        assert!(unlimited.check_presign(&PresignRequest { expires: now + 86_400 * 365, ..url }, now).is_ok());
    }

    #[test]
    fn serde_shapes_for_token_servers() {
        // The mobile SDKs' applyAuth body (§9.3), snake_case.
        let json = r#"{"method":"PUT","bucket":"b","key":"k","content_type":"image/png","content_md5":"","date":"20240101120000","optional":"{}","put_policy":"eyJ9"}"#;
        let request: SignRequest = crate::json::from_str(json, "applyAuth").unwrap();
        assert_eq!(request.content_type, "image/png");
        assert_eq!(request.put_policy.as_deref(), Some("eyJ9"));
        // camelCase, and only method and bucket required.
        let minimal: SignRequest = crate::json::from_str(r#"{"method":"GET","bucket":"b"}"#, "sign request").unwrap();
        assert_eq!(minimal.string_to_sign(), "GET\n\n\n\n/b/");
        let presign: PresignRequest = crate::json::from_str(
            r#"{"bucket":"b","key":"k","expires":"1700000000","optional":"x"}"#,
            "applyPrivateUrlAuth",
        )
        .unwrap();
        assert_eq!(presign, PresignRequest::get("b", "k", 1_700_000_000));
        assert!(crate::json::from_str::<PresignRequest>(r#"{"bucket":"b","key":"k"}"#, "presign").is_err());
        let policy: SigningPolicy =
            crate::json::from_str(r#"{"bucket":"b","keyPrefix":"u/","allowedMethods":["PUT"],"maxSize":5}"#, "policy")
                .unwrap();
        assert_eq!(policy.max_size, Some(5));
        assert_eq!(
            crate::json::to_string(&PresignRequest::get("b", "k", 5)).unwrap(),
            r#"{"method":"GET","bucket":"b","key":"k","expires":5,"contentType":"","contentMd5":""}"#
        );
    }
}
