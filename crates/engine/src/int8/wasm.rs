//! wasm32 int8 micro-kernels, 4x8 like the f32 ones (V8 gives wasm 15 xmm
//! registers on x86-64: 8 accumulators, 2 B vectors, the weights and their
//! broadcasts).
//!
//! - simd128: `i32x4.dot_i16x8_s` (`pmaddwd`) on i16 pairs, k in pairs. B is
//!   packed as i16 (zero-extended u8: once per panel instead of once per A
//!   panel); A stays i8 (8 bytes per pair of k's for 4 rows, one
//!   `v128.load64_zero` and one `i16x8.extend_low_i8x16_s`), so the weights
//!   take no more memory than the int8 file. 8 multiply-adds per dot.
//! - relaxed SIMD, k in groups of 4, 16 multiply-adds per dot. The relaxed
//!   dots are defined only while their second operand is in 0..=127, so that
//!   operand is the weights, stored as W + 64 (0..=127), and the first
//!   (signed i8) is the activations, stored as X - 128 (X ^ 0x80). Then
//!   sum (W + 64)(X - 128) = S and
//!   sum W (X - zx) = S - 64 colsum(X - 128) - (zx - 128) rowsum(W):
//!   the column term comes with the packed panel (`pack_b`), the row term
//!   with the row offsets. W = +64 (onnxruntime's reduce_range gives
//!   -64..=64) does not fit: such rows are stored negated and the epilogue
//!   negates them back, and a +64 left in a row that also holds -64 is
//!   stored as 63 and corrected by the driver (mod.rs). Two tiles on that
//!   layout:
//!   - `Simd128Relaxed` (where dot-add is not one instruction): `i16x8.relaxed_dot_i8x16_i7x16_s`
//!     (V8: `pmaddubsw`, the i7 operand as its unsigned one; a pair is at
//!     most 128 x 127 x 2 = 32512, no saturation), `i32x4.dot_i16x8_s` by
//!     ones (`pmaddwd`), `i32x4.add`: 3 instructions per 16 multiply-adds.
//!   - `Simd128RelaxedAdd`: `i32x4.relaxed_dot_i8x16_i7x16_add_s`. V8 on
//!     x86-64 without AVX-VNNI lowers it to the same three plus 2 that
//!     rebuild the i16 ones every time, so there it is slower than the
//!     split tile. Where V8 has AVX-VNNI (`vpdpbusd`) or on ARM (`sdot`) it is
//!     one instruction; the build takes it where the engine lowers it to
//!     `vpdpbusd` (`Int8Kind::available`, `dot_add_is_fused`: Chromium 156
//!     and workerd on a Zen 5, 1.75x the split tile's rate). Node 20's V8 (11.3, relaxed
//!     SIMD behind `--experimental-wasm-relaxed-simd`) miscompiles it in
//!     this tile: rows 2-3 of the first 4 columns come out wrong, while
//!     Chromium 156 runs the same module bit-exact;
//!     tests/engine/int8-wasm.test.mjs checks it in Chromium only.

use super::types::{AStore, BStore, Int8Kernel, Int8Kind};
use crate::kernels::qparams::ROUND;
use crate::kernels::quant::BnReluMaps;
use crate::kernels::wasm::{max, min};
use crate::kernels::Strided;
use core::arch::wasm32::*;

pub const SIMD128: Int8Kernel = Int8Kernel {
    kind: Int8Kind::Simd128,
    mr: 4,
    nr: 8,
    kg: 2,
    a_store: AStore::I8,
    b_store: BStore::I16,
    tile: tile_simd128,
    quads: None,
};
#[cfg(target_feature = "relaxed-simd")]
pub const RELAXED: Int8Kernel = Int8Kernel {
    kind: Int8Kind::Simd128Relaxed,
    mr: 4,
    nr: 8,
    kg: 4,
    a_store: AStore::U7,
    b_store: BStore::I8,
    tile: tile_relaxed,
    quads: Some(quads_relaxed),
};
#[cfg(target_feature = "relaxed-simd")]
pub const RELAXED_ADD: Int8Kernel =
    Int8Kernel { kind: Int8Kind::Simd128RelaxedAdd, tile: tile_relaxed_add, quads: Some(quads_relaxed_add), ..RELAXED };

