//! torchvision's `CenterCrop(crop)` of `Resize(resize)` computed directly from
//! an image's rows: only the source rows and columns whose filter support
//! touches the crop are read, and only the crop's columns of Pillow's
//! horizontal pass are computed, so the resized image (255x510000 for a
//! 1x2000 PNG) never exists. The values are Pillow's, bit for bit: every
//! output pixel of each pass is the same fixed-point sum over the same
//! inputs, rounded to uint8 between the passes as Pillow does.

use image::RgbImage;

use crate::crop::Crop;
use crate::error::{Error, Result};
use crate::preprocess::Preprocess;
use crate::resize::{clip8, coefficients_range, Coefficients, HALF};
use crate::rows::RowSource;
use crate::tensor::Tensor;

/// torchvision's `_compute_resized_output_size`, without the u32 limit
/// (a 1x40000000 image resizes to 255x10200000000).
pub(crate) fn resized_size_u64(width: u64, height: u64, size: u64) -> (u64, u64) {
    let (short, long) = if width <= height { (width, height) } else { (height, width) };
    let new_long = ((size * long) as f64 / short as f64) as u64;
    if width <= height {
        (size, new_long)
    } else {
        (new_long, size)
    }
}

/// One axis of the crop: which resized pixels land where in the output.
struct Axis {
    /// First output (crop) index that holds a resized pixel; the ones
    /// before it and after `out_first + count` are torchvision's zero padding.
    out_first: usize,
    count: usize,
    coeffs: Coefficients,
    /// Range of input pixels the coefficients read.
    in_lo: usize,
    in_hi: usize,
}

impl Axis {
    fn new(in_size: u64, resized: u64, crop: u32) -> Axis {
        let crop = crop as u64;
        // torchvision pads (crop - size) // 2 before, then cuts at
        // round((padded - crop) / 2), Python rounding half to even.
        let pad = crop.saturating_sub(resized) / 2;
        let padded = resized.max(crop);
        let cut = ((padded - crop) as f64 / 2.0).round_ties_even() as u64;
        // Output index i shows resized pixel i + cut - pad when it exists.
        let out_first = pad.saturating_sub(cut);
        let res_first = (out_first + cut) - pad;
        let count = (crop - out_first).min(resized - res_first) as usize;
        let coeffs = if in_size == resized {
            // Pillow skips a pass whose size does not change.
            identity(res_first, count)
        } else {
            coefficients_range(in_size, resized, res_first, count)
        };
        let in_lo = coeffs.bounds.iter().map(|b| b.0).min().unwrap_or(0);
        let in_hi = coeffs.bounds.iter().map(|b| b.0 + b.1).max().unwrap_or(0);
        Axis { out_first: out_first as usize, count, coeffs, in_lo, in_hi }
    }
}

fn identity(first: u64, count: usize) -> Coefficients {
    Coefficients {
        ksize: 1,
        bounds: (0..count).map(|i| (first as usize + i, 1)).collect(),
        weights: vec![1 << crate::resize::PRECISION_BITS; count],
    }
}

/// How each stored pixel maps to the upright image: upright `(x, y)` is
/// stored `(sx, sy)` with `sx = fx(y), sy = fy(x)` when `transpose`, else
/// `sx = fx(x), sy = fy(y)`; `fx` / `fy` reverse when `flip_x` / `flip_y`.
#[derive(Clone, Copy, Debug)]
struct Orientation {
    transpose: bool,
    flip_x: bool,
    flip_y: bool,
}

impl Orientation {
    /// EXIF orientations as PIL's `ImageOps.exif_transpose` applies them.
    fn from_exif(value: u8) -> Orientation {
        let (transpose, flip_x, flip_y) = match value {
            2 => (false, true, false),
            3 => (false, true, true),
            4 => (false, false, true),
            5 => (true, false, false),
            6 => (true, false, true),
            7 => (true, true, true),
            8 => (true, true, false),
            _ => (false, false, false),
        };
        Orientation { transpose, flip_x, flip_y }
    }
}

/// Everything decided from the header before a pixel is decoded.
pub(crate) struct Plan {
    stored: (usize, usize),
    orientation: Orientation,
    crop: usize,
    horizontal: Axis,
    vertical: Axis,
}

impl Plan {
    pub(crate) fn new(stored_width: u32, stored_height: u32, exif_orientation: u8, pre: &Preprocess) -> Result<Plan> {
        pre.validate()?;
        if stored_width == 0 || stored_height == 0 {
            return Err(Error::CorruptImage(format!("the image is {stored_width}x{stored_height} pixels")));
        }
        let orientation = Orientation::from_exif(exif_orientation);
        let (w, h) = if orientation.transpose {
            (stored_height as u64, stored_width as u64)
        } else {
            (stored_width as u64, stored_height as u64)
        };
        let (rw, rh) = resized_size_u64(w, h, pre.resize as u64);
        Ok(Plan {
            stored: (stored_width as usize, stored_height as usize),
            orientation,
            crop: pre.crop as usize,
            horizontal: Axis::new(w, rw, pre.crop),
            vertical: Axis::new(h, rh, pre.crop),
        })
    }

