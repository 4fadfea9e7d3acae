//! The stem's max pool and the transitions' BN + ReLU + 2x2 average pool,
//! one channel plane at a time.

use crate::scalar::{max, relu};

/// 3x3 max pool, stride 2, padding 1 (padding never wins: every window holds
/// a real pixel), of floats or of codes. Separable: the max of an output
/// row's 2-3 input rows, then of 2-3 columns of that.
pub unsafe fn maxpool3s2<T: Max>(src: &[T], hin: usize, hout: usize, dst: *mut T) {
    let mut col = src[..hin].to_vec();
    for oy in 0..hout {
        let y0 = (2 * oy).saturating_sub(1);
        let y1 = (2 * oy + 2).min(hin);
        col.copy_from_slice(&src[y0 * hin..][..hin]);
        for y in y0 + 1..y1 {
            for (c, &v) in col.iter_mut().zip(&src[y * hin..][..hin]) {
                *c = c.max_of(v);
            }
        }
        let out = std::slice::from_raw_parts_mut(dst.add(oy * hout), hout);
        for (ox, o) in out.iter_mut().enumerate() {
            let x = 2 * ox;
            let mut m = col[x];
            if x + 1 < hin {
                m = m.max_of(col[x + 1]);
            }
            if x > 0 {
                m = m.max_of(col[x - 1]);
            }
            *o = m;
        }
    }
}

/// What [`maxpool3s2`] pools.
pub trait Max: Copy {
    fn max_of(self, other: Self) -> Self;
}

impl Max for f32 {
    #[inline(always)]
    fn max_of(self, other: f32) -> f32 {
        max(self, other)
    }
}

impl Max for u8 {
    #[inline(always)]
    fn max_of(self, other: u8) -> u8 {
        Ord::max(self, other)
    }
}

pub unsafe fn bn_relu_avgpool2(src: &[f32], side: usize, s: f32, h: f32, dst: *mut f32) {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    if crate::kernels::wasm_bn_relu_avgpool2(src, side, s, h, dst) {
        return;
    }
    let half = side / 2;
    let f = |x: f32| relu(x * s + h);
    for oy in 0..half {
        let r0 = &src[2 * oy * side..];
        let r1 = &src[(2 * oy + 1) * side..];
        for ox in 0..half {
            let v = f(r0[2 * ox]) + f(r0[2 * ox + 1]) + f(r1[2 * ox]) + f(r1[2 * ox + 1]);
            *dst.add(oy * half + ox) = v * 0.25;
        }
    }
}

/// 2x2 average pool, stride 2, of one `side` x `side` plane into `dst`:
/// each window summed row by row, then divided.
pub fn avgpool2(src: &[f32], side: usize, dst: &mut [f32]) {
    let half = side / 2;
    for (oy, out) in dst.chunks_exact_mut(half).take(half).enumerate() {
        let (r0, r1) = (&src[2 * oy * side..][..side], &src[(2 * oy + 1) * side..][..side]);
        for (ox, o) in out.iter_mut().enumerate() {
            *o = (r0[2 * ox] + r0[2 * ox + 1] + r1[2 * ox] + r1[2 * ox + 1]) / 4.0;
        }
    }
}

#[cfg(test)]
mod tests {
    /// The separable pool against the 3x3 window's max, for floats and
    /// for codes (odd and even sides).
    #[test]
    fn maxpool3s2_is_the_windows_max() {
        for hin in [7usize, 8, 112] {
            let hout = hin.div_ceil(2);
            let codes: Vec<u8> = (0..hin * hin).map(|i| ((i * 97 + 13) % 256) as u8).collect();
            let floats: Vec<f32> = codes.iter().map(|&c| f32::from(c) - 100.5).collect();
            let (mut got8, mut got32) = (vec![0u8; hout * hout], vec![0f32; hout * hout]);
            // SAFETY: the outputs hold hout x hout values.
            unsafe {
                super::maxpool3s2(&codes, hin, hout, got8.as_mut_ptr());
                super::maxpool3s2(&floats, hin, hout, got32.as_mut_ptr());
            }
            for oy in 0..hout {
                for ox in 0..hout {
                    let ys = (2 * oy).saturating_sub(1)..(2 * oy + 2).min(hin);
                    let xs = (2 * ox).saturating_sub(1)..(2 * ox + 2).min(hin);
                    let want =
                        ys.flat_map(|y| xs.clone().map(|x| codes[y * hin + x]).collect::<Vec<_>>()).max().unwrap();
                    assert_eq!(got8[oy * hout + ox], want, "side {hin}, ({oy}, {ox})");
                    assert_eq!(got32[oy * hout + ox], f32::from(want) - 100.5, "side {hin}, ({oy}, {ox})");
                }
            }
        }
    }
}