#[inline(always)]
fn splat4(w: v128) -> [v128; 4] {
    [
        i32x4_shuffle::<0, 0, 0, 0>(w, w),
        i32x4_shuffle::<1, 1, 1, 1>(w, w),
        i32x4_shuffle::<2, 2, 2, 2>(w, w),
        i32x4_shuffle::<3, 3, 3, 3>(w, w),
    ]
}

/// C = acc + row_off, or for the relaxed tiles C = sign (acc + col_off) +
/// row_off, the sign from the row's mask in `row_neg` (0 or -1: x ^ -1 - -1
/// = -x).
#[inline(always)]
unsafe fn store(acc: [[v128; 2]; 4], c: Strided<*mut i32>, row_off: *const i32, col: Option<(*const i32, *const i32)>) {
    let (c, ldc) = (c.ptr, c.ld);
    let (cols, neg) = match col {
        Some((col_off, row_neg)) => {
            ([v128_load(col_off as *const v128), v128_load(col_off.add(4) as *const v128)], Some(row_neg))
        }
        None => ([i32x4_splat(0); 2], None),
    };
    for (r, row) in acc.iter().enumerate() {
        let off = i32x4_splat(*row_off.add(r));
        for (v, &x) in row.iter().enumerate() {
            let y = match neg {
                Some(neg) => {
                    let s = i32x4_splat(*neg.add(r));
                    i32x4_sub(v128_xor(i32x4_add(x, cols[v]), s), s)
                }
                None => x,
            };
            v128_store(c.add(r * ldc + 4 * v) as *mut v128, i32x4_add(y, off));
        }
    }
}

unsafe fn tile_simd128(
    groups: usize,
    a: *const u8,
    b: *const u8,
    c: Strided<*mut i32>,
    row_off: *const i32,
    _col_off: *const i32,
    _row_neg: *const i32,
) {
    let mut acc = [[i32x4_splat(0); 2]; 4];
    let (mut a, mut b) = (a, b);
    for _ in 0..groups {
        let bv = [v128_load(b as *const v128), v128_load(b.add(16) as *const v128)];
        let w = splat4(i16x8_extend_low_i8x16(v128_load64_zero(a as *const u64)));
        for r in 0..4 {
            for v in 0..2 {
                acc[r][v] = i32x4_add(acc[r][v], i32x4_dot_i16x8(bv[v], w[r]));
            }
        }
        a = a.add(8);
        b = b.add(32);
    }
    store(acc, c, row_off, None);
}

/// The relaxed tiles: `DOT_ADD` picks `i32x4.relaxed_dot_i8x16_i7x16_add_s`,
/// else `i16x8.relaxed_dot_i8x16_i7x16_s` + `i32x4.dot_i16x8_s` by ones +
/// `i32x4.add` (LLVM keeps them apart: `dot_i16x8` by ones is not the
/// `extadd_pairwise` it would fuse into the first).
#[cfg(target_feature = "relaxed-simd")]
#[inline(always)]
unsafe fn relaxed<const DOT_ADD: bool>(
    groups: usize,
    a: *const u8,
    b_at: impl Fn(usize) -> *const u8,
    c: Strided<*mut i32>,
    row_off: *const i32,
    col_off: *const i32,
    row_neg: *const i32,
) {
    let mut acc = [[i32x4_splat(0); 2]; 4];
    let mut a = a;
    let ones = i16x8_splat(1);
    for g in 0..groups {
        let b = b_at(g);
        let bv = [v128_load(b as *const v128), v128_load(b.add(16) as *const v128)];
        let w = splat4(v128_load(a as *const v128));
        for r in 0..4 {
            for v in 0..2 {
                acc[r][v] = if DOT_ADD {
                    i32x4_relaxed_dot_i8x16_i7x16_add(bv[v], w[r], acc[r][v])
                } else {
                    i32x4_add(acc[r][v], i32x4_dot_i16x8(i16x8_relaxed_dot_i8x16_i7x16(bv[v], w[r]), ones))
                };
            }
        }
        a = a.add(16);
    }
    store(acc, c, row_off, Some((col_off, row_neg)));
}

