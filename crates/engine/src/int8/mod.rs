//! int8 GEMM micro-kernels (what an int8 model's convs run, `ops::quant`)
//! and their B packers. Each kernel set computes, exactly in 32-bit integers,
//!
//! ```text
//! C[m][n] = bias[m] + sum_k W[m][k] * (X[k][n] - zx)
//! ```
//!
//! for weights W in -64..=64 (onnxruntime's `reduce_range=True`: its "7-bit"
//! int8 range is (-64, 64), and symmetric per-channel scales put each
//! channel's largest |w| at -64 or +64; zero point 0) and 8-bit activations X in
//! 0..=255 (QUInt8) with one zero point `zx` per tensor. Integer arithmetic
//! has one answer, so every set is tested bit for bit against [`reference`]
//! (tests/int8_kernels.rs natively, tests/engine/int8-wasm.test.mjs in wasm).
//!
//! # Operands as the kernels store them
//!
//! A kernel set stores W as `W + a_shift` and X as `X - b_shift` (see
//! [`AStore`], [`BStore`]), k in groups of `kg` consecutive values (the
//! operand width of its dot instruction: 4 for `vpdpbusd`, `vpmaddubsw` +
//! `vpmaddwd`, `sdot` and wasm's relaxed dots, 2 for wasm's `i32x4.dot_i16x8_s`
//! and the portable loop). With S the sum of the stored products:
//!
//! ```text
//! sum_k W (X - zx) = S - a_shift * colsum(stored X)[n] - (zx - b_shift) * rowsum(W)[m]
//! ```
//!
//! The row term (and the bias) is `row_off` ([`PackedA8::row_offsets`], once
//! per weight and input zero point: at load for static quantization); the
//! column term is `col_off`, written by the B packer next to each panel, and
//! is non-zero only for wasm's relaxed dots (the sets with `a_shift`).
//! Padding (k past K, rows past M, columns past N) is stored as 0 in B and
//! as W = 0 in A, so it adds nothing to S or to the sums.
//!
//! The relaxed dots' 0..=127 holds 128 of the 129 values: a row holding +64
//! more often than -64 is stored negated (`row_neg`; the tile's epilogue
//! negates its sum back), and a weight still at +64 (a row with both -64
//! and +64: its two largest |w| within 0.8% of each other) is stored as 63,
//! the driver adding the missing (X - zx) from the packed panel after the
//! tile (`fixups`; rare, a few per layer at most).
//!
//! # Why 7-bit weights
//!
//! `vpmaddubsw` (AVX2, AVX-512BW; also what V8 lowers wasm's relaxed dots to
//! without AVX-VNNI) sums two u8 x s8 products into a *saturating* i16:
//! 255 x 64 x 2 = 32640 fits, 255 x 128 x 2 does not. wasm's
//! `i16x8.relaxed_dot_i8x16_i7x16_s` and `i32x4.relaxed_dot_i8x16_i7x16_add_s`
//! are deterministic only while their second operand is in 0..=127: it gets
//! W + 64 (or -W + 64, above). [`PackedA8::new`] refuses weights outside
//! -64..=64 (`ModelInvalid`).
//!
//! # The sets
//!
//! | set | tile MR x NR | kg | A stored | B stored | per group of k's |
//! | --- | --- | --- | --- | --- | --- |
//! | avx512vnni | 8 x 32 | 4 | W i8 | X u8 | `vpdpbusd` zmm, weights `{1to16}` |
//! | avx512bw | 8 x 32 | 4 | W i8 | X u8 | `vpmaddubsw` + `vpmaddwd` (ones) + `vpaddd` zmm |
//! | avx-vnni | 4 x 16 | 4 | W i8 | X u8 | `vpdpbusd` ymm (VEX) |
//! | avx2 | 4 x 16 | 4 | W i8 | X u8 | `vpmaddubsw` + `vpmaddwd` (ones) + `vpaddd` ymm |
//! | wasm simd128 | 4 x 8 | 2 | W i8 | X i16 | `i32x4.dot_i16x8_s` + `i32x4.add` |
//! | wasm simd128+relaxed | 4 x 8 | 4 | ±W + 64 | X - 128 | `i16x8.relaxed_dot_i8x16_i7x16_s` + `i32x4.dot_i16x8_s` (ones) + `i32x4.add` |
//! | wasm relaxed dot-add | 4 x 8 | 4 | ±W + 64 | X - 128 | `i32x4.relaxed_dot_i8x16_i7x16_add_s` |
//! | neon dotprod | 8 x 8 | 4 | W i8 | X - 128 | `sdot` by element |
//! | neon | 4 x 8 | 4 | W i8 | X - 128 | `smull` + `smlal` (2 groups) + `sadalp` |
//! | portable | 4 x 16 | 2 | W i8 | X i16 | plain Rust |
//!
//! # Layouts
//!
//! A (packed once, [`PackedA8`]): panels of `mr` rows; in a panel, for each
//! k group g, for each row r, its `kg` values:
//! `data[p * panel + (g * mr + r) * kg + t] = W[p mr + r][g kg + t] + a_shift`.
//!
//! B (packed per panel of `nr` columns, [`pack_b`]): for each k group g, for
//! each column j, its `kg` values, each `b_bytes` wide:
//! `panel[(g * nr + j) * kg + t] = X[g kg + t][n0 + j] - b_shift`.
//! So one 32-bit lane of a vector of B holds one column's 4 (or 2 x i16)
//! values of a group, and a row's group of A is one 32-bit broadcast.

