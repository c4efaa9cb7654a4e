//! Magic variables (wcs.md §1.3) in `returnBody`, `callbackBody` and `saveKey`, the reply bodies
//! built from them, and MIME types by file extension.

/// The values magic variables expand to.
#[derive(Debug, Default)]
pub struct Vars<'a> {
    pub bucket: &'a str,
    pub key: &'a str,
    pub fname: &'a str,
    pub hash: &'a str,
    pub fsize: u64,
    pub mime: &'a str,
    /// The access URL, already URL-safe base64 (`$(url)`).
    pub url: &'a str,
    pub ip: &'a str,
    pub cost_ms: u64,
    /// `$(persistentId)`: the id of the `persistentOps` job, "" without one.
    pub persistent_id: &'a str,
    /// Custom variables, names including the `x:` prefix.
    pub custom: &'a [(String, String)],
}

impl Vars<'_> {
    fn lookup(&self, name: &str) -> String {
        match name {
            "bucket" => self.bucket.to_owned(),
            "key" => self.key.to_owned(),
            "fname" => self.fname.to_owned(),
            "hash" | "etag" => self.hash.to_owned(),
            "fsize" => self.fsize.to_string(),
            "mimeType" => self.mime.to_owned(),
            "url" => self.url.to_owned(),
            "ip" => self.ip.to_owned(),
            "costTime" => self.cost_ms.to_string(),
            "persistentId" => self.persistent_id.to_owned(),
            // Unknown variables and unset custom variables expand to nothing.
            other => self.custom.iter().find(|(k, _)| k == other).map(|(_, v)| v.clone()).unwrap_or_default(),
        }
    }
}

/// Expand every `$(name)` in `template`. Text without a closing `)` is kept as is.
pub fn render(template: &str, vars: &Vars<'_>) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("$(") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find(')') {
            Some(end) => {
                out.push_str(&vars.lookup(&after[..end]));
                rest = &after[end + 1..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// The form upload reply before base64 (§3.2): the expanded `returnBody`, then `hash=<etag>`.
pub fn query_body(return_body: Option<&str>, vars: &Vars<'_>) -> String {
    match return_body.map(|t| render(t, vars)).filter(|b| !b.is_empty()) {
        Some(body) => format!("{body}&hash={}", vars.hash),
        None => format!("hash={}", vars.hash),
    }
}

/// The `mkfile` reply (§5.5): the `returnBody` fields as JSON strings in template order, then
/// `key` and `hash` unless the template already has them.
pub fn json_body(return_body: Option<&str>, vars: &Vars<'_>) -> String {
    let mut fields: Vec<(String, String)> = Vec::new();
    for part in return_body.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (name, value) = part.split_once('=').unwrap_or((part, ""));
        if !fields.iter().any(|(n, _)| n == name) {
            fields.push((name.to_owned(), render(value, vars)));
        }
    }
    for (name, value) in [("key", vars.key), ("hash", vars.hash)] {
        if !fields.iter().any(|(n, _)| n == name) {
            fields.push((name.to_owned(), value.to_owned()));
        }
    }
    let members: Vec<String> = fields
        .iter()
        .map(|(n, v)| format!("{}:{}", serde_json::Value::from(n.as_str()), serde_json::Value::from(v.as_str())))
        .collect();
    format!("{{{}}}", members.join(","))
}

/// A MIME type from the key's extension; `application/octet-stream` when unknown.
pub fn mime_for(key: &str) -> &'static str {
    let ext = key.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
    match ext.as_str() {
        "txt" | "log" => "text/plain",
        "htm" | "html" => "text/html",
        "css" => "text/css",
        "csv" => "text/csv",
        "js" | "mjs" => "application/javascript",
        "json" => "application/json",
        "xml" => "application/xml",
        "pdf" => "application/pdf",
        "zip" => "application/zip",
        "gz" => "application/gzip",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "bmp" => "image/bmp",
        "svg" => "image/svg+xml",
        "ico" => "image/x-icon",
        "mp3" => "audio/mpeg",
        "wav" => "audio/wav",
        "mp4" => "video/mp4",
        "webm" => "video/webm",
        "flv" => "video/x-flv",
        "ts" => "video/mp2t",
        "m3u8" => "application/vnd.apple.mpegurl",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(custom: &[(String, String)]) -> Vars<'_> {
        Vars {
            bucket: "b",
            key: "a.txt",
            fname: "orig.txt",
            hash: "FiqubDXJT8-0FdvpX0CLnOke6Ebt",
            fsize: 11,
            mime: "text/plain",
            custom,
            ..Default::default()
        }
    }

    #[test]
    fn renders_in_template_order() {
        let custom = [("x:pos".to_owned(), "abc".to_owned())];
        let v = vars(&custom);
        assert_eq!(
            query_body(Some("key=$(key)&fsize=$(fsize)"), &v),
            "key=a.txt&fsize=11&hash=FiqubDXJT8-0FdvpX0CLnOke6Ebt"
        );
        assert_eq!(query_body(None, &v), "hash=FiqubDXJT8-0FdvpX0CLnOke6Ebt");
        assert_eq!(render("p=$(x:pos)&q=$(x:none)&u=$(nope)&open=$(key", &v), "p=abc&q=&u=&open=$(key");
        assert_eq!(
            json_body(Some("position=$(x:pos)&message=Success&key=$(fname)"), &v),
            r#"{"position":"abc","message":"Success","key":"orig.txt","hash":"FiqubDXJT8-0FdvpX0CLnOke6Ebt"}"#
        );
        assert_eq!(json_body(None, &v), r#"{"key":"a.txt","hash":"FiqubDXJT8-0FdvpX0CLnOke6Ebt"}"#);
        assert_eq!(mime_for("dir/Photo.JPG"), "image/jpeg");
        assert_eq!(mime_for("noext"), "application/octet-stream");
    }
}
