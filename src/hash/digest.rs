//! Plain digests: MD5, SHA-1 and CRC32, wrapped to share the [`Hasher`] trait and to print the
//! way the services want (lower-case hex; upper-case on request).

use sha1::Digest;

use super::Hasher;
use crate::encoding::{hex_lower, hex_upper};

/// The most bytes one `update` call of a hash crate (md-5, sha1) is given; [`feed`] cuts bigger
/// slices.
///
/// Why: under V8 (Node, Chromium) a wasm function starts in the baseline compiler (Liftoff) and
/// its optimised (TurboFan) code replaces it only for later calls, never in the middle of a
/// running one. The crates' compression functions loop over every whole block of the slice they
/// are given, so a fresh instance's first 4 MiB `update` ran all 4 MiB in baseline code. Measured
/// in Node 20 (the first 4 MiB `update` of a fresh process, the release wasm build): SHA-1 115-140
/// ms in one call against 21-31 ms in 64 KiB pieces (later updates ~13 ms either way); MD5 32-43
/// ms against 14-19 ms. That was most of the gap between a first pass and a warm one. Natively the
/// extra calls (64 per 4 MiB) cost nothing measurable, so there is no target switch here.
const PIECE: usize = 64 * 1024;

/// `hasher.update(data)`, in pieces of at most [`PIECE`] bytes (see there why).
pub(super) fn feed(hasher: &mut impl Digest, data: &[u8]) {
    for piece in data.chunks(PIECE) {
        hasher.update(piece);
    }
}

/// A 16-byte MD5 digest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Md5Digest(pub [u8; 16]);

impl Md5Digest {
    /// Lower-case hex, what UFile's `Content-MD5` and Wantu's `md5` expect.
    pub fn to_hex(&self) -> String {
        hex_lower(self.0)
    }
    /// Upper-case hex.
    pub fn to_hex_upper(&self) -> String {
        hex_upper(self.0)
    }
}

/// A 20-byte SHA-1 digest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Sha1Digest(pub [u8; 20]);

impl Sha1Digest {
    pub fn to_hex(&self) -> String {
        hex_lower(self.0)
    }
    pub fn to_hex_upper(&self) -> String {
        hex_upper(self.0)
    }
}

/// Incremental MD5: md-5's compression function, with the buffering here so that two MD5s of
/// the same bytes can share their rounds ([`Md5::update_both`]).
#[derive(Clone)]
pub struct Md5 {
    state: [u32; 4],
    /// The start of a block not hashed yet: `pending[..pending_len]`.
    pending: [u8; 64],
    pending_len: usize,
    /// Bytes taken in all.
    len: u64,
}

// By hand: a derived `Debug` would print the pending bytes of the data being hashed.
impl std::fmt::Debug for Md5 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Md5").field("len", &self.len).finish_non_exhaustive()
    }
}

impl Default for Md5 {
    fn default() -> Self {
        Md5 { state: [0x6745_2301, 0xefcd_ab89, 0x98ba_dcfe, 0x1032_5476], pending: [0; 64], pending_len: 0, len: 0 }
    }
}

impl Md5 {
    /// `a.update(data); b.update(data)`, in one pass where it can: when `a` and `b` are at the
    /// same offset in their 64-byte blocks (say a part's MD5 and the whole file's, the parts being
    /// whole blocks), the blocks they then share go through both chains at once
    /// ([`yunup_lanes::md5_x2`]: two SIMD lanes in wasm, two interleaved chains natively).
    pub fn update_both(a: &mut Md5, b: &mut Md5, data: &[u8]) {
        if a.pending_len != b.pending_len {
            a.update(data);
            b.update(data);
            return;
        }
        // Each fills its own pending block (their bytes before differ), then the rest is
        // block-aligned in both.
        let rest = a.fill_pending(data);
        b.fill_pending(data);
        let (blocks, tail) = as_blocks(rest);
        let mut states = [a.state, b.state];
        yunup_lanes::md5_x2(&mut states, blocks);
        [a.state, b.state] = states;
        a.keep(tail);
        b.keep(tail);
    }