#[cfg(target_feature = "relaxed-simd")]
unsafe fn tile_relaxed(
    groups: usize,
    a: *const u8,
    b: *const u8,
    c: Strided<*mut i32>,
    row_off: *const i32,
    col_off: *const i32,
    row_neg: *const i32,
) {
    relaxed::<false>(groups, a, |g| b.add(32 * g), c, row_off, col_off, row_neg)
}

#[cfg(target_feature = "relaxed-simd")]
unsafe fn quads_relaxed(
    groups: usize,
    a: *const u8,
    (b, offs): (*const u8, *const usize),
    c: Strided<*mut i32>,
    row_off: *const i32,
    col_off: *const i32,
    row_neg: *const i32,
) {
    relaxed::<false>(groups, a, |g| b.add(*offs.add(g)), c, row_off, col_off, row_neg)
}

#[cfg(target_feature = "relaxed-simd")]
unsafe fn tile_relaxed_add(
    groups: usize,
    a: *const u8,
    b: *const u8,
    c: Strided<*mut i32>,
    row_off: *const i32,
    col_off: *const i32,
    row_neg: *const i32,
) {
    relaxed::<true>(groups, a, |g| b.add(32 * g), c, row_off, col_off, row_neg)
}

#[cfg(target_feature = "relaxed-simd")]
unsafe fn quads_relaxed_add(
    groups: usize,
    a: *const u8,
    (b, offs): (*const u8, *const usize),
    c: Strided<*mut i32>,
    row_off: *const i32,
    col_off: *const i32,
    row_neg: *const i32,
) {
    relaxed::<true>(groups, a, |g| b.add(*offs.add(g)), c, row_off, col_off, row_neg)
}

/// Row `p`'s 8 bytes in the low half of a v128; for a partial panel (`nc`
/// < 8) its nc bytes then `pad`.
#[inline(always)]
unsafe fn row8(p: *const u8, nc: usize, pad: u8) -> v128 {
    if nc == 8 {
        v128_load64_zero(p as *const u64)
    } else {
        let mut tmp = [pad; 8];
        std::ptr::copy_nonoverlapping(p, tmp.as_mut_ptr(), nc);
        v128_load64_zero(tmp.as_ptr() as *const u64)
    }
}

/// B panel of 8 columns (`nc` real) for simd128 from `x` (X[0][n0], rows
/// `ld` apart): per pair of rows, their 8 bytes interleaved (`i8x16.shuffle`)
/// and zero-extended to i16. Rows past K and columns past nc are zeros.
pub(super) unsafe fn pack_i16_pairs(x: *const u8, ld: usize, k: usize, nc: usize, dst: *mut u8) {
    let zero = i32x4_splat(0);
    for g in 0..k.div_ceil(2) {
        let r0 = row8(x.add(2 * g * ld), nc, 0);
        let r1 = if 2 * g + 1 < k { row8(x.add((2 * g + 1) * ld), nc, 0) } else { zero };
        let il = i8x16_shuffle::<0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23>(r0, r1);
        v128_store(dst.add(32 * g) as *mut v128, u16x8_extend_low_u8x16(il));
        v128_store(dst.add(32 * g + 16) as *mut v128, u16x8_extend_high_u8x16(il));
    }
}

/// 4 rows' 8 bytes interleaved (bytes, then pairs) into column quads:
/// columns 0-3 (each its 4 rows' bytes), then columns 4-7.
#[inline(always)]
fn quads([r0, r1, r2, r3]: [v128; 4]) -> [v128; 2] {
    let t01 = i8x16_shuffle::<0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23>(r0, r1);
    let t23 = i8x16_shuffle::<0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23>(r2, r3);
    [i16x8_shuffle::<0, 8, 1, 9, 2, 10, 3, 11>(t01, t23), i16x8_shuffle::<4, 12, 5, 13, 6, 14, 7, 15>(t01, t23)]
}

/// `int8::interleave_quads` of whole 8 columns by [`quads`]: the number of
/// columns done.
pub(super) unsafe fn interleave_quads(rows: [*const u8; 4], len: usize, dst: *mut u8, flip: u8) -> usize {
    let f = u8x16_splat(flip);
    let mut x = 0;
    while x + 8 <= len {
        let [q0, q1] = quads(rows.map(|r| v128_xor(v128_load64_zero(r.add(x) as *const u64), f)));
        v128_store(dst.add(4 * x) as *mut v128, q0);
        v128_store(dst.add(4 * x + 16) as *mut v128, q1);
        x += 8;
    }
    x
}

