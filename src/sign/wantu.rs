//! Alibaba Baichuan Wantu (顽兔, AliMedia): upload tokens (`UPLOAD_AK_TOP`), manage tokens
//! (`ACL_TOP`), resource ids, and their verification.
//!
//! Both tokens sign with HMAC-SHA1 written as **40 lower-case hex characters**, wrapped with the
//! access key in URL-safe base64 (protocols/wantu.md §3, §4).
//!
//! Padding: the SDKs disagree (§3). PHP, Node and .NET strip `=` — the PHP SDK's comment gives the
//! encoding as "URL-safe base64 with the trailing `=` removed" — and the Python SDK keeps it. The
//! spec's test vector cannot tell (its lengths are multiples of three). The service signs the
//! encoded policy as received, so both work; yunup writes the unpadded form of the majority and
//! accepts either, in either alphabet.

use std::fmt;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

use super::{Credentials, SecretLookup, constant_time_eq, hmac_sha1, known_secret};
use crate::encoding::{decode_base64_lenient, hex_lower, urlsafe_b64_nopad};
use crate::{Error, Result, lenient};

/// `expiration` value for a token that never expires.
pub const NEVER_EXPIRES: i64 = -1;

/// The upload policy (上传策略, §2.1): where an upload goes, until when, and what happens after.
///
/// Parsing is as tolerant as the SDKs are varied: numbers may be strings, any field may be `null`
/// (PHP writes every property), unknown keys (`bizCode`, …) are ignored. Writing leaves unset fields
/// out, in the order of the PHP SDK's class.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadPolicy {
    /// The target space; required for `TOP` tokens.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "lenient::opt_string")]
    pub namespace: Option<String>,
    /// The `CLOUD`-type alternative to `namespace`.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "lenient::opt_string")]
    pub bucket: Option<String>,
    /// Expiry, Unix time in **milliseconds**; [`NEVER_EXPIRES`] (-1) for never. Written as a number.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "lenient::opt_i64")]
    pub expiration: Option<i64>,
    /// 1: refuse to overwrite an existing file; 0: overwrite.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "lenient::opt_i64")]
    pub insert_only: Option<i64>,
    /// 1: the service sniffs the MIME type from the content.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "lenient::opt_i64")]
    pub detect_mime: Option<i64>,
    /// Directory, magic variables allowed (`/${year}/${month}`); overrides the form field.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "lenient::opt_string")]
    pub dir: Option<String>,
    /// File name, magic variables allowed (`${uuid}.${ext}`); overrides the form field.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "lenient::opt_string")]
    pub name: Option<String>,
    /// Largest accepted file in bytes; 0 or absent: the system default.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "lenient::opt_u64")]
    pub size_limit: Option<u64>,
    /// Accepted MIME types, e.g. `image/*`.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "lenient::opt_string")]
    pub mime_limit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "lenient::opt_string")]
    pub callback_url: Option<String>,
    /// The `Host` header of the callback.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "lenient::opt_string")]
    pub callback_host: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "lenient::opt_string")]
    pub callback_body: Option<String>,
    /// Default `application/x-www-form-urlencoded; charset=utf-8`.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "lenient::opt_string")]
    pub callback_body_type: Option<String>,
    /// Form uploads: answer 303 to this URL.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "lenient::opt_string")]
    pub return_url: Option<String>,
    /// Template of the response body.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "lenient::opt_string")]
    pub return_body: Option<String>,
    /// The transcoding policy, JSON text in a string. Read also when it arrives as an inline JSON
    /// value (kept as its compact text); written as a string.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "opt_json_text")]
    pub media_encode: Option<String>,
}

impl UploadPolicy {
    /// The policy's fields as JSON names them (see `wcs::PutPolicy::FIELDS`).
    pub const FIELDS: &'static str = "namespace, bucket, expiration, insertOnly, detectMime, dir, name, sizeLimit, \
        mimeLimit, callbackUrl, callbackHost, callbackBody, callbackBodyType, returnUrl, returnBody, mediaEncode";

    /// A policy for `namespace` expiring at `expiration_ms` ([`NEVER_EXPIRES`] for never).
    pub fn new(namespace: impl Into<String>, expiration_ms: i64) -> Self {
        UploadPolicy { namespace: Some(namespace.into()), expiration: Some(expiration_ms), ..Default::default() }
    }

    /// Parse policy JSON as any Wantu SDK writes it.
    pub fn from_json(text: &str) -> Result<Self> {
        crate::json::from_str(text, "the Wantu upload policy")
    }

    /// Compact JSON, the text that gets signed.
    pub fn to_json(&self) -> Result<String> {
        crate::json::to_string(self)
    }