    /// Upright rows the vertical pass reads.
    fn rows(&self) -> usize {
        self.vertical.in_hi - self.vertical.in_lo
    }

    /// Every byte [`Plan::run`] allocates, the plan itself included.
    pub(crate) fn peak_bytes(&self) -> u64 {
        let cells = (self.rows() * self.horizontal.count * 3) as u64;
        // Per (row, column) sums, and per column the weights of a run of
        // repeated rows.
        let accumulators = if self.orientation.transpose { cells * 4 + self.horizontal.count as u64 * 4 } else { 0 };
        let stored_row = self.stored.0 as u64 * 3;
        // A mirrored row's upright copy (horizontal pass).
        let flipped = if self.orientation.flip_x && !self.orientation.transpose { stored_row } else { 0 };
        // The vertical pass's sums of one output row.
        let row_sums = (self.horizontal.count * 3 * 4) as u64;
        let output = (self.crop * self.crop * 3) as u64;
        self.horizontal.coeffs.heap_bytes()
            + self.vertical.coeffs.heap_bytes()
            + cells
            + accumulators
            + stored_row
            + flipped
            + row_sums
            + output
    }

    /// Reads every row of `src` (all of them, so that a truncated file is an
    /// error as it is for PIL) and returns the `crop x crop` image.
    pub(crate) fn run(&self, src: &mut dyn RowSource) -> Result<RgbImage> {
        if (src.width() as usize, src.height() as usize) != self.stored {
            return Err(Error::CorruptImage("the decoder's size differs from the header's".into()));
        }
        let columns =
            if self.orientation.transpose { self.horizontal_pass_transposed(src)? } else { self.horizontal_pass(src)? };
        Ok(self.vertical_pass(&columns))
    }

    /// Upright rows are stored rows: each needed one is filtered as it
    /// arrives, into the crop's columns.
    fn horizontal_pass(&self, src: &mut dyn RowSource) -> Result<Vec<u8>> {
        let (sw, sh) = self.stored;
        let cw = self.horizontal.count;
        let (lo, hi) = (self.vertical.in_lo, self.vertical.in_hi);
        let mut out = vec![0u8; (hi - lo) * cw * 3];
        let mut row = vec![0u8; sw * 3];
        // A mirrored image's upright row, pixels reversed once per row.
        let mut flipped = if self.orientation.flip_x { vec![0u8; sw * 3] } else { Vec::new() };
        // The output row last computed from the pixels now in `row`: a
        // repeated row (a JPEG whose data ran out) is a copy of it.
        let mut computed: Option<usize> = None;
        for sy in 0..sh {
            let repeated = sy > 0 && src.skip_repeated_row()?;
            if !repeated {
                src.next_row(&mut row)?;
                computed = None;
            }
            let y = if self.orientation.flip_y { sh - 1 - sy } else { sy };
            if y < lo || y >= hi {
                continue;
            }
            let len = cw * 3;
            if let Some(c) = computed {
                out.copy_within(c * len..(c + 1) * len, (y - lo) * len);
                continue;
            }
            computed = Some(y - lo);
            let upright = if self.orientation.flip_x {
                for (f, p) in flipped.chunks_exact_mut(3).zip(row.chunks_exact(3).rev()) {
                    f.copy_from_slice(p);
                }
                &flipped
            } else {
                &row
            };
            let dst = &mut out[(y - lo) * cw * 3..(y - lo + 1) * cw * 3];
            for (j, d) in dst.chunks_exact_mut(3).enumerate() {
                let (min, k) = self.horizontal.coeffs.of(j);
                // Pillow's 8-bit passes sum in 32-bit ints (bilinear weights
                // are non-negative: at most HALF + 255 * 2^22).
                let mut acc = [HALF as i32; 3];
                for (p, &w) in upright[min * 3..(min + k.len()) * 3].chunks_exact(3).zip(k) {
                    for c in 0..3 {
                        acc[c] += p[c] as i32 * w;
                    }
                }
                for c in 0..3 {
                    d[c] = clip8(acc[c] as i64);
                }
            }
        }
        Ok(out)
    }

