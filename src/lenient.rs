//! Lenient readers for the loosely typed JSON the vendors' SDKs emit.
//!
//! The same policy field arrives as `1893427200000`, `"1893427200000"` or `null` depending on
//! which SDK wrote it (protocols/wcs.md §0.5, wantu.md §2.1). Verifiers must accept them all;
//! these `deserialize_with` helpers do, and still reject what no SDK sends (`"soon"`, `1.5`).
//!
//! One small visitor reads whatever comes (no `#[serde(untagged)]` enum: that buffers every value
//! through serde's `Content` and costs several KB of wasm per use).

use std::fmt;

use serde::de::{Deserializer, Error as _, Visitor};

enum Loose {
    Null,
    Int(i64),
    /// Above `i64::MAX`: only [`opt_u64`] takes it (a deadline the writer saturated).
    Big(u64),
    Float(f64),
    Text(String),
    Bool(bool),
}

struct LooseVisitor;

impl<'de> Visitor<'de> for LooseVisitor {
    type Value = Loose;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a number, a string, a boolean or null")
    }
    fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Loose, E> {
        Ok(Loose::Bool(v))
    }
    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Loose, E> {
        Ok(Loose::Int(v))
    }
    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Loose, E> {
        Ok(i64::try_from(v).map(Loose::Int).unwrap_or(Loose::Big(v)))
    }
    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Loose, E> {
        Ok(Loose::Float(v))
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Loose, E> {
        Ok(Loose::Text(v.to_owned()))
    }
    fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Loose, E> {
        Ok(Loose::Text(v))
    }
    fn visit_unit<E: serde::de::Error>(self) -> Result<Loose, E> {
        Ok(Loose::Null)
    }
    fn visit_none<E: serde::de::Error>(self) -> Result<Loose, E> {
        Ok(Loose::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Loose, D::Error> {
        d.deserialize_any(LooseVisitor)
    }
}

fn loose<'de, D: Deserializer<'de>>(d: D) -> Result<Loose, D::Error> {
    d.deserialize_any(LooseVisitor)
}

fn to_i64<E: serde::de::Error>(v: Loose) -> Result<i64, E> {
    match v {
        Loose::Null => Err(E::custom("expected an integer, found null")),
        Loose::Int(n) => Ok(n),
        Loose::Big(n) => Err(E::custom(format!("{n} is too large"))),
        Loose::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(f as i64),
        Loose::Text(s) => s.trim().parse().map_err(|_| E::custom(format!("expected an integer, found {s:?}"))),
        Loose::Bool(b) => Ok(b as i64),
        // Not `{f}`: formatting floats would pull ~18 KB of float printing into the wasm bundle.
        Loose::Float(_) => Err(E::custom("expected an integer, found a fraction")),
    }
}

/// An optional integer written as a number, a numeric string, a bool or `null`.
pub(crate) fn opt_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    match loose(d)? {
        Loose::Null => Ok(None),
        Loose::Text(s) if s.trim().is_empty() => Ok(None),
        v => to_i64(v).map(Some),
    }
}

/// An optional non-negative integer (sizes, millisecond timestamps).
pub(crate) fn opt_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    let refuse = |found| D::Error::custom(format!("expected a non-negative integer, found {found}"));
    match loose(d)? {
        Loose::Null => Ok(None),
        Loose::Big(n) => Ok(Some(n)),
        Loose::Text(s) if s.trim().is_empty() => Ok(None),
        // The whole u64 range as text too: our policy writer puts deadlines in strings.
        Loose::Text(s) => s.trim().parse().map(Some).map_err(|_| refuse(format!("{s:?}"))),
        v => to_i64(v).and_then(|n| u64::try_from(n).map(Some).map_err(|_| refuse(n.to_string()))),
    }
}

/// An optional string; a number is accepted and kept as its decimal text.
pub(crate) fn opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match loose(d)? {
        Loose::Null => None,
        Loose::Text(s) => Some(s),
        Loose::Int(n) => Some(n.to_string()),
        Loose::Big(n) => Some(n.to_string()),
        Loose::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Some((f as i64).to_string()),
        Loose::Float(_) => return Err(D::Error::custom("expected a string, found a fraction")),
        Loose::Bool(b) => Some(b.to_string()),
    })
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    #[derive(Debug, PartialEq, serde::Deserialize)]
    struct Doc {
        #[serde(default, deserialize_with = "super::opt_i64")]
        i: Option<i64>,
        #[serde(default, deserialize_with = "super::opt_u64")]
        u: Option<u64>,
        #[serde(default, deserialize_with = "super::opt_string")]
        s: Option<String>,
    }

    fn read(text: &str) -> Result<Doc, String> {
        let native = serde_json::from_str::<Doc>(text).map_err(|e| e.to_string());
        let mini = crate::json::mini::from_str::<Doc>(text).map_err(|e| e.0);
        assert_eq!(native.is_ok(), mini.is_ok(), "{text}: {native:?} vs {mini:?}");
        if let (Ok(a), Ok(b)) = (&native, &mini) {
            assert_eq!(a, b, "{text}");
        }
        native
    }

    #[test]
    fn every_spelling_the_sdks_use() {
        let d = |i, u, s: Option<&str>| Doc { i, u, s: s.map(str::to_owned) };
        assert_eq!(read("{}").unwrap(), d(None, None, None));
        assert_eq!(read(r#"{"i":null,"u":null,"s":null}"#).unwrap(), d(None, None, None));
        assert_eq!(read(r#"{"i":-5,"u":7,"s":"x"}"#).unwrap(), d(Some(-5), Some(7), Some("x")));
        assert_eq!(
            read(r#"{"i":" 12 ","u":"1893427200000","s":12}"#).unwrap(),
            d(Some(12), Some(1893427200000), Some("12"))
        );
        assert_eq!(read(r#"{"i":"","u":" ","s":true}"#).unwrap(), d(None, None, Some("true")));
        assert_eq!(read(r#"{"i":3.0,"u":true,"s":4.0}"#).unwrap(), d(Some(3), Some(1), Some("4")));
        // The top of the u64 range, as a number and as the string our policy writer emits.
        let max = d(None, Some(u64::MAX), Some("18446744073709551615"));
        assert_eq!(read(r#"{"u":18446744073709551615,"s":18446744073709551615}"#).unwrap(), max);
        assert_eq!(read(r#"{"u":"18446744073709551615","s":18446744073709551615}"#).unwrap(), max);
        for bad in [
            r#"{"i":9223372036854775808}"#,
            r#"{"i":"9223372036854775808"}"#,
            r#"{"u":18446744073709551616}"#,
            r#"{"u":"18446744073709551616"}"#,
        ] {
            assert!(read(bad).is_err(), "{bad}");
        }
        for bad in [r#"{"i":1.5}"#, r#"{"i":"soon"}"#, r#"{"u":-1}"#, r#"{"s":1.5}"#, r#"{"i":[]}"#, r#"{"s":{}}"#] {
            assert!(read(bad).is_err(), "{bad}");
        }
    }
}
