//! Four SHA-1s in the lanes: wasm32 with simd128 only.

use core::arch::wasm32::{
    i8x16, i8x16_swizzle, i32x4_add, i32x4_extract_lane, i32x4_shl, i32x4_shuffle, i32x4_splat, i64x2_shuffle,
    u32x4_shr, v128, v128_bitselect, v128_load, v128_or, v128_xor,
};

/// SHA-1's initial state.
const H: [u32; 5] = [0x6745_2301, 0xEFCD_AB89, 0x98BA_DCFE, 0x1032_5476, 0xC3D2_E1F0];
/// The round constants, one per 20 rounds.
const K: [u32; 4] = [0x5A82_7999, 0x6ED9_EBA1, 0x8F1B_BCDC, 0xCA62_C1D6];

/// SHA-1 of each of four messages of the same length, a multiple of 64 bytes (as full etag
/// blocks are); `None` if they are not.
pub fn sha1_x4(messages: [&[u8]; 4]) -> Option<[[u8; 20]; 4]> {
    let len = messages[0].len();
    if !len.is_multiple_of(64) || messages.iter().any(|m| m.len() != len) {
        return None;
    }
    let mut state = H.map(|h| i32x4_splat(h as i32));
    for start in (0..len).step_by(RUN) {
        let end = (start + RUN).min(len);
        compress_run(&mut state, messages.map(|m| &m[start..end]));
    }
    // Every message has the same length, so the same padding block: 0x80, zeros, the length
    // in bits (big-endian). Through `compress_run` like the rest, so that the 80 rounds are in
    // the module once (a second copy was 8 KB of the bundle).
    let mut pad = [0u8; 64];
    pad[0] = 0x80;
    pad[56..].copy_from_slice(&(len as u64).wrapping_mul(8).to_be_bytes());
    compress_run(&mut state, [&pad; 4]);

    let mut out = [[0u8; 20]; 4];
    for (word, lanes) in state.iter().enumerate() {
        let words = [
            i32x4_extract_lane::<0>(*lanes),
            i32x4_extract_lane::<1>(*lanes),
            i32x4_extract_lane::<2>(*lanes),
            i32x4_extract_lane::<3>(*lanes),
        ];
        for (digest, w) in out.iter_mut().zip(words) {
            digest[4 * word..4 * word + 4].copy_from_slice(&(w as u32).to_be_bytes());
        }
    }
    Some(out)
}

/// Bytes per lane that one call of [`compress_run`] takes. V8 runs a wasm function first as its
/// baseline compiler made it and switches to the optimized code only at a later call: one call
/// over a whole 4 MiB block would hash all of it at the baseline's speed, a third of the other.
const RUN: usize = 64 * 1024;

/// The 64-byte blocks of four equally long runs of bytes, one run per lane.
#[inline(never)]
fn compress_run(state: &mut [v128; 5], runs: [&[u8]; 4]) {
    for offset in (0..runs[0].len()).step_by(64) {
        compress(state, load_transposed(runs.map(|r| &r[offset..offset + 64])));
    }
}

/// The sixteen big-endian message words of four 64-byte blocks, word `i` of block `k` in lane
/// `k` of the `i`th vector.
#[inline(always)]
fn load_transposed(blocks: [&[u8]; 4]) -> [v128; 16] {
    // Reverses the bytes of each 32-bit word: SHA-1 reads its words big-endian.
    const BSWAP: v128 = i8x16(3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12);
    let mut w = [i32x4_splat(0); 16];
    for quarter in 0..4 {
        let rows = blocks.map(|b| {
            let bytes: &[u8; 16] = b[16 * quarter..16 * quarter + 16].try_into().expect("16 bytes");
            // SAFETY: `bytes` is 16 readable bytes; `v128_load` needs no alignment.
            i8x16_swizzle(unsafe { v128_load(bytes.as_ptr().cast()) }, BSWAP)
        });
        // A 4×4 transpose of 32-bit words.
        let ab_low = i32x4_shuffle::<0, 4, 1, 5>(rows[0], rows[1]);
        let ab_high = i32x4_shuffle::<2, 6, 3, 7>(rows[0], rows[1]);
        let cd_low = i32x4_shuffle::<0, 4, 1, 5>(rows[2], rows[3]);
        let cd_high = i32x4_shuffle::<2, 6, 3, 7>(rows[2], rows[3]);
        w[4 * quarter] = i64x2_shuffle::<0, 2>(ab_low, cd_low);
        w[4 * quarter + 1] = i64x2_shuffle::<1, 3>(ab_low, cd_low);
        w[4 * quarter + 2] = i64x2_shuffle::<0, 2>(ab_high, cd_high);
        w[4 * quarter + 3] = i64x2_shuffle::<1, 3>(ab_high, cd_high);
    }
    w
}

#[inline(always)]
fn rotl<const N: u32>(x: v128) -> v128 {
    v128_or(i32x4_shl(x, N), u32x4_shr(x, 32 - N))
}

/// Message word `t` (0..80), expanded in place in the 16-word window `w`.
#[inline(always)]
fn word(w: &mut [v128; 16], t: usize) -> v128 {
    if t >= 16 {
        let x = v128_xor(v128_xor(w[(t - 3) & 15], w[(t - 8) & 15]), v128_xor(w[(t - 14) & 15], w[t & 15]));
        w[t & 15] = rotl::<1>(x);
    }
    w[t & 15]
}

/// The 80 rounds over one block of each lane.
#[inline(always)]
fn compress(state: &mut [v128; 5], mut w: [v128; 16]) {
    let [mut a, mut b, mut c, mut d, mut e] = *state;
    let k = K.map(|k| i32x4_splat(k as i32));
    // One round, written so that no variable moves: the caller rotates the names instead.
    macro_rules! round {
        ($t:expr, $a:ident, $b:ident, $c:ident, $d:ident, $e:ident) => {{
            let f = match $t / 20 {
                0 => v128_bitselect($c, $d, $b),               // choose: b ? c : d
                2 => v128_bitselect($c, $b, v128_xor($b, $d)), // majority of b, c, d
                _ => v128_xor(v128_xor($b, $c), $d),           // parity
            };
            let kw = i32x4_add(k[$t / 20], word(&mut w, $t));
            $e = i32x4_add(i32x4_add(rotl::<5>($a), f), i32x4_add($e, kw));
            $b = rotl::<30>($b);
        }};
    }
    macro_rules! five {
        ($t:expr) => {
            round!($t, a, b, c, d, e);
            round!($t + 1, e, a, b, c, d);
            round!($t + 2, d, e, a, b, c);
            round!($t + 3, c, d, e, a, b);
            round!($t + 4, b, c, d, e, a);
        };
    }
    five!(0);
    five!(5);
    five!(10);
    five!(15);
    five!(20);
    five!(25);
    five!(30);
    five!(35);
    five!(40);
    five!(45);
    five!(50);
    five!(55);
    five!(60);
    five!(65);
    five!(70);
    five!(75);
    for (s, v) in state.iter_mut().zip([a, b, c, d, e]) {
        *s = i32x4_add(*s, v);
    }
}
