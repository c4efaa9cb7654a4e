//! `yunup`: uploads, downloads, object and bucket management, etags, upload tokens and request
//! signatures for WCS, UFile and Wantu.
//!
//! Secrets come from `YUNUP_ACCESS_KEY` / `YUNUP_SECRET_KEY`, a `--credentials-file`, or flags
//! (flags win, then the file, then the environment). Every failure prints one line that says what
//! to do and exits non-zero: 2 for a usage mistake (an operation the service does not have
//! included), 130 for an upload or download stopped by Ctrl-C, 1 for anything else.

mod credentials;
mod etag;
mod manage;
mod token;
mod upload;

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "yunup",
    version,
    about = "Uploads, downloads, object management, etags, tokens and signatures for WCS, UFile and Wantu"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Upload FILE as KEY: in parts, resumable after Ctrl-C.
    Upload(upload::UploadArgs),
    /// List objects under BUCKET[/PREFIX], page by page.
    Ls(manage::LsArgs),
    /// Print what the service knows about one object.
    Stat(manage::StatArgs),
    /// Delete objects.
    Rm(manage::RmArgs),
    /// Copy an object (WCS).
    Cp(manage::CopyArgs),
    /// Move or rename an object (WCS; Wantu within a namespace).
    Mv(manage::CopyArgs),
    /// Set how many more days an object is kept (WCS).
    Expire(manage::ExpireArgs),
    /// Have the service download a URL into a bucket, as a background job (WCS fmgr).
    Fetch(manage::jobs::FetchArgs),
    /// Have the service zip objects into one archive, as a background job (WCS fmgr).
    Zip(manage::jobs::ZipArgs),
    /// Background jobs: status and wait (WCS fmgr and fops).
    #[command(subcommand)]
    Jobs(manage::jobs::JobsCommand),
    /// Download an object, or a byte range of it, resuming a partial file (UFile).
    Download(manage::download::DownloadArgs),
    /// Buckets: ls (WCS, UFile), create, rm, describe, set-private, set-public (UFile).
    #[command(subcommand)]
    Bucket(manage::bucket::BucketCommand),
    /// Folders: exists, create, rm (Wantu).
    #[command(subcommand)]
    Folder(manage::bucket::FolderCommand),
    /// Print the etag of each FILE, one per line, in argument order (`-` reads standard input).
    Etag(etag::EtagArgs),
    /// Mint an upload token.
    #[command(subcommand)]
    Token(token::TokenCommand),
    /// Print the `Authorization` value for one request.
    #[command(subcommand)]
    Sign(token::SignCommand),
    /// Print a presigned URL.
    #[command(subcommand)]
    Presign(token::PresignCommand),
}

/// Where the key pair comes from; shared by every command that signs. (`Debug` by hand: it must
/// not print the secret key.)
#[derive(Args, Clone, Default)]
pub struct KeyArgs {
    /// Access key (WCS AccessKey, UFile public key, Wantu AK). Default: $YUNUP_ACCESS_KEY.
    #[arg(long, global = true)]
    access_key: Option<String>,
    /// Secret key. Prefer $YUNUP_SECRET_KEY or --credentials-file: argv is visible to other users.
    #[arg(long, global = true)]
    secret_key: Option<String>,
    /// A file with `YUNUP_ACCESS_KEY=...` and `YUNUP_SECRET_KEY=...` lines.
    #[arg(long, global = true, value_name = "FILE")]
    credentials_file: Option<std::path::PathBuf>,
}

impl std::fmt::Debug for KeyArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyArgs")
            .field("access_key", &self.access_key)
            .field("secret_key", &self.secret_key.as_ref().map(|_| "<redacted>"))
            .field("credentials_file", &self.credentials_file)
            .finish()
    }
}

/// An error's message on one line, with its HTTP status, service code and request id (those the
/// message does not already say) in parentheses: the shared middle of every failure line.
pub fn error_text(err: &yunup::Error) -> String {
    let message: String = err.message().split_whitespace().collect::<Vec<_>>().join(" ");
    let details: Vec<String> = [
        err.status().map(|s| format!("HTTP {s}")).filter(|s| !message.contains(s.as_str())),
        err.code().map(|c| format!("code {c}")).filter(|c| !message.contains(c.as_str())),
        err.request_id().map(|r| format!("request id {r}")),
    ]
    .into_iter()
    .flatten()
    .collect();
    if details.is_empty() { message } else { format!("{message} ({})", details.join(", ")) }
}

/// A failure to report: the message, and the exit status (2 for a usage mistake).
pub struct Failure {
    message: String,
    exit: u8,
}

impl Failure {
    /// A usage mistake: exit 2.
    pub fn usage(message: impl Into<String>) -> Self {
        Failure { message: message.into(), exit: 2 }
    }

    /// Anything else that went wrong: exit 1.
    pub fn other(message: impl Into<String>) -> Self {
        Failure { message: message.into(), exit: 1 }
    }

    /// Stopped by Ctrl-C: exit 130, as shells report SIGINT.
    pub fn interrupted(message: impl Into<String>) -> Self {
        Failure { message: message.into(), exit: 130 }
    }

    /// Stop without a word and with success: the reader of standard output went away.
    pub fn quiet() -> Self {
        Failure { message: String::new(), exit: 0 }
    }
}

impl From<yunup::Error> for Failure {
    fn from(err: yunup::Error) -> Self {
        if err.kind() == yunup::ErrorKind::InvalidInput {
            Failure::usage(err.to_string())
        } else {
            Failure::other(err.to_string())
        }
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) if !err.use_stderr() => {
            // --help and --version.
            let _ = err.print();
            return ExitCode::SUCCESS;
        }
        Err(err) => {
            // clap explains over several lines; keep its first paragraph (the problem, and for a
            // missing argument the argument's name), on one line.
            let text = err.to_string();
            let first: Vec<&str> = text.lines().map(str::trim).take_while(|l| !l.is_empty()).collect();
            let first = first.join(" ");
            let first = first.trim_start_matches("error: ");
            let first = if first.is_empty() { "invalid arguments" } else { first };
            eprintln!("yunup: {first} (see 'yunup --help')");
            return ExitCode::from(2);
        }
    };
    let result = match cli.command {
        Command::Upload(args) => upload::run(args),
        Command::Ls(args) => manage::ls(args),
        Command::Stat(args) => manage::stat(args),
        Command::Rm(args) => manage::rm(args),
        Command::Cp(args) => manage::cp(args),
        Command::Mv(args) => manage::mv(args),
        Command::Expire(args) => manage::expire(args),
        Command::Fetch(args) => manage::jobs::fetch(args),
        Command::Zip(args) => manage::jobs::zip(args),
        Command::Jobs(cmd) => manage::jobs::jobs(cmd),
        Command::Download(args) => manage::download::download(args),
        Command::Bucket(cmd) => manage::bucket::run(cmd),
        Command::Folder(cmd) => manage::bucket::folder(cmd),
        Command::Etag(args) => etag::run(args),
        Command::Token(cmd) => token::run_token(cmd),
        Command::Sign(cmd) => token::run_sign(cmd),
        Command::Presign(cmd) => token::run_presign(cmd),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            if !failure.message.is_empty() {
                eprintln!("yunup: {}", failure.message);
            }
            ExitCode::from(failure.exit)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_args_do_not_print_the_secret_key() {
        let keys = KeyArgs { access_key: Some("AK1".into()), secret_key: Some("s3cret".into()), ..Default::default() };
        let shown = format!("{keys:?}");
        assert!(shown.contains("AK1") && shown.contains("redacted") && !shown.contains("s3cret"), "{shown}");
    }
}
