//! x86-64 int8 micro-kernels, chosen at run time. All take A as i8 (W) and
//! B as u8 (X), k in groups of 4: one 32-bit lane of B is one column's 4
//! activations, and a row's 4 weights are one 32-bit broadcast.
//!
//! - AVX2, 4x16: `vpmaddubsw` (u8 x s8, adjacent pairs summed into i16,
//!   saturating: with 7-bit weights |pair| <= 255 x 64 x 2 = 32640, exact),
//!   `vpmaddwd` by ones (i16 pairs -> i32), `vpaddd`. 8 accumulators, 2 B
//!   vectors, the broadcast, the ones and a product: 6x16 would need 17 of
//!   the 16 ymm registers.
//! - AVX-VNNI, 4x16: one `vpdpbusd` on ymm per 32 multiply-adds, in the
//!   AVX2 tile's place and layout (Intel's client CPUs have it without
//!   AVX-512).
//! - AVX-512BW, 8x32: the same as AVX2 on zmm, 16 accumulators (as the f32 8x32).
//! - AVX-512 VNNI, 8x32: one `vpdpbusd` (u8 x s8, 4 products summed into the
//!   i32 accumulator, no saturation) per 64 multiply-adds, the weights'
//!   broadcast folded into it as a `{1to16}` memory operand.

use super::types::{AStore, BStore, Int8Kernel, Int8Kind};
use crate::kernels::qparams::ROUND;
use crate::kernels::quant::BnReluMaps;
use crate::kernels::Strided;
use std::arch::x86_64::*;

pub const AVX2: Int8Kernel = Int8Kernel {
    kind: Int8Kind::Avx2,
    mr: 4,
    nr: 16,
    kg: 4,
    a_store: AStore::I8,
    b_store: BStore::U8,
    tile: tile_avx2,
    quads: Some(quads_avx2),
};
pub const AVXVNNI: Int8Kernel =
    Int8Kernel { kind: Int8Kind::AvxVnni, tile: tile_avxvnni, quads: Some(quads_avxvnni), ..AVX2 };
pub const AVX512BW: Int8Kernel = Int8Kernel {
    kind: Int8Kind::Avx512Bw,
    mr: 8,
    nr: 32,
    kg: 4,
    a_store: AStore::I8,
    b_store: BStore::U8,
    tile: tile_avx512bw,
    quads: Some(quads_avx512bw),
};
pub const AVX512VNNI: Int8Kernel = Int8Kernel {
    kind: Int8Kind::Avx512Vnni,
    mr: 8,
    nr: 32,
    kg: 4,
    a_store: AStore::I8,
    b_store: BStore::U8,
    tile: tile_vnni,
    quads: Some(quads_vnni),
};

/// A row's 4 weights of a group, as one i32.
#[inline(always)]
unsafe fn quad(a: *const u8, r: usize) -> i32 {
    (a.add(4 * r) as *const i32).read_unaligned()
}

#[target_feature(enable = "avx2")]
unsafe fn tile_avx2(
    groups: usize,
    a: *const u8,
    b: *const u8,
    c: Strided<*mut i32>,
    row_off: *const i32,
    _col_off: *const i32,
    _row_neg: *const i32,
) {
    avx2_4x16(groups, a, |g| b.add(g * 64), c, row_off)
}

#[target_feature(enable = "avx2")]
unsafe fn quads_avx2(
    groups: usize,
    a: *const u8,
    (b, offs): (*const u8, *const usize),
    c: Strided<*mut i32>,
    row_off: *const i32,
    _col_off: *const i32,
    _row_neg: *const i32,
) {
    avx2_4x16(groups, a, |g| b.add(*offs.add(g)), c, row_off)
}