#![doc(hidden)]

use crate::error::{invalid, Result};
use crate::kernels::quant::BnReluMaps;
pub use crate::kernels::Strided;

mod check;
#[cfg(target_arch = "aarch64")]
mod neon;
mod portable;
mod types;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod wasm;
#[cfg(target_arch = "x86_64")]
mod x86;

pub use check::pack_b_bn_relu_matches_rows;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128", target_feature = "relaxed-simd"))]
pub use types::dot_add_is_fused;
pub use types::{AStore, BStore, Int8Kernel, Int8Kind, Int8QuadsTileFn, Int8TileFn, K_MAX, MAX_TILE, W_MAX, W_MIN};

impl Int8Kind {
    /// The kernel set, or None where this machine or build cannot run it.
    pub fn kernel(self) -> Option<Int8Kernel> {
        if !Self::available().contains(&self) {
            return None;
        }
        Some(match self {
            Int8Kind::Portable => portable::KERNEL,
            #[cfg(target_arch = "x86_64")]
            Int8Kind::Avx2 => x86::AVX2,
            #[cfg(target_arch = "x86_64")]
            Int8Kind::Avx512Bw => x86::AVX512BW,
            #[cfg(target_arch = "x86_64")]
            Int8Kind::AvxVnni => x86::AVXVNNI,
            #[cfg(target_arch = "x86_64")]
            Int8Kind::Avx512Vnni => x86::AVX512VNNI,
            #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
            Int8Kind::Simd128 => wasm::SIMD128,
            #[cfg(all(target_arch = "wasm32", target_feature = "simd128", target_feature = "relaxed-simd"))]
            Int8Kind::Simd128Relaxed => wasm::RELAXED,
            #[cfg(all(target_arch = "wasm32", target_feature = "simd128", target_feature = "relaxed-simd"))]
            Int8Kind::Simd128RelaxedAdd => wasm::RELAXED_ADD,
            #[cfg(target_arch = "aarch64")]
            Int8Kind::NeonDot => neon::DOT,
            #[cfg(target_arch = "aarch64")]
            Int8Kind::Neon => neon::NEON,
            #[allow(unreachable_patterns)]
            _ => return None,
        })
    }
}

/// The plain integer reference: row-major W [M][K], X [K][N], C [M][N] =
/// bias[m] + sum_k W[m][k] * (X[k][n] - zx), in i64 (the tests check it fits
/// in i32).
pub fn reference(w: &[i8], x: &[u8], m: usize, k: usize, n: usize, zx: u8, bias: Option<&[i32]>) -> Vec<i64> {
    assert!(w.len() == m * k && x.len() == k * n);
    let mut c = vec![0i64; m * n];
    for i in 0..m {
        let b = bias.map_or(0, |b| i64::from(b[i]));
        for j in 0..n {
            let mut s = b;
            for kk in 0..k {
                s += i64::from(w[i * k + kk]) * (i64::from(x[kk * n + j]) - i64::from(zx));
            }
            c[i * n + j] = s;
        }
    }
    c
}

