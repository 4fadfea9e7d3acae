//! Packing loops the kernel sets compile with their own target features.

use super::types::{Bn, Cols};
use crate::scalar::relu;

/// B[k][n] = max(0, src[k * ld + n] * scale[k] + shift[k]): norm1 + ReLU
/// applied while packing conv1's input.
#[inline(always)]
pub fn pack_bn_relu(src: &[f32], ld: usize, bn: Bn, cols: Cols, dst: &mut [f32]) {
    let (Bn { scale, shift }, Cols { n0, nc, nr }) = (bn, cols);
    for (kk, (&s, &h)) in scale.iter().zip(shift).enumerate() {
        let row = &src[kk * ld + n0..kk * ld + n0 + nc];
        let out = &mut dst[kk * nr..(kk + 1) * nr];
        for (o, &x) in out[..nc].iter_mut().zip(row) {
            *o = relu(x * s + h);
        }
        if nc < nr {
            out[nc..].fill(0.0);
        }
    }
}

/// `dst.copy_from_slice(src)` for short runs (the stem's 8 floats in wasm,
/// the Winograd transforms' rows of 7-56). In wasm a copy of a length known
/// only at run time is a `memory.copy`, which V8 runs as a call: it cost
/// more than the copy itself, so wasm copies 4 floats at a time in `v128`s.
#[inline(always)]
pub(crate) fn copy(dst: &mut [f32], src: &[f32]) {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    {
        use core::arch::wasm32::*;
        assert_eq!(dst.len(), src.len());
        let mut d = dst.chunks_exact_mut(4);
        let mut s = src.chunks_exact(4);
        for (d4, s4) in (&mut d).zip(&mut s) {
            // SAFETY: both chunks hold 4 floats.
            unsafe { v128_store(d4.as_mut_ptr() as *mut v128, v128_load(s4.as_ptr() as *const v128)) };
        }
        for (x, &y) in d.into_remainder().iter_mut().zip(s.remainder()) {
            *x = y;
        }
    }
    #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
    dst.copy_from_slice(src);
}