    /// Counts `data` in and completes the pending block from it (hashing it once full); returns
    /// the bytes left, which start a block.
    fn fill_pending<'a>(&mut self, data: &'a [u8]) -> &'a [u8] {
        self.len = self.len.wrapping_add(data.len() as u64);
        if self.pending_len == 0 {
            return data;
        }
        let take = (64 - self.pending_len).min(data.len());
        self.pending[self.pending_len..self.pending_len + take].copy_from_slice(&data[..take]);
        self.pending_len += take;
        if self.pending_len == 64 {
            md5::block_api::compress(&mut self.state, &[self.pending]);
            self.pending_len = 0;
        }
        &data[take..]
    }

    /// Keeps the tail after whole blocks (less than one) for the next call.
    fn keep(&mut self, tail: &[u8]) {
        if !tail.is_empty() {
            self.pending[..tail.len()].copy_from_slice(tail);
            self.pending_len = tail.len();
        }
    }
}

/// `data` as whole 64-byte blocks and the bytes after them: `<[u8]>::as_chunks`, which is
/// stable only since Rust 1.88 (this crate supports 1.85).
fn as_blocks(data: &[u8]) -> (&[[u8; 64]], &[u8]) {
    let (blocks, tail) = data.split_at(data.len() / 64 * 64);
    // SAFETY: `[u8; 64]` has the size of 64 `u8`s and their alignment, and `blocks` holds
    // exactly `blocks.len() / 64` of them.
    (unsafe { std::slice::from_raw_parts(blocks.as_ptr().cast(), blocks.len() / 64) }, tail)
}

impl Hasher for Md5 {
    type Output = Md5Digest;
    fn update(&mut self, data: &[u8]) {
        let rest = self.fill_pending(data);
        let (blocks, tail) = as_blocks(rest);
        // In pieces of [`PIECE`] bytes, as [`feed`] (see there why).
        for piece in blocks.chunks(PIECE / 64) {
            md5::block_api::compress(&mut self.state, piece);
        }
        self.keep(tail);
    }
    fn finalize(mut self) -> Md5Digest {
        // RFC 1321 §3.1–3.2: 0x80, zeros to 56 mod 64, the length in bits (little-endian).
        let bits = self.len.wrapping_mul(8);
        let mut last = [0u8; 128];
        last[..self.pending_len].copy_from_slice(&self.pending[..self.pending_len]);
        last[self.pending_len] = 0x80;
        let end = if self.pending_len < 56 { 64 } else { 128 };
        last[end - 8..end].copy_from_slice(&bits.to_le_bytes());
        md5::block_api::compress(&mut self.state, as_blocks(&last[..end]).0);
        let mut out = [0u8; 16];
        for (bytes, word) in out.chunks_exact_mut(4).zip(self.state) {
            bytes.copy_from_slice(&word.to_le_bytes());
        }
        Md5Digest(out)
    }
}

/// Incremental SHA-1.
#[derive(Clone, Debug, Default)]
pub struct Sha1(sha1::Sha1);

impl Hasher for Sha1 {
    type Output = Sha1Digest;
    fn update(&mut self, data: &[u8]) {
        feed(&mut self.0, data);
    }
    fn finalize(self) -> Sha1Digest {
        Sha1Digest(self.0.finalize().into())
    }
}

/// Incremental CRC-32 (IEEE, as zlib and WCS compute it).
#[derive(Clone, Debug, Default)]
pub struct Crc32(CrcState);

// Natively crc32fast (PCLMULQDQ / ARM CRC instructions). In wasm it has no such path and would
// use its portable slice-by-16 with 16 KiB of tables compiled in, which gzip cannot shrink; the
// same algorithm below computes those tables on first use instead.
#[cfg(not(target_arch = "wasm32"))]
type CrcState = crc32fast::Hasher;
#[cfg(target_arch = "wasm32")]
type CrcState = slice16::Crc32;