/// Weights packed for one kernel set (see the module doc for the layout),
/// with each row's sum (for the zero-point term).
pub struct PackedA8 {
    pub m: usize,
    pub k: usize,
    pub mr: usize,
    pub kg: usize,
    /// Bytes per A panel: groups * kg * mr.
    pub panel: usize,
    pub data: Vec<u8>,
    /// sum_k W[m][k] per row, M rounded up to MR (0 past M).
    pub row_sums: Vec<i32>,
    /// Per row (M rounded up to MR): -1 where the row is stored negated
    /// (sets with `a_shift`), else 0.
    pub row_neg: Vec<i32>,
    /// (row, k) of the weights a set with `a_shift` stores as 63 instead of
    /// +64 (after the row's sign), sorted: the driver adds their X - 128.
    pub fixups: Vec<(u32, u32)>,
}

impl PackedA8 {
    /// Packs row-major W [M][K] for `kern`. `ModelInvalid` for a weight
    /// outside -64..=64 (it could saturate `vpmaddubsw`'s i16 pair sums) or
    /// K past [`K_MAX`].
    pub fn new(kern: &Int8Kernel, w: &[i8], m: usize, k: usize) -> Result<PackedA8> {
        assert_eq!(w.len(), m * k);
        if k > K_MAX {
            return invalid(format!("int8 GEMM: K = {k} is past {K_MAX}"));
        }
        // A fold, which vectorises, before `position`, which does not.
        let outside = |v: &i8| !(W_MIN..=W_MAX).contains(v);
        if let Some(i) = w.iter().fold(false, |a, v| a | outside(v)).then(|| w.iter().position(outside)).flatten() {
            return invalid(format!(
                "int8 weight {} at row {}, column {} is outside {W_MIN}..={W_MAX} (7-bit, reduce_range)",
                w[i],
                i / k,
                i % k
            ));
        }
        let (mr, kg) = (kern.mr, kern.kg);
        let groups = kern.groups(k);
        let panel = groups * kg * mr;
        let panels = m.div_ceil(mr);
        let shift = kern.a_shift();
        debug_assert!(shift == 0 || kern.b_store == BStore::I8);
        let mut data = vec![shift as u8; panels * panel];
        let mut row_sums = vec![0i32; panels * mr];
        let mut row_neg = vec![0i32; panels * mr];
        let mut fixups = Vec::new();
        let mut stored = vec![0u8; k];
        for row in 0..m {
            let (p, r) = (row / mr, row % mr);
            let ws = &w[row * k..(row + 1) * k];
            row_sums[row] = ws.iter().map(|&v| i32::from(v)).sum();
            // 0..=127 after the shift: negate a row with more +64s than -64s.
            let count = |x: i8| ws.iter().map(|&v| u32::from(v == x)).sum::<u32>();
            let neg = shift != 0 && count(64) > count(-64);
            row_neg[row] = -i32::from(neg);
            let sign = if neg { -1 } else { 1 };
            // Whole-row passes that vectorise, then the panel's groups: the
            // weight-by-weight loop was most of a model's load time in wasm.
            for (d, &v) in stored.iter_mut().zip(ws) {
                *d = (sign * i32::from(v) + shift).min(127) as u8;
            }
            // Only a shifted set can store past 127.
            let over = |v: i8| sign * i32::from(v) + shift > 127;
            if shift != 0 && ws.iter().fold(false, |a, &v| a | over(v)) {
                let at = ws.iter().enumerate().filter(|&(_, &v)| over(v));
                fixups.extend(at.map(|(kk, _)| (row as u32, kk as u32)));
            }
            let dst = &mut data[p * panel..(p + 1) * panel];
            match kg {
                2 => scatter::<2>(dst, &stored, mr, r),
                4 => scatter::<4>(dst, &stored, mr, r),
                _ => unreachable!("int8 sets group k by 2 or 4"),
            }
        }
        Ok(PackedA8 { m, k, mr, kg, panel, data, row_sums, row_neg, fixups })
    }

    /// `row_off` for activations of zero point `zx`: bias[m] - (zx -
    /// b_shift) * rowsum(W)[m], M rounded up to MR. In wrapping i32
    /// arithmetic, like the kernels: exact wherever the result fits in i32.
    pub fn row_offsets(&self, kern: &Int8Kernel, zx: u8, bias: Option<&[i32]>) -> Vec<i32> {
        let z = i32::from(zx) - kern.b_shift();
        let mut off: Vec<i32> = self.row_sums.iter().map(|&s| s.wrapping_mul(z).wrapping_neg()).collect();
        if let Some(bias) = bias {
            assert_eq!(bias.len(), self.m);
            for (o, &b) in off.iter_mut().zip(bias) {
                *o = o.wrapping_add(b);
            }
        }
        off
    }