    /// `namespace` or, for CLOUD tokens, `bucket` must be set; `expiration` is -1 or more.
    pub fn validate(&self) -> Result<()> {
        let has = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.trim().is_empty());
        if !has(&self.namespace) && !has(&self.bucket) {
            return Err(Error::invalid_input(
                "the upload policy has no namespace: set \"namespace\" (or \"bucket\" for CLOUD keys)",
            ));
        }
        if let Some(e) = self.expiration
            && e < NEVER_EXPIRES
        {
            return Err(Error::invalid_input(format!(
                "expiration {e} is not a time: use Unix milliseconds, or -1 for never"
            )));
        }
        Ok(())
    }

    /// When the token stops being valid (Unix ms), or `None` when it never does: a missing,
    /// `null`, 0 or -1 `expiration` means no expiry (§3 step 8).
    pub fn expires_at_ms(&self) -> Option<u64> {
        self.expiration.filter(|&e| e > 0).map(|e| e as u64)
    }
}

/// `mediaEncode`: a string as is; any other JSON value as its compact JSON text; `null` as absent.
fn opt_json_text<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<String>, D::Error> {
    Ok(match Option::<JsonText>::deserialize(d)? {
        None => None,
        Some(JsonText(text)) if text == "null" => None,
        Some(JsonText(text)) if text.starts_with('"') => {
            Some(crate::json::from_str::<String>(&text, "mediaEncode").map_err(de::Error::custom)?)
        }
        Some(JsonText(text)) => Some(text),
    })
}

/// Any JSON value, re-written as compact JSON text (keys in the order received).
struct JsonText(String);

impl<'de> Deserialize<'de> for JsonText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        d.deserialize_any(JsonTextVisitor).map(JsonText)
    }
}

struct JsonTextVisitor;

