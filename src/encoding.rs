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

/// The two base64 alphabets, for [`append_b64`].
pub(crate) const B64_STANDARD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
pub(crate) const B64_URL_SAFE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Append the padded base64 of `data` in `alphabet` to `out`. Tokens and signatures are a few
/// dozen bytes, where the `base64` crate's general engine (a zeroed 1 KiB buffer per call, UTF-8
/// re-validation) costs more than the HMAC; [`encode_b64`] is what they need. Same output as the
/// crate's `STANDARD` / `URL_SAFE` engines (a test checks).
pub(crate) fn append_b64(alphabet: &[u8; 64], data: &[u8], out: &mut String) {
    let mut bytes = std::mem::take(out).into_bytes();
    append_b64_bytes(alphabet, data, &mut bytes);
    *out = String::from_utf8(bytes).expect("base64 is ASCII");
}

/// [`append_b64`] to bytes, for callers that build a token as bytes and check it as UTF-8 once.
pub(crate) fn append_b64_bytes(alphabet: &[u8; 64], data: &[u8], out: &mut Vec<u8>) {
    let start = out.len();
    out.resize(start + data.len().div_ceil(3) * 4, b'=');
    encode_b64(alphabet, data, &mut out[start..]);
}

/// Write the padded base64 of `data` over `out`, exactly `4 * ceil(len / 3)` bytes long.
pub(crate) fn encode_b64(alphabet: &[u8; 64], data: &[u8], out: &mut [u8]) {
    debug_assert_eq!(out.len(), data.len().div_ceil(3) * 4);
    // Written out in full: the release profile optimizes for size and would not unroll a loop here.
    let at = |n: u32, shift: u32| alphabet[((n >> shift) & 63) as usize];
    let full = data.len() / 3;
    for (input, output) in data.chunks_exact(3).zip(out.chunks_exact_mut(4)) {
        let n = u32::from(input[0]) << 16 | u32::from(input[1]) << 8 | u32::from(input[2]);
        output[0] = at(n, 18);
        output[1] = at(n, 12);
        output[2] = at(n, 6);
        output[3] = at(n, 0);
    }
    // A partial last group: 2 or 3 characters, then `=` padding.
    if let [a, rest @ ..] = &data[full * 3..] {
        let n = u32::from(*a) << 16 | rest.first().map_or(0, |&b| u32::from(b) << 8);
        let output = &mut out[full * 4..];
        output[0] = at(n, 18);
        output[1] = at(n, 12);
        output[2] = if rest.is_empty() { b'=' } else { at(n, 6) };
        output[3] = b'=';
    }
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

pub(crate) const HEX_LOWER: &[u8; 16] = b"0123456789abcdef";
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
    fn appending_base64_matches_the_engine() {
        let bytes: Vec<u8> = (0..=255).chain((0..=255).rev()).collect();
        for len in 0..bytes.len() {
            let data = &bytes[len / 2..len];
            let mut out = String::from("x:");
            append_b64(B64_URL_SAFE, data, &mut out);
            assert_eq!(out, format!("x:{}", urlsafe_b64(data)));
            let mut out = String::new();
            append_b64(B64_STANDARD, data, &mut out);
            assert_eq!(out, std_b64(data));
        }
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