    pub fn bytes(&self) -> usize {
        self.data.len() + (self.row_sums.len() + self.row_neg.len() + 2 * self.fixups.len()) * 4
    }
}

/// A 3x3 conv's weights [M][C][3][3] (k = 9 c + t) reordered so that k =
/// 4 (9 G + t) + l for channel c = 4 G + l, C padded to a multiple of 4
/// with zero weights: each group of 4 k's is one tap of 4 channels, what a
/// quads tile reads from channel-quad planes (`ops::bordered`). Returns
/// the weights and their K.
pub fn taps_by_quad(w: &[i8], m: usize, c: usize) -> (Vec<i8>, usize) {
    assert_eq!(w.len(), m * c * 9);
    let k = c.div_ceil(4) * 36;
    let mut out = vec![0i8; m * k];
    for (row, ws) in w.chunks_exact(c * 9).enumerate() {
        for (kk, &v) in ws.iter().enumerate() {
            let (ch, t) = (kk / 9, kk % 9);
            out[row * k + (ch / 4 * 9 + t) * 4 + ch % 4] = v;
        }
    }
    (out, k)
}

/// `len` columns of 4 rows of codes interleaved into column quads (the
/// layout of the 4-group B panels), each xor `flip`: dst[4 x + l] =
/// rows[l][x] ^ flip. Through the sets' own interleaves where the target
/// has them (x86-64: SSE2; wasm: simd128).
///
/// # Safety
/// Each row holds `len` bytes, `dst` 4 `len`.
pub unsafe fn interleave_quads(rows: [*const u8; 4], len: usize, dst: *mut u8, flip: u8) {
    #[cfg(target_arch = "x86_64")]
    let done = x86::interleave_quads(rows, len, dst, flip);
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    let done = wasm::interleave_quads(rows, len, dst, flip);
    #[cfg(not(any(target_arch = "x86_64", all(target_arch = "wasm32", target_feature = "simd128"))))]
    let done = 0;
    for x in done..len {
        for (l, r) in rows.iter().enumerate() {
            *dst.add(4 * x + l) = *r.add(x) ^ flip;
        }
    }
}

/// Row `r` of a panel of `mr` rows: its groups of KG values `src` to their
/// places (the last group may be short).
fn scatter<const KG: usize>(dst: &mut [u8], src: &[u8], mr: usize, r: usize) {
    let groups = src.chunks_exact(KG);
    let rest = groups.remainder();
    for (d, s) in dst.chunks_exact_mut(mr * KG).zip(groups) {
        d[r * KG..][..KG].copy_from_slice(s);
    }
    if !rest.is_empty() {
        let at = (src.len() / KG * mr + r) * KG;
        dst[at..at + rest.len()].copy_from_slice(rest);
    }
}

/// Packs columns n0..n0 + nc (nc <= NR) of row-major X [K][ld] (u8) into
/// one B panel (`kern.b_panel_bytes(k)` bytes, zero past nc and K) and its
/// NR column terms: col_off[j] = -a_shift * sum_k stored(X[k][n0 + j]) (0 for
/// sets without `a_shift`, and past nc).
/// Goes through a SIMD interleave where the target has one (x86-64: SSE2,
/// any set storing u8 in groups of 4; wasm: simd128).
pub fn pack_b(
    kern: &Int8Kernel,
    x: &[u8],
    ld: usize,
    k: usize,
    cols: std::ops::Range<usize>,
    dst: &mut [u8],
    col_off: &mut [i32],
) {
    let (n0, nc) = (cols.start, cols.len());
    // Every byte the SIMD packers read is in x: rows 0..k, columns n0..n0 + nc.
    let fits = nc > 0 && k > 0 && x.len() >= (k - 1) * ld + n0 + nc;
    assert!(nc <= kern.nr && dst.len() >= kern.b_panel_bytes(k) && col_off.len() >= kern.nr);
    #[cfg(target_arch = "x86_64")]
    if fits && kern.b_store == BStore::U8 && kern.kg == 4 && kern.nr.is_multiple_of(16) && kern.nr <= 64 {
        // SAFETY: as above, and dst holds the panel.
        unsafe { x86::pack_u8_quads(x.as_ptr().add(n0), ld, k, kern.nr, nc, dst.as_mut_ptr()) };
        col_off[..kern.nr].fill(0);
        return;
    }
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    if fits && kern.nr == 8 {
        let sums = kern.a_shift() != 0;
        // SAFETY: as above.
        match (kern.b_store, kern.kg) {
            (BStore::I16, 2) if !sums => {
                unsafe { wasm::pack_i16_pairs(x.as_ptr().add(n0), ld, k, nc, dst.as_mut_ptr()) };
                col_off[..8].fill(0);
                return;
            }
            (BStore::I8, 4) => {
                unsafe {
                    wasm::pack_i8_quads(x.as_ptr().add(n0), ld, k, nc, dst.as_mut_ptr(), col_off, -kern.a_shift())
                };
                return;
            }
            _ => {}
        }
    }
    let _ = fits;
    pack_b_with(kern, k, nc, dst, col_off, |kk, j| x[kk * ld + n0 + j])
}

