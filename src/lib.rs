//! # yunup
//!
//! Direct uploads from clients to three Chinese cloud storage services — Wangsu **WCS**,
//! UCloud **UFile** (and its UVideo variant) and Alibaba **Wantu** — with tokens that the
//! user's own backend issues.
//!
//! This crate is the platform-neutral core. It compiles to native code (for backends and the
//! `yunup` CLI) and to `wasm32-unknown-unknown` (for browsers, workers and edge runtimes, through
//! the npm package `yunup`).
//!
//! ## Module map
//!
//! | module | job |
//! |---|---|
//! | [`hash`] | MD5, SHA-1, CRC32 and the vendors' block etags; incremental and chunk-boundary independent |
//! | [`sign`] | upload tokens, management tokens, request signatures and presigned URLs; verification |
//! | [`service`] | the three services' upload protocols as sans-IO request builders and reply parsers |
//! | [`engine`] | the upload engine: parts, concurrency, retries, verification, checkpoints, progress |
//! | [`runtime`] | the platform shells: `reqwest`/files natively, `fetch`/`Blob`/`localStorage` in wasm |
//! | [`manage`] | management APIs: listings, stat, copy/move/delete, async jobs, buckets |
//! | [`encoding`] | the base64 and hex flavours the three services use |
//! | [`calendar`] | Unix time to and from dates: HTTP dates, listing times |
//! | [`error`] | the one error type, with a kind a caller can branch on |
//!
//! The hashing and signing modules are *sans-IO*: they never read a clock, a file or the
//! network, so the same code is tested on both targets. Callers pass the current time in.

pub mod calendar;
pub mod encoding;
pub mod engine;
pub mod error;
pub mod hash;
pub(crate) mod json;
pub(crate) mod lenient;
pub mod manage;
pub mod runtime;
pub mod service;
pub mod sign;
#[cfg(test)]
mod testing;

#[cfg(target_arch = "wasm32")]
pub mod js;

pub use error::{Error, ErrorKind, Result};
