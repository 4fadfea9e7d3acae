//! x86-64 micro-kernels, chosen at run time with `is_x86_feature_detected!`.
//! Tiles are sized to the register file: AVX2 has 16 ymm registers, so 6x16
//! (12 accumulators, 2 B vectors, 1 broadcast: 4x24 uses all 16 and LLVM
//! spilled); AVX-512 has 32 zmm, so 8x32
//! (16 accumulators, 2 B vectors, broadcasts folded into the FMA's operand).

use super::types::{Kernel, KernelKind, Strided};
use std::arch::x86_64::*;

mod avx2 {
    super::super::helpers::helpers!(#[target_feature(enable = "avx2,fma")]);
}
mod avx512 {
    super::super::helpers::helpers!(#[target_feature(enable = "avx512f")]);
}

pub const AVX2: Kernel = Kernel {
    kind: KernelKind::Avx2Fma,
    mr: 6,
    nr: 16,
    tile: tile_avx2,
    tail: None,
    bn_relu: avx2::bn_relu,
    wino_in: avx2::wino_in,
    wino_out: avx2::wino_out,
    stem_in: avx2::stem_in,
    stem_out: avx2::stem_out,
    q_bn_relu: avx2::q_bn_relu,
    q_requant: avx2::q_requant,
    q_requant8: avx2::q_requant8,
    q_quantize: avx2::q_quantize,
};
pub const AVX512: Kernel = Kernel {
    kind: KernelKind::Avx512,
    mr: 8,
    nr: 32,
    tile: tile_avx512,
    tail: None,
    bn_relu: avx512::bn_relu,
    wino_in: avx512::wino_in,
    wino_out: avx512::wino_out,
    stem_in: avx512::stem_in,
    stem_out: avx512::stem_out,
    q_bn_relu: avx512::q_bn_relu,
    q_requant: avx512::q_requant,
    q_requant8: avx512::q_requant8,
    q_quantize: avx512::q_quantize,
};

#[target_feature(enable = "avx2,fma")]
unsafe fn tile_avx2(
    k: usize,
    a: *const f32,
    b: Strided<*const f32>,
    c: Strided<*mut f32>,
    bias: *const f32,
    relu: bool,
) {
    let (b, ldb, c, ldc) = (b.ptr, b.ld, c.ptr, c.ld);
    const MR: usize = 6;
    const NV: usize = 2;
    let mut acc = [[_mm256_setzero_ps(); NV]; MR];
    let (mut a, mut b) = (a, b);
    for _ in 0..k {
        let bv = [_mm256_loadu_ps(b), _mm256_loadu_ps(b.add(8))];
        for r in 0..MR {
            let x = _mm256_broadcast_ss(&*a.add(r));
            for v in 0..NV {
                acc[r][v] = _mm256_fmadd_ps(x, bv[v], acc[r][v]);
            }
        }
        a = a.add(MR);
        b = b.add(ldb);
    }
    let zero = _mm256_setzero_ps();
    for r in 0..MR {
        let bb = _mm256_broadcast_ss(&*bias.add(r));
        for v in 0..NV {
            let mut y = _mm256_add_ps(acc[r][v], bb);
            if relu {
                y = _mm256_max_ps(y, zero);
            }
            _mm256_storeu_ps(c.add(r * ldc + v * 8), y);
        }
    }
}

#[target_feature(enable = "avx512f")]
unsafe fn tile_avx512(
    k: usize,
    a: *const f32,
    b: Strided<*const f32>,
    c: Strided<*mut f32>,
    bias: *const f32,
    relu: bool,
) {
    let (b, ldb, c, ldc) = (b.ptr, b.ld, c.ptr, c.ld);
    const MR: usize = 8;
    const NV: usize = 2;
    let mut acc = [[_mm512_setzero_ps(); NV]; MR];
    let (mut a, mut b) = (a, b);
    for _ in 0..k {
        let bv = [_mm512_loadu_ps(b), _mm512_loadu_ps(b.add(16))];
        for r in 0..MR {
            let x = _mm512_set1_ps(*a.add(r));
            for v in 0..NV {
                acc[r][v] = _mm512_fmadd_ps(x, bv[v], acc[r][v]);
            }
        }
        a = a.add(MR);
        b = b.add(ldb);
    }
    let zero = _mm512_setzero_ps();
    for r in 0..MR {
        let bb = _mm512_set1_ps(*bias.add(r));
        for v in 0..NV {
            let mut y = _mm512_add_ps(acc[r][v], bb);
            if relu {
                y = _mm512_max_ps(y, zero);
            }
            _mm512_storeu_ps(c.add(r * ldc + v * 16), y);
        }
    }
}
