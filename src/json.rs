//! JSON text in and out.
//!
//! Natively that is `serde_json`. In wasm it is the small reader and writer below ([`mini`]):
//! `serde_json` would cost about 20 KB gzipped in the bundle, `serde-wasm-bindgen` (with
//! `JSON.parse`) about as much, and both pull in Rust's float printing (another ~15 KB) for
//! their error messages. The same `#[derive(Serialize, Deserialize)]` types serve both; this
//! module is the only place that knows which engine runs. The native tests check that [`mini`]
//! reads and writes what `serde_json` does.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{Error, Result};

/// Serialize `value` as compact JSON text.
pub(crate) fn to_string<T: Serialize + ?Sized>(value: &T) -> Result<String> {
    imp::to_string(value).map_err(|e| Error::invalid_input(format!("cannot write JSON: {e}")))
}

/// Parse JSON text into `T`; `what` names the document in the error message.
pub(crate) fn from_str<T: DeserializeOwned>(text: &str, what: &str) -> Result<T> {
    imp::from_str(text)
        .map_err(|detail| Error::invalid_input(format!("{what} is not valid JSON of the expected shape: {detail}")))
}

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    use super::*;

    pub(super) fn to_string<T: Serialize + ?Sized>(value: &T) -> std::result::Result<String, String> {
        serde_json::to_string(value).map_err(|e| e.to_string())
    }

    pub(super) fn from_str<T: DeserializeOwned>(text: &str) -> std::result::Result<T, String> {
        serde_json::from_str(text).map_err(|e| e.to_string())
    }
}

#[cfg(target_arch = "wasm32")]
mod imp {
    use super::*;

    pub(super) fn to_string<T: Serialize + ?Sized>(value: &T) -> std::result::Result<String, String> {
        mini::to_string(value).map_err(|e| e.0)
    }

    pub(super) fn from_str<T: DeserializeOwned>(text: &str) -> std::result::Result<T, String> {
        mini::from_str(text).map_err(|e| e.0)
    }
}

/// A compact JSON reader and writer for serde, for the wasm build.
///
/// Integers are read as `u64`/`i64` and written exactly; a number with a fraction or an exponent
/// is read as `f64` (the host's `parseFloat` in wasm); a non-integral `f64` is written through the
/// host's `Number#toString` in wasm. Error messages never format a float.
#[cfg(any(target_arch = "wasm32", test))]
pub(crate) mod mini {
    use std::fmt::{self, Display, Write as _};