/// The AVX2 tile over k group `g`'s 64 bytes of B at `b_at(g)`.
#[inline(always)]
unsafe fn avx2_4x16(
    groups: usize,
    a: *const u8,
    b_at: impl Fn(usize) -> *const u8,
    c: Strided<*mut i32>,
    row_off: *const i32,
) {
    let ones = _mm256_set1_epi16(1);
    ymm_4x16(groups, a, b_at, c, row_off, |acc, b, w| {
        _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(b, w), ones))
    })
}

#[target_feature(enable = "avx2,avxvnni")]
unsafe fn tile_avxvnni(
    groups: usize,
    a: *const u8,
    b: *const u8,
    c: Strided<*mut i32>,
    row_off: *const i32,
    _col_off: *const i32,
    _row_neg: *const i32,
) {
    ymm_4x16(groups, a, |g| b.add(g * 64), c, row_off, |acc, b, w| _mm256_dpbusd_avx_epi32(acc, b, w))
}

#[target_feature(enable = "avx2,avxvnni")]
unsafe fn quads_avxvnni(
    groups: usize,
    a: *const u8,
    (b, offs): (*const u8, *const usize),
    c: Strided<*mut i32>,
    row_off: *const i32,
    _col_off: *const i32,
    _row_neg: *const i32,
) {
    ymm_4x16(groups, a, |g| b.add(*offs.add(g)), c, row_off, |acc, b, w| _mm256_dpbusd_avx_epi32(acc, b, w))
}

/// The 4x16 tile on ymm over k group `g`'s 64 bytes of B at `b_at(g)`,
/// `dot(acc, b, w)` adding each column's 4 products with a row's 4 weights.
#[inline(always)]
unsafe fn ymm_4x16(
    groups: usize,
    a: *const u8,
    b_at: impl Fn(usize) -> *const u8,
    c: Strided<*mut i32>,
    row_off: *const i32,
    dot: impl Fn(__m256i, __m256i, __m256i) -> __m256i,
) {
    let (c, ldc) = (c.ptr, c.ld);
    const MR: usize = 4;
    const NV: usize = 2;
    let mut acc = [[_mm256_setzero_si256(); NV]; MR];
    let mut a = a;
    for g in 0..groups {
        let b = b_at(g);
        let bv = [_mm256_loadu_si256(b as *const __m256i), _mm256_loadu_si256(b.add(32) as *const __m256i)];
        for r in 0..MR {
            let w = _mm256_set1_epi32(quad(a, r));
            for v in 0..NV {
                acc[r][v] = dot(acc[r][v], bv[v], w);
            }
        }
        a = a.add(MR * 4);
    }
    for r in 0..MR {
        let off = _mm256_set1_epi32(*row_off.add(r));
        for v in 0..NV {
            _mm256_storeu_si256(c.add(r * ldc + v * 8) as *mut __m256i, _mm256_add_epi32(acc[r][v], off));
        }
    }
}

#[target_feature(enable = "avx512f,avx512bw")]
unsafe fn tile_avx512bw(
    groups: usize,
    a: *const u8,
    b: *const u8,
    c: Strided<*mut i32>,
    row_off: *const i32,
    _col_off: *const i32,
    _row_neg: *const i32,
) {
    avx512bw_8x32(groups, a, |g| b.add(g * 128), c, row_off)
}

#[target_feature(enable = "avx512f,avx512bw")]
unsafe fn quads_avx512bw(
    groups: usize,
    a: *const u8,
    (b, offs): (*const u8, *const usize),
    c: Strided<*mut i32>,
    row_off: *const i32,
    _col_off: *const i32,
    _row_neg: *const i32,
) {
    avx512bw_8x32(groups, a, |g| b.add(*offs.add(g)), c, row_off)
}

