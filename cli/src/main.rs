//! `yunup`: etags, upload tokens and request signatures for WCS, UFile and Wantu.
//!
//! Secrets come from `YUNUP_ACCESS_KEY` / `YUNUP_SECRET_KEY`, a `--credentials-file`, or flags
//! (flags win, then the file, then the environment). Every failure prints one line that says what
//! to do and exits non-zero: 2 for a usage mistake, 1 for anything else.

mod credentials;
mod etag;
mod token;

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(name = "yunup", version, about = "Etags, upload tokens and signatures for WCS, UFile and Wantu")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
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

/// Where the key pair comes from; shared by every command that signs.
#[derive(Args, Clone, Debug, Default)]
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

/// A failure to report: the message, and whether it was a usage mistake (exit 2).
pub struct Failure {
    message: String,
    usage: bool,
}

impl Failure {
    pub fn usage(message: impl Into<String>) -> Self {
        Failure { message: message.into(), usage: true }
    }
}

impl From<yunup::Error> for Failure {
    fn from(err: yunup::Error) -> Self {
        let usage = err.kind() == yunup::ErrorKind::InvalidInput;
        Failure { message: err.to_string(), usage }
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
            // clap explains over several lines; keep the first, which names the problem.
            let text = err.to_string();
            let first = text.lines().next().unwrap_or("invalid arguments").trim_start_matches("error: ");
            eprintln!("yunup: {first} (see 'yunup --help')");
            return ExitCode::from(2);
        }
    };
    let result = match cli.command {
        Command::Etag(args) => etag::run(args),
        Command::Token(cmd) => token::run_token(cmd),
        Command::Sign(cmd) => token::run_sign(cmd),
        Command::Presign(cmd) => token::run_presign(cmd),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("yunup: {}", failure.message);
            ExitCode::from(if failure.usage { 2 } else { 1 })
        }
    }
}
