//! The text encodings the three services put on the wire.
//!
//! They disagree in small ways that break signatures, so each flavour has its own function:
//!
//! * WCS: URL-safe base64 **with** `=` padding everywhere (tokens, entries, etags have none to pad).
//! * UFile: **standard** base64 for signatures, URL-safe for etags and put policies.
//! * Wantu: URL-safe base64, padding kept by the Python SDK and stripped by the others.
//!
//! Decoding is lenient on purpose ([`decode_base64_lenient`]): servers and verifiers must accept
//! every variant the vendors' SDKs emit.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

use crate::{Error, Result};

/// URL-safe alphabet (`-_`), `=` padding kept. What WCS SDKs emit.
pub fn urlsafe_b64(data: impl AsRef<[u8]>) -> String {
    URL_SAFE.encode(data)
}

/// URL-safe alphabet (`-_`), no padding. Wantu resource ids and manage tokens.
pub fn urlsafe_b64_nopad(data: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(data)
}

/// Standard alphabet (`+/`), padded. UFile request signatures.
pub fn std_b64(data: impl AsRef<[u8]>) -> String {
    STANDARD.encode(data)
}

const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// Decode base64 in either alphabet, with or without padding, ignoring surrounding whitespace.
pub fn decode_base64_lenient(text: &str) -> Result<Vec<u8>> {
    let normalized: String = text
        .trim()
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .map(|c| match c {
            '+' => '-',
            '/' => '_',
            other => other,
        })
        .collect();
    LENIENT.decode(normalized.as_bytes()).map_err(|e| Error::invalid_input(format!("not valid base64 ({e})")))
}

const HEX_LOWER: &[u8; 16] = b"0123456789abcdef";
const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

fn hex_with(data: &[u8], table: &[u8; 16]) -> String {
    let mut out = String::with_capacity(data.len() * 2);
    for &b in data {
        out.push(table[(b >> 4) as usize] as char);
        out.push(table[(b & 0x0f) as usize] as char);
    }
    out
}

/// Lower-case hex, as every service wants it (Content-MD5 on UFile, HMAC hex on WCS/Wantu).
pub fn hex_lower(data: impl AsRef<[u8]>) -> String {
    hex_with(data.as_ref(), HEX_LOWER)
}

/// Upper-case hex, for users who compare with tools that print it so.
pub fn hex_upper(data: impl AsRef<[u8]>) -> String {
    hex_with(data.as_ref(), HEX_UPPER)
}

/// Percent-encode everything but RFC 3986 unreserved characters (`A-Za-z0-9-._~`).
/// `keep_slash` leaves `/` as is, for object keys in URL paths.
pub fn percent_encode(text: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for &b in text.as_bytes() {
        let unreserved = b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~');
        if unreserved || (keep_slash && b == b'/') {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX_UPPER[(b >> 4) as usize] as char);
            out.push(HEX_UPPER[(b & 0x0f) as usize] as char);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenient_decoding_accepts_every_flavour() {
        let bytes = b"\xfb\xff\xfe subjects?";
        for text in [urlsafe_b64(bytes), urlsafe_b64_nopad(bytes), std_b64(bytes)] {
            assert_eq!(decode_base64_lenient(&text).unwrap(), bytes);
        }
        assert!(decode_base64_lenient("not base64!").is_err());
    }

    #[test]
    fn hex_both_cases() {
        assert_eq!(hex_lower([0xab, 0x01]), "ab01");
        assert_eq!(hex_upper([0xab, 0x01]), "AB01");
    }

    #[test]
    fn percent_encoding() {
        assert_eq!(percent_encode("dir/a b+c.jpg", true), "dir/a%20b%2Bc.jpg");
        assert_eq!(percent_encode("a/b", false), "a%2Fb");
        assert_eq!(percent_encode("中", true), "%E4%B8%AD");
    }
}