/// [`pack_b`] of the codes `maps` gives columns n0..n0 + NR of X [K][ld]
/// (a block's codes; byte for byte what `kernels::quant::bn_relu_q_rows`
/// writes, then `pack_b`) in one pass, into one full panel and its column
/// terms. False, with nothing written, where this set has no such packer
/// (NEON, portable: they pack rows) or K is not a multiple of its group.
pub fn pack_b_bn_relu(
    kern: &Int8Kernel,
    x: &[u8],
    (ld, k, n0): (usize, usize, usize),
    maps: &BnReluMaps,
    dst: &mut [u8],
    col_off: &mut [i32],
) -> bool {
    let nr = kern.nr;
    if k == 0 || !k.is_multiple_of(kern.kg) {
        return false;
    }
    // Every byte read is in x (rows 0..k, columns n0..n0 + NR), every
    // constant in maps (4 per group, padded), every byte written in dst.
    assert!(x.len() >= (k - 1) * ld + n0 + nr && maps.zp.len() >= k.next_multiple_of(4));
    assert!(dst.len() >= kern.b_panel_bytes(k) && col_off.len() >= nr);
    #[cfg(target_arch = "x86_64")]
    if kern.b_store == BStore::U8 && kern.kg == 4 && nr.is_multiple_of(16) && is_x86_feature_detected!("avx2") {
        let (x, dst) = (x[n0..].as_ptr(), dst.as_mut_ptr());
        // SAFETY: as asserted; AVX-512BW or AVX2 detected. Either writes
        // the same bytes; the AVX-512 sets' panels (32 columns) take zmm, the
        // AVX2 set's ymm, so each packer is checked where its set runs.
        match nr.is_multiple_of(32) && is_x86_feature_detected!("avx512bw") {
            true => unsafe { x86::pack_bn_relu_quads_512(x, ld, k, nr, maps, dst) },
            false => unsafe { x86::pack_bn_relu_quads(x, ld, k, nr, maps, dst) },
        }
        col_off[..nr].fill(0);
        return true;
    }
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    if nr == 8 {
        let x = x[n0..].as_ptr();
        // SAFETY: as asserted.
        match (kern.b_store, kern.kg) {
            (BStore::I16, 2) if kern.a_shift() == 0 => {
                unsafe { wasm::pack_bn_relu_pairs(x, ld, k, maps, dst.as_mut_ptr()) };
                col_off[..8].fill(0);
                return true;
            }
            (BStore::I8, 4) => {
                unsafe { wasm::pack_bn_relu_quads(x, ld, k, maps, dst.as_mut_ptr(), col_off, -kern.a_shift()) };
                return true;
            }
            _ => {}
        }
    }
    let _ = (maps, n0);
    false
}