impl Crc32 {
    /// A CRC-32 that continues from `crc`, the CRC of the bytes before (0 for none): what
    /// zlib's `crc32(crc, data)` computes, so that a hash begun elsewhere can be finished here.
    pub fn with_initial(crc: u32) -> Self {
        #[cfg(not(target_arch = "wasm32"))]
        return Crc32(crc32fast::Hasher::new_with_initial(crc));
        #[cfg(target_arch = "wasm32")]
        return Crc32(slice16::Crc32::with_initial(crc));
    }
}

impl Hasher for Crc32 {
    type Output = u32;
    fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }
    fn finalize(self) -> u32 {
        self.0.finalize()
    }
}

/// CRC-32 (IEEE) slice-by-16, as crc32fast's portable fallback, with tables built at run time.
#[cfg(any(target_arch = "wasm32", test))]
mod slice16 {
    use std::sync::OnceLock;

    type Tables = [[u32; 256]; 16];

    fn tables() -> &'static Tables {
        static TABLES: OnceLock<Box<Tables>> = OnceLock::new();
        TABLES.get_or_init(|| {
            let mut t = Box::new([[0u32; 256]; 16]);
            for i in 0..256 {
                let mut c = i as u32;
                for _ in 0..8 {
                    c = if c & 1 != 0 { (c >> 1) ^ 0xedb8_8320 } else { c >> 1 };
                }
                t[0][i] = c;
            }
            for k in 1..16 {
                for i in 0..256 {
                    let p = t[k - 1][i];
                    t[k][i] = (p >> 8) ^ t[0][(p & 0xff) as usize];
                }
            }
            t
        })
    }

    /// The CRC of everything so far (finalized form; 0 for nothing).
    #[derive(Clone, Debug, Default)]
    pub(crate) struct Crc32 {
        crc: u32,
    }

    impl Crc32 {
        pub(crate) fn with_initial(crc: u32) -> Self {
            Crc32 { crc }
        }

        pub(crate) fn update(&mut self, data: &[u8]) {
            let t = tables();
            let b = |x: u32| (x & 0xff) as usize;
            let mut crc = !self.crc;
            let mut chunks = data.chunks_exact(16);
            for c in &mut chunks {
                let x = crc ^ u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
                crc = t[15][b(x)]
                    ^ t[14][b(x >> 8)]
                    ^ t[13][b(x >> 16)]
                    ^ t[12][b(x >> 24)]
                    ^ t[11][c[4] as usize]
                    ^ t[10][c[5] as usize]
                    ^ t[9][c[6] as usize]
                    ^ t[8][c[7] as usize]
                    ^ t[7][c[8] as usize]
                    ^ t[6][c[9] as usize]
                    ^ t[5][c[10] as usize]
                    ^ t[4][c[11] as usize]
                    ^ t[3][c[12] as usize]
                    ^ t[2][c[13] as usize]
                    ^ t[1][c[14] as usize]
                    ^ t[0][c[15] as usize];
            }
            for &byte in chunks.remainder() {
                crc = t[0][b(crc ^ u32::from(byte))] ^ (crc >> 8);
            }
            self.crc = !crc;
        }

        pub(crate) fn finalize(self) -> u32 {
            self.crc
        }
    }

    #[cfg(all(test, not(target_arch = "wasm32")))]
    #[test]
    fn agrees_with_crc32fast() {
        let data: Vec<u8> = (0..5000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        for len in [0, 1, 15, 16, 17, 31, 32, 33, 100, 4096, 5000] {
            for split in [0, len / 3, len / 2] {
                let mut ours = Crc32::default();
                ours.update(&data[..split]);
                ours.update(&data[split..len]);
                assert_eq!(ours.finalize(), crc32fast::hash(&data[..len]), "len {len}, split {split}");
                // Continued from a finished CRC of the bytes before, as zlib's `crc32(crc, ..)`.
                let mut rest = Crc32::with_initial(crc32fast::hash(&data[..split]));
                rest.update(&data[split..len]);
                assert_eq!(rest.finalize(), crc32fast::hash(&data[..len]), "len {len}, resumed at {split}");
            }
        }
    }
}