    /// Upright rows are stored columns: stored row `sy` is upright column
    /// `x`, and adds its share to every (needed row, crop column) sum whose
    /// filter covers `x`. Integer sums do not depend on the order of their
    /// terms, so this equals Pillow's row-by-row pass exactly.
    fn horizontal_pass_transposed(&self, src: &mut dyn RowSource) -> Result<Vec<u8>> {
        let (sw, sh) = self.stored;
        let cw = self.horizontal.count;
        let (lo, hi) = (self.vertical.in_lo, self.vertical.in_hi);
        // Pillow's 8-bit passes sum in 32-bit ints: 255 * 2^22 fits.
        let mut acc = vec![HALF as i32; (hi - lo) * cw * 3];
        let mut row = vec![0u8; sw * 3];
        let bounds = &self.horizontal.coeffs.bounds;
        // Rows equal to `row` (a JPEG whose data ran out repeats its rows)
        // are added as one: per crop column, the sum of their weights, then
        // each pixel times that sum once (the same integer sums).
        let mut run = vec![0i32; cw];
        let mut touched = 0..0;
        for sy in 0..sh {
            // A repeated row leaves `row` as it is, which is that row.
            if !(sy > 0 && src.skip_repeated_row()?) {
                for j in std::mem::replace(&mut touched, 0..0) {
                    self.add_column(&row, j, std::mem::take(&mut run[j]), &mut acc);
                }
                src.next_row(&mut row)?;
            }
            let x = if self.orientation.flip_y { sh - 1 - sy } else { sy };
            // Filter windows only move forward with j (Pillow's bounds are
            // monotonic), so the columns whose window covers x are a range.
            let j_lo = bounds.partition_point(|&(min, n)| min + n <= x);
            let j_hi = bounds.partition_point(|&(min, _)| min <= x);
            for (j, sum) in run.iter_mut().enumerate().take(j_hi).skip(j_lo) {
                let (min, k) = self.horizontal.coeffs.of(j);
                *sum += k.get(x.wrapping_sub(min)).copied().unwrap_or(0);
            }
            touched = if touched.is_empty() { j_lo..j_hi } else { touched.start.min(j_lo)..touched.end.max(j_hi) };
        }
        for j in touched {
            self.add_column(&row, j, run[j], &mut acc);
        }
        Ok(acc.into_iter().map(|v| clip8(v as i64)).collect())
    }

    /// Adds stored row `row` (an upright column) times `w` to the sums of
    /// crop column `j` of every needed upright row.
    #[inline(always)]
    fn add_column(&self, row: &[u8], j: usize, w: i32, acc: &mut [i32]) {
        if w == 0 {
            return;
        }
        let (sw, cw) = (self.stored.0, self.horizontal.count);
        let lo = self.vertical.in_lo;
        for y in lo..self.vertical.in_hi {
            let sx = if self.orientation.flip_x { sw - 1 - y } else { y };
            let p = &row[sx * 3..sx * 3 + 3];
            let a = &mut acc[((y - lo) * cw + j) * 3..((y - lo) * cw + j) * 3 + 3];
            for c in 0..3 {
                a[c] += p[c] as i32 * w;
            }
        }
    }

    /// Whole rows at a time: the same sums as Pillow's per-pixel loop, in
    /// loops over contiguous bytes that the compiler vectorises.
    fn vertical_pass(&self, columns: &[u8]) -> RgbImage {
        let len = self.horizontal.count * 3;
        let lo = self.vertical.in_lo;
        let mut out = RgbImage::new(self.crop as u32, self.crop as u32);
        let mut acc = vec![0i32; len];
        let raw: &mut [u8] = &mut out;
        for i in 0..self.vertical.count {
            let (min, k) = self.vertical.coeffs.of(i);
            acc.fill(HALF as i32);
            for (t, &w) in k.iter().enumerate() {
                let src = &columns[(min + t - lo) * len..][..len];
                for (a, &p) in acc.iter_mut().zip(src) {
                    *a += p as i32 * w;
                }
            }
            let oy = self.vertical.out_first + i;
            let dst = &mut raw[(oy * self.crop + self.horizontal.out_first) * 3..][..len];
            for (d, &a) in dst.iter_mut().zip(&acc) {
                *d = clip8(a as i64);
            }
        }
        out
    }
}

/// The steps of [`Preprocess`] that read an image.
impl Preprocess {
    /// Resize and centre crop: the uint8 image the model sees before
    /// normalisation, `crop` x `crop`.
    ///
    /// Computed without the resized image (see this module), so any
    /// aspect ratio costs about the crop's memory. An empty image or invalid
    /// settings give a black crop; [`crate::decode_crop`] reports them.
    pub fn resize_crop(&self, img: &RgbImage) -> Crop {
        let side = self.crop.max(1);
        Crop::new(
            Plan::new(img.width(), img.height(), 1, self)
                .and_then(|plan| plan.run(&mut ImageRows::new(img)))
                .unwrap_or_else(|_| RgbImage::new(side, side)),
        )
    }

    /// A batch `[N, 3, crop, crop]` from decoded images.
    pub fn tensor(&self, images: &[RgbImage]) -> Tensor {
        let cropped: Vec<Crop> = images.iter().map(|img| self.resize_crop(img)).collect();
        self.normalized(&cropped.iter().collect::<Vec<_>>())
    }
}