/// [`pack_b`] with the activations given by `x(k, j)` (j < nc), for packers
/// that quantize as they go. Rows (k) outer, so a row-major source is read
/// in order.
#[inline(always)]
pub fn pack_b_with(
    kern: &Int8Kernel,
    k: usize,
    nc: usize,
    dst: &mut [u8],
    col_off: &mut [i32],
    x: impl Fn(usize, usize) -> u8,
) {
    let (nr, kg) = (kern.nr, kern.kg);
    assert!(nc <= nr && col_off.len() >= nr);
    let dst = &mut dst[..kern.b_panel_bytes(k)];
    col_off[..nr].fill(0);
    if nc < nr || !k.is_multiple_of(kg) {
        dst.fill(0);
    }
    let sums = kern.a_shift() != 0;
    match kern.b_store {
        BStore::U8 | BStore::I8 => {
            let signed = kern.b_store == BStore::I8;
            let flip = if signed { 0x80 } else { 0 };
            for kk in 0..k {
                let (g, t) = (kk / kg, kk % kg);
                let out = &mut dst[g * nr * kg..(g + 1) * nr * kg];
                for j in 0..nc {
                    let v = x(kk, j) ^ flip;
                    out[j * kg + t] = v;
                    if sums {
                        col_off[j] += if signed { i32::from(v as i8) } else { i32::from(v) };
                    }
                }
            }
        }
        BStore::I16 => {
            for kk in 0..k {
                let (g, t) = (kk / kg, kk % kg);
                let out = &mut dst[g * nr * kg * 2..(g + 1) * nr * kg * 2];
                for j in 0..nc {
                    let v = x(kk, j);
                    out[(j * kg + t) * 2] = v;
                    out[(j * kg + t) * 2 + 1] = 0;
                    if sums {
                        col_off[j] += i32::from(v);
                    }
                }
            }
        }
    }
    if sums {
        let a = kern.a_shift();
        for c in &mut col_off[..nc] {
            *c = c.wrapping_mul(-a);
        }
    }
}

/// All of X [K][N] packed in panels (tests, benchmarks): panel p at
/// `data[p * panel..]`, its column terms at `col_off[p * nr..]`.
pub struct PackedB8 {
    pub k: usize,
    pub n: usize,
    pub panel: usize,
    pub data: Vec<u8>,
    pub col_off: Vec<i32>,
}

impl PackedB8 {
    pub fn new(kern: &Int8Kernel, x: &[u8], k: usize, n: usize) -> PackedB8 {
        assert_eq!(x.len(), k * n);
        let panel = kern.b_panel_bytes(k);
        let panels = n.div_ceil(kern.nr);
        let mut data = vec![0u8; panels * panel];
        let mut col_off = vec![0i32; panels * kern.nr];
        for p in 0..panels {
            let n0 = p * kern.nr;
            let nc = kern.nr.min(n - n0);
            pack_b(
                kern,
                x,
                n,
                k,
                n0..n0 + nc,
                &mut data[p * panel..(p + 1) * panel],
                &mut col_off[p * kern.nr..(p + 1) * kern.nr],
            );
        }
        PackedB8 { k, n, panel, data, col_off }
    }
}

/// C[.., n0..n0 + nc] for one packed B panel: every A panel's tile, the
/// edge ones (rows past M, nc < NR) through a stack tile. No allocation.
///
/// # Safety
/// `b` holds one packed panel for `a.k` (`kern.b_panel_bytes`), `col_off`
/// NR values, `row_off` M rounded up to MR; `c` is writable for M rows of
/// `nc` i32s `ldc` apart.
pub unsafe fn gemm_panel(
    kern: &Int8Kernel,
    a: &PackedA8,
    row_off: &[i32],
    b: *const u8,
    col_off: *const i32,
    nc: usize,
    c: Strided<*mut i32>,
) {
    let (kg, nr) = (kern.kg, kern.nr);
    let tile = |groups, ap, cc, ro, neg| (kern.tile)(groups, ap, b, cc, ro, col_off, neg);
    panel_tiles(kern, a, row_off, tile, |kk| b.add((kk / kg * nr) * kg + kk % kg), nc, c)
}

/// [`gemm_panel`] with B read in place by the set's `quads` tile: k group
/// g's NR columns at `b + offs[g]` (the caller's columns n0.. already in
/// `b`), their column terms `col_off` (NR).
///
/// # Safety
/// Every `b + offs[g]` holds 4 NR readable bytes, `offs` one per k group;
/// `row_off` M rounded up to MR; `c` is writable for M rows of `nc` i32s.
pub unsafe fn gemm_panel_quads(
    kern: &Int8Kernel,
    a: &PackedA8,
    row_off: &[i32],
    (b, offs): (*const u8, &[usize]),
    col_off: *const i32,
    nc: usize,
    c: Strided<*mut i32>,
) {
    let quads = kern.quads.expect("a set with a quads tile");
    assert!(kern.kg == 4 && offs.len() >= kern.groups(a.k));
    let tile = |groups, ap, cc, ro, neg| quads(groups, ap, (b, offs.as_ptr()), cc, ro, col_off, neg);
    panel_tiles(kern, a, row_off, tile, |kk| b.add(offs[kk / 4] + kk % 4), nc, c)
}

