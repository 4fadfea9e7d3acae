//! The filter of Pillow's `Image.resize(size, Image.BILINEAR)` on 8-bit
//! RGB, reproduced operation for operation (libImaging/Resample.c:
//! double-precision filter weights, rounded to 22-bit fixed point), which is
//! what torchvision's `Resize` calls on a PIL image. `crop_resize.rs` runs
//! Pillow's two passes (horizontal, then vertical, each rounded to u8) on
//! only the pixels a centre crop keeps.

pub(crate) const PRECISION_BITS: u32 = 32 - 8 - 2;

/// Per output pixel: the first input pixel, how many follow, and their
/// fixed-point weights (`ksize` slots each).
pub(crate) struct Coefficients {
    pub(crate) ksize: usize,
    pub(crate) bounds: Vec<(usize, usize)>,
    pub(crate) weights: Vec<i32>,
}

impl Coefficients {
    /// The weights of output pixel `i` (relative to the first one computed).
    pub(crate) fn of(&self, i: usize) -> (usize, &[i32]) {
        let (min, n) = self.bounds[i];
        (min, &self.weights[i * self.ksize..i * self.ksize + n])
    }

    pub(crate) fn heap_bytes(&self) -> u64 {
        (self.bounds.capacity() * std::mem::size_of::<(usize, usize)>() + self.weights.capacity() * 4) as u64
    }
}

fn bilinear(x: f64) -> f64 {
    let x = x.abs();
    if x < 1.0 {
        1.0 - x
    } else {
        0.0
    }
}

#[cfg(test)]
fn coefficients(in_size: usize, out_size: usize) -> Coefficients {
    coefficients_range(in_size as u64, out_size as u64, 0, out_size)
}

/// Pillow's `precompute_coeffs` for the output pixels `first..first + count`
/// only: every pixel's weights depend on the sizes and its own index alone,
/// so a crop of a 15-million-pixel-wide resize costs 224 pixels' worth.
pub(crate) fn coefficients_range(in_size: u64, out_size: u64, first: u64, count: usize) -> Coefficients {
    const SUPPORT: f64 = 1.0;
    let (in0, in1) = (0.0f64, in_size as f64);
    let scale = (in1 - in0) / out_size as f64;
    let filterscale = scale.max(1.0);
    let support = SUPPORT * filterscale;
    let ksize = support.ceil() as usize * 2 + 1;

    let mut bounds = Vec::with_capacity(count);
    let mut weights = vec![0i32; count * ksize];
    let mut k = vec![0f64; ksize];
    for i in 0..count {
        let xx = first + i as u64;
        let center = in0 + (xx as f64 + 0.5) * scale;
        let ss = 1.0 / filterscale;
        // C's (int) cast truncates toward zero, as `as` does.
        let xmin = ((center - support + 0.5) as i64).max(0);
        let xmax = ((center + support + 0.5) as i64).min(in_size as i64) - xmin;
        let (xmin, xmax) = (xmin as usize, (xmax.max(0) as usize).min(ksize));
        let mut ww = 0.0;
        for (x, kx) in k.iter_mut().enumerate().take(xmax) {
            let w = bilinear((x as f64 + xmin as f64 - center + 0.5) * ss);
            *kx = w;
            ww += w;
        }
        for (x, kx) in k.iter().enumerate().take(xmax) {
            let w = if ww != 0.0 { kx / ww } else { *kx };
            let fixed = w * (1u32 << PRECISION_BITS) as f64;
            weights[i * ksize + x] = if w < 0.0 { (fixed - 0.5) as i32 } else { (fixed + 0.5) as i32 };
        }
        bounds.push((xmin, xmax));
    }
    Coefficients { ksize, bounds, weights }
}

pub(crate) fn clip8(v: i64) -> u8 {
    (v >> PRECISION_BITS).clamp(0, 255) as u8
}

pub(crate) const HALF: i64 = 1 << (PRECISION_BITS - 1);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_sum_to_one_in_fixed_point() {
        for (i, o) in [(640, 255), (255, 640), (7, 255), (300, 299)] {
            let c = coefficients(i, o);
            for (x, &(_, n)) in c.bounds.iter().enumerate() {
                let s: i64 = c.weights[x * c.ksize..x * c.ksize + n].iter().map(|&w| w as i64).sum();
                assert!((s - (1 << PRECISION_BITS)).abs() <= n as i64, "{i}->{o} at {x}: {s}");
            }
        }
    }

    #[test]
    fn flat_image_stays_flat() {
        let img = image::RgbImage::from_pixel(97, 61, image::Rgb([10, 128, 250]));
        let out = crate::preprocess::Preprocess::default().resize_crop(&img);
        assert!(out.pixels().all(|p| p.0 == [10, 128, 250]));
    }
}