    use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Unexpected, Visitor};
    use serde::ser::{self, Impossible, Serialize, Serializer};

    /// What went wrong, as text.
    #[derive(Debug)]
    pub(crate) struct Error(pub(crate) String);

    impl Display for Error {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(&self.0)
        }
    }

    impl std::error::Error for Error {}

    /// `Unexpected`'s own `Display` prints floats; this one never does.
    fn unexpected(u: &Unexpected<'_>) -> String {
        match *u {
            Unexpected::Bool(b) => format!("boolean `{b}`"),
            Unexpected::Unsigned(n) => format!("integer `{n}`"),
            Unexpected::Signed(n) => format!("integer `{n}`"),
            Unexpected::Float(_) => "a number with a fraction".to_owned(),
            Unexpected::Char(c) => format!("character `{c}`"),
            Unexpected::Str(s) => format!("string {s:?}"),
            Unexpected::Bytes(_) => "bytes".to_owned(),
            Unexpected::Unit => "null".to_owned(),
            Unexpected::Option => "an optional value".to_owned(),
            Unexpected::NewtypeStruct => "a newtype struct".to_owned(),
            Unexpected::Seq => "an array".to_owned(),
            Unexpected::Map => "an object".to_owned(),
            Unexpected::Enum => "an enum".to_owned(),
            Unexpected::UnitVariant | Unexpected::NewtypeVariant => "an enum variant".to_owned(),
            Unexpected::TupleVariant | Unexpected::StructVariant => "an enum variant".to_owned(),
            Unexpected::Other(other) => other.to_owned(),
        }
    }

    impl de::Error for Error {
        fn custom<T: Display>(msg: T) -> Self {
            Error(msg.to_string())
        }
        fn invalid_type(unexp: Unexpected<'_>, exp: &dyn de::Expected) -> Self {
            Error(format!("invalid type: {}, expected {exp}", unexpected(&unexp)))
        }
        fn invalid_value(unexp: Unexpected<'_>, exp: &dyn de::Expected) -> Self {
            Error(format!("invalid value: {}, expected {exp}", unexpected(&unexp)))
        }
    }

    impl ser::Error for Error {
        fn custom<T: Display>(msg: T) -> Self {
            Error(msg.to_string())
        }
    }

    type Result<T> = std::result::Result<T, Error>;

    fn err<T>(message: &str) -> Result<T> {
        Err(Error(message.to_owned()))
    }

    // ---- reading ------------------------------------------------------------------------------

    /// Parse `text` as one JSON value of type `T`.
    pub(crate) fn from_str<T: de::DeserializeOwned>(text: &str) -> Result<T> {
        let mut reader = Reader { text: text.as_bytes(), at: 0, depth: 0 };
        let value = T::deserialize(&mut reader)?;
        reader.skip_ws();
        if reader.at != reader.text.len() {
            return Err(reader.error("trailing characters"));
        }
        Ok(value)
    }

    struct Reader<'de> {
        text: &'de [u8],
        at: usize,
        depth: u32,
    }

    /// Nesting deeper than this is refused (the recursion would otherwise exhaust the stack).
    const MAX_DEPTH: u32 = 128;

    impl<'de> Reader<'de> {
        fn error(&self, what: &str) -> Error {
            Error(format!("{what} at byte {}", self.at))
        }

        fn skip_ws(&mut self) {
            while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.text.get(self.at) {
                self.at += 1;
            }
        }

        fn peek(&mut self) -> Result<u8> {
            self.skip_ws();
            self.text.get(self.at).copied().ok_or_else(|| self.error("unexpected end of JSON"))
        }

        fn literal(&mut self, word: &[u8]) -> Result<()> {
            if self.text[self.at..].starts_with(word) {
                self.at += word.len();
                Ok(())
            } else {
                Err(self.error("expected a JSON value"))
            }
        }

        fn expect(&mut self, byte: u8, what: &str) -> Result<()> {
            if self.peek()? == byte {
                self.at += 1;
                Ok(())
            } else {
                Err(self.error(what))
            }
        }

        fn hex4(&mut self) -> Result<u32> {
            let digits = self.text.get(self.at..self.at + 4).ok_or_else(|| self.error("bad \\u escape"))?;
            let mut n = 0;
            for &d in digits {
                n = n * 16 + (d as char).to_digit(16).ok_or_else(|| self.error("bad \\u escape"))?;
            }
            self.at += 4;
            Ok(n)
        }

        /// A string after its opening quote: borrowed when it has no escapes.
        fn string(&mut self, scratch: &mut String) -> Result<Option<&'de str>> {
            let start = self.at;
            loop {
                match self.text.get(self.at) {
                    None => return Err(self.error("unterminated string")),
                    Some(b'"') => {
                        let raw = &self.text[start..self.at];
                        self.at += 1;
                        let raw = std::str::from_utf8(raw).map_err(|_| self.error("invalid UTF-8"))?;
                        return Ok(Some(raw));
                    }
                    Some(b'\\') => break,
                    Some(&b) if b < 0x20 => return Err(self.error("control character in a string")),
                    Some(_) => self.at += 1,
                }
            }
            let mut bytes = self.text[start..self.at].to_vec();
            loop {
                match self.text.get(self.at) {
                    None => return Err(self.error("unterminated string")),
                    Some(b'"') => {
                        self.at += 1;
                        *scratch = String::from_utf8(bytes).map_err(|_| self.error("invalid UTF-8"))?;
                        return Ok(None);
                    }
                    Some(b'\\') => {
                        let escape = *self.text.get(self.at + 1).ok_or_else(|| self.error("unterminated string"))?;
                        self.at += 2;
                        let c = match escape {
                            b'"' => '"',
                            b'\\' => '\\',
                            b'/' => '/',
                            b'b' => '\u{8}',
                            b'f' => '\u{c}',
                            b'n' => '\n',
                            b'r' => '\r',
                            b't' => '\t',
                            b'u' => {
                                let mut n = self.hex4()?;
                                if (0xd800..0xdc00).contains(&n) && self.text[self.at..].starts_with(b"\\u") {
                                    self.at += 2;
                                    let low = self.hex4()?;
                                    if !(0xdc00..0xe000).contains(&low) {
                                        return Err(self.error("bad surrogate pair"));
                                    }
                                    n = 0x10000 + ((n - 0xd800) << 10) + (low - 0xdc00);
                                }
                                char::from_u32(n).ok_or_else(|| self.error("bad \\u escape"))?
                            }
                            _ => return Err(self.error("bad escape")),
                        };
                        bytes.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
                    }
                    Some(&b) if b < 0x20 => return Err(self.error("control character in a string")),
                    Some(&b) => {
                        bytes.push(b);
                        self.at += 1;
                    }
                }
            }
        }

        /// The number at `at` (integers exactly, anything else as `f64`).
        fn number(&mut self) -> Result<Token<'de>> {
            let start = self.at;
            let negative = self.text[self.at] == b'-';
            if negative {
                self.at += 1;
            }
            let digits = self.at;
            let mut integral = true;
            while let Some(&b) = self.text.get(self.at) {
                match b {
                    b'0'..=b'9' => {}
                    b'.' | b'e' | b'E' | b'+' | b'-' => integral = false,
                    _ => break,
                }
                self.at += 1;
            }
            let text = std::str::from_utf8(&self.text[start..self.at]).expect("ASCII");
            if self.at == digits {
                return Err(self.error("expected a JSON value"));
            }
            if integral {
                if negative {
                    if let Ok(n) = text.parse::<i64>() {
                        return Ok(Token::I64(n));
                    }
                } else if let Ok(n) = text.parse::<u64>() {
                    return Ok(Token::U64(n));
                }
            }
            parse_float(text).map(Token::F64).ok_or_else(|| self.error("bad number"))
        }

        /// The next value's token; an array or object is entered (its `[` or `{` consumed).
        /// Not generic, so that it is compiled once, not once per type read.
        #[inline(never)]
        fn token(&mut self) -> Result<Token<'de>> {
            let token = match self.peek()? {
                b'n' => self.literal(b"null").map(|_| Token::Null)?,
                b't' => self.literal(b"true").map(|_| Token::Bool(true))?,
                b'f' => self.literal(b"false").map(|_| Token::Bool(false))?,
                b'"' => {
                    self.at += 1;
                    let mut scratch = String::new();
                    match self.string(&mut scratch)? {
                        Some(s) => Token::Str(s),
                        None => Token::String(scratch),
                    }
                }
                b'[' | b'{' => {
                    let open = self.text[self.at];
                    self.at += 1;
                    self.depth += 1;
                    if self.depth > MAX_DEPTH {
                        return Err(self.error("JSON nested too deeply"));
                    }
                    if open == b'[' { Token::Seq } else { Token::Map }
                }
                b'-' | b'0'..=b'9' => self.number()?,
                _ => return Err(self.error("expected a JSON value")),
            };
            Ok(token)
        }

        /// Leave an array or object: its closing `close`.
        #[inline(never)]
        fn close(&mut self, close: u8) -> Result<()> {
            self.depth -= 1;
            self.expect(close, if close == b']' { "expected ',' or ']'" } else { "expected ',' or '}'" })
        }

        /// Whether `null` comes next (consumed if so).
        #[inline(never)]
        fn null(&mut self) -> Result<bool> {
            if self.peek()? == b'n' {
                self.literal(b"null")?;
                Ok(true)
            } else {
                Ok(false)
            }
        }
    }

    /// One JSON token, as [`Reader::token`] reads it.
    enum Token<'de> {
        Null,
        Bool(bool),
        Str(&'de str),
        String(String),
        U64(u64),
        I64(i64),
        F64(f64),
        Seq,
        Map,
    }

    #[cfg(target_arch = "wasm32")]
    fn parse_float(text: &str) -> Option<f64> {
        let f = js_sys::Number::parse_float(text);
        (!f.is_nan()).then_some(f)
    }

    #[cfg(not(target_arch = "wasm32"))]
    fn parse_float(text: &str) -> Option<f64> {
        text.parse().ok()
    }

    impl<'de> Deserializer<'de> for &mut Reader<'de> {
        type Error = Error;

        fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
            match self.token()? {
                Token::Null => visitor.visit_unit(),
                Token::Bool(b) => visitor.visit_bool(b),
                Token::Str(s) => visitor.visit_borrowed_str(s),
                Token::String(s) => visitor.visit_string(s),
                Token::U64(n) => visitor.visit_u64(n),
                Token::I64(n) => visitor.visit_i64(n),
                Token::F64(f) => visitor.visit_f64(f),
                Token::Seq => {
                    let value = visitor.visit_seq(Items { reader: self, first: true })?;
                    self.close(b']')?;
                    Ok(value)
                }
                Token::Map => {
                    let value = visitor.visit_map(Items { reader: self, first: true })?;
                    self.close(b'}')?;
                    Ok(value)
                }
            }
        }

        fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
            if self.null()? { visitor.visit_none() } else { visitor.visit_some(self) }
        }

        fn deserialize_newtype_struct<V: Visitor<'de>>(self, _name: &'static str, visitor: V) -> Result<V::Value> {
            visitor.visit_newtype_struct(self)
        }

        fn deserialize_enum<V: Visitor<'de>>(
            self,
            _name: &'static str,
            _variants: &'static [&'static str],
            visitor: V,
        ) -> Result<V::Value> {
            if self.peek()? == b'"' {
                return visitor.visit_enum(Variant { reader: self, unit: true });
            }
            match self.token()? {
                Token::Map => {
                    let value = visitor.visit_enum(Variant { reader: self, unit: false })?;
                    self.close(b'}')?;
                    Ok(value)
                }
                _ => Err(self.error("expected an enum variant (a string or an object)")),
            }
        }

        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf unit
            unit_struct seq tuple tuple_struct map struct identifier ignored_any
        }
    }

    /// An object key (or an enum variant's name): a string, read without the generic value path.
    struct Key<'a, 'de>(&'a mut Reader<'de>);

    impl<'de> Deserializer<'de> for Key<'_, 'de> {
        type Error = Error;

        fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
            match self.0.token()? {
                Token::Str(s) => visitor.visit_borrowed_str(s),
                Token::String(s) => visitor.visit_string(s),
                _ => Err(self.0.error("expected a string")),
            }
        }

        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option
            unit unit_struct newtype_struct seq tuple tuple_struct map struct enum identifier ignored_any
        }
    }

    /// The elements of an array or the entries of an object.
    struct Items<'a, 'de> {
        reader: &'a mut Reader<'de>,
        first: bool,
    }

    impl<'de> Items<'_, 'de> {
        /// Whether another item follows (consumes the `,` before it).
        #[inline(never)]
        fn more(&mut self, close: u8) -> Result<bool> {
            let next = self.reader.peek()?;
            if next == close {
                return Ok(false);
            }
            if !std::mem::take(&mut self.first) {
                if next != b',' {
                    return Err(self.reader.error("expected ','"));
                }
                self.reader.at += 1;
            }
            Ok(true)
        }
    }

    impl<'de> SeqAccess<'de> for Items<'_, 'de> {
        type Error = Error;

        fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>> {
            if !self.more(b']')? {
                return Ok(None);
            }
            seed.deserialize(&mut *self.reader).map(Some)
        }
    }

    impl<'de> MapAccess<'de> for Items<'_, 'de> {
        type Error = Error;

        fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>> {
            if !self.more(b'}')? {
                return Ok(None);
            }
            seed.deserialize(Key(self.reader)).map(Some)
        }

        fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value> {
            self.reader.expect(b':', "expected ':'")?;
            seed.deserialize(&mut *self.reader)
        }
    }

    /// An externally tagged enum: `"Unit"` or `{"Variant": content}`.
    struct Variant<'a, 'de> {
        reader: &'a mut Reader<'de>,
        unit: bool,
    }

    impl<'a, 'de> de::EnumAccess<'de> for Variant<'a, 'de> {
        type Error = Error;
        type Variant = Self;

        fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self)> {
            let name = seed.deserialize(Key(&mut *self.reader))?;
            if !self.unit {
                self.reader.expect(b':', "expected ':'")?;
            }
            Ok((name, self))
        }
    }

    impl<'de> de::VariantAccess<'de> for Variant<'_, 'de> {
        type Error = Error;

        fn unit_variant(self) -> Result<()> {
            if self.unit { Ok(()) } else { de::Deserialize::deserialize(&mut *self.reader) }
        }

        fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value> {
            if self.unit {
                return err("expected an enum variant with content");
            }
            seed.deserialize(&mut *self.reader)
        }

        fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value> {
            if self.unit {
                return err("expected an enum variant with content");
            }
            self.reader.deserialize_any(visitor)
        }

        fn struct_variant<V: Visitor<'de>>(self, _fields: &'static [&'static str], visitor: V) -> Result<V::Value> {
            self.tuple_variant(0, visitor)
        }
    }

    // ---- writing ------------------------------------------------------------------------------

    /// `value` as compact JSON text.
    pub(crate) fn to_string<T: Serialize + ?Sized>(value: &T) -> Result<String> {
        let mut writer = Writer { out: String::new() };
        value.serialize(&mut writer)?;
        Ok(writer.out)
    }

    struct Writer {
        out: String,
    }

    impl Writer {
        fn string(&mut self, s: &str) {
            self.out.push('"');
            for c in s.chars() {
                match c {
                    '"' => self.out.push_str("\\\""),
                    '\\' => self.out.push_str("\\\\"),
                    '\n' => self.out.push_str("\\n"),
                    '\r' => self.out.push_str("\\r"),
                    '\t' => self.out.push_str("\\t"),
                    c if (c as u32) < 0x20 => {
                        let _ = write!(self.out, "\\u{:04x}", c as u32);
                    }
                    c => self.out.push(c),
                }
            }
            self.out.push('"');
        }

        fn int(&mut self, n: impl Display) -> Result<()> {
            let _ = write!(self.out, "{n}");
            Ok(())
        }
    }

    #[cfg(target_arch = "wasm32")]
    fn float_text(f: f64) -> String {
        String::from(js_sys::Number::from(f).to_string_with_radix(10).unwrap_or_else(|_| "0".into()))
    }

    #[cfg(not(target_arch = "wasm32"))]
    fn float_text(f: f64) -> String {
        f.to_string()
    }

    /// An array or object being written.
    struct Compound<'a> {
        writer: &'a mut Writer,
        first: bool,
        close: &'static str,
    }

    impl Compound<'_> {
        fn comma(&mut self) {
            if !std::mem::take(&mut self.first) {
                self.writer.out.push(',');
            }
        }
        fn key(&mut self, key: &str) {
            self.comma();
            self.writer.string(key);
            self.writer.out.push(':');
        }
        fn end(self) -> Result<()> {
            self.writer.out.push_str(self.close);
            Ok(())
        }
    }

    impl<'a> Serializer for &'a mut Writer {
        type Ok = ();
        type Error = Error;
        type SerializeSeq = Compound<'a>;
        type SerializeTuple = Compound<'a>;
        type SerializeTupleStruct = Compound<'a>;
        type SerializeTupleVariant = Compound<'a>;
        type SerializeMap = Compound<'a>;
        type SerializeStruct = Compound<'a>;
        type SerializeStructVariant = Compound<'a>;

        fn serialize_bool(self, v: bool) -> Result<()> {
            self.out.push_str(if v { "true" } else { "false" });
            Ok(())
        }
        fn serialize_i8(self, v: i8) -> Result<()> {
            self.int(v)
        }
        fn serialize_i16(self, v: i16) -> Result<()> {
            self.int(v)
        }
        fn serialize_i32(self, v: i32) -> Result<()> {
            self.int(v)
        }
        fn serialize_i64(self, v: i64) -> Result<()> {
            self.int(v)
        }
        fn serialize_u8(self, v: u8) -> Result<()> {
            self.int(v)
        }
        fn serialize_u16(self, v: u16) -> Result<()> {
            self.int(v)
        }
        fn serialize_u32(self, v: u32) -> Result<()> {
            self.int(v)
        }
        fn serialize_u64(self, v: u64) -> Result<()> {
            self.int(v)
        }
        fn serialize_f32(self, v: f32) -> Result<()> {
            self.serialize_f64(f64::from(v))
        }
        fn serialize_f64(self, v: f64) -> Result<()> {
            if !v.is_finite() {
                self.out.push_str("null");
            } else if v.fract() == 0.0 && v.abs() < 9.0e15 {
                self.int(v as i64)?;
            } else {
                self.out.push_str(&float_text(v));
            }
            Ok(())
        }
        fn serialize_char(self, v: char) -> Result<()> {
            self.string(v.encode_utf8(&mut [0; 4]));
            Ok(())
        }
        fn serialize_str(self, v: &str) -> Result<()> {
            self.string(v);
            Ok(())
        }
        fn serialize_bytes(self, v: &[u8]) -> Result<()> {
            let mut seq = ser::Serializer::serialize_seq(self, Some(v.len()))?;
            for b in v {
                ser::SerializeSeq::serialize_element(&mut seq, b)?;
            }
            ser::SerializeSeq::end(seq)
        }
        fn serialize_none(self) -> Result<()> {
            self.serialize_unit()
        }
        fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<()> {
            value.serialize(self)
        }
        fn serialize_unit(self) -> Result<()> {
            self.out.push_str("null");
            Ok(())
        }
        fn serialize_unit_struct(self, _name: &'static str) -> Result<()> {
            self.serialize_unit()
        }
        fn serialize_unit_variant(self, _name: &'static str, _index: u32, variant: &'static str) -> Result<()> {
            self.serialize_str(variant)
        }
        fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _name: &'static str, value: &T) -> Result<()> {
            value.serialize(self)
        }
        fn serialize_newtype_variant<T: Serialize + ?Sized>(
            self,
            _name: &'static str,
            _index: u32,
            variant: &'static str,
            value: &T,
        ) -> Result<()> {
            self.out.push('{');
            self.string(variant);
            self.out.push(':');
            value.serialize(&mut *self)?;
            self.out.push('}');
            Ok(())
        }
        fn serialize_seq(self, _len: Option<usize>) -> Result<Compound<'a>> {
            self.out.push('[');
            Ok(Compound { writer: self, first: true, close: "]" })
        }
        fn serialize_tuple(self, len: usize) -> Result<Compound<'a>> {
            self.serialize_seq(Some(len))
        }
        fn serialize_tuple_struct(self, _name: &'static str, len: usize) -> Result<Compound<'a>> {
            self.serialize_seq(Some(len))
        }
        fn serialize_tuple_variant(
            self,
            _name: &'static str,
            _index: u32,
            variant: &'static str,
            _len: usize,
        ) -> Result<Compound<'a>> {
            self.out.push('{');
            self.string(variant);
            self.out.push_str(":[");
            Ok(Compound { writer: self, first: true, close: "]}" })
        }
        fn serialize_map(self, _len: Option<usize>) -> Result<Compound<'a>> {
            self.out.push('{');
            Ok(Compound { writer: self, first: true, close: "}" })
        }
        fn serialize_struct(self, _name: &'static str, _len: usize) -> Result<Compound<'a>> {
            self.serialize_map(None)
        }
        fn serialize_struct_variant(
            self,
            _name: &'static str,
            _index: u32,
            variant: &'static str,
            _len: usize,
        ) -> Result<Compound<'a>> {
            self.out.push('{');
            self.string(variant);
            self.out.push_str(":{");
            Ok(Compound { writer: self, first: true, close: "}}" })
        }
    }

    impl ser::SerializeSeq for Compound<'_> {
        type Ok = ();
        type Error = Error;
        fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
            self.comma();
            value.serialize(&mut *self.writer)
        }
        fn end(self) -> Result<()> {
            Compound::end(self)
        }
    }

    impl ser::SerializeTuple for Compound<'_> {
        type Ok = ();
        type Error = Error;
        fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
            ser::SerializeSeq::serialize_element(self, value)
        }
        fn end(self) -> Result<()> {
            Compound::end(self)
        }
    }

    impl ser::SerializeTupleStruct for Compound<'_> {
        type Ok = ();
        type Error = Error;
        fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
            ser::SerializeSeq::serialize_element(self, value)
        }
        fn end(self) -> Result<()> {
            Compound::end(self)
        }
    }

    impl ser::SerializeTupleVariant for Compound<'_> {
        type Ok = ();
        type Error = Error;
        fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
            ser::SerializeSeq::serialize_element(self, value)
        }
        fn end(self) -> Result<()> {
            Compound::end(self)
        }
    }

    impl ser::SerializeMap for Compound<'_> {
        type Ok = ();
        type Error = Error;
        fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<()> {
            self.comma();
            key.serialize(KeyWriter(self.writer))?;
            self.writer.out.push(':');
            Ok(())
        }
        fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
            value.serialize(&mut *self.writer)
        }
        fn end(self) -> Result<()> {
            Compound::end(self)
        }
    }

    impl ser::SerializeStruct for Compound<'_> {
        type Ok = ();
        type Error = Error;
        fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result<()> {
            self.key(key);
            value.serialize(&mut *self.writer)
        }
        fn end(self) -> Result<()> {
            Compound::end(self)
        }
    }

    impl ser::SerializeStructVariant for Compound<'_> {
        type Ok = ();
        type Error = Error;
        fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result<()> {
            ser::SerializeStruct::serialize_field(self, key, value)
        }
        fn end(self) -> Result<()> {
            Compound::end(self)
        }
    }

    /// Object keys: strings (and, as `serde_json` does, integers written as strings).
    struct KeyWriter<'a>(&'a mut Writer);

    impl KeyWriter<'_> {
        fn int(self, n: impl Display) -> Result<()> {
            let _ = write!(self.0.out, "\"{n}\"");
            Ok(())
        }
    }

    impl Serializer for KeyWriter<'_> {
        type Ok = ();
        type Error = Error;
        type SerializeSeq = Impossible<(), Error>;
        type SerializeTuple = Impossible<(), Error>;
        type SerializeTupleStruct = Impossible<(), Error>;
        type SerializeTupleVariant = Impossible<(), Error>;
        type SerializeMap = Impossible<(), Error>;
        type SerializeStruct = Impossible<(), Error>;
        type SerializeStructVariant = Impossible<(), Error>;

        fn serialize_str(self, v: &str) -> Result<()> {
            self.0.string(v);
            Ok(())
        }
        fn serialize_char(self, v: char) -> Result<()> {
            self.0.string(v.encode_utf8(&mut [0; 4]));
            Ok(())
        }
        fn serialize_unit_variant(self, _name: &'static str, _index: u32, variant: &'static str) -> Result<()> {
            self.serialize_str(variant)
        }
        fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _name: &'static str, value: &T) -> Result<()> {
            value.serialize(self)
        }
        fn serialize_i8(self, v: i8) -> Result<()> {
            self.int(v)
        }
        fn serialize_i16(self, v: i16) -> Result<()> {
            self.int(v)
        }
        fn serialize_i32(self, v: i32) -> Result<()> {
            self.int(v)
        }
        fn serialize_i64(self, v: i64) -> Result<()> {
            self.int(v)
        }
        fn serialize_u8(self, v: u8) -> Result<()> {
            self.int(v)
        }
        fn serialize_u16(self, v: u16) -> Result<()> {
            self.int(v)
        }
        fn serialize_u32(self, v: u32) -> Result<()> {
            self.int(v)
        }
        fn serialize_u64(self, v: u64) -> Result<()> {
            self.int(v)
        }
        fn serialize_bool(self, _v: bool) -> Result<()> {
            err("object keys must be strings")
        }
        fn serialize_f32(self, _v: f32) -> Result<()> {
            err("object keys must be strings")
        }
        fn serialize_f64(self, _v: f64) -> Result<()> {
            err("object keys must be strings")
        }
        fn serialize_bytes(self, _v: &[u8]) -> Result<()> {
            err("object keys must be strings")
        }
        fn serialize_none(self) -> Result<()> {
            err("object keys must be strings")
        }
        fn serialize_some<T: Serialize + ?Sized>(self, _value: &T) -> Result<()> {
            err("object keys must be strings")
        }
        fn serialize_unit(self) -> Result<()> {
            err("object keys must be strings")
        }
        fn serialize_unit_struct(self, _name: &'static str) -> Result<()> {
            err("object keys must be strings")
        }
        fn serialize_newtype_variant<T: Serialize + ?Sized>(
            self,
            _name: &'static str,
            _index: u32,
            _variant: &'static str,
            _value: &T,
        ) -> Result<()> {
            err("object keys must be strings")
        }
        fn serialize_seq(self, _len: Option<usize>) -> Result<Self::SerializeSeq> {
            err("object keys must be strings")
        }
        fn serialize_tuple(self, _len: usize) -> Result<Self::SerializeTuple> {
            err("object keys must be strings")
        }
        fn serialize_tuple_struct(self, _name: &'static str, _len: usize) -> Result<Self::SerializeTupleStruct> {
            err("object keys must be strings")
        }
        fn serialize_tuple_variant(
            self,
            _name: &'static str,
            _index: u32,
            _variant: &'static str,
            _len: usize,
        ) -> Result<Self::SerializeTupleVariant> {
            err("object keys must be strings")
        }
        fn serialize_map(self, _len: Option<usize>) -> Result<Self::SerializeMap> {
            err("object keys must be strings")
        }
        fn serialize_struct(self, _name: &'static str, _len: usize) -> Result<Self::SerializeStruct> {
            err("object keys must be strings")
        }
        fn serialize_struct_variant(
            self,
            _name: &'static str,
            _index: u32,
            _variant: &'static str,
            _len: usize,
        ) -> Result<Self::SerializeStructVariant> {
            err("object keys must be strings")
        }
    }

    // Natively, against serde_json (which the wasm build does not have).
    #[cfg(all(test, not(target_arch = "wasm32")))]
    mod tests {
        use std::collections::BTreeMap;

        use serde::{Deserialize, Serialize};

        #[derive(Debug, PartialEq, Serialize, Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Doc {
            name: String,
            size: u64,
            delta: i64,
            ratio: f64,
            flag: bool,
            maybe: Option<String>,
            list: Vec<u32>,
            map: BTreeMap<String, String>,
            unit: Kind,
            tagged: Tagged,
            #[serde(default)]
            missing: Option<u8>,
        }

        #[derive(Debug, PartialEq, Serialize, Deserialize)]
        #[serde(rename_all = "lowercase")]
        enum Kind {
            Wcs,
            Ufile,
        }

        #[derive(Debug, PartialEq, Serialize, Deserialize)]
        #[serde(tag = "kind", rename_all = "camelCase")]
        enum Tagged {
            A { batch: String },
            B(Inner),
        }

        #[derive(Debug, PartialEq, Serialize, Deserialize)]
        struct Inner {
            id: u32,
        }

        fn doc() -> Doc {
            Doc {
                name: "a \"quoted\" \\ name\n\t\u{1} ü 中 😀".into(),
                size: u64::MAX,
                delta: -42,
                ratio: 0.5,
                flag: true,
                maybe: None,
                list: vec![1, 2, 3],
                map: [("k".to_owned(), "v".to_owned())].into(),
                unit: Kind::Ufile,
                tagged: Tagged::B(Inner { id: 7 }),
                missing: None,
            }
        }

        #[test]
        fn writes_what_serde_json_writes() {
            let d = doc();
            assert_eq!(super::to_string(&d).unwrap(), serde_json::to_string(&d).unwrap());
            let a = Tagged::A { batch: "x".into() };
            assert_eq!(super::to_string(&a).unwrap(), serde_json::to_string(&a).unwrap());
        }

        #[test]
        fn reads_what_serde_json_writes_and_reads() {
            let text = serde_json::to_string(&doc()).unwrap();
            assert_eq!(super::from_str::<Doc>(&text).unwrap(), doc());
            let spaced = serde_json::to_string_pretty(&doc()).unwrap();
            assert_eq!(super::from_str::<Doc>(&spaced).unwrap(), doc());
            let escaped = r#""\u00fc\ud83d\ude00\/\b\f""#;
            assert_eq!(super::from_str::<String>(escaped).unwrap(), serde_json::from_str::<String>(escaped).unwrap());
            assert_eq!(super::from_str::<f64>("1.5e3").unwrap(), 1500.0);
            assert_eq!(super::from_str::<i64>("-7").unwrap(), -7);
            assert_eq!(super::from_str::<Option<u8>>(" null ").unwrap(), None);
            assert_eq!(super::from_str::<Kind>(r#""wcs""#).unwrap(), Kind::Wcs);
            assert_eq!(
                super::from_str::<serde_json::Value>(r#"{"a":[1,-2,3.5,"x",null,true,{}]}"#).unwrap(),
                serde_json::json!({"a": [1, -2, 3.5, "x", null, true, {}]})
            );
        }

        #[test]
        fn refuses_what_serde_json_refuses() {
            for bad in [
                "",
                "{",
                "[1,]",
                "[1 2]",
                r#"{"a" 1}"#,
                r#"{"a":1,}"#,
                "nul",
                "01x",
                r#""\x""#,
                "\"a\u{1}\"",
                "1 2",
                "-",
            ] {
                assert!(super::from_str::<serde_json::Value>(bad).is_err(), "{bad:?}");
                assert!(serde_json::from_str::<serde_json::Value>(bad).is_err(), "{bad:?}");
            }
            let deep = "[".repeat(1000) + &"]".repeat(1000);
            assert!(super::from_str::<serde_json::Value>(&deep).is_err());
            let e = super::from_str::<u64>("1.5").unwrap_err();
            assert_eq!(e.0, "invalid type: a number with a fraction, expected u64");
            assert!(super::from_str::<Doc>(r#"{"name":1}"#).is_err());
        }
    }
}
