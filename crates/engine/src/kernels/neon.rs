//! aarch64 NEON micro-kernel: 8x8, 16 accumulators of the 32 vector registers.

use super::types::{Kernel, KernelKind, Strided};
use std::arch::aarch64::*;

use super::baseline;

// NEON is part of the aarch64 baseline: the baseline helpers use it.
pub const NEON: Kernel = Kernel {
    kind: KernelKind::Neon,
    mr: 8,
    nr: 8,
    tile: tile_neon,
    tail: None,
    bn_relu: baseline::bn_relu,
    wino_in: baseline::wino_in,
    wino_out: baseline::wino_out,
    stem_in: baseline::stem_in,
    stem_out: baseline::stem_out,
    q_bn_relu: baseline::q_bn_relu,
    q_requant: baseline::q_requant,
    q_requant8: baseline::q_requant8,
    q_quantize: baseline::q_quantize,
};

#[target_feature(enable = "neon")]
unsafe fn tile_neon(
    k: usize,
    a: *const f32,
    b: Strided<*const f32>,
    c: Strided<*mut f32>,
    bias: *const f32,
    relu: bool,
) {
    let (b, ldb, c, ldc) = (b.ptr, b.ld, c.ptr, c.ld);
    const MR: usize = 8;
    let mut acc = [[vdupq_n_f32(0.0); 2]; MR];
    let (mut a, mut b) = (a, b);
    for _ in 0..k {
        let b0 = vld1q_f32(b);
        let b1 = vld1q_f32(b.add(4));
        let a0 = vld1q_f32(a);
        let a1 = vld1q_f32(a.add(4));
        acc[0][0] = vfmaq_laneq_f32::<0>(acc[0][0], b0, a0);
        acc[0][1] = vfmaq_laneq_f32::<0>(acc[0][1], b1, a0);
        acc[1][0] = vfmaq_laneq_f32::<1>(acc[1][0], b0, a0);
        acc[1][1] = vfmaq_laneq_f32::<1>(acc[1][1], b1, a0);
        acc[2][0] = vfmaq_laneq_f32::<2>(acc[2][0], b0, a0);
        acc[2][1] = vfmaq_laneq_f32::<2>(acc[2][1], b1, a0);
        acc[3][0] = vfmaq_laneq_f32::<3>(acc[3][0], b0, a0);
        acc[3][1] = vfmaq_laneq_f32::<3>(acc[3][1], b1, a0);
        acc[4][0] = vfmaq_laneq_f32::<0>(acc[4][0], b0, a1);
        acc[4][1] = vfmaq_laneq_f32::<0>(acc[4][1], b1, a1);
        acc[5][0] = vfmaq_laneq_f32::<1>(acc[5][0], b0, a1);
        acc[5][1] = vfmaq_laneq_f32::<1>(acc[5][1], b1, a1);
        acc[6][0] = vfmaq_laneq_f32::<2>(acc[6][0], b0, a1);
        acc[6][1] = vfmaq_laneq_f32::<2>(acc[6][1], b1, a1);
        acc[7][0] = vfmaq_laneq_f32::<3>(acc[7][0], b0, a1);
        acc[7][1] = vfmaq_laneq_f32::<3>(acc[7][1], b1, a1);
        a = a.add(MR);
        b = b.add(ldb);
    }
    let zero = vdupq_n_f32(0.0);
    for r in 0..MR {
        let bb = vdupq_n_f32(*bias.add(r));
        for v in 0..2 {
            let mut y = vaddq_f32(acc[r][v], bb);
            if relu {
                y = vmaxq_f32(y, zero);
            }
            vst1q_f32(c.add(r * ldc + v * 4), y);
        }
    }
}