/// col_off[j] = scale * column j's sum (the lanes: columns 0-3, then 4-7).
#[inline(always)]
unsafe fn store_col_terms([s0, s1]: [v128; 2], scale: i32, col_off: &mut [i32]) {
    let s = i32x4_splat(scale);
    v128_store(col_off.as_mut_ptr() as *mut v128, i32x4_mul(s0, s));
    v128_store(col_off.as_mut_ptr().add(4) as *mut v128, i32x4_mul(s1, s));
}

/// B panel of 8 columns (`nc` real) for the relaxed dots: per group of 4
/// rows, their 8 bytes flipped (X ^ 0x80 = X - 128), interleaved by two
/// shuffles, and (if `scale` is not 0) col_off[j] = scale * the column's sum
/// of stored values, summed by `extadd_pairwise` as it goes. Rows past K and
/// columns past nc are zeros (after the flip).
pub(super) unsafe fn pack_i8_quads(
    x: *const u8,
    ld: usize,
    k: usize,
    nc: usize,
    dst: *mut u8,
    col_off: &mut [i32],
    scale: i32,
) {
    let zero = i32x4_splat(0);
    let flip = u8x16_splat(0x80);
    let (mut s0, mut s1) = (zero, zero);
    for g in 0..k.div_ceil(4) {
        let row = |t: usize| if 4 * g + t < k { v128_xor(row8(x.add((4 * g + t) * ld), nc, 0x80), flip) } else { zero };
        let [o0, o1] = quads([row(0), row(1), row(2), row(3)]);
        v128_store(dst.add(32 * g) as *mut v128, o0);
        v128_store(dst.add(32 * g + 16) as *mut v128, o1);
        if scale != 0 {
            s0 = i32x4_add(s0, i32x4_extadd_pairwise_i16x8(i16x8_extadd_pairwise_i8x16(o0)));
            s1 = i32x4_add(s1, i32x4_extadd_pairwise_i16x8(i16x8_extadd_pairwise_i8x16(o1)));
        }
    }
    store_col_terms([s0, s1], scale, col_off);
}

/// The constants of [`map4`] and the narrowing, in locals: V8 builds a
/// `v128.const` anew at each use in a loop (several instructions; LLVM puts
/// them in the loop as it takes them to be free), and LLVM keeps values it
/// cannot see through (`black_box`, once per call) out of it.
#[derive(Clone, Copy)]
struct Consts {
    round: v128,
    round_bits: v128,
    f255: v128,
    /// 0 as f32 and as i16.
    zero: v128,
    i255: v128,
    /// The relaxed sets' X - 128 (X ^ 0x80).
    flip: v128,
}

#[inline(always)]
fn consts() -> Consts {
    std::hint::black_box(Consts {
        round: f32x4_splat(ROUND),
        round_bits: u32x4_splat(ROUND.to_bits()),
        f255: f32x4_splat(255.0),
        zero: i32x4_splat(0),
        i255: i16x8_splat(255),
        flip: u8x16_splat(0x80),
    })
}

/// 4 lanes of `quant::ChannelMap` (the constants `m`: zp, k, m_zc, a, b,
/// a channel per lane) on u32 codes `c`: the rounded ReLU code as i32,
/// before the narrowing that saturates it to 0..=255 (`BnReluMaps`).
#[inline(always)]
unsafe fn map4(c: v128, m: &[v128; 5], k: Consts) -> v128 {
    let x = f32x4_sub(f32x4_convert_i32x4(c), m[0]);
    let t = f32x4_sub(f32x4_add(f32x4_mul(x, m[1]), k.round), m[2]);
    let t = min(max(t, k.zero), k.f255);
    let y = f32x4_add(f32x4_mul(t, m[3]), m[4]);
    i32x4_sub(f32x4_add(y, k.round), k.round_bits)
}

