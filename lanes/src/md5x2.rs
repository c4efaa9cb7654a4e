//! Two MD5s of the same blocks at once: in wasm SIMD lanes, or as two scalar chains interleaved.

/// MD5's sine table: `K[i] = floor(|sin(i + 1)| · 2³²)` (RFC 1321 §3.4).
#[rustfmt::skip]
const K: [u32; 64] = [
    0xd76a_a478, 0xe8c7_b756, 0x2420_70db, 0xc1bd_ceee, 0xf57c_0faf, 0x4787_c62a, 0xa830_4613, 0xfd46_9501,
    0x6980_98d8, 0x8b44_f7af, 0xffff_5bb1, 0x895c_d7be, 0x6b90_1122, 0xfd98_7193, 0xa679_438e, 0x49b4_0821,
    0xf61e_2562, 0xc040_b340, 0x265e_5a51, 0xe9b6_c7aa, 0xd62f_105d, 0x0244_1453, 0xd8a1_e681, 0xe7d3_fbc8,
    0x21e1_cde6, 0xc337_07d6, 0xf4d5_0d87, 0x455a_14ed, 0xa9e3_e905, 0xfcef_a3f8, 0x676f_02d9, 0x8d2a_4c8a,
    0xfffa_3942, 0x8771_f681, 0x6d9d_6122, 0xfde5_380c, 0xa4be_ea44, 0x4bde_cfa9, 0xf6bb_4b60, 0xbebf_bc70,
    0x289b_7ec6, 0xeaa1_27fa, 0xd4ef_3085, 0x0488_1d05, 0xd9d4_d039, 0xe6db_99e5, 0x1fa2_7cf8, 0xc4ac_5665,
    0xf429_2244, 0x432a_ff97, 0xab94_23a7, 0xfc93_a039, 0x655b_59c3, 0x8f0c_cc92, 0xffef_f47d, 0x8584_5dd1,
    0x6fa8_7e4f, 0xfe2c_e6e0, 0xa301_4314, 0x4e08_11a1, 0xf753_7e82, 0xbd3a_f235, 0x2ad7_d2bb, 0xeb86_d391,
];

/// The left rotations of each round's four steps.
const SHIFTS: [[u32; 4]; 4] = [[7, 12, 17, 22], [5, 9, 14, 20], [4, 11, 16, 23], [6, 10, 15, 21]];

/// The message word that step `i` (0..64) adds.
const fn word_index(i: usize) -> usize {
    match i / 16 {
        0 => i,
        1 => (5 * i + 1) % 16,
        2 => (3 * i + 5) % 16,
        _ => (7 * i) % 16,
    }
}

/// Step `i`'s `K[i] + word`: the same for both chains, and ready before the step's round
/// function (which waits for the step before).
#[inline(always)]
fn k_plus_word(i: usize, m: &[u32; 16]) -> u32 {
    K[i].wrapping_add(m[word_index(i)])
}

/// Continues two MD5s over the same 64-byte blocks: `states` end as two calls of md-5's
/// `compress(state, blocks)` would leave them, in one pass over the blocks.
///
/// MD5's steps each wait on the one before, so one chain leaves most of a CPU idle; two chains
/// fill it. In wasm with simd128 the two states sit in lanes 0 and 1 of SIMD vectors (lanes 2
/// and 3 idle: there are only two chains to run): in Node, 64 MiB through both took 205 ms
/// against 300 ms for two scalar passes (a SIMD rotate is two shifts and an or, so a lane's step
/// is slower than a scalar one; two scalar chains interleaved in one loop took 300 ms in V8).
/// Natively the two scalar chains are interleaved step by step, and the CPU runs both at once:
/// 256 MiB through both in 0.65–0.73 s against 1.34–1.37 s for two passes of md-5 (x86-64).
pub fn md5_x2(states: &mut [[u32; 4]; 2], blocks: &[[u8; 64]]) {
    for run in blocks.chunks(RUN) {
        run_blocks(states, run);
    }
}

/// Blocks that one call of [`run_blocks`] takes (64 KiB). V8 runs a wasm function first as its
/// baseline compiler made it and switches to the optimized code only at a later call.
const RUN: usize = 1024;

/// One step, written so that no variable moves: the caller rotates the names instead. `$f` is
/// the round function of `b, c, d`; `$add` and `$rotl` the arithmetic of one chain (or lanes).
macro_rules! step {
    ($i:expr, $km:expr, $a:ident, $b:ident, $c:ident, $d:ident, $f:ident, $add:ident, $rotl:ident) => {
        let early = $add($a, $km);
        $a = $add($b, $rotl($add(early, $f($i, $b, $c, $d)), SHIFTS[$i / 16][$i % 4]));
    };
}

