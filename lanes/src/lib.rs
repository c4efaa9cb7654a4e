//! Hashes side by side: independent chains of MD5 or SHA-1 run at once.
//!
//! MD5 and SHA-1 are chains: each 64-byte block depends on the one before, and within a block
//! each step on the step before, so one message cannot be hashed faster than a core runs the
//! steps one after the other. Independent chains can run side by side, though:
//!
//! - `sha1_x4`: four SHA-1s of four messages, one per 32-bit lane of wasm's 128-bit SIMD
//!   (every step of SHA-1 — 32-bit add, xor, and/or, rotate — has a 4-lane form). The WCS and
//!   UFile etags hash every 4 MiB block on its own; four blocks at once run about twice as fast
//!   as four scalar SHA-1s in V8. Wasm with `simd128` only: natively the `sha1` crate uses the
//!   CPU's SHA extensions, which are faster still.
//! - [`md5_x2`]: two MD5 states fed the same blocks. A Wantu upload takes the MD5 of each part
//!   (checked against the part's ETag) and of the whole file (checked against the object's), so
//!   every byte goes through two MD5s; here they run in one pass (two SIMD lanes in wasm, two
//!   interleaved scalar chains natively).
//!
//! Wasm builds get `simd128` from `.cargo/config.toml`. This is a crate of its own so that it is
//! built at `opt-level = 3` in every profile.

mod md5x2;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod sha1x4;
pub use md5x2::md5_x2;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub use sha1x4::sha1_x4;
