//! Wangsu WCS: upload tokens (`PutPolicy`), management tokens, and their verification.
//!
//! Both tokens use the same MAC, which is Wangsu's own twist on Qiniu's: HMAC-SHA1 with the
//! SecretKey, written as **40 lower-case hex characters**, then URL-safe base64 of that text
//! (protocols/wcs.md §1.1, §2.1).

use serde::{Deserialize, Serialize};

use super::{Credentials, SecretLookup, constant_time_eq, hmac_sha1, known_secret};
use crate::encoding::{
    B64_URL_SAFE, HEX_LOWER, append_b64_bytes, decode_base64_lenient, encode_b64, hex_lower, urlsafe_b64,
};
use crate::{Error, Result, lenient};

/// What an upload token allows: where the file goes, until when, and what happens after.
///
/// Field names on the wire are camelCase as in the WCS docs. Parsing is tolerant: unknown fields
/// are ignored, `null` means absent, and numbers may arrive as strings (every SDK differs).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PutPolicy {
    /// `bucket` (any key) or `bucket:key` (exactly that key).
    #[serde(default)]
    pub scope: String,
    /// Token expiry, Unix time in **milliseconds**. Written as a string, as the Go, Java and C#
    /// SDKs do; read as a string or a number.
    #[serde(
        default,
        deserialize_with = "lenient::opt_u64",
        serialize_with = "u64_as_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub deadline: Option<u64>,
    /// Object name template for form uploads (magic variables allowed).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "lenient::opt_string")]
    pub save_key: Option<String>,
    /// Largest accepted file, in bytes; 0 means no limit.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "lenient::opt_u64")]
    pub fsize_limit: Option<u64>,
    /// 1 lets an upload replace an existing object of the same key.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "lenient::opt_i64")]
    pub overwrite: Option<i64>,
    /// Form uploads: answer 303 to this URL instead of a body.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "lenient::opt_string")]
    pub return_url: Option<String>,
    /// Template of the reply body, e.g. `key=$(key)&hash=$(hash)`.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "lenient::opt_string")]
    pub return_body: Option<String>,
    /// The service POSTs `callbackBody` here after the upload and relays the answer.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "lenient::opt_string")]
    pub callback_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "lenient::opt_string")]
    pub callback_body: Option<String>,
    /// Processing (fops) to run after upload, `;`-separated.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "lenient::opt_string")]
    pub persistent_ops: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "lenient::opt_string")]
    pub persistent_notify_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "lenient::opt_string")]
    pub content_detect: Option<String>,
    #[serde(
        default,
        rename = "detectNotifyURL",
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_string"
    )]
    pub detect_notify_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "lenient::opt_string")]
    pub detect_notify_rule: Option<String>,
    /// 1 notifies once per fop, 0 once for all.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "lenient::opt_i64")]
    pub separate: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "lenient::opt_i64")]
    pub instant: Option<i64>,
    /// e.g. `crc64ecma`.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "lenient::opt_string")]
    pub hash_algorithm: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "lenient::opt_string")]
    pub last_modified_time: Option<String>,
}

fn u64_as_string<S: serde::Serializer>(v: &Option<u64>, s: S) -> std::result::Result<S::Ok, S::Error> {
    match v {
        Some(n) => s.serialize_str(&n.to_string()),
        None => s.serialize_none(),
    }
}

impl PutPolicy {
    /// The policy's fields as JSON names them. Where a policy is built from a caller's object
    /// (the JS `wcs.uploadToken`), a field not in this list is refused: reading is lenient, so a
    /// misspelt `fsizelimit` would otherwise leave the token without its limit, without a word.
    pub const FIELDS: &'static str = "scope, deadline, saveKey, fsizeLimit, overwrite, returnUrl, returnBody, \
        callbackUrl, callbackBody, persistentOps, persistentNotifyUrl, contentDetect, detectNotifyURL, \
        detectNotifyRule, separate, instant, hashAlgorithm, lastModifiedTime";

    /// A policy for `scope` (`bucket` or `bucket:key`) that expires at `deadline_ms`.
    pub fn new(scope: impl Into<String>, deadline_ms: u64) -> Self {
        PutPolicy { scope: scope.into(), deadline: Some(deadline_ms), ..Default::default() }
    }

