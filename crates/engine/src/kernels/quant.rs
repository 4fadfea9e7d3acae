//! The element-wise arithmetic of an int8 (QDQ) model, as onnxruntime's
//! operators define it: QuantizeLinear `q = saturate(round_half_even(x / s)
//! + z)`, DequantizeLinear `x = (q - z) * s`. The row loops are compiled
//! once per kernel set (`helpers.rs`), so that they vectorise for it.

use super::qparams::{byte, clamp, round_even, to_u8, Q, ROUND};
use super::types::{Bn, Cols};

/// What a dense layer's conv1 (and a transition's conv, and the head's
/// pool) reads: a Concat's inputs (u8 codes, each channel in its producer's
/// quantization `codes[kk]`) dequantized and requantized to the Concat's
/// own (`cat`), then BatchNormalization, ReLU and the ReLU's quantization
/// (`relu`), for columns `cols.n0..n0 + nc` of every channel of `src` (rows
/// `ld` apart, one per BN channel) into `dst` (rows `nc` apart). The
/// Concat's code `t` (its quantized value plus its zero point) goes
/// through BN as `t * (s_c * scale) + (shift - z_c * s_c * scale)`: one
/// multiply-add fewer per value, the same up to float rounding.
#[inline(always)]
pub fn bn_relu_q_rows(src: &[u8], ld: usize, bn: Bn, cols: Cols, (codes, cat, relu): (&[Q], Q, Q), dst: &mut [u8]) {
    let (Cols { n0, nc, .. }, inv, zc) = (cols, 1.0 / cat.scale, f32::from(cat.zero));
    let inv_r = 1.0 / relu.scale;
    let channels = bn.scale.iter().zip(bn.shift).zip(codes);
    for (kk, ((&scale, &shift), &q)) in channels.enumerate() {
        let a = cat.scale * scale;
        let b = shift - zc * a;
        let (sp, zp) = (q.scale, f32::from(q.zero));
        // `code - zp` as a float: the code ORed into the low bits of 2^23's
        // (a bitcast gives 2^23 + code exactly), less 2^23 + zp; a plain
        // conversion from u8 is scalarised lane by lane in wasm.
        let code_less_zp = move |c: u8| f32::from_bits(0x4B00_0000 | u32::from(c)) - (8_388_608.0 + zp);
        let row = &src[kk * ld + n0..][..nc];
        let out = &mut dst[kk * nc..][..nc];
        prefetch_next(src, kk * ld + n0 + nc, nc);
        // Dequantized values are finite and within 255 steps of their own
        // scale, so the Concat's code needs no clamp before rounding. A
        // ReLU's zero point is 0 (`quantized::plan` checks the folded ones;
        // a kept ReLU's output is never negative), so its code is the
        // rounded quotient, at most 255; with that zero point the clamp at 0
        // is the ReLU, `byte` rounds as it converts, the Concat's zero point
        // joins the rounding's constant, and the producer's step and the
        // ReLU's scale fold into the channel's constants: onnxruntime's codes
        // but where a value lies within float rounding of a tie (the test
        // below), in far fewer operations per value.
        if relu.zero == 0 {
            let (m_zc, k, a, b) = (ROUND - zc, sp * inv, a * inv_r, b * inv_r);
            for (d, &c) in out.iter_mut().zip(row) {
                let t = clamp((code_less_zp(c) * k + ROUND) - m_zc, 0.0, 255.0);
                *d = byte(clamp(t * a + b, 0.0, 255.0));
            }
        } else {
            for (d, &c) in out.iter_mut().zip(row) {
                let x = code_less_zp(c) * sp;
                let t = clamp(round_even(x * inv) + zc, 0.0, 255.0);
                *d = to_u8(crate::scalar::relu(t * a + b) * inv_r, relu.zero);
            }
        }
    }
}

