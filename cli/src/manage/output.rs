//! What the management commands print: one shape per object across the services, JSON (one
//! document, or one line per listed item) or aligned human text, written so that a closed pipe
//! (`yunup ls ... | head`) ends the command quietly.

use std::io::{BufWriter, StdoutLock, Write};

use serde_json::{Map, Value, json};
use yunup::calendar::DateTime;

use crate::Failure;

/// An object as every service describes it, plus what only one service says (`extra`).
#[derive(Clone, Debug, Default)]
pub struct Entry {
    pub key: String,
    pub size: Option<u64>,
    pub etag: Option<String>,
    pub mime: Option<String>,
    /// Unix milliseconds.
    pub modified_ms: Option<u64>,
    /// Service-specific fields, in the order to show them.
    pub extra: Vec<(&'static str, Value)>,
}

impl Entry {
    /// `{"key","size","etag","mime","modified",...extra}`; `modified` is RFC 3339 UTC.
    pub fn to_json(&self) -> Value {
        let mut map = Map::new();
        map.insert("key".into(), json!(self.key));
        map.insert("size".into(), json!(self.size));
        map.insert("etag".into(), json!(self.etag.as_deref().filter(|e| !e.is_empty())));
        map.insert("mime".into(), json!(self.mime.as_deref().filter(|m| !m.is_empty())));
        map.insert("modified".into(), json!(self.modified_ms.map(rfc3339)));
        for (name, value) in &self.extra {
            map.insert((*name).into(), value.clone());
        }
        Value::Object(map)
    }

    /// `name: value` lines, names aligned.
    pub fn to_text(&self) -> String {
        let mut rows: Vec<(String, String)> = vec![("key".into(), self.key.clone())];
        if let Some(size) = self.size {
            rows.push(("size".into(), format!("{} ({size} bytes)", human_size(size))));
        }
        for (name, value) in [("etag", &self.etag), ("mime", &self.mime)] {
            if let Some(value) = value.as_deref().filter(|v| !v.is_empty()) {
                rows.push((name.into(), value.to_owned()));
            }
        }
        if let Some(ms) = self.modified_ms {
            rows.push(("modified".into(), format!("{} UTC", human_time(ms))));
        }
        for (name, value) in &self.extra {
            if let Some(text) = value_text(value) {
                rows.push((name.replace('_', " "), text));
            }
        }
        fields(&rows)
    }
}

/// A value as one line of text; `None` for null and empty values.
pub fn value_text(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(s) if s.is_empty() => None,
        Value::String(s) if is_rfc3339(s) => Some(format!("{} {} UTC", &s[..10], &s[11..19])),
        Value::String(s) => Some(s.clone()),
        Value::Array(a) if a.is_empty() => None,
        Value::Array(a) => Some(a.iter().filter_map(value_text).collect::<Vec<_>>().join(", ")),
        Value::Object(o) if o.is_empty() => None,
        Value::Object(o) => Some(
            o.iter().map(|(k, v)| format!("{k}={}", value_text(v).unwrap_or_default())).collect::<Vec<_>>().join(", "),
        ),
        other => Some(other.to_string()),
    }
}

/// What [`rfc3339`] writes: `2024-05-01T12:00:00Z`.
fn is_rfc3339(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 20
        && b[10] == b'T'
        && b[19] == b'Z'
        && b.iter().enumerate().all(|(i, c)| matches!(i, 4 | 7 | 10 | 13 | 16 | 19) || c.is_ascii_digit())
}

/// `name: value` lines with the values aligned.
pub fn fields(rows: &[(String, String)]) -> String {
    let width = rows.iter().map(|(n, _)| n.chars().count()).max().unwrap_or(0) + 1;
    rows.iter().map(|(n, v)| format!("{:<width$} {v}\n", format!("{n}:"))).collect()
}

/// One item of a listing: an object, or a "directory" (a common prefix, a Wantu folder).
#[derive(Clone, Debug)]
pub enum Row {
    Object(Entry),
    Prefix(String),
}

impl Row {
    pub fn to_json(&self) -> Value {
        match self {
            Row::Object(entry) => entry.to_json(),
            Row::Prefix(prefix) => json!({ "prefix": prefix }),
        }
    }

    /// `SIZE  MODIFIED  KEY`, fixed widths so that lines printed page by page line up.
    pub fn to_line(&self) -> String {
        match self {
            Row::Object(e) => format!(
                "{:>10}  {:<19}  {}",
                e.size.map(human_size).unwrap_or_else(|| "-".into()),
                e.modified_ms.map(human_time).unwrap_or_else(|| "-".into()),
                e.key
            ),
            Row::Prefix(prefix) => format!("{:>10}  {:<19}  {prefix}", "DIR", ""),
        }
    }
}