    /// Parse policy JSON as any WCS SDK writes it.
    pub fn from_json(text: &str) -> Result<Self> {
        crate::json::from_str(text, "the WCS put policy")
    }

    /// Compact JSON, the text that gets signed.
    pub fn to_json(&self) -> Result<String> {
        crate::json::to_string(self)
    }

    /// The JSON of a policy with only `scope` and `deadline`, written directly: what almost every
    /// token carries, and several times faster than serde. Byte for byte what
    /// [`PutPolicy::to_json`] writes (a test checks); `None` for any other policy, or when the scope
    /// needs JSON escapes.
    fn common_json(&self) -> Option<String> {
        // Exhaustive on purpose: a new field must be added here or it would be silently dropped.
        let PutPolicy {
            scope,
            deadline: Some(deadline),
            save_key: None,
            fsize_limit: None,
            overwrite: None,
            return_url: None,
            return_body: None,
            callback_url: None,
            callback_body: None,
            persistent_ops: None,
            persistent_notify_url: None,
            content_detect: None,
            detect_notify_url: None,
            detect_notify_rule: None,
            separate: None,
            instant: None,
            hash_algorithm: None,
            last_modified_time: None,
        } = self
        else {
            return None;
        };
        if scope.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20) {
            return None;
        }
        let mut digits = [0u8; 20];
        let mut n = *deadline;
        let mut start = digits.len();
        loop {
            start -= 1;
            digits[start] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        let digits = std::str::from_utf8(&digits[start..]).expect("ASCII digits");
        let mut json = String::with_capacity(32 + scope.len() + digits.len());
        json.push_str(r#"{"scope":""#);
        json.push_str(scope);
        json.push_str(r#"","deadline":""#);
        json.push_str(digits);
        json.push_str(r#""}"#);
        Some(json)
    }

    /// The bucket part of `scope`.
    pub fn bucket(&self) -> &str {
        split_scope(&self.scope).0
    }

    /// The key part of `scope`, when the token is for one key only.
    pub fn key(&self) -> Option<&str> {
        split_scope(&self.scope).1
    }

    /// Check what a policy must have before it is signed or honoured.
    pub fn validate(&self) -> Result<()> {
        let bucket = self.bucket();
        if bucket.is_empty() {
            return Err(Error::invalid_input(
                "the put policy has no scope: set \"scope\" to \"bucket\" or \"bucket:key\"",
            ));
        }
        if self.deadline.is_none() {
            return Err(Error::invalid_input(
                "the put policy has no deadline: set \"deadline\" (Unix time in milliseconds)",
            ));
        }
        if self.return_url.is_some() && self.callback_url.is_some() {
            return Err(Error::invalid_input("returnUrl and callbackUrl cannot be used together; choose one"));
        }
        Ok(())
    }
}

/// Length of Wangsu's MAC as written: base64 of 40 hex characters.
const MAC_B64_LEN: usize = 56;

/// Append `AK:urlsafe_b64(hex(HMAC-SHA1(SK, data)))` to `out`.
fn push_signature(out: &mut String, credentials: &Credentials, data: &[u8]) {
    let mut mac = [0u8; MAC_B64_LEN];
    write_mac(credentials, data, &mut mac);
    out.push_str(credentials.access_key());
    out.push(':');
    out.push_str(std::str::from_utf8(&mac).expect("base64 is ASCII"));
}

/// Write `urlsafe_b64(hex(HMAC-SHA1(SK, data)))`, Wangsu's MAC as written, over `out`.
fn write_mac(credentials: &Credentials, data: &[u8], out: &mut [u8; MAC_B64_LEN]) {
    let mac = credentials.hmac_sha1(data);
    let mut hex = [0u8; 40];
    for (pair, b) in hex.chunks_exact_mut(2).zip(mac) {
        pair[0] = HEX_LOWER[(b >> 4) as usize];
        pair[1] = HEX_LOWER[(b & 0x0f) as usize];
    }
    encode_b64(B64_URL_SAFE, &hex, out);
}

/// `AK:urlsafe_b64(hex(HMAC-SHA1(SK, data)))` — the raw signing primitive of every WCS token.
pub fn sign(credentials: &Credentials, data: &[u8]) -> String {
    let mut out = String::with_capacity(credentials.access_key().len() + 1 + MAC_B64_LEN);
    push_signature(&mut out, credentials, data);
    out
}

/// Mint an upload token for `policy` (validated first).
pub fn upload_token(credentials: &Credentials, policy: &PutPolicy) -> Result<String> {
    policy.validate()?;
    let json = match policy.common_json() {
        Some(json) => json,
        None => policy.to_json()?,
    };
    Ok(upload_token_for_json(credentials, &json))
}

/// Mint an upload token over policy JSON exactly as given, byte for byte. Use it to reproduce a
/// token another SDK made from the same text; [`upload_token`] is the normal entry point.
pub fn upload_token_for_json(credentials: &Credentials, policy_json: &str) -> String {
    // One buffer for the whole token, `AK:mac:policy`, built as bytes and checked as UTF-8 once:
    // the policy's base64 is written in place and signed there, then the MAC fills its gap.
    let ak = credentials.access_key().as_bytes();
    let mac_at = ak.len() + 1;
    let policy_at = mac_at + MAC_B64_LEN + 1;
    let mut token = Vec::with_capacity(policy_at + policy_json.len().div_ceil(3) * 4);
    token.extend_from_slice(ak);
    token.push(b':');
    token.extend_from_slice(&[b'='; MAC_B64_LEN]);
    token.push(b':');
    append_b64_bytes(B64_URL_SAFE, policy_json.as_bytes(), &mut token);
    let (head, policy) = token.split_at_mut(policy_at);
    let mac: &mut [u8; MAC_B64_LEN] = (&mut head[mac_at..mac_at + MAC_B64_LEN]).try_into().expect("the MAC's gap");
    write_mac(credentials, policy, mac);
    String::from_utf8(token).expect("an access key is text and the rest is base64")
}

/// The management token for one request: signs `path[?query]\n[body]`.
///
/// `path_and_query` is the request target exactly as sent (no scheme or host; the query not
/// re-encoded or sorted); `body` is the exact body bytes, empty for none.
pub fn management_token(credentials: &Credentials, path_and_query: &str, body: &[u8]) -> String {
    sign(credentials, &management_signing_bytes(path_and_query, body))
}

fn management_signing_bytes(path_and_query: &str, body: &[u8]) -> Vec<u8> {
    let mut data = Vec::with_capacity(path_and_query.len() + 1 + body.len());
    data.extend_from_slice(path_and_query.as_bytes());
    data.push(b'\n');
    data.extend_from_slice(body);
    data
}

/// `urlsafe_b64("bucket:key")`, or `urlsafe_b64("bucket")` with no key: how management paths
/// name an object.
pub fn encoded_entry(bucket: &str, key: Option<&str>) -> String {
    match key {
        Some(key) => urlsafe_b64(format!("{bucket}:{key}")),
        None => urlsafe_b64(bucket),
    }
}

/// An upload token that passed [`verify_upload_token`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedUploadToken {
    pub access_key: String,
    pub policy: PutPolicy,
    /// The policy text exactly as signed.
    pub policy_json: String,
}

/// Check an upload token: shape, access key, signature (constant time, over the policy bytes as
/// received), policy, deadline (`now_ms`). Errors are [`crate::ErrorKind::Auth`] with a code of
/// `malformed-token`, `unknown-access-key`, `bad-signature` or `token-expired`.
pub fn verify_upload_token(
    token: &str,
    secrets: &(impl SecretLookup + ?Sized),
    now_ms: u64,
) -> Result<VerifiedUploadToken> {
    let (ak, mac, encoded_policy) = token_parts(token)?;
    let secret = known_secret(secrets, ak, "AccessKey")?;
    check_mac(&secret, encoded_policy.as_bytes(), mac)?;
    let policy_json = super::policy_text(encoded_policy, malformed)?;
    let policy = PutPolicy::from_json(&policy_json).map_err(|e| malformed(&e.to_string()))?;
    policy.validate().map_err(|e| malformed(e.message()))?;
    let deadline = policy.deadline.unwrap_or(0);
    if deadline < now_ms {
        return Err(Error::auth(format!(
            "the upload token expired at {deadline} ms (now {now_ms} ms): ask the backend for a new token"
        ))
        .with_code("token-expired"));
    }
    Ok(VerifiedUploadToken { access_key: ak.to_owned(), policy, policy_json })
}

/// `(AccessKey, signature, encoded policy)` of an upload token (`UpToken ` prefix allowed).
fn token_parts(token: &str) -> Result<(&str, &str, &str)> {
    let token = token.trim();
    let token = token.strip_prefix("UpToken ").unwrap_or(token);
    let mut parts = token.split(':');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(ak), Some(mac), Some(encoded_policy), None) => Ok((ak, mac, encoded_policy)),
        _ => Err(malformed("an upload token has three parts, AccessKey:Signature:Policy")),
    }
}

