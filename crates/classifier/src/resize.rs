//! Pillow's `Image.resize(size, Image.BILINEAR)` on 8-bit RGB, reproduced
//! operation for operation (libImaging/Resample.c: double-precision filter
//! weights, rounded to 22-bit fixed point, horizontal pass then vertical
//! pass, each rounded to u8) so the output is bit-exact with PIL's, which is
//! what torchvision's `Resize` calls on a PIL image.

use image::RgbImage;

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


/// One separable pass over 8-bit RGB: along x when `horizontal`, else along
/// y; the horizontal pass reads source rows from `row_offset` on.
fn pass(
    src: &[u8],
    src_width: usize,
    dst_width: usize,
    dst_height: usize,
    horizontal: bool,
    c: &Coefficients,
    row_offset: usize,
) -> Vec<u8> {
    let mut dst = vec![0u8; dst_width * dst_height * 3];
    let half = 1i64 << (PRECISION_BITS - 1);
    for y in 0..dst_height {
        for x in 0..dst_width {
            let (o, (min, n)) = if horizontal { (x, c.bounds[x]) } else { (y, c.bounds[y]) };
            let k = &c.weights[o * c.ksize..o * c.ksize + n];
            let mut acc = [half; 3];
            for (i, &w) in k.iter().enumerate() {
                let (sx, sy) = if horizontal { (min + i, y + row_offset) } else { (x, min + i) };
                let p = (sy * src_width + sx) * 3;
                for ch in 0..3 {
                    acc[ch] += src[p + ch] as i64 * w as i64;
                }
            }
            let d = (y * dst_width + x) * 3;
            for ch in 0..3 {
                dst[d + ch] = clip8(acc[ch]);
            }
        }
    }
    dst
}

/// Resize like Pillow's `Image.resize((width, height), Image.BILINEAR)`.
pub fn resize_bilinear(img: &RgbImage, width: u32, height: u32) -> RgbImage {
    let (in_w, in_h) = (img.width() as usize, img.height() as usize);
    let (out_w, out_h) = (width as usize, height as usize);
    if (in_w, in_h) == (out_w, out_h) {
        return img.clone();
    }
    let horiz = coefficients(in_w, out_w);
    let mut vert = coefficients(in_h, out_h);
    let resized_rows;
    let (src, src_w): (&[u8], usize) = if out_w != in_w {
        // Like Pillow, only the rows the vertical pass reads are resized.
        let first = vert.bounds[0].0;
        let last = vert.bounds[out_h - 1].0 + vert.bounds[out_h - 1].1;
        for b in vert.bounds.iter_mut() {
            b.0 -= first;
        }
        resized_rows = pass(img.as_raw(), in_w, out_w, last - first, true, &horiz, first);
        (&resized_rows, out_w)
    } else {
        (img.as_raw(), in_w)
    };
    let out = if out_h != in_h { pass(src, src_w, out_w, out_h, false, &vert, 0) } else { src.to_vec() };
    RgbImage::from_raw(out_w as u32, out_h as u32, out).expect("buffer has the output size")
}

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
        let img = RgbImage::from_pixel(97, 61, image::Rgb([10, 128, 250]));
        let out = resize_bilinear(&img, 255, 160);
        assert!(out.pixels().all(|p| p.0 == [10, 128, 250]));
    }
}
