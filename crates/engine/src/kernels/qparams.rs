//! One tensor's quantization (`Q`, u8 activations) and the rounding it
//! takes: a leaf, so that the kernel signatures (`types.rs`) and the row
//! loops (`quant.rs`) can both name it.

/// Rounds half to even, as the float unit's default mode does: adding and
/// subtracting 1.5 x 2^23 leaves the integer nearest `x` for |x| < 2^22
/// (callers clamp to the u8 range first). `f32::round_ties_even` is a libm
/// call on targets without a rounding instruction (x86-64's baseline), which
/// keeps the loops below from vectorising.
#[inline(always)]
pub(crate) fn round_even(x: f32) -> f32 {
    (x + ROUND) - ROUND
}

/// 1.5 x 2^23: see [`round_even`].
pub(crate) const ROUND: f32 = 12_582_912.0;

/// `saturate(round_half_even(v) + zero)` as a byte; NaN gives 0. The
/// byte is read from the bits of `w + 2^23` (its low mantissa bits are `w`
/// for 0 <= w < 2^23): a float-to-u8 cast saturates lane by lane, which no
/// SIMD set has as one instruction.
#[inline(always)]
pub(crate) fn to_u8(v: f32, zero: u8) -> u8 {
    byte(clamp(round_even(clamp(v, -512.0, 512.0)) + f32::from(zero), 0.0, 255.0))
}

/// `x` within lo..=hi as compares and selects (NaN stays NaN): `f32::clamp`,
/// `max` and `min` are calls to `fmaxf` / `fminf` in wasm (their NaN rule
/// has no wasm instruction), which kept these loops scalar there.
#[inline(always)]
pub(crate) fn clamp(x: f32, lo: f32, hi: f32) -> f32 {
    let x = if x < lo { lo } else { x };
    if x > hi {
        hi
    } else {
        x
    }
}

/// `w` in 0..=255 as a byte, rounded half to even (`w + 2^23` is rounded to
/// an integer: a float's spacing there is 1).
#[inline(always)]
pub(crate) fn byte(w: f32) -> u8 {
    (w + TWO23).to_bits() as u8
}

/// 2^23: from there on a float's spacing is 1 (see [`byte`]).
pub(crate) const TWO23: f32 = 8_388_608.0;

/// One tensor's quantization (u8 activations).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Q {
    pub scale: f32,
    pub zero: u8,
}

impl Q {
    /// Multiplies by the scale's reciprocal (onnxruntime divides): the
    /// loops vectorise without a division per value; a quotient within an
    /// ulp of a rounding tie may round the other way.
    #[inline(always)]
    pub fn quantize(self, x: f32) -> u8 {
        to_u8(x * (1.0 / self.scale), self.zero)
    }

    #[inline(always)]
    pub fn dequantize(self, q: u8) -> f32 {
        (f32::from(q) - f32::from(self.zero)) * self.scale
    }
}
