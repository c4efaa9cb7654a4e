//! Lenient readers for the loosely typed JSON the vendors' SDKs emit.
//!
//! The same policy field arrives as `1893427200000`, `"1893427200000"` or `null` depending on
//! which SDK wrote it (protocols/wcs.md §0.5, wantu.md §2.1). Verifiers must accept them all;
//! these `deserialize_with` helpers do, and still reject what no SDK sends (`"soon"`, `1.5`).

use serde::{Deserialize, Deserializer, de::Error as _};

#[derive(Deserialize)]
#[serde(untagged)]
enum Loose {
    Int(i64),
    Float(f64),
    Text(String),
    Bool(bool),
}

fn to_i64<E: serde::de::Error>(v: Loose) -> Result<i64, E> {
    match v {
        Loose::Int(n) => Ok(n),
        Loose::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(f as i64),
        Loose::Text(s) => s.trim().parse().map_err(|_| E::custom(format!("expected an integer, found {s:?}"))),
        Loose::Bool(b) => Ok(b as i64),
        // Not `{f}`: formatting floats would pull ~18 KB of float printing into the wasm bundle.
        Loose::Float(_) => Err(E::custom("expected an integer, found a fraction")),
    }
}

/// An optional integer written as a number, a numeric string, a bool or `null`.
pub(crate) fn opt_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    match Option::<Loose>::deserialize(d)? {
        None => Ok(None),
        Some(Loose::Text(s)) if s.trim().is_empty() => Ok(None),
        Some(v) => to_i64(v).map(Some),
    }
}

/// An optional non-negative integer (sizes, millisecond timestamps).
pub(crate) fn opt_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    match opt_i64(d)? {
        None => Ok(None),
        Some(n) => u64::try_from(n)
            .map(Some)
            .map_err(|_| D::Error::custom(format!("expected a non-negative integer, found {n}"))),
    }
}

/// An optional string; a number is accepted and kept as its decimal text.
pub(crate) fn opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Option::<Loose>::deserialize(d)? {
        None => None,
        Some(Loose::Text(s)) => Some(s),
        Some(Loose::Int(n)) => Some(n.to_string()),
        Some(Loose::Float(f)) if f.fract() == 0.0 && f.abs() < 9.0e15 => Some((f as i64).to_string()),
        Some(Loose::Float(_)) => return Err(D::Error::custom("expected a string, found a fraction")),
        Some(Loose::Bool(b)) => Some(b.to_string()),
    })
}