/// Asks for the cache lines of the next panel's part of this row (`len`
/// bytes from `at`), which the next call reads: rows are a map's size apart
/// (3 KB in block 1), past what the hardware's stride prefetchers follow.
#[inline(always)]
fn prefetch_next(src: &[u8], at: usize, len: usize) {
    #[cfg(target_arch = "x86_64")]
    if at + len <= src.len() {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        for line in (0..len).step_by(64) {
            // SAFETY: inside `src`; a prefetch never faults anyway.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(src.as_ptr().add(at + line) as *const i8) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (src, at, len);
}

/// A quantized conv's output row from its i32 accumulators:
/// `saturate(round_half_even(acc * mult) + z)`, stored dequantized. As
/// `(code - z) * scale` with the saturation moved past the zero point
/// (`-z..=255 - z`): the same values, with no conversion to bytes and back.
/// `mult` is finite (`quantized::conv` checks it), so no value is NaN.
#[inline(always)]
pub fn requant_row(acc: &[i32], dst: &mut [f32], mult: f32, out: Q) {
    let (lo, hi) = (-f32::from(out.zero), 255.0 - f32::from(out.zero));
    for (y, &a) in dst.iter_mut().zip(acc) {
        *y = clamp(round_even(clamp(a as f32 * mult, -512.0, 512.0)), lo, hi) * out.scale;
    }
}

/// Quantizes a row of floats to codes (QuantizeLinear).
#[inline(always)]
pub fn quantize_row(xs: &[f32], dst: &mut [u8], q: Q) {
    for (d, &x) in dst.iter_mut().zip(xs) {
        *d = q.quantize(x);
    }
}

/// [`requant_row`] stored as the codes, for a quantized op that reads them
/// as they are (a dense layer's int8 3x3 conv).
#[inline(always)]
pub fn requant_row_u8(acc: &[i32], dst: &mut [u8], mult: f32, out: Q) {
    for (y, &a) in dst.iter_mut().zip(acc) {
        *y = to_u8(a as f32 * mult, out.zero);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The codes a value rounds to, as onnxruntime's QuantizeLinear
    /// (round half to even, saturate), in f64; both neighbours where the
    /// value is within float rounding of a tie (the fused loop's f32
    /// products may land on either side).
    fn codes_near(v: f64, zero: u8) -> Vec<f64> {
        let near_tie = (v - v.floor() - 0.5).abs() < 1e-4;
        let picks = if near_tie { vec![v.floor(), v.ceil()] } else { vec![v.round_ties_even()] };
        picks.into_iter().map(|c| (c + f64::from(zero)).clamp(0.0, 255.0)).collect()
    }

    /// The fused loop gives onnxruntime's codes for every producer code
    /// (dequantize, the Concat's QuantizeLinear, its DequantizeLinear, BN,
    /// ReLU, QuantizeLinear, in exact arithmetic), but where a value lies
    /// within float rounding of a rounding tie; ties are on the grid here.
    #[test]
    fn bn_relu_q_rows_gives_onnxruntimes_codes() {
        let mut near = 0;
        for (sp, zp, cat, relu_q) in [
            (0.05, 10, Q { scale: 0.1, zero: 3 }, Q { scale: 0.02, zero: 0 }),
            (0.0875, 132, Q { scale: 0.0875, zero: 132 }, Q { scale: 0.0314, zero: 0 }),
            (0.074, 123, Q { scale: 0.0875, zero: 131 }, Q { scale: 0.5, zero: 0 }),
            (0.074, 123, Q { scale: 0.0875, zero: 131 }, Q { scale: 0.01, zero: 7 }),
        ] {
            let row: Vec<u8> = (0..=255).collect();
            let (n, producer) = (row.len(), Q { scale: sp, zero: zp });
            for (scale, shift) in [(0.7f32, 0.3f32), (-1.3, 2.0), (2.5, -0.25), (0.0, 0.0)] {
                let mut got = vec![0u8; n];
                let bn = Bn { scale: &[scale], shift: &[shift] };
                bn_relu_q_rows(&row, n, bn, Cols { n0: 0, nc: n, nr: n }, (&[producer], cat, relu_q), &mut got);
                for (&c, &g) in row.iter().zip(&got) {
                    let x = (f64::from(c) - f64::from(zp)) * f64::from(sp);
                    let ts = codes_near(x / f64::from(cat.scale), cat.zero);
                    let want: Vec<f64> = ts
                        .iter()
                        .flat_map(|&t| {
                            let y =
                                (t - f64::from(cat.zero)) * f64::from(cat.scale) * f64::from(scale) + f64::from(shift);
                            codes_near(y.max(0.0) / f64::from(relu_q.scale), relu_q.zero)
                        })
                        .collect();
                    near += usize::from(want.len() > 1);
                    assert!(
                        want.contains(&f64::from(g)),
                        "code {c}: {g} not in {want:?} ({producer:?}, cat {cat:?}, relu {relu_q:?}, bn {scale} {shift})"
                    );
                }
            }
        }
        // The grids put values on ties: the either-way case is exercised.
        assert!(near > 0);
    }

    /// The float-only requantization gives the values of quantize, then
    /// dequantize, saturation at both ends included.
    #[test]
    fn requant_row_is_quantize_then_dequantize() {
        let acc: Vec<i32> = (-3000..3000).step_by(7).chain([i32::MIN, i32::MAX, 0, 1, -1]).collect();
        for (mult, out) in
            [(0.1, Q { scale: 0.02, zero: 0 }), (0.25, Q { scale: 0.3, zero: 200 }), (1e9, Q { scale: 1.0, zero: 17 })]
        {
            let mut got = vec![0f32; acc.len()];
            requant_row(&acc, &mut got, mult, out);
            for (&a, &y) in acc.iter().zip(&got) {
                assert_eq!(y, out.dequantize(to_u8(a as f32 * mult, out.zero)), "acc {a}, mult {mult}, {out:?}");
            }
        }
    }
}
