//! The element-wise arithmetic of an int8 (QDQ) model, as onnxruntime's
//! operators define it: QuantizeLinear `q = saturate(round_half_even(x / s)
//! + z)`, DequantizeLinear `x = (q - z) * s`. The row loops are compiled
//! once per kernel set (`helpers.rs`), so that they vectorise for it.

use super::qparams::{byte, clamp, round_even, to_u8, Q};
use super::types::{Bn, Cols};

/// What a dense layer's conv1 (and a transition's conv, and the head's
/// pool) reads: a Concat's output requantized to its own scale (`cat`), then
/// BatchNormalization, ReLU and the ReLU's quantization (`relu`), for
/// columns `cols.n0..n0 + nc` of every channel of `src` (rows `ld` apart,
/// one per BN channel) into `dst` (rows `nc` apart). The Concat's code `t` (its quantized value plus its zero point) goes
/// through BN as `t * (s_c * scale) + (shift - z_c * s_c * scale)`: one
/// multiply-add fewer per value, the same up to float rounding.
#[inline(always)]
pub fn bn_relu_q_rows(src: &[f32], ld: usize, bn: Bn, cols: Cols, (cat, relu): (Q, Q), dst: &mut [u8]) {
    let (Cols { n0, nc, .. }, inv, zc) = (cols, 1.0 / cat.scale, f32::from(cat.zero));
    let inv_r = 1.0 / relu.scale;
    for (kk, (&scale, &shift)) in bn.scale.iter().zip(bn.shift).enumerate() {
        let a = cat.scale * scale;
        let b = shift - zc * a;
        let row = &src[kk * ld + n0..][..nc];
        let out = &mut dst[kk * nc..][..nc];
        prefetch_next(src, kk * ld + n0 + nc, nc);
        // The block buffers hold dequantized values, finite and within 255
        // steps of their own scale, so the Concat's code needs no clamp
        // before rounding; a ReLU's zero point is 0 (`quantized::plan`
        // checks the folded ones; a kept ReLU's output is never negative),
        // so its code is the rounded quotient, at most 255.
        if relu.zero == 0 {
            for (d, &x) in out.iter_mut().zip(row) {
                let t = clamp(round_even(x * inv) + zc, 0.0, 255.0);
                *d = byte(round_even(clamp(crate::scalar::relu(t * a + b) * inv_r, 0.0, 255.0)));
            }
        } else {
            for (d, &x) in out.iter_mut().zip(row) {
                let t = clamp(round_even(x * inv) + zc, 0.0, 255.0);
                *d = to_u8(crate::scalar::relu(t * a + b) * inv_r, relu.zero);
            }
        }
    }
}

/// Asks for the cache lines of the next panel's part of this row (`len`
/// floats from `at`), which the next call reads: rows are a map's size apart
/// (12.5 KB in block 1), past what the hardware's stride prefetchers follow.
#[inline(always)]
fn prefetch_next(src: &[f32], at: usize, len: usize) {
    #[cfg(target_arch = "x86_64")]
    if at + len <= src.len() {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        for line in (0..len).step_by(16) {
            // SAFETY: inside `src`; a prefetch never faults anyway.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(src.as_ptr().add(at + line) as *const i8) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (src, at, len);
}

/// A quantized conv's output row from its i32 accumulators:
/// `saturate(round_half_even(acc * mult) + z)`, stored dequantized.
#[inline(always)]
pub fn requant_row(acc: &[i32], dst: &mut [f32], mult: f32, out: Q) {
    for (y, &a) in dst.iter_mut().zip(acc) {
        *y = out.dequantize(to_u8(a as f32 * mult, out.zero));
    }
}