/// The codes of 16 bytes of codes in quad order (4 columns of the 4
/// channels of `m`'s lanes). The two saturating narrows (to i16, then to
/// u8) are one instruction each, but LLVM rewrites such a chain into
/// clamps and shuffles (19 instructions for the 4): adding `k.zero`, which
/// LLVM cannot see is 0, between them keeps the first narrows.
#[inline(always)]
unsafe fn codes16(o: v128, m: &[v128; 5], k: Consts) -> v128 {
    let (lo, hi) = (u16x8_extend_low_u8x16(o), u16x8_extend_high_u8x16(o));
    let r0 = map4(u32x4_extend_low_u16x8(lo), m, k);
    let r1 = map4(u32x4_extend_high_u16x8(lo), m, k);
    let r2 = map4(u32x4_extend_low_u16x8(hi), m, k);
    let r3 = map4(u32x4_extend_high_u16x8(hi), m, k);
    let (a, b) = (i16x8_narrow_i32x4(r0, r1), i16x8_narrow_i32x4(r2, r3));
    u8x16_narrow_i16x8(i16x8_add(a, k.zero), i16x8_add(b, k.zero))
}

/// [`pack_i8_quads`] of the codes `maps` gives `x`'s (what `q_bn_relu`
/// writes, byte for byte) in one pass: each group's 4 rows interleaved
/// first, so that a vector's lanes are 4 channels and the constants one
/// load each. A full panel (8 columns), k a multiple of 4.
pub(super) unsafe fn pack_bn_relu_quads(
    x: *const u8,
    ld: usize,
    k: usize,
    maps: &BnReluMaps,
    dst: *mut u8,
    col_off: &mut [i32],
    scale: i32,
) {
    let k8 = consts();
    let (mut s0, mut s1) = (i32x4_splat(0), i32x4_splat(0));
    for g in 0..k / 4 {
        let row = |t: usize| v128_load64_zero(x.add((4 * g + t) * ld) as *const u64);
        let [o0, o1] = quads([row(0), row(1), row(2), row(3)]);
        let at = |v: &Vec<f32>| v128_load(v.as_ptr().add(4 * g) as *const v128);
        let m = [at(&maps.zp), at(&maps.k), at(&maps.m_zc), at(&maps.a), at(&maps.b)];
        let (q0, q1) = (codes16(o0, &m, k8), codes16(o1, &m, k8));
        let (q0, q1) = (v128_xor(q0, k8.flip), v128_xor(q1, k8.flip));
        v128_store(dst.add(32 * g) as *mut v128, q0);
        v128_store(dst.add(32 * g + 16) as *mut v128, q1);
        s0 = i32x4_add(s0, i32x4_extadd_pairwise_i16x8(i16x8_extadd_pairwise_i8x16(q0)));
        s1 = i32x4_add(s1, i32x4_extadd_pairwise_i16x8(i16x8_extadd_pairwise_i8x16(q1)));
    }
    store_col_terms([s0, s1], scale, col_off);
}

/// [`pack_i16_pairs`] of the codes `maps` gives `x`'s in one pass, as
/// [`pack_bn_relu_quads`]: a vector's lanes are 2 columns of a pair of
/// channels. A full panel (8 columns), k even.
pub(super) unsafe fn pack_bn_relu_pairs(x: *const u8, ld: usize, k: usize, maps: &BnReluMaps, dst: *mut u8) {
    let c = consts();
    for g in 0..k / 2 {
        let row = |t: usize| v128_load64_zero(x.add((2 * g + t) * ld) as *const u64);
        let il = i8x16_shuffle::<0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23>(row(0), row(1));
        let at = |v: &Vec<f32>| v128_load64_splat(v.as_ptr().add(2 * g) as *const u64);
        let m = [at(&maps.zp), at(&maps.k), at(&maps.m_zc), at(&maps.a), at(&maps.b)];
        for (h, o) in [u16x8_extend_low_u8x16(il), u16x8_extend_high_u8x16(il)].into_iter().enumerate() {
            let (r0, r1) = (map4(u32x4_extend_low_u16x8(o), &m, c), map4(u32x4_extend_high_u16x8(o), &m, c));
            let codes = i16x8_min(i16x8_max(i16x8_narrow_i32x4(r0, r1), c.zero), c.i255);
            v128_store(dst.add(32 * g + 16 * h) as *mut v128, codes);
        }
    }
}