/// The AVX-512BW tile over k group `g`'s 128 bytes of B at `b_at(g)`.
#[inline(always)]
unsafe fn avx512bw_8x32(
    groups: usize,
    a: *const u8,
    b_at: impl Fn(usize) -> *const u8,
    c: Strided<*mut i32>,
    row_off: *const i32,
) {
    let (c, ldc) = (c.ptr, c.ld);
    const MR: usize = 8;
    const NV: usize = 2;
    let ones = _mm512_set1_epi16(1);
    let mut acc = [[_mm512_setzero_si512(); NV]; MR];
    let mut a = a;
    for g in 0..groups {
        let b = b_at(g);
        let bv = [_mm512_loadu_si512(b as *const __m512i), _mm512_loadu_si512(b.add(64) as *const __m512i)];
        for r in 0..MR {
            let w = _mm512_set1_epi32(quad(a, r));
            for v in 0..NV {
                let pairs = _mm512_maddubs_epi16(bv[v], w);
                acc[r][v] = _mm512_add_epi32(acc[r][v], _mm512_madd_epi16(pairs, ones));
            }
        }
        a = a.add(MR * 4);
    }
    store512(acc, c, ldc, row_off);
}

#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
unsafe fn tile_vnni(
    groups: usize,
    a: *const u8,
    b: *const u8,
    c: Strided<*mut i32>,
    row_off: *const i32,
    _col_off: *const i32,
    _row_neg: *const i32,
) {
    vnni_8x32(groups, a, |g| b.add(g * 128), c, row_off)
}

#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
unsafe fn quads_vnni(
    groups: usize,
    a: *const u8,
    (b, offs): (*const u8, *const usize),
    c: Strided<*mut i32>,
    row_off: *const i32,
    _col_off: *const i32,
    _row_neg: *const i32,
) {
    vnni_8x32(groups, a, |g| b.add(*offs.add(g)), c, row_off)
}

/// The VNNI tile over k group `g`'s 128 bytes of B at `b_at(g)`.
#[inline(always)]
unsafe fn vnni_8x32(
    groups: usize,
    a: *const u8,
    b_at: impl Fn(usize) -> *const u8,
    c: Strided<*mut i32>,
    row_off: *const i32,
) {
    let (c, ldc) = (c.ptr, c.ld);
    const MR: usize = 8;
    const NV: usize = 2;
    let mut acc = [[_mm512_setzero_si512(); NV]; MR];
    let mut a = a;
    for g in 0..groups {
        let b = b_at(g);
        let bv = [_mm512_loadu_si512(b as *const __m512i), _mm512_loadu_si512(b.add(64) as *const __m512i)];
        for r in 0..MR {
            let w = _mm512_set1_epi32(quad(a, r));
            for v in 0..NV {
                acc[r][v] = _mm512_dpbusd_epi32(acc[r][v], bv[v], w);
            }
        }
        a = a.add(MR * 4);
    }
    store512(acc, c, ldc, row_off);
}

#[inline(always)]
unsafe fn store512(acc: [[__m512i; 2]; 8], c: *mut i32, ldc: usize, row_off: *const i32) {
    for (r, row) in acc.iter().enumerate() {
        let off = _mm512_set1_epi32(*row_off.add(r));
        for (v, &x) in row.iter().enumerate() {
            _mm512_storeu_si512(c.add(r * ldc + v * 16) as *mut __m512i, _mm512_add_epi32(x, off));
        }
    }
}

/// 4 rows' 16 bytes interleaved by `punpck{l,h}bw` then `punpck{l,h}wd`
/// (SSE2, the baseline) into column quads: columns 0-3 (each its 4 rows'
/// bytes), 4-7, 8-11, 12-15.
#[inline(always)]
unsafe fn quads([r0, r1, r2, r3]: [__m128i; 4]) -> [__m128i; 4] {
    let (t0, t1) = (_mm_unpacklo_epi8(r0, r1), _mm_unpackhi_epi8(r0, r1));
    let (t2, t3) = (_mm_unpacklo_epi8(r2, r3), _mm_unpackhi_epi8(r2, r3));
    [_mm_unpacklo_epi16(t0, t2), _mm_unpackhi_epi16(t0, t2), _mm_unpacklo_epi16(t1, t3), _mm_unpackhi_epi16(t1, t3)]
}

