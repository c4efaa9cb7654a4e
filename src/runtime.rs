//! The runtime shells: the only code that touches a particular platform's I/O. Everything they
//! do is implement the engine's traits ([`crate::engine::Transport`], [`crate::engine::Source`],
//! [`crate::engine::CheckpointStore`], [`crate::engine::Runtime`], token providers).
//!
//! * [`native`]: `reqwest`, files, a checkpoint directory, tokio timers.
//! * `web` (wasm32): `fetch`, `Blob`/`File`, `localStorage`, `setTimeout`.

/// How long an HTTP exchange may go without progress (no bytes of its body taken, no reply, no
/// bytes of the reply) before it fails as a network error and is tried again: long enough for a
/// slow link, short enough that a dead connection or a hung server does not hold an upload.
pub const IDLE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

#[cfg(not(target_arch = "wasm32"))]
pub mod native;
#[cfg(target_arch = "wasm32")]
pub mod web;
