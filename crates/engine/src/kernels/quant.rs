//! The element-wise arithmetic of an int8 (QDQ) model, as onnxruntime's
//! operators define it: QuantizeLinear `q = saturate(round_half_even(x / s)
//! + z)`, DequantizeLinear `x = (q - z) * s`. The row loops are compiled
//! once per kernel set (`helpers.rs`), so that they vectorise for it.

use super::qparams::{byte, clamp, round_even, to_u8, Q, ROUND, TWO23};
use super::types::{Bn, Cols, Strided};

/// What a dense layer's conv1 (and a transition's conv, and the head's
/// pool) reads: a Concat's inputs (u8 codes, each channel in its producer's
/// quantization `codes[kk]`) dequantized and requantized to the Concat's
/// own (`cat`), then BatchNormalization, ReLU and the ReLU's quantization
/// (`relu`), for columns `cols.n0..n0 + nc` of every channel of `src` (rows
/// `ld` apart, one per BN channel) into `dst` (rows `nc` apart), each
/// channel through its [`ChannelMap`].
#[inline(always)]
pub fn bn_relu_q_rows(src: &[u8], ld: usize, bn: Bn, cols: Cols, (codes, cat, relu): (&[Q], Q, Q), dst: &mut [u8]) {
    let (Cols { n0, nc, .. }, inv, zc) = (cols, 1.0 / cat.scale, f32::from(cat.zero));
    let inv_r = 1.0 / relu.scale;
    let channels = bn.scale.iter().zip(bn.shift).zip(codes);
    for (kk, ((&scale, &shift), &q)) in channels.enumerate() {
        let row = &src[kk * ld + n0..][..nc];
        let out = &mut dst[kk * nc..][..nc];
        prefetch_next(src, kk * ld + n0 + nc, nc);
        if relu.zero == 0 {
            let m = ChannelMap::new((scale, shift), q, cat, relu);
            for (d, &c) in out.iter_mut().zip(row) {
                *d = byte(clamp(m.y(c), 0.0, 255.0));
            }
        } else {
            let a = cat.scale * scale;
            let b = shift - zc * a;
            let (sp, zp) = (q.scale, f32::from(q.zero));
            for (d, &c) in out.iter_mut().zip(row) {
                let x = code_less(c, TWO23 + zp) * sp;
                let t = clamp(round_even(x * inv) + zc, 0.0, 255.0);
                *d = to_u8(crate::scalar::relu(t * a + b) * inv_r, relu.zero);
            }
        }
    }
}

/// `code - zp` as a float, given `zpb` = 2^23 + zp: the code ORed into the
/// low bits of 2^23's (a bitcast gives 2^23 + code exactly), less `zpb`; a
/// plain conversion from u8 is scalarised lane by lane in wasm.
#[inline(always)]
fn code_less(c: u8, zpb: f32) -> f32 {
    f32::from_bits(0x4B00_0000 | u32::from(c)) - zpb
}

/// One channel's map from its producer's code to the ReLU's code (ReLU
/// zero point 0), as [`bn_relu_q_rows`] computes it: the Concat's code `t`
/// (its quantized value plus its zero point) goes through BN as `t * (s_c *
/// scale) + (shift - z_c * s_c * scale)`, one multiply-add fewer per value.
/// Dequantized values are finite and within 255 steps of their own scale,
/// so the Concat's code needs no clamp before rounding. With the ReLU's
/// zero point 0 (`quantized::plan` checks the folded ones; a kept ReLU's
/// output is never negative) its code is the rounded quotient, at most 255:
/// the clamp at 0 is the ReLU, the Concat's zero point joins the rounding's
/// constant, and the producer's step and the ReLU's scale fold into the
/// constants. onnxruntime's codes but where a value lies within float
/// rounding of a tie (the test below).
#[derive(Clone, Copy)]
struct ChannelMap {
    /// 2^23 + the producer's zero point.
    zpb: f32,
    /// The producer's step over the Concat's.
    k: f32,
    /// ROUND less the Concat's zero point.
    m_zc: f32,
    /// BN on the Concat's code, over the ReLU's scale.
    a: f32,
    b: f32,
}

impl ChannelMap {
    #[inline(always)]
    fn new((scale, shift): (f32, f32), q: Q, cat: Q, relu: Q) -> ChannelMap {
        let (inv, inv_r, zc) = (1.0 / cat.scale, 1.0 / relu.scale, f32::from(cat.zero));
        let a = cat.scale * scale;
        let b = shift - zc * a;
        ChannelMap { zpb: TWO23 + f32::from(q.zero), k: q.scale * inv, m_zc: ROUND - zc, a: a * inv_r, b: b * inv_r }
    }

    /// The ReLU's code before its clamp to 0..=255 and rounding.
    #[inline(always)]
    fn y(self, c: u8) -> f32 {
        let t = clamp((code_less(c, self.zpb) * self.k + ROUND) - self.m_zc, 0.0, 255.0);
        t * self.a + self.b
    }
}

/// Every channel's [`ChannelMap`], one vector per constant (4 or 2
/// channels are one SIMD load), for the packers that write an int8
/// kernel's panels straight from the block's codes (`int8::pack_b_bn_relu`),
/// built once at load. Their last step, `y` to a byte, is `y + ROUND`'s
/// bits less ROUND's, saturated to 0..=255 as SIMD narrowing does: the
/// same byte as [`bn_relu_q_rows`]'s clamp then `byte` (both round half to
/// even; 0 and 255 are integers) while |y| < 2^22, which `new` checks.
pub struct BnReluMaps {
    /// The producer's zero point (the SIMD packers convert codes to float
    /// as they are: `c - zp` exactly, as `code_less`).
    pub zp: Vec<f32>,
    pub k: Vec<f32>,
    pub m_zc: Vec<f32>,
    pub a: Vec<f32>,
    pub b: Vec<f32>,
}