/// Every A panel's `tile(groups, a_panel, c, row_off, row_neg)`, then its
/// rows' fixups: a weight stored as 63 for +64 gets C[row][j] += sign
/// (X[k][j] - 128), read back from B (stored as i8, X - 128), whose k has
/// column 0 at `b_at(k)` and column j `kg` bytes further each.
#[inline(always)]
unsafe fn panel_tiles(
    kern: &Int8Kernel,
    a: &PackedA8,
    row_off: &[i32],
    tile: impl Fn(usize, *const u8, Strided<*mut i32>, *const i32, *const i32),
    b_at: impl Fn(usize) -> *const u8,
    nc: usize,
    c: Strided<*mut i32>,
) {
    debug_assert!(row_off.len() >= a.m.div_ceil(kern.mr) * kern.mr);
    let groups = kern.groups(a.k);
    let mut fix = 0;
    let each = |m0, ap, cc| tile(groups, ap, cc, row_off.as_ptr().add(m0), a.row_neg.as_ptr().add(m0));
    each_tile(kern, a, nc, c, each, |m0, rows| {
        while let Some(&(row, kk)) = a.fixups.get(fix) {
            let (row, kk) = (row as usize, kk as usize);
            if row >= m0 + rows {
                break;
            }
            let at = b_at(kk) as *const i8;
            let out = c.ptr.add(row * c.ld);
            let sign = if a.row_neg[row] != 0 { -1 } else { 1 };
            for j in 0..nc {
                *out.add(j) = (*out.add(j)).wrapping_add(sign * i32::from(*at.add(j * kern.kg)));
            }
            fix += 1;
        }
    });
}

/// Calls `tile(m0, a_panel, c)` for every A panel (first row m0), with the
/// edge ones (rows past M, nc < NR) through a stack tile, then
/// `after(m0, rows)`.
#[inline(always)]
unsafe fn each_tile(
    kern: &Int8Kernel,
    a: &PackedA8,
    nc: usize,
    c: Strided<*mut i32>,
    tile: impl Fn(usize, *const u8, Strided<*mut i32>),
    mut after: impl FnMut(usize, usize),
) {
    let (c, ldc) = (c.ptr, c.ld);
    let (mr, nr) = (kern.mr, kern.nr);
    debug_assert!(a.mr == mr && a.kg == kern.kg && mr * nr <= MAX_TILE && nc <= nr);
    let mut tmp = [0i32; MAX_TILE];
    for p in 0..a.m.div_ceil(mr) {
        let m0 = p * mr;
        let rows = mr.min(a.m - m0);
        let ap = a.data.as_ptr().add(p * a.panel);
        if rows == mr && nc == nr {
            tile(m0, ap, Strided { ptr: c.add(m0 * ldc), ld: ldc });
        } else {
            tile(m0, ap, Strided { ptr: tmp.as_mut_ptr(), ld: nr });
            for r in 0..rows {
                std::ptr::copy_nonoverlapping(tmp.as_ptr().add(r * nr), c.add((m0 + r) * ldc), nc);
            }
        }
        after(m0, rows);
    }
}

/// C [M][ldc] (columns 0..N) = the whole GEMM over packed B.
pub fn gemm(kern: &Int8Kernel, a: &PackedA8, row_off: &[i32], b: &PackedB8, c: &mut [i32], ldc: usize) {
    let (m, n, nr) = (a.m, b.n, kern.nr);
    assert!(a.mr == kern.mr && a.kg == kern.kg && a.k == b.k && b.panel == kern.b_panel_bytes(a.k));
    assert!(row_off.len() >= m.div_ceil(kern.mr) * kern.mr && ldc >= n);
    assert!(m == 0 || n == 0 || c.len() >= (m - 1) * ldc + n);
    for p in 0..n.div_ceil(nr) {
        let n0 = p * nr;
        // SAFETY: the sizes were checked above; each panel writes its own columns.
        unsafe {
            gemm_panel(
                kern,
                a,
                row_off,
                b.data.as_ptr().add(p * b.panel),
                b.col_off.as_ptr().add(p * nr),
                nr.min(n - n0),
                Strided { ptr: c.as_mut_ptr().add(n0), ld: ldc },
            )
        };
    }
}