/// `(bucket, key)` of a scope, `bucket` (any key) or `bucket:key`.
fn split_scope(scope: &str) -> (&str, Option<&str>) {
    scope.split_once(':').map_or((scope, None), |(bucket, key)| (bucket, Some(key)))
}

/// The bucket and, for a token of one key only, the key that an upload token's `scope` names,
/// read without the secret key. The service stores the object under the token's scope whatever
/// key the request names, so a client checks its target against it before sending anything.
/// `None` when the token is not of the usual shape (the service will judge it).
pub fn token_scope(token: &str) -> Option<(String, Option<String>)> {
    let (_, _, encoded_policy) = token_parts(token).ok()?;
    let place = super::policy_place(encoded_policy)?;
    let (bucket, key) = split_scope(place.scope.as_deref()?);
    Some((bucket.to_owned(), key.map(str::to_owned)))
}

/// Check a management `Authorization` value against the request it came with. Returns the
/// access key.
pub fn verify_management_token(
    authorization: &str,
    secrets: &(impl SecretLookup + ?Sized),
    path_and_query: &str,
    body: &[u8],
) -> Result<String> {
    let authorization = authorization.trim();
    let authorization = authorization.strip_prefix("QBox ").unwrap_or(authorization);
    let Some((ak, mac)) = authorization.split_once(':') else {
        return Err(malformed("a management token has two parts, AccessKey:Signature"));
    };
    let secret = known_secret(secrets, ak, "AccessKey")?;
    check_mac(&secret, &management_signing_bytes(path_and_query, body), mac)?;
    Ok(ak.to_owned())
}