impl BnReluMaps {
    /// The maps of `bn`'s channels (their producers' quantizations `codes`)
    /// through the Concat's `cat` and the ReLU's `relu`, padded with zeros
    /// to a multiple of 4 channels; None where a ReLU's zero point is not 0
    /// or a constant could take `y` past 2^21 (the row loop runs those).
    pub fn new(bn: Bn, codes: &[Q], cat: Q, relu: Q) -> Option<BnReluMaps> {
        let n = bn.scale.len();
        assert!(bn.shift.len() == n && codes.len() == n);
        if relu.zero != 0 {
            return None;
        }
        let padded = n.next_multiple_of(4);
        let mut m = BnReluMaps {
            zp: vec![0.0; padded],
            k: vec![0.0; padded],
            m_zc: vec![0.0; padded],
            a: vec![0.0; padded],
            b: vec![0.0; padded],
        };
        for (i, ((&scale, &shift), &q)) in bn.scale.iter().zip(bn.shift).zip(codes).enumerate() {
            let c = ChannelMap::new((scale, shift), q, cat, relu);
            let small = |v: f32| v.is_finite() && v.abs() < 2_097_152.0;
            if !(small(255.0 * c.k) && small(255.0 * c.a.abs() + c.b.abs())) {
                return None;
            }
            (m.zp[i], m.k[i], m.m_zc[i], m.a[i], m.b[i]) = (c.zpb - TWO23, c.k, c.m_zc, c.a, c.b);
        }
        Some(m)
    }

    pub fn bytes(&self) -> usize {
        4 * 5 * self.zp.len()
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
/// (`-z..=255 - z`) and before the rounding (its bounds are integers, so
/// clamping first rounds to the same value, and keeps the value inside
/// `round_even`'s range): the same values, with no conversion to bytes and
/// back. `mult` is finite (`quantized::conv` checks it), so no value is NaN.
#[inline(always)]
pub fn requant_row(acc: &[i32], dst: &mut [f32], mult: f32, out: Q) {
    let (lo, hi) = (-f32::from(out.zero), 255.0 - f32::from(out.zero));
    for (y, &a) in dst.iter_mut().zip(acc) {
        *y = round_even(clamp(a as f32 * mult, lo, hi)) * out.scale;
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
/// as they are (a dense layer's int8 3x3 conv). `to_u8`'s value, in fewer
/// operations: clamped to `-z..=255 - z` first (as `requant_row`), then
/// `round_even` and the zero point and `byte`'s 2^23 in one subtraction
/// from `x + ROUND` (all integers below 2^24, exact).
#[inline(always)]
pub fn requant_row_u8(acc: &[i32], dst: &mut [u8], mult: f32, out: Q) {
    let (lo, hi) = (-f32::from(out.zero), 255.0 - f32::from(out.zero));
    let shift = ROUND - TWO23 - f32::from(out.zero);
    for (y, &a) in dst.iter_mut().zip(acc) {
        *y = ((clamp(a as f32 * mult, lo, hi) + ROUND) - shift).to_bits() as u8;
    }
}

/// [`requant_row_u8`] of `nc` values of each row r of `acc` (`acc.ld`
/// apart), multiplier `mults[r]`, into row r of `dst`: one call for a
/// conv's whole chunk, whose rows are a few panels short.
///
/// # Safety
/// `acc` and `dst` hold `mults.len()` rows of `nc` values.
#[inline(always)]
pub unsafe fn requant_rows_u8(acc: Strided<*const i32>, mults: &[f32], out: Q, nc: usize, dst: Strided<*mut u8>) {
    for (r, &mult) in mults.iter().enumerate() {
        let a = std::slice::from_raw_parts(acc.ptr.add(r * acc.ld), nc);
        requant_row_u8(a, std::slice::from_raw_parts_mut(dst.ptr.add(r * dst.ld), nc), mult, out);
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
    /// dequantize, and the codes' version the codes, saturation at both
    /// ends included.
    #[test]
    fn requant_rows_are_quantize_then_dequantize() {
        let acc: Vec<i32> = (-3000..3000).step_by(7).chain([i32::MIN, i32::MAX, 0, 1, -1]).collect();
        // 0.25 and 0.5 put values on rounding ties.
        for (mult, out) in [
            (0.1, Q { scale: 0.02, zero: 0 }),
            (0.25, Q { scale: 0.3, zero: 200 }),
            (0.5, Q { scale: 0.1, zero: 128 }),
            (1e9, Q { scale: 1.0, zero: 17 }),
        ] {
            let mut got = vec![0f32; acc.len()];
            requant_row(&acc, &mut got, mult, out);
            let mut codes = vec![0u8; acc.len()];
            requant_row_u8(&acc, &mut codes, mult, out);
            for ((&a, &y), &c) in acc.iter().zip(&got).zip(&codes) {
                assert_eq!(c, to_u8(a as f32 * mult, out.zero), "codes: acc {a}, mult {mult}, {out:?}");
                assert_eq!(y, out.dequantize(c), "acc {a}, mult {mult}, {out:?}");
            }
        }
    }
}
