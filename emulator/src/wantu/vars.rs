//! Magic variables (魔法变量, wantu.md §2.2): `${name}` placeholders in the policy's `dir`,
//! `name`, `returnBody` and `callbackBody`.
//!
//! Three renderings, by where the text goes:
//! * [`Vars::render_raw`] for `dir`/`name`: values as they are.
//! * [`Vars::render_json`] for `returnBody` and JSON callback bodies: a placeholder inside a JSON
//!   string gets the value JSON-escaped; a bare one becomes a JSON literal (strings quoted,
//!   numbers as numbers) — so both `{"dir":${dir}}` (the doc's example) and `{"dir":"${dir}"}`
//!   give valid JSON.
//! * [`Vars::render_form`] for form-encoded callback bodies: values percent-encoded.
//!
//! Unknown variables render as an empty string (`""` when bare in JSON). Custom variables come
//! from `var-<key>` form fields and are reachable as `${var.key}` and, unless a built-in has that
//! name, `${key}` (the spelling is UNVERIFIED, §2.2). Dates are China time (UTC+8), zero-padded.

use yunup::calendar::DateTime;
use yunup::encoding::percent_encode;

/// A variable's value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Text(String),
    Number(u64),
}

impl Value {
    fn raw(&self) -> String {
        match self {
            Value::Text(t) => t.clone(),
            Value::Number(n) => n.to_string(),
        }
    }
}

/// The variables of one upload.
#[derive(Clone, Debug, Default)]
pub struct Vars {
    builtin: Vec<(&'static str, Value)>,
    custom: Vec<(String, String)>,
}

impl Vars {
    pub fn new(custom: Vec<(String, String)>) -> Self {
        Vars { builtin: Vec::new(), custom }
    }

    /// Set (or replace) a built-in variable.
    pub fn set(&mut self, name: &'static str, value: Value) {
        match self.builtin.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = value,
            None => self.builtin.push((name, value)),
        }
    }

    pub fn text(&mut self, name: &'static str, value: impl Into<String>) {
        self.set(name, Value::Text(value.into()));
    }

    pub fn number(&mut self, name: &'static str, value: u64) {
        self.set(name, Value::Number(value));
    }

    /// The date and time variables for `now_ms`, in China time.
    pub fn set_time(&mut self, now_ms: u64) {
        let t = china_time(now_ms);
        self.text("year", format!("{:04}", t.year));
        self.text("month", format!("{:02}", t.month));
        self.text("day", format!("{:02}", t.day));
        self.text("hour", format!("{:02}", t.hour));
        self.text("minute", format!("{:02}", t.minute));
        self.text("second", format!("{:02}", t.second));
    }

    pub fn get(&self, name: &str) -> Option<Value> {
        if let Some((_, v)) = self.builtin.iter().find(|(n, _)| *n == name) {
            return Some(v.clone());
        }
        let custom = name.strip_prefix("var.").unwrap_or(name);
        self.custom.iter().find(|(k, _)| k == custom).map(|(_, v)| Value::Text(v.clone()))
    }

    /// Values as they are (for `dir` and `name`).
    pub fn render_raw(&self, template: &str) -> String {
        render(template, |name, _| self.get(name).map(|v| v.raw()).unwrap_or_default())
    }

    /// Form-encoded callback bodies: values percent-encoded.
    pub fn render_form(&self, template: &str) -> String {
        render(template, |name, _| self.get(name).map(|v| percent_encode(&v.raw(), false)).unwrap_or_default())
    }

    /// JSON templates (`returnBody`, JSON callback bodies).
    pub fn render_json(&self, template: &str) -> String {
        render(template, |name, in_string| match (self.get(name), in_string) {
            (Some(v), true) => {
                let quoted = serde_json::to_string(&v.raw()).unwrap_or_else(|_| "\"\"".into());
                quoted[1..quoted.len() - 1].to_owned()
            }
            (Some(Value::Text(t)), false) => serde_json::to_string(&t).unwrap_or_else(|_| "\"\"".into()),
            (Some(Value::Number(n)), false) => n.to_string(),
            (None, true) => String::new(),
            (None, false) => "\"\"".to_owned(),
        })
    }
}

/// Replace every `${name}` using `value(name, inside_a_json_string)`. A `${` with no closing `}`
/// or with characters a name cannot have stays as it is.
fn render(template: &str, value: impl Fn(&str, bool) -> String) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    let (mut in_string, mut escaped) = (false, false);
    let mut rest = template;
    while let Some(c) = rest.chars().next() {
        if c == '$'
            && rest[1..].starts_with('{')
            && let Some(end) = rest[2..].find('}')
        {
            let name = &rest[2..2 + end];
            let valid =
                !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
            if valid {
                out.push_str(&value(name, in_string));
                rest = &rest[2 + end + 1..];
                escaped = false;
                continue;
            }
        }
        if in_string {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// The date and time in China (UTC+8, no daylight saving) at Unix milliseconds `ms`.
pub fn china_time(ms: u64) -> DateTime {
    DateTime::from_unix_ms(ms.saturating_add(8 * 3600 * 1000))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vars {
        let mut v = Vars::new(vec![("foo".into(), "b\"ar".into()), ("name".into(), "shadowed".into())]);
        v.text("dir", "/img");
        v.text("name", "a b.jpg");
        v.number("fileSize", 12);
        v
    }

    #[test]
    fn json_rendering_quotes_by_context() {
        let v = sample();
        assert_eq!(
            v.render_json(r#"{"dir":${dir},"size":${fileSize},"n":"x-${name}","w":${width},"f":${var.foo}}"#),
            r#"{"dir":"/img","size":12,"n":"x-a b.jpg","w":"","f":"b\"ar"}"#
        );
        // Escaped quotes inside a string do not end it.
        assert_eq!(v.render_json(r#"{"a":"q\"${fileSize}"}"#), r#"{"a":"q\"12"}"#);
        assert!(serde_json::from_str::<serde_json::Value>(&v.render_json(r#"{"n":"${foo}"}"#)).is_ok());
    }

    #[test]
    fn raw_and_form_rendering() {
        let v = sample();
        assert_eq!(v.render_raw("/u/${foo}/${name}${nope}"), "/u/b\"ar/a b.jpg");
        assert_eq!(v.render_form("name=${name}&size=${fileSize}"), "name=a%20b.jpg&size=12");
        assert_eq!(v.render_raw("${ unterminated ${"), "${ unterminated ${");
        assert_eq!(v.render_raw("中${dir}文"), "中/img文");
    }

    #[test]
    fn china_dates() {
        // 2023-11-14 22:13:20 UTC is 2023-11-15 06:13:20 in UTC+8.
        let t = china_time(1_700_000_000_000);
        assert_eq!((t.year, t.month, t.day, t.hour, t.minute, t.second), (2023, 11, 15, 6, 13, 20));
        let mut v = Vars::default();
        v.set_time(0);
        assert_eq!(v.render_raw("${year}/${month}/${day} ${hour}:${minute}:${second}"), "1970/01/01 08:00:00");
    }
}