/// The heading of [`Row::to_line`]'s table.
pub const LIST_HEADING: &str = "      SIZE  MODIFIED (UTC)       KEY";

/// `0 B`, `1023 B`, `1.0 KiB`, `12.5 MiB`.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// `2024-05-01T12:00:00Z`.
pub fn rfc3339(ms: u64) -> String {
    let t = DateTime::from_unix_ms(ms);
    format!("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", t.year, t.month, t.day, t.hour, t.minute, t.second)
}

/// `2024-05-01 12:00:00` (UTC).
pub fn human_time(ms: u64) -> String {
    let t = DateTime::from_unix_ms(ms);
    format!("{:04}-{:02}-{:02} {:02}:{:02}:{:02}", t.year, t.month, t.day, t.hour, t.minute, t.second)
}

/// Standard output, buffered; [`Out::flush`] after each page so that listings show as they come.
pub struct Out {
    writer: BufWriter<StdoutLock<'static>>,
    pub json: bool,
}

/// The reader went away (`| head`): stop quietly.
pub fn closed_pipe() -> Failure {
    Failure::quiet()
}

fn write_failed(e: std::io::Error) -> Failure {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        closed_pipe()
    } else {
        Failure::other(format!("cannot write to standard output: {e}"))
    }
}

impl Out {
    pub fn new(json: bool) -> Self {
        Out { writer: BufWriter::new(std::io::stdout().lock()), json }
    }

    /// One line (a newline is added).
    pub fn line(&mut self, text: &str) -> Result<(), Failure> {
        writeln!(self.writer, "{text}").map_err(write_failed)
    }

    /// Text as is (it carries its own newlines).
    pub fn text(&mut self, text: &str) -> Result<(), Failure> {
        self.writer.write_all(text.as_bytes()).map_err(write_failed)
    }

    /// One JSON document on one line.
    pub fn json(&mut self, value: &Value) -> Result<(), Failure> {
        self.line(&value.to_string())
    }

    /// JSON or text, whichever was asked for.
    pub fn either(&mut self, value: &Value, text: &str) -> Result<(), Failure> {
        if self.json { self.json(value) } else { self.text(text) }
    }

    pub fn flush(&mut self) -> Result<(), Failure> {
        self.writer.flush().map_err(write_failed)
    }
}

impl Drop for Out {
    fn drop(&mut self) {
        let _ = self.writer.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(human_size(0), "0 B");
        assert_eq!(human_size(1023), "1023 B");
        assert_eq!(human_size(1024), "1.0 KiB");
        assert_eq!(human_size(5 * 1024 * 1024 + 512 * 1024), "5.5 MiB");
        assert_eq!(human_size(u64::MAX), "16.0 EiB");
    }

    #[test]
    fn times() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000_123), "2023-11-14T22:13:20Z");
        assert_eq!(human_time(951_782_400_000), "2000-02-29 00:00:00");
        assert_eq!(human_time(4_102_444_799_000), "2099-12-31 23:59:59");
    }

    #[test]
    fn entries() {
        let e = Entry {
            key: "a b.txt".into(),
            size: Some(2048),
            etag: Some(String::new()),
            mime: Some("text/plain".into()),
            modified_ms: Some(0),
            extra: vec![
                ("storage_class", json!("IA")),
                ("meta", json!({"k": "v"})),
                ("none", Value::Null),
                ("created", json!(rfc3339(1000))),
            ],
        };
        assert_eq!(
            e.to_json(),
            json!({"key":"a b.txt","size":2048,"etag":null,"mime":"text/plain","modified":"1970-01-01T00:00:00Z",
                   "storage_class":"IA","meta":{"k":"v"},"none":null,"created":"1970-01-01T00:00:01Z"})
        );
        let text = e.to_text();
        assert!(text.starts_with("key:           a b.txt\nsize:          2.0 KiB (2048 bytes)\n"), "{text}");
        assert!(text.contains("storage class: IA\n") && text.contains("meta:          k=v\n"), "{text}");
        assert!(text.contains("modified:      1970-01-01 00:00:00 UTC\n"), "{text}");
        assert!(text.contains("created:       1970-01-01 00:00:01 UTC\n"), "{text}");
        assert!(!text.contains("etag") && !text.contains("none"), "{text}");
        assert_eq!(Row::Object(e).to_line(), "   2.0 KiB  1970-01-01 00:00:00  a b.txt");
        assert_eq!(Row::Prefix("d/".into()).to_line(), "       DIR                       d/");
        assert_eq!(LIST_HEADING.find("KEY"), Row::Prefix("d/".into()).to_line().find("d/"));
    }
}
