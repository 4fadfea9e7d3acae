//! wasm32 simd128 micro-kernels: 4x8, 8 accumulators. The 4 weights of a k
//! are one `v128.load`, each broadcast by an `i32x4.shuffle`: in workerd
//! (V8, x86-64) 0.86-0.93x the time of 4 `v128.load32_splat`s per k with
//! relaxed SIMD, 0.81-0.95x without. V8 there gives wasm 15 xmm registers,
//! and every tile with more accumulators measured slower (5x8, 6x8, 8x8,
//! 4x12, 4x16: 1.2-1.7x), as did unrolling k by 2 or 4 (1.2-1.5x); 8x4
//! with the same shuffles was no faster (0.93-1.11x this one). The relaxed
//! build multiplies and adds in one `f32x4.relaxed_madd`, which V8 lowers to
//! FMA on FMA hardware.

use super::{Kernel, KernelKind};
use core::arch::wasm32::*;

use super::baseline;

// The whole wasm build has simd128 (and relaxed-simd) enabled: the baseline
// helpers are already compiled with them.
pub const SIMD128: Kernel = Kernel {
    kind: KernelKind::Simd128,
    mr: 4,
    nr: 8,
    tile: tile_simd128,
    bn_relu,
    wino_in: baseline::wino_in,
    wino_out: baseline::wino_out,
};
#[cfg(target_feature = "relaxed-simd")]
pub const RELAXED: Kernel = Kernel { kind: KernelKind::Simd128Relaxed, tile: tile_relaxed, ..SIMD128 };

/// `gemm::pack_bn_relu` for full panels of 8 columns, two `v128`s per k.
/// The generic loop was 8.6% of a wasm run (relaxed build, Node) while its
/// ReLU was `f32::max`; with `scalar::relu` it is still 1.02-1.05x this
/// one's time per image in workerd (4 interleaved runs).
#[allow(clippy::too_many_arguments)]
unsafe fn bn_relu(
    src: &[f32],
    ld: usize,
    scale: &[f32],
    shift: &[f32],
    n0: usize,
    nc: usize,
    nr: usize,
    dst: &mut [f32],
) {
    let k = scale.len();
    if nc != 8 || nr != 8 || k == 0 {
        return baseline::bn_relu(src, ld, scale, shift, n0, nc, nr, dst);
    }
    assert!(shift.len() == k && dst.len() >= k * 8 && src.len() >= (k - 1) * ld + n0 + 8);
    let zero = f32x4_splat(0.0);
    let (mut s, mut d) = (src.as_ptr().add(n0), dst.as_mut_ptr());
    for kk in 0..k {
        let sc = f32x4_splat(*scale.get_unchecked(kk));
        let sh = f32x4_splat(*shift.get_unchecked(kk));
        for v in 0..2 {
            let x = v128_load(s.add(4 * v) as *const v128);
            // pmax(0, y) = 0 < y ? y : 0: 0 for NaN, as `max(0.0)`.
            let y = f32x4_pmax(zero, f32x4_add(f32x4_mul(x, sc), sh));
            v128_store(d.add(4 * v) as *mut v128, y);
        }
        s = s.add(ld);
        d = d.add(8);
    }
}

#[inline(always)]
unsafe fn tile_generic<const RELAXED: bool>(
    k: usize,
    a: *const f32,
    b: *const f32,
    ldb: usize,
    c: *mut f32,
    ldc: usize,
    bias: *const f32,
    relu: bool,
) {
    const MR: usize = 4;
    let mut acc = [[f32x4_splat(0.0); 2]; MR];
    let (mut a, mut b) = (a, b);
    for _ in 0..k {
        let b0 = v128_load(b as *const v128);
        let b1 = v128_load(b.add(4) as *const v128);
        let w = v128_load(a as *const v128);
        let splat = [
            i32x4_shuffle::<0, 0, 0, 0>(w, w),
            i32x4_shuffle::<1, 1, 1, 1>(w, w),
            i32x4_shuffle::<2, 2, 2, 2>(w, w),
            i32x4_shuffle::<3, 3, 3, 3>(w, w),
        ];
        for (r, &x) in splat.iter().enumerate() {
            if RELAXED {
                #[cfg(target_feature = "relaxed-simd")]
                {
                    acc[r][0] = f32x4_relaxed_madd(x, b0, acc[r][0]);
                    acc[r][1] = f32x4_relaxed_madd(x, b1, acc[r][1]);
                }
            } else {
                acc[r][0] = f32x4_add(acc[r][0], f32x4_mul(x, b0));
                acc[r][1] = f32x4_add(acc[r][1], f32x4_mul(x, b1));
            }
        }
        a = a.add(MR);
        b = b.add(ldb);
    }
    let zero = f32x4_splat(0.0);
    for r in 0..MR {
        let bb = v128_load32_splat(bias.add(r) as *const u32);
        for v in 0..2 {
            let mut y = f32x4_add(acc[r][v], bb);
            if relu {
                y = f32x4_pmax(y, zero);
            }
            v128_store(c.add(r * ldc + v * 4) as *mut v128, y);
        }
    }
}

unsafe fn tile_simd128(
    k: usize,
    a: *const f32,
    b: *const f32,
    ldb: usize,
    c: *mut f32,
    ldc: usize,
    bias: *const f32,
    relu: bool,
) {
    tile_generic::<false>(k, a, b, ldb, c, ldc, bias, relu)
}

#[cfg(target_feature = "relaxed-simd")]
unsafe fn tile_relaxed(
    k: usize,
    a: *const f32,
    b: *const f32,
    ldb: usize,
    c: *mut f32,
    ldc: usize,
    bias: *const f32,
    relu: bool,
) {
    tile_generic::<true>(k, a, b, ldb, c, ldc, bias, relu)
}