/// A decoded image in memory as a [`RowSource`] (what `resize_crop` of an
/// already decoded image reads).
pub(crate) struct ImageRows<'a> {
    img: &'a RgbImage,
    next: usize,
}

impl<'a> ImageRows<'a> {
    pub(crate) fn new(img: &'a RgbImage) -> Self {
        ImageRows { img, next: 0 }
    }
}

impl RowSource for ImageRows<'_> {
    fn width(&self) -> u32 {
        self.img.width()
    }
    fn height(&self) -> u32 {
        self.img.height()
    }
    fn orientation(&self) -> u8 {
        1
    }
    fn peak_bytes(&self) -> u64 {
        0
    }
    fn next_row(&mut self, row: &mut [u8]) -> Result<()> {
        let stride = self.img.width() as usize * 3;
        let src = self
            .img
            .as_raw()
            .get(self.next * stride..(self.next + 1) * stride)
            .ok_or_else(|| Error::CorruptImage("read past the last row".into()))?;
        row.copy_from_slice(src);
        self.next += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(w: u32, h: u32) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([(x * 37 + y * 11) as u8, (x * x + 3 * y) as u8, (y * y / 7 + x) as u8])
        })
    }

    fn upright(img: &RgbImage, orientation: u8) -> RgbImage {
        let mut d = image::DynamicImage::ImageRgb8(img.clone());
        d.apply_orientation(image::metadata::Orientation::from_exif(orientation).unwrap());
        d.into_rgb8()
    }

    #[test]
    fn every_orientation_equals_rotating_first() {
        let pre = Preprocess::default();
        for (w, h) in [(300, 451), (451, 300), (7, 10), (1000, 3), (2, 700)] {
            let img = pattern(w, h);
            for o in 1..=8 {
                let expected = pre.resize_crop(&upright(&img, o));
                let plan = Plan::new(w, h, o, &pre).unwrap();
                let mut rows = ImageRows::new(&img);
                let got = plan.run(&mut rows).unwrap();
                assert!(got == *expected, "{w}x{h} orientation {o}");
            }
        }
    }

    /// An image's rows that says which rows repeat the one before them.
    struct Repeating<'a>(ImageRows<'a>);

    impl RowSource for Repeating<'_> {
        fn width(&self) -> u32 {
            self.0.width()
        }
        fn height(&self) -> u32 {
            self.0.height()
        }
        fn orientation(&self) -> u8 {
            1
        }
        fn peak_bytes(&self) -> u64 {
            0
        }
        fn next_row(&mut self, row: &mut [u8]) -> Result<()> {
            self.0.next_row(row)
        }
        fn skip_repeated_row(&mut self) -> Result<bool> {
            let (img, y) = (self.0.img, self.0.next as u32);
            let same =
                y > 0 && y < img.height() && (0..img.width()).all(|x| img.get_pixel(x, y) == img.get_pixel(x, y - 1));
            if same {
                self.0.next += 1;
            }
            Ok(same)
        }
    }

    #[test]
    fn repeated_rows_give_the_rows_computed() {
        let pre = Preprocess::default();
        for (w, h) in [(300, 451), (451, 300), (1000, 30), (20, 700)] {
            // Bands of equal rows, and the lower part all one row (a JPEG
            // whose data ran out).
            let img = RgbImage::from_fn(w, h, |x, y| {
                let y = if y > h / 2 { h / 2 } else { y / 7 };
                image::Rgb([(x * 37 + y * 11) as u8, (x * x + 3 * y) as u8, (y * y / 7 + x) as u8])
            });
            for o in 1..=8 {
                let plan = Plan::new(w, h, o, &pre).unwrap();
                let want = plan.run(&mut ImageRows::new(&img)).unwrap();
                let got = plan.run(&mut Repeating(ImageRows::new(&img))).unwrap();
                assert!(got == want, "{w}x{h} orientation {o}");
            }
        }
    }

    #[test]
    fn padding_when_resize_is_under_crop() {
        let pre = Preprocess { resize: 100, crop: 224, ..Preprocess::default() };
        let img = pattern(150, 100);
        let out = pre.resize_crop(&img);
        // 150x100 -> 150x100 (unchanged) padded to 224: 37 columns of zeros left, 62 rows top.
        assert_eq!(out.get_pixel(36, 100).0, [0, 0, 0]);
        assert_eq!(out.get_pixel(37, 62).0, img.get_pixel(0, 0).0);
        assert_eq!(out.get_pixel(37 + 149, 62 + 99).0, img.get_pixel(149, 99).0);
        assert_eq!(out.get_pixel(37 + 150, 62).0, [0, 0, 0]);
    }
}
