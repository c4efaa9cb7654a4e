//! Finding the key pair: flags, then `--credentials-file`, then the environment.

use yunup::sign::Credentials;

use crate::{Failure, KeyArgs};

const ACCESS_ENV: &str = "YUNUP_ACCESS_KEY";
const SECRET_ENV: &str = "YUNUP_SECRET_KEY";

/// Resolve the key pair, or say exactly which half is missing and how to provide it.
pub fn resolve(args: &KeyArgs) -> Result<Credentials, Failure> {
    let (mut access, mut secret) = (args.access_key.clone(), args.secret_key.clone());
    if let Some(path) = &args.credentials_file {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Failure::usage(format!("cannot read credentials file {}: {e}", path.display())))?;
        let (file_access, file_secret) = parse_file(&text).map_err(|line| {
            Failure::usage(format!("credentials file {}: line {line} is not KEY=VALUE", path.display()))
        })?;
        access = access.or(file_access);
        secret = secret.or(file_secret);
    }
    let access = access.or_else(|| std::env::var(ACCESS_ENV).ok()).filter(|s| !s.is_empty());
    let secret = secret.or_else(|| std::env::var(SECRET_ENV).ok()).filter(|s| !s.is_empty());
    match (access, secret) {
        (Some(a), Some(s)) => Ok(Credentials::new(a, s)),
        (None, _) => {
            Err(Failure::usage(format!("no access key: set {ACCESS_ENV}, or pass --access-key or --credentials-file")))
        }
        (_, None) => Err(Failure::usage(format!(
            "no secret key: set {SECRET_ENV}, or pass --credentials-file (or --secret-key)"
        ))),
    }
}

/// `KEY=VALUE` lines; `#` comments and blank lines ignored. Accepts the environment variable
/// names and the short `access_key` / `secret_key`. Returns the number of a bad line.
fn parse_file(text: &str) -> Result<(Option<String>, Option<String>), usize> {
    let (mut access, mut secret) = (None, None);
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = line.split_once('=').ok_or(n + 1)?;
        let value = value.trim().trim_matches('"').to_owned();
        match key.trim().to_ascii_lowercase().as_str() {
            "yunup_access_key" | "access_key" => access = Some(value),
            "yunup_secret_key" | "secret_key" => secret = Some(value),
            _ => {}
        }
    }
    Ok((access, secret))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_spellings_and_reports_bad_lines() {
        let (a, s) = parse_file("# keys\nYUNUP_ACCESS_KEY=ak\n\nsecret_key = \"sk\"\n").unwrap();
        assert_eq!((a.as_deref(), s.as_deref()), (Some("ak"), Some("sk")));
        assert_eq!(parse_file("ok=1\nbroken\n"), Err(2));
    }
}