/// `int8::interleave_quads` of whole 16 columns by [`quads`]: the number of
/// columns done.
pub(super) unsafe fn interleave_quads(rows: [*const u8; 4], len: usize, dst: *mut u8, flip: u8) -> usize {
    let f = _mm_set1_epi8(flip as i8);
    let mut x = 0;
    while x + 16 <= len {
        let q = quads(rows.map(|r| _mm_xor_si128(_mm_loadu_si128(r.add(x) as *const __m128i), f)));
        for (i, q) in q.into_iter().enumerate() {
            _mm_storeu_si128(dst.add(4 * x + 16 * i) as *mut __m128i, q);
        }
        x += 16;
    }
    x
}

/// B panel of `nr` (a multiple of 16, at most 64) columns from `x` (X[0][n0],
/// rows `ld` apart), `nc` of them real, k in groups of 4, u8: for each 16
/// columns of a group, the 4 rows' bytes interleaved by [`quads`]. Rows past K and columns past nc are
/// zeros (a partial panel's rows go through a zero-padded copy).
pub(super) unsafe fn pack_u8_quads(x: *const u8, ld: usize, k: usize, nr: usize, nc: usize, dst: *mut u8) {
    debug_assert!(nr <= 64 && nc <= nr);
    let zero = _mm_setzero_si128();
    let mut tmp = [[0u8; 64]; 4];
    for g in 0..k.div_ceil(4) {
        let rows = (k - 4 * g).min(4);
        let out = dst.add(g * nr * 4);
        let mut src = x.add(4 * g * ld);
        let mut stride = ld;
        if nc < nr {
            for (t, row) in tmp.iter_mut().enumerate().take(rows) {
                std::ptr::copy_nonoverlapping(src.add(t * ld), row.as_mut_ptr(), nc);
            }
            (src, stride) = (tmp.as_ptr() as *const u8, 64);
        }
        for j in (0..nr).step_by(16) {
            let row =
                |t: usize| if t < rows { _mm_loadu_si128(src.add(t * stride + j) as *const __m128i) } else { zero };
            let o = out.add(j * 4) as *mut __m128i;
            for (i, q) in quads([row(0), row(1), row(2), row(3)]).into_iter().enumerate() {
                _mm_storeu_si128(o.add(i), q);
            }
        }
    }
}

/// 8 lanes of `quant::ChannelMap` (the constants `m`: zp, k, m_zc, a, b,
/// 4 channels twice) on u32 codes `c`: the rounded ReLU code as i32, before
/// the packing that saturates it to 0..=255 (`BnReluMaps`).
#[inline(always)]
unsafe fn map8(c: __m256i, m: &[__m256; 5]) -> __m256i {
    let round = _mm256_set1_ps(ROUND);
    let x = _mm256_sub_ps(_mm256_cvtepi32_ps(c), m[0]);
    let t = _mm256_sub_ps(_mm256_add_ps(_mm256_mul_ps(x, m[1]), round), m[2]);
    let t = _mm256_min_ps(_mm256_max_ps(t, _mm256_setzero_ps()), _mm256_set1_ps(255.0));
    let y = _mm256_add_ps(_mm256_mul_ps(t, m[3]), m[4]);
    _mm256_sub_epi32(_mm256_castps_si256(_mm256_add_ps(y, round)), _mm256_set1_epi32(ROUND.to_bits() as i32))
}