fn malformed(detail: &str) -> Error {
    Error::auth(format!("malformed WCS token: {detail}")).with_code("malformed-token")
}

fn check_mac(secret: &str, data: &[u8], mac: &str) -> Result<()> {
    // Compare the decoded hex text, so a token with or without base64 padding verifies alike.
    let expected = hex_lower(hmac_sha1(secret.as_bytes(), data));
    let given = decode_base64_lenient(mac).unwrap_or_default();
    if constant_time_eq(expected.as_bytes(), &given) {
        Ok(())
    } else {
        Err(Error::auth("the WCS token signature does not match: it was tampered with or made with another SecretKey")
            .with_code("bad-signature"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn the_list_of_policy_fields_is_the_structs() {
        assert_eq!(PutPolicy::FIELDS.split(", ").collect::<Vec<_>>(), crate::testing::serde_fields::<PutPolicy>());
    }

    fn example() -> Credentials {
        Credentials::new("ak-example", "sk-example")
    }

    /// protocols/wcs.md §2.2: the Go SDK's `auth_test.go` vectors.
    #[test]
    fn go_sdk_sign_vectors() {
        let cases = [
            (
                "key",
                "The quick brown fox jumps over the lazy dog",
                "UMU:ZGU3YzliODViOGI3OGFhNmJjOGE3YTM2ZjcwYTkwNzAxYzlkYjRkOQ==",
            ),
            (
                "Blog",
                "/2017/08/09/reconstructionism-poet-keep-secret/\n",
                "UMU:MDE2ZWM0MzY0M2RjN2YwZDA5YjFkMmY3OGVkNjdhYjIyMWZkODdjMQ==",
            ),
        ];
        for (sk, data, want) in cases {
            assert_eq!(sign(&Credentials::new("UMU", sk), data.as_bytes()), want);
        }
        let blog = Credentials::new("UMU", "Blog");
        assert_eq!(
            management_token(&blog, "/2018/02/15/be-pretentious-unwittingly/", b"UMUTech"),
            "UMU:ODI3ZDY4NjI2ZGZjN2VlYWZiZTJiODA3YzFmNTZlMmEyYTYzNDA3Nw=="
        );
    }

    /// protocols/wcs.md §2.2, computed with ak-example / sk-example.
    #[test]
    fn management_token_vectors() {
        let c = example();
        assert_eq!(
            management_token(&c, "/stat/bXlidWNrZXQ6YS50eHQ=", b""),
            "ak-example:MjhkZGM5MGNhOTY5MzZjOGJlYWRjYjI2OTE4ZjVhNzNkOWZiOTBhMg=="
        );
        assert_eq!(
            management_token(&c, "/list?bucket=mybucket&limit=10&prefix=ZGlyLw==", b""),
            "ak-example:OTBmMjBkZDQ4ZjdjOGQ5ZTA2OTZiMjU3ZjBjOGRhNjU3NTNjYTUxYQ=="
        );
        let body =
            "bucket=bXlidWNrZXQ=&key=YS50eHQ=&fops=dmZyYW1lL2pwZy9vZmZzZXQvMTB8c2F2ZWFzL2JYbGlkV05yWlhRNllTNXFjR2M9";
        assert_eq!(
            management_token(&c, "/fops", body.as_bytes()),
            "ak-example:MWZlMzdmZDcyNmQxNTI2ZmMxM2ZjMWQ1OWM0OTEwMWUyNzM4MTJhZg=="
        );
        assert_eq!(encoded_entry("mybucket", Some("a.txt")), "bXlidWNrZXQ6YS50eHQ=");
        assert_eq!(encoded_entry("mybucket", None), "bXlidWNrZXQ=");
    }

    /// protocols/wcs.md §1.1 worked example.
    #[test]
    fn upload_token_vector() {
        let policy = PutPolicy::new("mybucket:a.txt", 1_893_427_200_000);
        assert_eq!(policy.to_json().unwrap(), r#"{"scope":"mybucket:a.txt","deadline":"1893427200000"}"#);
        let token = upload_token(&example(), &policy).unwrap();
        assert_eq!(
            token,
            "ak-example:OTg4NDBhZDUwYzZjZDdiNDYzNzJlM2I3ZjBmYWViZGJiNmRlMDZiNg==:eyJzY29wZSI6Im15YnVja2V0OmEudHh0IiwiZGVhZGxpbmUiOiIxODkzNDI3MjAwMDAwIn0="
        );
    }

    /// The hand-written JSON of the common policy is serde's, byte for byte; other policies and
    /// scopes that need escapes take serde's path.
    #[test]
    fn common_policy_json_is_serdes() {
        for (scope, deadline) in
            [("b", 0), ("b:k", 1), ("mybucket:dir/中文 名.jpg", u64::MAX), ("b:a/b\u{7f}", 1_893_427_200_000)]
        {
            let policy = PutPolicy::new(scope, deadline);
            assert_eq!(policy.common_json().unwrap(), crate::json::to_string(&policy).unwrap());
        }
        for scope in ["b:quote\"d", "b:back\\slash", "b:tab\t", "b:nl\n"] {
            assert_eq!(PutPolicy::new(scope, 1).common_json(), None);
        }
        assert_eq!(PutPolicy { overwrite: Some(1), ..PutPolicy::new("b", 1) }.common_json(), None);
        // Either way the token is the same as over serde's text.
        let c = example();
        for policy in [PutPolicy::new("b:k", 7), PutPolicy::new("b:\"q\"", 7)] {
            let serde_text = crate::json::to_string(&policy).unwrap();
            assert_eq!(upload_token(&c, &policy).unwrap(), upload_token_for_json(&c, &serde_text));
        }
    }

    #[test]
    fn verify_round_trip_and_failures() {
        let c = example();
        let policy = PutPolicy { return_body: Some("key=$(key)".into()), ..PutPolicy::new("b:k", 2_000) };
        let token = upload_token(&c, &policy).unwrap();
        let ok = verify_upload_token(&token, &c, 1_000).unwrap();
        assert_eq!(ok.policy, policy);
        assert_eq!(ok.access_key, "ak-example");

        let code = |r: Result<VerifiedUploadToken>| r.unwrap_err().code().unwrap().to_owned();
        assert_eq!(code(verify_upload_token(&token, &c, 2_001)), "token-expired");
        assert_eq!(
            code(verify_upload_token(&token, &Credentials::new("ak-example", "wrong-secret-9"), 0)),
            "bad-signature"
        );
        assert_eq!(
            code(verify_upload_token(&token, &Credentials::new("someone", "sk-example"), 0)),
            "unknown-access-key"
        );
        assert_eq!(code(verify_upload_token("no-colons", &c, 0)), "malformed-token");
        // Tamper with the policy: re-encode a different scope under the old signature.
        let (head, _) = token.rsplit_once(':').unwrap();
        let forged = format!("{head}:{}", urlsafe_b64(r#"{"scope":"b:other","deadline":"2000"}"#));
        assert_eq!(code(verify_upload_token(&forged, &c, 0)), "bad-signature");
        // Secrets never leak into messages.
        let err = verify_upload_token(&token, &Credentials::new("ak-example", "wrong-secret-9"), 0).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Auth);
        assert!(!err.message().contains("sk-example") && !err.message().contains("wrong-secret-9"));
    }

    #[test]
    fn verifies_policies_as_other_sdks_write_them() {
        let c = example();
        // Python: spaces, number deadline, non-ASCII escapes; PHP: nulls; unknown fields.
        for json in [
            r#"{"scope": "b:\u4e2d.txt", "deadline": 5000, "overwrite": 1}"#,
            r#"{"scope":"b","deadline":"5000","returnBody":null,"fsizeLimit":"1024","somethingNew":true}"#,
        ] {
            let token = upload_token_for_json(&c, json);
            let ok = verify_upload_token(&token, &c, 10).unwrap();
            assert_eq!(ok.policy.deadline, Some(5000));
            assert_eq!(ok.policy_json, json);
        }
        // Unpadded base64 in the signature part verifies too.
        let token = upload_token_for_json(&c, r#"{"scope":"b","deadline":9}"#);
        let mut parts: Vec<&str> = token.split(':').collect();
        let unpadded = parts[1].trim_end_matches('=').to_owned();
        parts[1] = &unpadded;
        assert!(verify_upload_token(&parts.join(":"), &c, 0).is_ok());
    }

    #[test]
    fn invalid_policies_are_refused_with_a_reason() {
        let c = example();
        let err = upload_token(&c, &PutPolicy::default()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert!(err.message().contains("scope"), "{err}");
        let err = upload_token(&c, &PutPolicy { deadline: None, ..PutPolicy::new("b", 1) }).unwrap_err();
        assert!(err.message().contains("deadline"), "{err}");
        let err = PutPolicy::from_json(r#"{"scope":"b","deadline":"soon"}"#).unwrap_err();
        assert!(err.message().contains("WCS put policy"), "{err}");
        let token = upload_token_for_json(&c, r#"{"scope":"b","deadline":"soon"}"#);
        assert_eq!(verify_upload_token(&token, &c, 0).unwrap_err().code(), Some("malformed-token"));
    }

    #[test]
    fn management_verification() {
        let c = example();
        let auth = management_token(&c, "/fops", b"a=b");
        assert_eq!(verify_management_token(&auth, &c, "/fops", b"a=b").unwrap(), "ak-example");
        assert!(verify_management_token(&auth, &c, "/fops", b"a=c").is_err());
        assert!(verify_management_token(&auth, &c, "/fops?x", b"a=b").is_err());
        assert!(verify_management_token("garbage", &c, "/fops", b"").is_err());
    }
}
