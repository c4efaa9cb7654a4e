//! The one error type of yunup.
//!
//! Every failure — a bad option, a tampered token, a reply the server should not have sent —
//! becomes an [`Error`] with an [`ErrorKind`] that callers can branch on and a message that says
//! what to do. Messages never contain secret keys.

use std::fmt;

/// What went wrong, coarsely: the thing a caller decides on (retry? ask for a new token? give up?).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The caller passed something unusable: a malformed policy, an empty bucket, a bad option.
    InvalidInput,
    /// A token or signature is missing, malformed, tampered with, expired or for the wrong scope.
    Auth,
    /// The request never got a reply (connection refused or reset, DNS, timeout).
    Network,
    /// The service answered with an error or with a reply we cannot understand.
    Server,
    /// Bytes do not match their hash: a part or a whole object differs from what was sent.
    Integrity,
    /// The operation was cancelled by the caller.
    Aborted,
    /// A local file or stream could not be read or written.
    Io,
}

impl ErrorKind {
    /// A stable lower-case name, used in JS (`error.kind`) and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::InvalidInput => "invalid-input",
            ErrorKind::Auth => "auth",
            ErrorKind::Network => "network",
            ErrorKind::Server => "server",
            ErrorKind::Integrity => "integrity",
            ErrorKind::Aborted => "aborted",
            ErrorKind::Io => "io",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A yunup error: a kind, a human message, and what the service said when there was a service.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    kind: ErrorKind,
    message: String,
    status: Option<u16>,
    code: Option<String>,
    request_id: Option<String>,
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A new error of `kind` with `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error { kind, message: message.into(), status: None, code: None, request_id: None }
    }

    /// Shorthand for [`ErrorKind::InvalidInput`].
    pub fn invalid_input(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidInput, message)
    }

    /// Shorthand for [`ErrorKind::Auth`].
    pub fn auth(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Auth, message)
    }

    /// Attach the HTTP status the service answered with.
    pub fn with_status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }

    /// Attach the service's own error code (WCS `code`, UFile `RetCode`, Wantu `code`).
    pub fn with_code(mut self, code: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self
    }

    /// Attach the request id the service returned, for support tickets.
    pub fn with_request_id(mut self, request_id: impl Into<String>) -> Self {
        self.request_id = Some(request_id.into());
        self
    }

    /// This error with `then`'s message added: what went wrong next, when this one is still
    /// the one to report (its status, code and request id are kept).
    pub fn and(mut self, then: &Error) -> Self {
        self.message = format!("{}; then {}", self.message, then.message);
        self
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }
    pub fn message(&self) -> &str {
        &self.message
    }
    pub fn status(&self) -> Option<u16> {
        self.status
    }
    pub fn code(&self) -> Option<&str> {
        self.code.as_deref()
    }
    pub fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }
}