impl<'de> Visitor<'de> for JsonTextVisitor {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> std::result::Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_i64<E>(self, v: i64) -> std::result::Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_u64<E>(self, v: u64) -> std::result::Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> std::result::Result<String, E> {
        // Through the JSON engine (JS's own in wasm): Rust's float printing would add ~14 KB to
        // the wasm bundle for this one rare case.
        if v.is_finite() {
            crate::json::to_string(&v).map_err(E::custom)
        } else {
            Err(E::custom("a number that JSON cannot hold"))
        }
    }
    fn visit_str<E>(self, v: &str) -> std::result::Result<String, E> {
        Ok(json_string_literal(v))
    }
    fn visit_unit<E>(self) -> std::result::Result<String, E> {
        Ok("null".to_owned())
    }
    fn visit_none<E>(self) -> std::result::Result<String, E> {
        Ok("null".to_owned())
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> std::result::Result<String, D::Error> {
        d.deserialize_any(JsonTextVisitor)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<String, A::Error> {
        let mut items = Vec::new();
        while let Some(JsonText(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(format!("[{}]", items.join(",")))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<String, A::Error> {
        let mut entries = Vec::new();
        while let Some((key, JsonText(value))) = map.next_entry::<String, JsonText>()? {
            entries.push(format!("{}:{value}", json_string_literal(&key)));
        }
        Ok(format!("{{{}}}", entries.join(",")))
    }
}

/// A JSON string literal, escaped as `serde_json` and `JSON.stringify` both do (`/` and non-ASCII
/// left as they are), so the result is the same on every target.
fn json_string_literal(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Mint an upload token for `policy`. The policy is validated and must say when it expires:
/// `expiration` in Unix ms, or [`NEVER_EXPIRES`] spelled out for a token that never does.
pub fn upload_token(credentials: &Credentials, policy: &UploadPolicy) -> Result<String> {
    policy.validate()?;
    if policy.expiration.is_none() {
        return Err(Error::invalid_input(
            "the upload policy has no expiration: set \"expiration\" (Unix time in milliseconds), or -1 for a token that never expires",
        ));
    }
    Ok(upload_token_for_json(credentials, &policy.to_json()?))
}

/// `UPLOAD_AK_TOP urlsafe_b64(AK:urlsafe_b64(policy_json):hex(HMAC-SHA1(SK, encodedPolicy)))` over
/// the policy text exactly as given, both base64 layers unpadded. Use it to reproduce a token
/// another SDK made from the same text; [`upload_token`] is the normal entry point.
pub fn upload_token_for_json(credentials: &Credentials, policy_json: &str) -> String {
    let encoded_policy = urlsafe_b64_nopad(policy_json);
    let sign = hex_lower(hmac_sha1(credentials.secret_key().as_bytes(), encoded_policy.as_bytes()));
    format!("UPLOAD_AK_TOP {}", urlsafe_b64_nopad(format!("{}:{encoded_policy}:{sign}", credentials.access_key())))
}

/// An upload token that passed [`verify_upload_token`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedUploadToken {
    pub access_key: String,
    pub policy: UploadPolicy,
    /// The policy text exactly as signed.
    pub policy_json: String,
}

/// Check an upload token as the service does (§3, "Server verification"): scheme `UPLOAD_AK_TOP` or
/// `UPLOAD_AK_CLOUD` (followed by a space, or a `+` from an undecoded query), the rest base64 in any
/// flavour, split at its **first** and **last** `:` into AK, encoded policy and hex signature; the
/// signature recomputed over the encoded policy as received and compared case-insensitively in
/// constant time; then the policy parsed and its `expiration` checked against `now_ms` (missing,
/// `null`, 0 and -1 never expire).
///
/// Errors are [`crate::ErrorKind::Auth`] with a code of `malformed-token`, `unknown-access-key`,
/// `bad-signature` or `token-expired`. Whether the namespace belongs to the AK is the caller's
/// business.
pub fn verify_upload_token(
    token: &str,
    secrets: &(impl SecretLookup + ?Sized),
    now_ms: u64,
) -> Result<VerifiedUploadToken> {
    let inner = decode_scheme_value(token, "UPLOAD_AK_TOP", "UPLOAD_AK_CLOUD", "an upload token")?;
    let (ak, encoded_policy, sign) = token_parts(&inner)?;
    let secret = known_secret(secrets, ak, "AK")?;
    check_hex_mac(&secret, encoded_policy.as_bytes(), sign)?;
    let policy_json = super::policy_text(encoded_policy, malformed)?;
    let policy = UploadPolicy::from_json(&policy_json).map_err(|e| malformed(e.message()))?;
    policy.validate().map_err(|e| malformed(e.message()))?;
    if let Some(deadline) = policy.expires_at_ms()
        && now_ms > deadline
    {
        return Err(Error::auth(format!(
            "the upload token expired at {deadline} ms (now {now_ms} ms): ask the backend for a new token"
        ))
        .with_code("token-expired"));
    }
    Ok(VerifiedUploadToken { access_key: ak.to_owned(), policy, policy_json })
}

/// `(AK, encoded policy, signature)` of a decoded upload token, split at its first and last `:`.
fn token_parts(inner: &str) -> Result<(&str, &str, &str)> {
    let (Some(first), Some(last)) = (inner.find(':'), inner.rfind(':')) else {
        return Err(malformed("the decoded token has no ':' (expected AK:encodedPolicy:sign)"));
    };
    if first == last {
        return Err(malformed("the decoded token has one ':' (expected AK:encodedPolicy:sign)"));
    }
    let (ak, encoded_policy, sign) = (&inner[..first], &inner[first + 1..last], &inner[last + 1..]);
    if ak.is_empty() || encoded_policy.is_empty() {
        return Err(malformed("an empty AK or policy"));
    }
    Ok((ak, encoded_policy, sign))
}

/// Where an upload token puts files, read without the secret key.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TokenPlace {
    /// `namespace`, or `bucket` for a `CLOUD` token.
    pub namespace: Option<String>,
    /// The folder and file name the policy imposes (they override the request's), maybe with
    /// magic variables (`${uuid}`).
    pub dir: Option<String>,
    pub name: Option<String>,
}

/// The namespace, folder and name an upload token's policy imposes, read without the secret
/// key: the service stores the file there whatever the request names, so a client checks its
/// target against it before sending anything. `None` when the token is not of the usual shape
/// (the service will judge it).
pub fn token_place(token: &str) -> Option<TokenPlace> {
    let inner = decode_scheme_value(token, "UPLOAD_AK_TOP", "UPLOAD_AK_CLOUD", "an upload token").ok()?;
    let (_, encoded_policy, _) = token_parts(&inner).ok()?;
    let place = super::policy_place(encoded_policy)?;
    Some(TokenPlace {
        namespace: place.namespace.filter(|n| !n.is_empty()).or(place.bucket),
        dir: place.dir,
        name: place.name,
    })
}

/// The manage token (§4) for one request: `ACL_TOP urlsafe_b64_nopad(AK:hex(HMAC-SHA1(SK, uri\nbody\ndate)))`.
///
/// `uri` is the request target exactly as sent (path and query, not re-encoded or sorted), `body`
/// the exact body bytes (empty for none), `date` the exact `Date` header value (the PHP SDK sends
/// Unix milliseconds, Node an RFC 1123 date).
pub fn manage_token(credentials: &Credentials, uri: &str, body: &[u8], date: &str) -> String {
    let sign = hex_lower(hmac_sha1(credentials.secret_key().as_bytes(), &manage_signing_bytes(uri, body, date)));
    format!("ACL_TOP {}", urlsafe_b64_nopad(format!("{}:{sign}", credentials.access_key())))
}

fn manage_signing_bytes(uri: &str, body: &[u8], date: &str) -> Vec<u8> {
    let mut data = Vec::with_capacity(uri.len() + body.len() + date.len() + 2);
    data.extend_from_slice(uri.as_bytes());
    data.push(b'\n');
    data.extend_from_slice(body);
    data.push(b'\n');
    data.extend_from_slice(date.as_bytes());
    data
}

/// Check a manage `Authorization` value (`ACL_TOP` or `ACL_CLOUD`) against the request it came
/// with: `uri` the request target as received, `body` and `date` as received. Returns the AK.
///
/// The signature covers `Date` but nothing here reads a clock: rejecting a `Date` too far from now
/// (`RequestTimeTooSkewed`, 15 minutes is a reasonable bound; the value is Unix ms or RFC 1123) is
/// the caller's business.
pub fn verify_manage_token(
    authorization: &str,
    secrets: &(impl SecretLookup + ?Sized),
    uri: &str,
    body: &[u8],
    date: &str,
) -> Result<String> {
    let inner = decode_scheme_value(authorization, "ACL_TOP", "ACL_CLOUD", "a manage token")?;
    let Some((ak, sign)) = inner.rsplit_once(':') else {
        return Err(malformed("the decoded manage token has no ':' (expected AK:sign)"));
    };
    if ak.is_empty() {
        return Err(malformed("an empty AK"));
    }
    let secret = known_secret(secrets, ak, "AK")?;
    check_hex_mac(&secret, &manage_signing_bytes(uri, body, date), sign)?;
    Ok(ak.to_owned())
}

/// The resource id of a file (`name` given) or folder (`None`) in management paths:
/// `urlsafe_b64_nopad(JSON array [namespace, dir, name])`. `dir` gets a leading `/` (empty: `/`),
/// as the PHP SDK does; an empty name is left out, as PHP does.
pub fn resource_id(namespace: &str, dir: &str, name: Option<&str>) -> String {
    let mut json = format!("[{},{}", json_string_literal(namespace), json_string_literal(&normalize_dir(dir)));
    if let Some(name) = name.filter(|n| !n.is_empty()) {
        json.push(',');
        json.push_str(&json_string_literal(name));
    }
    json.push(']');
    urlsafe_b64_nopad(json)
}

/// Read a resource id as any SDK writes it (either base64 alphabet, padded or not; escaped `\/`;
/// PHP 1.0's `[namespace, dir, null]` for folders): `(namespace, dir, name)`, `dir` normalized as in
/// [`resource_id`].
pub fn parse_resource_id(rid: &str) -> Result<(String, String, Option<String>)> {
    let bytes = decode_base64_lenient(rid).map_err(|_| Error::invalid_input("the resource id is not base64"))?;
    let text = String::from_utf8(bytes).map_err(|_| Error::invalid_input("the resource id is not UTF-8 text"))?;
    let parts: Vec<Option<String>> = crate::json::from_str(&text, "the resource id")?;
    let mut parts = parts.into_iter();
    let (namespace, dir, name) = (parts.next().flatten(), parts.next().flatten(), parts.next().flatten());
    if parts.next().is_some() {
        return Err(Error::invalid_input("a resource id has at most three parts: [namespace, dir, name]"));
    }
    let namespace =
        namespace.filter(|n| !n.is_empty()).ok_or_else(|| Error::invalid_input("the resource id has no namespace"))?;
    Ok((namespace, normalize_dir(dir.as_deref().unwrap_or("")), name.filter(|n| !n.is_empty())))
}

fn normalize_dir(dir: &str) -> String {
    if dir.starts_with('/') { dir.to_owned() } else { format!("/{dir}") }
}

/// Strip `TOP_SCHEME`/`CLOUD_SCHEME` and the separator, decode the base64 rest to text.
fn decode_scheme_value(value: &str, top: &str, cloud: &str, what: &str) -> Result<String> {
    let value = value.trim();
    let rest = [top, cloud]
        .iter()
        .find_map(|scheme| value.strip_prefix(scheme).and_then(|rest| rest.strip_prefix([' ', '+'])))
        .ok_or_else(|| malformed(&format!("{what} must start with \"{top} \" or \"{cloud} \"")))?;
    let bytes =
        decode_base64_lenient(rest).map_err(|_| malformed(&format!("{what} is not base64 after the scheme")))?;
    String::from_utf8(bytes).map_err(|_| malformed(&format!("{what} does not decode to text")))
}

fn check_hex_mac(secret: &str, data: &[u8], given_hex: &str) -> Result<()> {
    let expected = hex_lower(hmac_sha1(secret.as_bytes(), data));
    if constant_time_eq(expected.as_bytes(), given_hex.to_ascii_lowercase().as_bytes()) {
        Ok(())
    } else {
        Err(Error::auth(
            "the Wantu token signature does not match: it was tampered with, signed for another request, or made with another SK",
        )
        .with_code("bad-signature"))
    }
}

fn malformed(detail: &str) -> Error {
    Error::auth(format!("malformed Wantu token: {detail}")).with_code("malformed-token")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;
    use crate::encoding::{std_b64, urlsafe_b64};
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn the_list_of_policy_fields_is_the_structs() {
        let fields = crate::testing::serde_fields::<UploadPolicy>();
        assert_eq!(UploadPolicy::FIELDS.split(", ").collect::<Vec<_>>(), fields);
    }

    /// The synthetic keys of protocols/wantu.md §3 and §4.
    fn spec() -> Credentials {
        Credentials::new("23000000", "0123456789abcdef0123456789abcdef")
    }

    fn code<T: std::fmt::Debug>(r: Result<T>) -> String {
        r.unwrap_err().code().unwrap_or("<none>").to_owned()
    }

    /// The decoded inner part of a token or manage header.
    fn inner(token: &str) -> String {
        let (_, b64) = token.split_once(' ').unwrap();
        String::from_utf8(decode_base64_lenient(b64).unwrap()).unwrap()
    }

    /// protocols/wantu.md §3.
    #[test]
    fn upload_token_spec_vector() {
        let policy =
            UploadPolicy { insert_only: Some(0), detect_mime: Some(1), ..UploadPolicy::new("test", NEVER_EXPIRES) };
        let json = policy.to_json().unwrap();
        assert_eq!(json, r#"{"namespace":"test","expiration":-1,"insertOnly":0,"detectMime":1}"#);
        let token = upload_token(&spec(), &policy).unwrap();
        assert_eq!(
            token,
            "UPLOAD_AK_TOP MjMwMDAwMDA6ZXlKdVlXMWxjM0JoWTJVaU9pSjBaWE4wSWl3aVpYaHdhWEpoZEdsdmJpSTZMVEVzSW1sdWMyVnlkRTl1YkhraU9qQXNJbVJsZEdWamRFMXBiV1VpT2pGOTo4YTM0NjU2ZTQ4ZDRjNmQxZTgxZTM2MDNlMDljNTAyZmIxNjAyODY5"
        );
        assert_eq!(
            inner(&token),
            "23000000:eyJuYW1lc3BhY2UiOiJ0ZXN0IiwiZXhwaXJhdGlvbiI6LTEsImluc2VydE9ubHkiOjAsImRldGVjdE1pbWUiOjF9:8a34656e48d4c6d1e81e3603e09c502fb1602869"
        );
        assert_eq!(upload_token_for_json(&spec(), &json), token);
        let ok = verify_upload_token(&token, &spec(), u64::MAX).unwrap();
        assert_eq!((ok.access_key.as_str(), &ok.policy, ok.policy_json.as_str()), ("23000000", &policy, json.as_str()));
    }

    /// A policy whose lengths are not multiples of three, where padding shows. Computed in Python:
    /// PHP/Node style, `base64.urlsafe_b64encode(x).rstrip(b"=")` on both layers; and the Python
    /// SDK's `Want.__upload_token` (want/want.py, not on PyPI; transcribed and run over the same
    /// text), which keeps the padding. Both verify.
    #[test]
    fn padding_choice_and_python_sdk_tokens() {
        let c = spec();
        let json = r#"{"namespace":"ns","expiration":1700000000000,"dir":"/a","name":"b.jpg"}"#;
        let token = upload_token_for_json(&c, json);
        assert_eq!(
            token,
            "UPLOAD_AK_TOP MjMwMDAwMDA6ZXlKdVlXMWxjM0JoWTJVaU9pSnVjeUlzSW1WNGNHbHlZWFJwYjI0aU9qRTNNREF3TURBd01EQXdNREFzSW1ScGNpSTZJaTloSWl3aWJtRnRaU0k2SW1JdWFuQm5JbjA6YWJiYzE1Y2M3ZWYyMjcyZTQ2NDc5YmQ5YTY0NDc0YzBmMjQ4YmMzZg"
        );
        // The Python SDK's token for the same text: padded on both layers, and a different
        // signature, since it signs the padded encoded policy.
        let python = "UPLOAD_AK_TOP MjMwMDAwMDA6ZXlKdVlXMWxjM0JoWTJVaU9pSnVjeUlzSW1WNGNHbHlZWFJwYjI0aU9qRTNNREF3TURBd01EQXdNREFzSW1ScGNpSTZJaTloSWl3aWJtRnRaU0k2SW1JdWFuQm5JbjA9OjUwMGZlMjVhMDg5ZTczNDJmYjRjY2NiNDI1ZGFhZDJiNjBkODUwMDk=";
        for t in [token.as_str(), python] {
            let ok = verify_upload_token(t, &c, 1_700_000_000_000).unwrap();
            assert_eq!(ok.policy_json, json);
            assert_eq!(ok.policy.dir.as_deref(), Some("/a"));
        }
        // The decoded real Python example of §3 (spaces after separators) parses.
        let real = r#"{"sizeLimit": 0, "insertOnly": 0, "namespace": "advert", "expiration": -1, "detectMime": 1}"#;
        let ok = verify_upload_token(&upload_token_for_json(&c, real), &c, u64::MAX).unwrap();
        assert_eq!(ok.policy.size_limit, Some(0));
        assert_eq!(ok.policy.expires_at_ms(), None);
        // The .NET fork: standard alphabet, no padding; some callers send '+' for the space.
        let encoded_policy = std_b64(json).trim_end_matches('=').to_owned();
        let sign = hex_lower(hmac_sha1(c.secret_key().as_bytes(), encoded_policy.as_bytes()));
        let dotnet =
            format!("UPLOAD_AK_CLOUD+{}", std_b64(format!("23000000:{encoded_policy}:{sign}")).trim_end_matches('='));
        assert_eq!(verify_upload_token(&dotnet, &c, 0).unwrap().policy_json, json);
    }

    #[test]
    fn expiry() {
        let c = spec();
        let token = upload_token(&c, &UploadPolicy::new("ns", 2_000)).unwrap();
        assert!(verify_upload_token(&token, &c, 2_000).is_ok());
        assert_eq!(code(verify_upload_token(&token, &c, 2_001)), "token-expired");
        // Missing, null, 0, -1, "-1": never.
        for json in [
            r#"{"namespace":"ns"}"#,
            r#"{"namespace":"ns","expiration":null}"#,
            r#"{"namespace":"ns","expiration":0}"#,
            r#"{"namespace":"ns","expiration":-1}"#,
            r#"{"namespace":"ns","expiration":"-1"}"#,
        ] {
            assert!(verify_upload_token(&upload_token_for_json(&c, json), &c, u64::MAX).is_ok(), "{json}");
        }
        // Strings are milliseconds too.
        let t = upload_token_for_json(&c, r#"{"namespace":"ns","expiration":"1495976278730"}"#);
        assert!(verify_upload_token(&t, &c, 1_495_976_278_730).is_ok());
        assert_eq!(code(verify_upload_token(&t, &c, 1_495_976_278_731)), "token-expired");
        // Minting insists on an explicit expiration.
        let err = upload_token(&c, &UploadPolicy { expiration: None, ..UploadPolicy::new("ns", 1) }).unwrap_err();
        assert!(err.message().contains("expiration"), "{err}");
    }

    #[test]
    fn tampering_and_malformed_tokens() {
        let c = spec();
        let token = upload_token(&c, &UploadPolicy::new("ns", 5_000)).unwrap();
        // Another policy under the old signature.
        let text = inner(&token);
        let (ak, rest) = text.split_once(':').unwrap();
        let (_, sign) = rest.rsplit_once(':').unwrap();
        let forged_policy = urlsafe_b64_nopad(r#"{"namespace":"other","expiration":-1}"#);
        let forged = format!("UPLOAD_AK_TOP {}", urlsafe_b64_nopad(format!("{ak}:{forged_policy}:{sign}")));
        assert_eq!(code(verify_upload_token(&forged, &c, 0)), "bad-signature");
        // Upper-case hex is the same signature.
        let upper_sign = format!(
            "UPLOAD_AK_TOP {}",
            urlsafe_b64_nopad(format!("{ak}:{}:{}", &rest[..rest.rfind(':').unwrap()], sign.to_uppercase()))
        );
        assert!(verify_upload_token(&upper_sign, &c, 0).is_ok());

        let wrong = Credentials::new("23000000", "ffffffffffffffffffffffffffffffff");
        assert_eq!(code(verify_upload_token(&token, &wrong, 0)), "bad-signature");
        assert_eq!(code(verify_upload_token(&token, &Credentials::new("99999999", "x"), 0)), "unknown-access-key");
        for bad in [
            "",
            "UPLOAD_AK_TOP",
            "UPLOAD_AK_XYZ abc",
            "Bearer MjMwMDAwMDA6YTpi",
            "UPLOAD_AK_TOP !!!",
            &format!("UPLOAD_AK_TOP {}", urlsafe_b64_nopad("23000000:onlyone")),
            &format!("UPLOAD_AK_TOP {}", urlsafe_b64_nopad(":p:s")),
        ] {
            assert_eq!(code(verify_upload_token(bad, &c, 0)), "malformed-token", "{bad:?}");
        }
        // A signed policy that is not a policy: no namespace, not JSON.
        for json in [r#"{"expiration":-1}"#, "not json", r#"{"namespace":"ns","expiration":"soon"}"#] {
            assert_eq!(code(verify_upload_token(&upload_token_for_json(&c, json), &c, 0)), "malformed-token", "{json}");
        }
        let err = verify_upload_token(&token, &wrong, 0).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Auth);
        assert!(!err.message().contains("0123456789abcdef") && !err.message().contains("ffffffff"));
    }

    #[test]
    fn lenient_policy_parsing() {
        // PHP: every property, nulls, escaped slashes, numbers as strings; Taobao extras.
        let php = r#"{"namespace":"ns","bucket":null,"insertOnly":"0","expiration":"1500000000000","detectMime":"1","dir":"\/video\/lyf","name":null,"sizeLimit":"10485760","mimeLimit":null,"callbackUrl":null,"callbackHost":null,"callbackBody":null,"callbackBodyType":null,"returnUrl":null,"returnBody":null,"mediaEncode":null,"bizCode":"x","videoSync":1}"#;
        let p = UploadPolicy::from_json(php).unwrap();
        assert_eq!(p.dir.as_deref(), Some("/video/lyf"));
        assert_eq!((p.insert_only, p.detect_mime, p.size_limit), (Some(0), Some(1), Some(10_485_760)));
        assert_eq!(p.expires_at_ms(), Some(1_500_000_000_000));
        assert_eq!(p.media_encode, None);
        // .NET: indented JSON.
        let dotnet = "{\n  \"namespace\": \"ns\",\n  \"expiration\": \"-1\"\n}";
        assert_eq!(UploadPolicy::from_json(dotnet).unwrap(), UploadPolicy::new("ns", -1));
        // mediaEncode as JSON text in a string, or inline.
        let as_string =
            UploadPolicy::from_json(r#"{"namespace":"ns","mediaEncode":"{\"encodeTemplate\":\"mp4\"}"}"#).unwrap();
        let inline = UploadPolicy::from_json(
            r#"{"namespace":"ns","mediaEncode":{"encodeTemplate":"mp4","n":[1,true,null,"a\"b"]}}"#,
        )
        .unwrap();
        assert_eq!(as_string.media_encode.as_deref(), Some(r#"{"encodeTemplate":"mp4"}"#));
        assert_eq!(inline.media_encode.as_deref(), Some(r#"{"encodeTemplate":"mp4","n":[1,true,null,"a\"b"]}"#));
        assert_eq!(as_string.to_json().unwrap(), r#"{"namespace":"ns","mediaEncode":"{\"encodeTemplate\":\"mp4\"}"}"#);
        // What no SDK sends is refused, naming the document.
        let err = UploadPolicy::from_json(r#"{"namespace":"ns","sizeLimit":-5}"#).unwrap_err();
        assert!(err.message().contains("Wantu upload policy"), "{err}");
        // Every field round-trips.
        let full = UploadPolicy {
            namespace: Some("ns".into()),
            bucket: Some("b".into()),
            expiration: Some(1),
            insert_only: Some(1),
            detect_mime: Some(0),
            dir: Some("/${year}".into()),
            name: Some("${uuid}.${ext}".into()),
            size_limit: Some(10),
            mime_limit: Some("image/*".into()),
            callback_url: Some("http://10.0.0.1/cb".into()),
            callback_host: Some("cb.example".into()),
            callback_body: Some("name=${name}".into()),
            callback_body_type: Some("application/x-www-form-urlencoded; charset=utf-8".into()),
            return_url: Some("http://r.example/".into()),
            return_body: Some(r#"{"size":${fileSize}}"#.into()),
            media_encode: Some(r#"{"t":"mp4"}"#.into()),
        };
        assert_eq!(UploadPolicy::from_json(&full.to_json().unwrap()).unwrap(), full);
    }

    #[test]
    fn validation() {
        let c = spec();
        let err = upload_token(&c, &UploadPolicy { namespace: None, ..UploadPolicy::new("", -1) }).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert!(err.message().contains("namespace"), "{err}");
        assert!(
            upload_token(&c, &UploadPolicy { namespace: None, bucket: Some("b".into()), ..UploadPolicy::new("", -1) })
                .is_ok()
        );
        assert!(upload_token(&c, &UploadPolicy::new("  ", -1)).is_err());
        assert!(upload_token(&c, &UploadPolicy::new("ns", -2)).unwrap_err().message().contains("-2"));
    }

    /// protocols/wantu.md §4.
    #[test]
    fn manage_token_spec_vectors() {
        let c = spec();
        let rid = resource_id("test", "/dir", Some("a.jpg"));
        assert_eq!(rid, "WyJ0ZXN0IiwiL2RpciIsImEuanBnIl0");
        let uri = format!("/3.0/files/{rid}/exist");
        let header = manage_token(&c, &uri, b"", "1500000000000");
        assert_eq!(header, "ACL_TOP MjMwMDAwMDA6NDQxZDBkNDI4YjEwMzk3YmUyNTE5OWJkMGI0NDA5NWI4OWEyYzUwYw");
        assert_eq!(inner(&header), "23000000:441d0d428b10397be25199bd0b44095b89a2c50c");

        let list =
            manage_token(&c, "/3.0/files?namespace=test&dir=%2Fdir&currentPage=1&pageSize=100", b"", "1500000000000");
        assert_eq!(inner(&list), "23000000:d39246cb232068b8f3d16f3ac635b27c3ccf61a2");
    }

    #[test]
    fn manage_token_verification() {
        let c = spec();
        let uri = "/3.1/scanPorn";
        let body = b"resourceId=WyJ0ZXN0IiwiL2RpciIsImEuanBnIl0";
        let date = "Sat, 14 Jul 2017 02:40:00 GMT";
        let header = manage_token(&c, uri, body, date);
        assert_eq!(verify_manage_token(&header, &c, uri, body, date).unwrap(), "23000000");
        assert_eq!(code(verify_manage_token(&header, &c, uri, b"resourceId=x", date)), "bad-signature");
        assert_eq!(code(verify_manage_token(&header, &c, "/3.1/scanAdvertising", body, date)), "bad-signature");
        assert_eq!(code(verify_manage_token(&header, &c, uri, body, "1500000000000")), "bad-signature");
        assert_eq!(
            code(verify_manage_token(&header, &Credentials::new("1", "2"), uri, body, date)),
            "unknown-access-key"
        );
        for bad in ["", "ACL_TOP", "QBox abc", &format!("ACL_TOP {}", urlsafe_b64_nopad("nocolon"))] {
            assert_eq!(code(verify_manage_token(bad, &c, uri, body, date)), "malformed-token", "{bad:?}");
        }
        // ACL_CLOUD, padded base64, upper-case hex.
        let (ak, sign) = inner(&header).split_once(':').map(|(a, s)| (a.to_owned(), s.to_owned())).unwrap();
        let cloud = format!("ACL_CLOUD {}", urlsafe_b64(format!("{ak}:{}", sign.to_uppercase())));
        assert_eq!(verify_manage_token(&cloud, &c, uri, body, date).unwrap(), "23000000");
    }

    #[test]
    fn resource_ids() {
        assert_eq!(resource_id("test", "/dir", Some("a.jpg")), "WyJ0ZXN0IiwiL2RpciIsImEuanBnIl0");
        assert_eq!(resource_id("test", "dir", Some("a.jpg")), "WyJ0ZXN0IiwiL2RpciIsImEuanBnIl0");
        assert_eq!(resource_id("test", "", None), urlsafe_b64_nopad(r#"["test","/"]"#));
        assert_eq!(resource_id("test", "/d", Some("")), urlsafe_b64_nopad(r#"["test","/d"]"#));
        assert_eq!(resource_id("t", "/目录", Some("a\"b.jpg")), urlsafe_b64_nopad("[\"t\",\"/目录\",\"a\\\"b.jpg\"]"));
        let parsed = |rid: &str| parse_resource_id(rid).unwrap();
        assert_eq!(parsed("WyJ0ZXN0IiwiL2RpciIsImEuanBnIl0"), ("test".into(), "/dir".into(), Some("a.jpg".into())));
        // PHP: escaped slashes, \u escapes, padding, null name.
        assert_eq!(parsed(&urlsafe_b64(r#"["test","\/\u76ee\u5f55",null]"#)), ("test".into(), "/目录".into(), None));
        assert_eq!(parsed(&resource_id("t", "/目录", Some("a\"b.jpg"))).2.as_deref(), Some("a\"b.jpg"));
        assert_eq!(parsed(&urlsafe_b64_nopad(r#"["test"]"#)), ("test".into(), "/".into(), None));
        for bad in
            ["!!", &urlsafe_b64_nopad("[]"), &urlsafe_b64_nopad(r#"["a","b","c","d"]"#), &urlsafe_b64_nopad("{}")]
        {
            assert_eq!(parse_resource_id(bad).unwrap_err().kind(), ErrorKind::InvalidInput, "{bad:?}");
        }
    }
}
