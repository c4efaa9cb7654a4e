//! Four SHA-1s at once, one per 32-bit lane of wasm's 128-bit SIMD.
//!
//! SHA-1 is a chain: each 64-byte block depends on the one before, so one message cannot be
//! hashed faster than a scalar core runs the rounds. The etags, though, hash every 4 MiB block
//! on its own, and four independent blocks can go through the rounds side by side: every step
//! of SHA-1 (32-bit add, xor, and/or, rotate) has a 4-lane SIMD form. In V8 that runs about
//! twice as fast as four scalar SHA-1s (`make bench`, row 1). Native builds do not use this:
//! the CPU's SHA extensions (which the `sha1` crate uses) are faster still.
//!
//! Only in wasm builds with `simd128` (`-C target-feature=+simd128`); elsewhere this crate is
//! empty. It is a crate of its own so that it is built at `opt-level = 3` in every profile.

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod lanes;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub use lanes::sha1_x4;
