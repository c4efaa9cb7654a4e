//! Hashes side by side, one per 32-bit lane of wasm's 128-bit SIMD.
//!
//! MD5 and SHA-1 are chains: each 64-byte block depends on the one before, so one message cannot
//! be hashed faster than a scalar core runs the rounds. But every step of both (32-bit add, xor,
//! and/or, rotate) has a 4-lane SIMD form, so independent chains can run in one:
//!
//! - [`sha1_x4`]: four SHA-1s of four messages. The WCS and UFile etags hash every 4 MiB block on
//!   its own; four blocks at once run about twice as fast as four scalar SHA-1s in V8.
//! - [`md5_x2`]: two MD5 states fed the same blocks. A Wantu upload takes the MD5 of each part
//!   (checked against the part's ETag) and of the whole file (checked against the object's), so
//!   every byte goes through two MD5s; here it goes through the rounds once.
//!
//! Native builds do not use this: the `sha1` crate uses the CPU's SHA extensions, and native
//! uploads hash on threads of their own. Only in wasm builds with `simd128`
//! (`-C target-feature=+simd128`); elsewhere this crate is empty. It is a crate of its own so
//! that it is built at `opt-level = 3` in every profile.

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod md5x2;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod sha1x4;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub use md5x2::md5_x2;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub use sha1x4::sha1_x4;
