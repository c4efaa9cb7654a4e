//! Request authentication (§12.3): an `Authorization: UCloud pub:sig[:policy]` header (or form
//! field), or query auth (`UCloudPublicKey`, `Signature`, `Expires`), verified over the request as
//! received — method, `Content-MD5`, `Content-Type`, `Date`, the canonical header variants of
//! §2.2, and the raw key — in constant time. Public buckets let anyone GET and HEAD objects.
//!
//! The signature must be spelled exactly as the service computes it (§2.1): the HMAC-SHA1 in
//! standard, padded base64, after exactly one space after `UCloud`. The same HMAC in the URL-safe
//! alphabet or without its `=` is refused, in the header, the form field and a signed URL alike.

use yunup::encoding::{decode_base64_lenient, std_b64};
use yunup::sign::ufile::{SignRequest, UploadPolicy, string_to_sign_variants, verify_authorization, verify_presigned};

use super::{Ctx, UfileError, UfileResult};

/// What the signed request is, as the server rebuilds it.
pub struct Signed<'a> {
    pub method: &'a str,
    /// The raw key; "" for bucket-level requests.
    pub key: &'a str,
    pub content_type: &'a str,
    pub content_md5: &'a str,
    /// Appended to the resource (the Python `listobjects` suffix, §6.4 variant e) as an extra
    /// accepted variant.
    pub suffix: Option<String>,
    /// An `Authorization` value from elsewhere than the header (the form field of a POST upload).
    pub authorization: Option<&'a str>,
    /// Unauthenticated requests pass (GET/HEAD of an object in a public bucket).
    pub anonymous_ok: bool,
}

impl<'a> Signed<'a> {
    /// A request signed over its own `Content-Type` and `Content-MD5` headers.
    pub fn headers(ctx: &'a Ctx, method: &'a str, key: &'a str) -> Self {
        Signed {
            method,
            key,
            content_type: ctx.header("content-type"),
            content_md5: ctx.header("content-md5"),
            suffix: None,
            authorization: None,
            anonymous_ok: false,
        }
    }
}

/// A request that passed.
#[derive(Debug, Default)]
pub struct Authorized {
    /// The put policy of a header or form signature, decoded here, before the request stores
    /// anything: a policy that does not decode refuses the upload instead of following it.
    pub put_policy: Option<UploadPolicy>,
}

fn now_secs() -> u64 {
    crate::store::now_ms() / 1000
}

/// Check the request's credentials. A signature that is present is always verified, also on a
/// public bucket (a wrong signer must not pass unnoticed).
pub fn check(ctx: &Ctx, signed: Signed<'_>) -> UfileResult<Authorized> {
    let header_auth = ctx.header("authorization").trim();
    let authorization = signed
        .authorization
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .or_else(|| (!header_auth.is_empty()).then_some(header_auth));
    let query_auth = ctx.has("UCloudPublicKey") || ctx.has("Signature");

    let request = |date: &str| SignRequest {
        method: signed.method.to_ascii_uppercase(),
        bucket: ctx.bucket.clone(),
        key: signed.key.to_owned(),
        content_md5: signed.content_md5.to_owned(),
        content_type: signed.content_type.to_owned(),
        date: date.to_owned(),
        ..Default::default()
    };
    let candidates = |date: &str| {
        let mut out = string_to_sign_variants(&request(date), &ctx.header_pairs());
        if let Some(suffix) = &signed.suffix {
            let with_suffix: Vec<String> = out.iter().map(|c| format!("{c}{suffix}")).collect();
            out.extend(with_suffix);
        }
        out
    };

    if let Some(value) = authorization {
        check_authorization_syntax(value).map_err(UfileError::invalid_signature)?;
        let verified = verify_authorization(value, &*ctx.state.credentials, &candidates(ctx.header("date")))
            .map_err(|e| UfileError::invalid_signature(e.message().to_owned()))?;
        let put_policy = verified.put_policy.as_deref().map(UploadPolicy::decode).transpose().map_err(|e| {
            UfileError::bad_request(format!("the put policy in the Authorization is not base64 JSON ({})", e.message()))
        })?;
        return Ok(Authorized { put_policy });
    }

    if query_auth {
        let public_key = ctx.q("UCloudPublicKey").unwrap_or("");
        let signature = ctx.q("Signature").unwrap_or("");
        let expires_text = ctx.q("Expires").unwrap_or("").trim();
        let Ok(expires) = expires_text.parse::<u64>() else {
            return Err(UfileError::invalid_signature(if expires_text.is_empty() {
                "a signed URL needs Expires (absolute Unix seconds)".to_owned()
            } else {
                format!("Expires {expires_text:?} is not Unix seconds")
            }));
        };
        let now = now_secs();
        if now > expires {
            return Err(UfileError::invalid_signature(format!(
                "the URL expired at {expires} (now {now}): ask for a new one"
            )));
        }
        if !signature.is_empty() && !is_standard_signature(signature) {
            return Err(UfileError::invalid_signature(NOT_STANDARD));
        }
        let mut last = None;
        for candidate in candidates(expires_text) {
            match verify_presigned(public_key, signature, expires, &*ctx.state.credentials, &candidate, now) {
                Ok(_) => return Ok(Authorized::default()),
                Err(e) => {
                    let stop = e.code() != Some("bad-signature");
                    last = Some(e);
                    if stop {
                        break;
                    }
                }
            }
        }
        let detail = last.map_or_else(|| "no signature".to_owned(), |e| e.message().to_owned());
        return Err(UfileError::invalid_signature(detail));
    }

    if signed.anonymous_ok {
        return Ok(Authorized::default());
    }
    Err(UfileError::invalid_signature(
        "no Authorization header and no signed URL (UCloudPublicKey, Signature, Expires)",
    ))
}

