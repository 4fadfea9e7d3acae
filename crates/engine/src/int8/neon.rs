//! aarch64 int8 micro-kernels. Both take A as i8 (W) and B as i8 (X - 128,
//! i.e. X ^ 0x80: NEON's dot and widening multiplies are signed x signed),
//! k in groups of 4; the row offsets carry -(zx - 128) rowsum(W), so no
//! column term is needed.
//!
//! - dotprod (`sdot`, by element), 8x8: 16 accumulators, per group 2 A and
//!   2 B registers, 16 `sdot`s of 16 multiply-adds. `vdotq_laneq_s32` is
//!   still unstable in Rust 1.95 (`stdarch_neon_dotprod`), so the
//!   instruction is inline asm in a `#[target_feature(enable = "dotprod")]`
//!   function chosen by `is_aarch64_feature_detected!("dotprod")`.
//! - plain NEON, 4x8: `smull` of a group's products into i16 lanes, `smlal`
//!   of the next group's (|product| <= 128 x 64 = 8192: two fit, four may
//!   not), then `sadalp` into i32 pairs; a column's two pair sums are added
//!   at the end (`addp`). 16 accumulators.

use super::types::{AStore, BStore, Int8Kernel, Int8Kind};
use crate::kernels::Strided;
use std::arch::aarch64::*;
use std::arch::asm;

pub const DOT: Int8Kernel = Int8Kernel {
    kind: Int8Kind::NeonDot,
    mr: 8,
    nr: 8,
    kg: 4,
    a_store: AStore::I8,
    b_store: BStore::I8,
    tile: tile_dot,
    quads: Some(quads_dot),
};
pub const NEON: Int8Kernel = Int8Kernel {
    kind: Int8Kind::Neon,
    mr: 4,
    nr: 8,
    kg: 4,
    a_store: AStore::I8,
    b_store: BStore::I8,
    tile: tile_neon,
    quads: Some(quads_neon),
};

/// acc += dot(b's 4 columns, lane L of a) with `sdot` by element.
macro_rules! sdot {
    ($acc:expr, $b:expr, $a:expr, $lane:literal) => {
        asm!(
            concat!("sdot {acc:v}.4s, {b:v}.16b, {a:v}.4b[", $lane, "]"),
            acc = inout(vreg) $acc,
            b = in(vreg) $b,
            a = in(vreg) $a,
            options(pure, nomem, nostack)
        )
    };
}

#[target_feature(enable = "neon,dotprod")]
unsafe fn tile_dot(
    groups: usize,
    a: *const u8,
    b: *const u8,
    c: Strided<*mut i32>,
    row_off: *const i32,
    _col_off: *const i32,
    _row_neg: *const i32,
) {
    dot_8x8(groups, a, |g| b.add(32 * g), c, row_off)
}

#[target_feature(enable = "neon,dotprod")]
unsafe fn quads_dot(
    groups: usize,
    a: *const u8,
    (b, offs): (*const u8, *const usize),
    c: Strided<*mut i32>,
    row_off: *const i32,
    _col_off: *const i32,
    _row_neg: *const i32,
) {
    dot_8x8(groups, a, |g| b.add(*offs.add(g)), c, row_off)
}

/// The `sdot` tile over k group `g`'s 32 bytes of B at `b_at(g)`.
#[inline(always)]
unsafe fn dot_8x8(
    groups: usize,
    a: *const u8,
    b_at: impl Fn(usize) -> *const u8,
    c: Strided<*mut i32>,
    row_off: *const i32,
) {
    let (c, ldc) = (c.ptr, c.ld);
    let mut acc = [[vdupq_n_s32(0); 2]; 8];
    let mut a = a as *const i8;
    for g in 0..groups {
        let b = b_at(g) as *const i8;
        let (b0, b1) = (vld1q_s8(b), vld1q_s8(b.add(16)));
        let (a0, a1) = (vld1q_s8(a), vld1q_s8(a.add(16)));
        sdot!(acc[0][0], b0, a0, "0");
        sdot!(acc[0][1], b1, a0, "0");
        sdot!(acc[1][0], b0, a0, "1");
        sdot!(acc[1][1], b1, a0, "1");
        sdot!(acc[2][0], b0, a0, "2");
        sdot!(acc[2][1], b1, a0, "2");
        sdot!(acc[3][0], b0, a0, "3");
        sdot!(acc[3][1], b1, a0, "3");
        sdot!(acc[4][0], b0, a1, "0");
        sdot!(acc[4][1], b1, a1, "0");
        sdot!(acc[5][0], b0, a1, "1");
        sdot!(acc[5][1], b1, a1, "1");
        sdot!(acc[6][0], b0, a1, "2");
        sdot!(acc[6][1], b1, a1, "2");
        sdot!(acc[7][0], b0, a1, "3");
        sdot!(acc[7][1], b1, a1, "3");
        a = a.add(32);
    }
    for (r, row) in acc.iter().enumerate() {
        let off = vdupq_n_s32(*row_off.add(r));
        for (v, &x) in row.iter().enumerate() {
            vst1q_s32(c.add(r * ldc + 4 * v), vaddq_s32(x, off));
        }
    }
}

