//! The runtime shells: the only code that touches a particular platform's I/O. Everything they
//! do is implement the engine's traits ([`crate::engine::Transport`], [`crate::engine::Source`],
//! [`crate::engine::CheckpointStore`], [`crate::engine::Runtime`], token providers).
//!
//! * [`native`]: `reqwest`, files, a checkpoint directory, tokio timers.
//! * `web` (wasm32): `fetch`, `Blob`/`File`, `localStorage`, `setTimeout`.

#[cfg(not(target_arch = "wasm32"))]
pub mod native;
#[cfg(target_arch = "wasm32")]
pub mod web;