const NOT_STANDARD: &str =
    "the signature must be the HMAC-SHA1 in standard, padded base64 (28 characters of A-Z a-z 0-9 + /, ending in =)";

/// `UCloud <pub>:<sig>[:<policy>]` with exactly one space after `UCloud` and the signature in
/// the service's own spelling. What follows (the key, the HMAC itself) is `verify_authorization`'s.
fn check_authorization_syntax(value: &str) -> Result<(), &'static str> {
    let Some(rest) = value.strip_prefix("UCloud ") else {
        return Err("the Authorization value must start with \"UCloud \"");
    };
    if rest.starts_with(char::is_whitespace) {
        return Err("exactly one space goes after \"UCloud\"");
    }
    match rest.split(':').nth(1) {
        Some(signature) if !signature.is_empty() && !is_standard_signature(signature) => Err(NOT_STANDARD),
        _ => Ok(()),
    }
}

/// Whether `signature` is a 20-byte HMAC-SHA1 as standard base64 with padding, the one spelling
/// the service compares against: what it decodes to must encode back to exactly it. (Only the
/// request's own text is looked at; the HMAC is compared in constant time afterwards.)
fn is_standard_signature(signature: &str) -> bool {
    signature.len() == 28
        && signature.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
        && decode_base64_lenient(signature).is_ok_and(|bytes| bytes.len() == 20 && std_b64(&bytes) == signature)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_standard_padded_spelling_passes() {
        let sig = std_b64([0xfb; 20]); // "+/v7..." in the standard alphabet
        assert!(sig.contains('+') || sig.contains('/'));
        assert!(is_standard_signature(&sig));
        assert!(!is_standard_signature(&sig.replace('+', "-").replace('/', "_")));
        assert!(!is_standard_signature(sig.trim_end_matches('=')));
        assert!(!is_standard_signature(&format!(" {}", &sig[1..])));
        // Non-zero padding bits decode to the same bytes with a lenient decoder, but are not it.
        let mut odd = sig.clone().into_bytes();
        assert_eq!(odd[26], b's');
        odd[26] = b't';
        assert!(!is_standard_signature(std::str::from_utf8(&odd).unwrap()));
        assert!(check_authorization_syntax(&format!("UCloud ak:{sig}")).is_ok());
        assert!(check_authorization_syntax(&format!("UCloud ak:{sig}:cG9saWN5")).is_ok());
        assert!(check_authorization_syntax(&format!("UCloud  ak:{sig}")).is_err());
        assert!(check_authorization_syntax(&format!("UCloud\tak:{sig}")).is_err());
        assert!(check_authorization_syntax(&format!("ucloud ak:{sig}")).is_err());
    }
}