/// A row's 4 weights of a group in every 32-bit lane.
#[inline(always)]
unsafe fn row_weights(w: int8x16_t, r: usize) -> int8x16_t {
    let w = vreinterpretq_s32_s8(w);
    vreinterpretq_s8_s32(match r {
        0 => vdupq_laneq_s32::<0>(w),
        1 => vdupq_laneq_s32::<1>(w),
        2 => vdupq_laneq_s32::<2>(w),
        _ => vdupq_laneq_s32::<3>(w),
    })
}

#[target_feature(enable = "neon")]
unsafe fn tile_neon(
    groups: usize,
    a: *const u8,
    b: *const u8,
    c: Strided<*mut i32>,
    row_off: *const i32,
    _col_off: *const i32,
    _row_neg: *const i32,
) {
    neon_4x8(groups, a, |g| b.add(32 * g), c, row_off)
}

#[target_feature(enable = "neon")]
unsafe fn quads_neon(
    groups: usize,
    a: *const u8,
    (b, offs): (*const u8, *const usize),
    c: Strided<*mut i32>,
    row_off: *const i32,
    _col_off: *const i32,
    _row_neg: *const i32,
) {
    neon_4x8(groups, a, |g| b.add(*offs.add(g)), c, row_off)
}

/// The `smull` + `sadalp` tile over k group `g`'s 32 bytes of B at `b_at(g)`.
#[inline(always)]
unsafe fn neon_4x8(
    groups: usize,
    a: *const u8,
    b_at: impl Fn(usize) -> *const u8,
    c: Strided<*mut i32>,
    row_off: *const i32,
) {
    let (c, ldc) = (c.ptr, c.ld);
    // acc[r][q]: columns 2q and 2q + 1, lanes (2q: k0 + k1, 2q: k2 + k3,
    // 2q + 1: k0 + k1, 2q + 1: k2 + k3), summed over the groups.
    let mut acc = [[vdupq_n_s32(0); 4]; 4];
    let mut a = a as *const i8;
    let mut g = 0;
    while g < groups {
        let b = b_at(g) as *const i8;
        let (b0, b1) = (vld1q_s8(b), vld1q_s8(b.add(16)));
        let wa = vld1q_s8(a);
        let two = g + 1 < groups;
        let (c0, c1, wb) = if two {
            let b = b_at(g + 1) as *const i8;
            (vld1q_s8(b), vld1q_s8(b.add(16)), vld1q_s8(a.add(16)))
        } else {
            (vdupq_n_s8(0), vdupq_n_s8(0), vdupq_n_s8(0))
        };
        for r in 0..4 {
            let x = row_weights(wa, r);
            let mut p = [
                vmull_s8(vget_low_s8(b0), vget_low_s8(x)),
                vmull_high_s8(b0, x),
                vmull_s8(vget_low_s8(b1), vget_low_s8(x)),
                vmull_high_s8(b1, x),
            ];
            if two {
                let y = row_weights(wb, r);
                p[0] = vmlal_s8(p[0], vget_low_s8(c0), vget_low_s8(y));
                p[1] = vmlal_high_s8(p[1], c0, y);
                p[2] = vmlal_s8(p[2], vget_low_s8(c1), vget_low_s8(y));
                p[3] = vmlal_high_s8(p[3], c1, y);
            }
            for q in 0..4 {
                acc[r][q] = vpadalq_s16(acc[r][q], p[q]);
            }
        }
        let step = if two { 2 } else { 1 };
        a = a.add(16 * step);
        g += step;
    }
    for (r, row) in acc.iter().enumerate() {
        let off = vdupq_n_s32(*row_off.add(r));
        vst1q_s32(c.add(r * ldc), vaddq_s32(vpaddq_s32(row[0], row[1]), off));
        vst1q_s32(c.add(r * ldc + 4), vaddq_s32(vpaddq_s32(row[2], row[3]), off));
    }
}