/// [`pack_u8_quads`] of the codes `maps` gives `x`'s (what `q_bn_relu`
/// writes, byte for byte) in one pass: each group's 4 rows interleaved
/// first, so that a vector's lanes are 2 columns of 4 channels and the
/// constants one broadcast each. A full panel (`nr` a multiple of 16), k a
/// multiple of 4.
#[target_feature(enable = "avx2")]
pub(super) unsafe fn pack_bn_relu_quads(x: *const u8, ld: usize, k: usize, nr: usize, maps: &BnReluMaps, dst: *mut u8) {
    // packs then packus leave each 128-bit lane's columns 0, 2, 4, 6 and
    // 1, 3, 5, 7: back in order.
    let order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    for g in 0..k / 4 {
        let at = |v: &Vec<f32>| _mm256_broadcast_ps(&*(v.as_ptr().add(4 * g) as *const __m128));
        let m = [at(&maps.zp), at(&maps.k), at(&maps.m_zc), at(&maps.a), at(&maps.b)];
        let src = x.add(4 * g * ld);
        let out = dst.add(g * nr * 4);
        for j in (0..nr).step_by(16) {
            let row = |t: usize| _mm_loadu_si128(src.add(t * ld + j) as *const __m128i);
            for (h, q) in quads([row(0), row(1), row(2), row(3)]).chunks_exact(2).enumerate() {
                let two = |v: __m128i| map8(_mm256_cvtepu8_epi32(v), &m);
                let r = [two(q[0]), two(_mm_srli_si128::<8>(q[0])), two(q[1]), two(_mm_srli_si128::<8>(q[1]))];
                let codes = _mm256_packus_epi16(_mm256_packs_epi32(r[0], r[1]), _mm256_packs_epi32(r[2], r[3]));
                let o = out.add(j * 4 + 32 * h) as *mut __m256i;
                _mm256_storeu_si256(o, _mm256_permutevar8x32_epi32(codes, order));
            }
        }
    }
}

/// [`map8`] on 16 lanes (4 columns of 4 channels): the same float
/// operations in the same order, so the same codes.
#[inline(always)]
unsafe fn map16(c: __m512i, m: &[__m512; 5]) -> __m512i {
    let round = _mm512_set1_ps(ROUND);
    let x = _mm512_sub_ps(_mm512_cvtepi32_ps(c), m[0]);
    let t = _mm512_sub_ps(_mm512_add_ps(_mm512_mul_ps(x, m[1]), round), m[2]);
    let t = _mm512_min_ps(_mm512_max_ps(t, _mm512_setzero_ps()), _mm512_set1_ps(255.0));
    let y = _mm512_add_ps(_mm512_mul_ps(t, m[3]), m[4]);
    _mm512_sub_epi32(_mm512_castps_si512(_mm512_add_ps(y, round)), _mm512_set1_epi32(ROUND.to_bits() as i32))
}

/// [`pack_bn_relu_quads`] on zmm: each interleaved quad of 4 columns is
/// one vector, saturated to 0..=255 by a max and `vpmovusdb` (the AVX2
/// version's two packs), in column order with no permute. Where conv1's
/// packing is a sixth of the int8 network's time (Zen 5, VNNI tiles).
#[target_feature(enable = "avx512f,avx512bw")]
pub(super) unsafe fn pack_bn_relu_quads_512(
    x: *const u8,
    ld: usize,
    k: usize,
    nr: usize,
    maps: &BnReluMaps,
    dst: *mut u8,
) {
    let zero = _mm512_setzero_si512();
    for g in 0..k / 4 {
        let at = |v: &Vec<f32>| _mm512_broadcast_f32x4(_mm_loadu_ps(v.as_ptr().add(4 * g)));
        let m = [at(&maps.zp), at(&maps.k), at(&maps.m_zc), at(&maps.a), at(&maps.b)];
        let src = x.add(4 * g * ld);
        let out = dst.add(g * nr * 4);
        for j in (0..nr).step_by(16) {
            let row = |t: usize| _mm_loadu_si128(src.add(t * ld + j) as *const __m128i);
            for (i, q) in quads([row(0), row(1), row(2), row(3)]).into_iter().enumerate() {
                let codes = map16(_mm512_cvtepu8_epi32(q), &m);
                let o = out.add(j * 4 + 16 * i) as *mut __m128i;
                _mm_storeu_si128(o, _mm512_cvtusepi32_epi8(_mm512_max_epi32(codes, zero)));
            }
        }
    }
}
