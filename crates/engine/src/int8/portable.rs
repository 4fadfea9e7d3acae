//! Plain Rust, k in pairs, B as i16 (simd128's layout): `acc[r][j] += w0 *
//! x0 + w1 * x1` in i32. A correctness fallback more than a fast path: on
//! x86-64's SSE2 baseline LLVM vectorises it with `pmullw`/`pmulhw` pairs
//! and a few `pmaddwd`s, below the portable f32 kernel's rate (k one at a
//! time with B as u8 is no faster; LLVM leaves a 4x8 tile scalar).

use super::types::{AStore, BStore, Int8Kernel, Int8Kind};
use crate::kernels::Strided;

const MR: usize = 4;
const NR: usize = 16;

pub const KERNEL: Int8Kernel = Int8Kernel {
    kind: Int8Kind::Portable,
    mr: MR,
    nr: NR,
    kg: 2,
    a_store: AStore::I8,
    b_store: BStore::I16,
    tile,
    quads: None,
};

unsafe fn tile(
    groups: usize,
    a: *const u8,
    b: *const u8,
    c: Strided<*mut i32>,
    row_off: *const i32,
    _col_off: *const i32,
    _row_neg: *const i32,
) {
    let (c, ldc) = (c.ptr, c.ld);
    let a = std::slice::from_raw_parts(a as *const i8, groups * MR * 2);
    let b = std::slice::from_raw_parts(b as *const i16, groups * NR * 2);
    let mut acc = [[0i32; NR]; MR];
    for (ak, bk) in a.chunks_exact(MR * 2).zip(b.chunks_exact(NR * 2)) {
        for r in 0..MR {
            let (w0, w1) = (i32::from(ak[2 * r]), i32::from(ak[2 * r + 1]));
            for j in 0..NR {
                let (x0, x1) = (i32::from(bk[2 * j]), i32::from(bk[2 * j + 1]));
                acc[r][j] = acc[r][j].wrapping_add(w0 * x0 + w1 * x1);
            }
        }
    }
    for (r, row) in acc.iter().enumerate() {
        let off = *row_off.add(r);
        let out = std::slice::from_raw_parts_mut(c.add(r * ldc), NR);
        for j in 0..NR {
            out[j] = row[j].wrapping_add(off);
        }
    }
}
