//! Plain Rust, written so LLVM vectorises it with whatever the target offers.
//! Multiply then add (no fused multiply-add): `mul_add` without FMA hardware
//! is a libm call.

use super::types::{Kernel, KernelKind, Strided};

const MR: usize = 4;
const NR: usize = 16;

use super::baseline;

pub const KERNEL: Kernel = Kernel {
    kind: KernelKind::Portable,
    mr: MR,
    nr: NR,
    tile,
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

unsafe fn tile(k: usize, a: *const f32, b: Strided<*const f32>, c: Strided<*mut f32>, bias: *const f32, relu: bool) {
    let (b, ldb, c, ldc) = (b.ptr, b.ld, c.ptr, c.ld);
    let a = std::slice::from_raw_parts(a, k * MR);
    let mut acc = [[0f32; NR]; MR];
    for (kk, ak) in a.chunks_exact(MR).enumerate() {
        let bk = std::slice::from_raw_parts(b.add(kk * ldb), NR);
        for r in 0..MR {
            let x = ak[r];
            for j in 0..NR {
                acc[r][j] += x * bk[j];
            }
        }
    }
    for (r, row) in acc.iter().enumerate() {
        let bias = *bias.add(r);
        let out = std::slice::from_raw_parts_mut(c.add(r * ldc), NR);
        for j in 0..NR {
            let v = row[j] + bias;
            out[j] = if relu { v.max(0.0) } else { v };
        }
    }
}
