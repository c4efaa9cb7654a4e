//! Tokens and signatures for the three services, and their verification.
//!
//! Signing is split from transport (as in reqsign): these functions take the exact bytes that go
//! on the wire and return header values, tokens or URLs. They never read a clock; callers pass
//! the current time (`now_ms`, `now_secs`) so that the same code runs in a backend, an edge worker,
//! the CLI and the emulator, and so that tests are deterministic.
//!
//! Verification always runs over the bytes as received — a policy is never re-serialized before
//! its signature is checked — and compares signatures in constant time.

pub mod ufile;
pub mod wantu;
pub mod wcs;

use std::fmt;

use hmac::{KeyInit as _, Mac as _};
use subtle::ConstantTimeEq as _;

/// An access key and its secret. The secret never appears in `Debug` output or error messages.
#[derive(Clone)]
pub struct Credentials {
    access_key: String,
    secret_key: String,
    /// HMAC-SHA1 already keyed with `secret_key`. Keying hashes two blocks (ipad, opad); a
    /// signature clones this state instead, which saves a third of the work of a short token.
    mac: hmac::Hmac<sha1::Sha1>,
}

impl PartialEq for Credentials {
    fn eq(&self, other: &Self) -> bool {
        // `mac` follows from `secret_key`.
        self.access_key == other.access_key && self.secret_key == other.secret_key
    }
}

impl Eq for Credentials {}

impl Credentials {
    pub fn new(access_key: impl Into<String>, secret_key: impl Into<String>) -> Self {
        let secret_key = secret_key.into();
        let mac =
            hmac::Hmac::<sha1::Sha1>::new_from_slice(secret_key.as_bytes()).expect("HMAC accepts keys of any length");
        Credentials { access_key: access_key.into(), secret_key, mac }
    }

    /// HMAC-SHA1 of `message` with the secret key (same as [`hmac_sha1`], without re-keying).
    pub(crate) fn hmac_sha1(&self, message: &[u8]) -> [u8; 20] {
        let mut mac = self.keyed_hmac_sha1();
        mac.update(message);
        mac.finalize().into_bytes().into()
    }

    /// A fresh HMAC-SHA1 keyed with the secret key, for messages fed in pieces.
    pub(crate) fn keyed_hmac_sha1(&self) -> hmac::Hmac<sha1::Sha1> {
        self.mac.clone()
    }

    /// The public half: WCS AccessKey, UFile PublicKey, Wantu AK.
    pub fn access_key(&self) -> &str {
        &self.access_key
    }

    /// The secret half: WCS SecretKey, UFile PrivateKey, Wantu SK.
    pub fn secret_key(&self) -> &str {
        &self.secret_key
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials").field("access_key", &self.access_key).field("secret_key", &"<redacted>").finish()
    }
}

/// Where a verifier finds the secret for an access key (a map, a database, one fixed pair).
pub trait SecretLookup {
    fn secret_for(&self, access_key: &str) -> Option<String>;
}

impl SecretLookup for Credentials {
    fn secret_for(&self, access_key: &str) -> Option<String> {
        (access_key == self.access_key).then(|| self.secret_key.clone())
    }
}

impl SecretLookup for [Credentials] {
    fn secret_for(&self, access_key: &str) -> Option<String> {
        self.iter().find(|c| c.access_key == access_key).map(|c| c.secret_key.clone())
    }
}

impl SecretLookup for Vec<Credentials> {
    fn secret_for(&self, access_key: &str) -> Option<String> {
        self.as_slice().secret_for(access_key)
    }
}

/// The secret for `access_key`, or an [`crate::ErrorKind::Auth`] error with code
/// `unknown-access-key`. `key_name` is what the service calls the key (AccessKey, PublicKey, AK).
pub(crate) fn known_secret(
    secrets: &(impl SecretLookup + ?Sized),
    access_key: &str,
    key_name: &str,
) -> crate::Result<String> {
    secrets.secret_for(access_key).ok_or_else(|| {
        crate::Error::auth(format!(
            "unknown {key_name} {access_key:?}: check the {key_name} the request was signed with"
        ))
        .with_code("unknown-access-key")
    })
}

/// The policy text of a token's base64 policy part; `malformed` makes the service's own error.
pub(crate) fn policy_text(encoded_policy: &str, malformed: fn(&str) -> crate::Error) -> crate::Result<String> {
    let bytes = crate::encoding::decode_base64_lenient(encoded_policy)
        .map_err(|_| malformed("the policy part is not base64"))?;
    String::from_utf8(bytes).map_err(|_| malformed("the policy is not UTF-8 text"))
}

/// The fields of an upload token's policy that say where the file goes: WCS `scope`; Wantu
/// `namespace` (`bucket` in a `CLOUD` token), `dir` and `name`. One reader serves both services,
/// since each serde reader costs kilobytes of the browser's wasm.
#[derive(Default, serde::Deserialize)]
pub(crate) struct PolicyPlace {
    #[serde(default, deserialize_with = "crate::lenient::opt_string")]
    pub scope: Option<String>,
    #[serde(default, deserialize_with = "crate::lenient::opt_string")]
    pub namespace: Option<String>,
    #[serde(default, deserialize_with = "crate::lenient::opt_string")]
    pub bucket: Option<String>,
    #[serde(default, deserialize_with = "crate::lenient::opt_string")]
    pub dir: Option<String>,
    #[serde(default, deserialize_with = "crate::lenient::opt_string")]
    pub name: Option<String>,
}

/// [`PolicyPlace`] of a token's base64 policy part, read without the secret key; `None` when
/// it is not base64 JSON (the service will judge such a token, so why it is not is not kept).
pub(crate) fn policy_place(encoded_policy: &str) -> Option<PolicyPlace> {
    let text = policy_text(encoded_policy, |_| crate::Error::invalid_input("")).ok()?;
    crate::json::from_str(&text, "the upload policy").ok()
}

/// HMAC-SHA1, the MAC all three services build on.
pub(crate) fn hmac_sha1(key: &[u8], message: &[u8]) -> [u8; 20] {
    let mut mac = hmac::Hmac::<sha1::Sha1>::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(message);
    mac.finalize().into_bytes().into()
}

/// Constant-time equality for signatures (lengths may leak; contents do not).
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}