/// The 64 steps, four at a time: `$four!(i)` runs steps `i..i + 4`.
macro_rules! all_steps {
    ($four:ident) => {
        $four!(0);
        $four!(4);
        $four!(8);
        $four!(12);
        $four!(16);
        $four!(20);
        $four!(24);
        $four!(28);
        $four!(32);
        $four!(36);
        $four!(40);
        $four!(44);
        $four!(48);
        $four!(52);
        $four!(56);
        $four!(60);
    };
}

fn message(block: &[u8; 64]) -> [u32; 16] {
    core::array::from_fn(|i| u32::from_le_bytes([block[4 * i], block[4 * i + 1], block[4 * i + 2], block[4 * i + 3]]))
}

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[inline(never)]
fn run_blocks(states: &mut [[u32; 4]; 2], blocks: &[[u8; 64]]) {
    use core::arch::wasm32::{
        i32x4, i32x4_add, i32x4_extract_lane, i32x4_shl, i32x4_splat, u32x4_shr, v128, v128_bitselect, v128_not,
        v128_or, v128_xor,
    };
    #[inline(always)]
    fn f(i: usize, b: v128, c: v128, d: v128) -> v128 {
        match i / 16 {
            0 => v128_bitselect(c, d, b), // b ? c : d
            1 => v128_bitselect(b, c, d), // d ? b : c
            2 => v128_xor(v128_xor(b, c), d),
            _ => v128_xor(c, v128_or(b, v128_not(d))),
        }
    }
    #[inline(always)]
    fn rotl(x: v128, n: u32) -> v128 {
        v128_or(i32x4_shl(x, n), u32x4_shr(x, 32 - n))
    }
    let mut state = [0, 1, 2, 3].map(|i| i32x4(states[0][i] as i32, states[1][i] as i32, 0, 0));
    for block in blocks {
        let m = message(block);
        let [mut a, mut b, mut c, mut d] = state;
        macro_rules! four {
            ($i:expr) => {
                step!($i, i32x4_splat(k_plus_word($i, &m) as i32), a, b, c, d, f, i32x4_add, rotl);
                step!($i + 1, i32x4_splat(k_plus_word($i + 1, &m) as i32), d, a, b, c, f, i32x4_add, rotl);
                step!($i + 2, i32x4_splat(k_plus_word($i + 2, &m) as i32), c, d, a, b, f, i32x4_add, rotl);
                step!($i + 3, i32x4_splat(k_plus_word($i + 3, &m) as i32), b, c, d, a, f, i32x4_add, rotl);
            };
        }
        all_steps!(four);
        for (s, v) in state.iter_mut().zip([a, b, c, d]) {
            *s = i32x4_add(*s, v);
        }
    }
    for (i, word) in state.iter().enumerate() {
        states[0][i] = i32x4_extract_lane::<0>(*word) as u32;
        states[1][i] = i32x4_extract_lane::<1>(*word) as u32;
    }
}

#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
#[inline(never)]
fn run_blocks(states: &mut [[u32; 4]; 2], blocks: &[[u8; 64]]) {
    #[inline(always)]
    fn f(i: usize, b: u32, c: u32, d: u32) -> u32 {
        match i / 16 {
            0 => d ^ (b & (c ^ d)),
            1 => c ^ (d & (b ^ c)),
            2 => b ^ c ^ d,
            _ => c ^ (b | !d),
        }
    }
    let add = u32::wrapping_add;
    let rotl = u32::rotate_left;
    for block in blocks {
        let m = message(block);
        let [mut a, mut b, mut c, mut d] = states[0];
        let [mut a2, mut b2, mut c2, mut d2] = states[1];
        macro_rules! four {
            ($i:expr) => {
                step!($i, k_plus_word($i, &m), a, b, c, d, f, add, rotl);
                step!($i, k_plus_word($i, &m), a2, b2, c2, d2, f, add, rotl);
                step!($i + 1, k_plus_word($i + 1, &m), d, a, b, c, f, add, rotl);
                step!($i + 1, k_plus_word($i + 1, &m), d2, a2, b2, c2, f, add, rotl);
                step!($i + 2, k_plus_word($i + 2, &m), c, d, a, b, f, add, rotl);
                step!($i + 2, k_plus_word($i + 2, &m), c2, d2, a2, b2, f, add, rotl);
                step!($i + 3, k_plus_word($i + 3, &m), b, c, d, a, f, add, rotl);
                step!($i + 3, k_plus_word($i + 3, &m), b2, c2, d2, a2, f, add, rotl);
            };
        }
        all_steps!(four);
        for (s, v) in states[0].iter_mut().zip([a, b, c, d]) {
            *s = s.wrapping_add(v);
        }
        for (s, v) in states[1].iter_mut().zip([a2, b2, c2, d2]) {
            *s = s.wrapping_add(v);
        }
    }
}
