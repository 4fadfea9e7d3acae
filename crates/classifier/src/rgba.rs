//! Pixels decoded already (a canvas's `ImageData`: RGBA8, rows top to
//! bottom) to the same crop the encoded paths produce, with the same limit
//! checks, made before a pixel is read. Alpha is dropped, as PIL's
//! `convert("RGB")` does for an encoded RGBA image.

use crate::crop::Crop;
use crate::crop_resize::Plan;
use crate::decode::{check_budget, check_pixels, DecodeLimits};
use crate::error::{Error, Result};
use crate::preprocess::Preprocess;
use crate::rows::RowSource;
use crate::work_budget::WorkBudget;

/// RGBA8 pixels, 4 bytes a pixel, row after row, wherever they live: a
/// slice, or (in wasm) a JS typed array, copied in a few rows at a time so
/// the whole image never has to be copied.
pub trait RgbaPixels {
    /// Bytes held; the image needs exactly `4 * width * height`.
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Copies the bytes at `offset..offset + out.len()` into `out`.
    fn read(&self, offset: usize, out: &mut [u8]);
}

impl RgbaPixels for [u8] {
    fn len(&self) -> usize {
        <[u8]>::len(self)
    }
    fn read(&self, offset: usize, out: &mut [u8]) {
        out.copy_from_slice(&self[offset..offset + out.len()]);
    }
}

/// RGBA bytes read from the pixels per step: a few hundred KiB whatever the
/// image's size, and few enough calls across a wasm boundary.
const STEP_BYTES: u64 = 256 << 10;

/// What [`rgba_crop`] allocates for a `width x height` image (the figure
/// checked against `max_decode_bytes`), with the errors it would give before
/// reading a pixel.
pub fn rgba_crop_cost(width: u32, height: u32, limits: &DecodeLimits, pre: &Preprocess) -> Result<u64> {
    check_size(width, height, limits)?;
    let plan = Plan::new(width, height, 1, pre)?;
    Ok(plan.peak_bytes() + step_rows(width, height) * 4 * width as u64)
}

/// torchvision's `CenterCrop(crop)` of `Resize(resize)` of RGBA pixels,
/// `crop x crop`, computed row by row like [`crate::decode_crop`]: the same
/// crop as the same image encoded as PNG. Checks, in order: the size
/// ([`Error::TooManyPixels`]), the budget ([`Error::ImageTooLarge`]), then
/// that `pixels` holds `4 * width * height` bytes ([`Error::InvalidArgument`]).
pub fn rgba_crop<P: RgbaPixels + ?Sized>(
    pixels: &P,
    width: u32,
    height: u32,
    limits: &DecodeLimits,
    pre: &Preprocess,
) -> Result<Crop> {
    rgba_crop_within(pixels, width, height, limits, pre, &mut WorkBudget::unlimited())
}

/// [`rgba_crop`] charging `width * height` pixels of work to `budget`
/// (after every other check, before a pixel is read; when less is left,
/// [`Error::TooMuchWork`] and nothing is taken). Resizing RGBA pixels costs
/// about a quarter of decoding a baseline JPEG per pixel (0.35 G
/// instructions for 4000x3000, against 1.1-1.4 G for a JPEG photo): it is
/// charged its pixels all the same, which errs on the safe side.
pub fn rgba_crop_within<P: RgbaPixels + ?Sized>(
    pixels: &P,
    width: u32,
    height: u32,
    limits: &DecodeLimits,
    pre: &Preprocess,
    budget: &mut WorkBudget,
) -> Result<Crop> {
    let needed = rgba_crop_cost(width, height, limits, pre)?;
    check_budget(width, height, needed, limits)?;
    let expected = 4 * width as u64 * height as u64;
    if pixels.len() as u64 != expected {
        return Err(Error::InvalidArgument(format!("{} RGBA bytes for {width}x{height} pixels", pixels.len())));
    }
    let plan = Plan::new(width, height, 1, pre)?;
    budget.charge_image(width, height, width as u64 * height as u64)?;
    plan.run(&mut RgbaRows::new(pixels, width, height)).map(Crop::new)
}

fn check_size(width: u32, height: u32, limits: &DecodeLimits) -> Result<()> {
    if width == 0 || height == 0 {
        return Err(Error::InvalidArgument(format!("the image is {width}x{height} pixels")));
    }
    check_pixels(width as u64, height as u64, limits)
}

fn step_rows(width: u32, height: u32) -> u64 {
    (STEP_BYTES / (4 * width as u64)).clamp(1, height as u64)
}

/// The pixels as a [`RowSource`]: a step of RGBA rows copied in, handed out
/// as RGB rows.
struct RgbaRows<'a, P: ?Sized> {
    pixels: &'a P,
    width: u32,
    height: u32,
    step: Vec<u8>,
    /// Next row handed out, and the first row held in `step`.
    next: u32,
    step_first: u32,
}

impl<'a, P: RgbaPixels + ?Sized> RgbaRows<'a, P> {
    fn new(pixels: &'a P, width: u32, height: u32) -> Self {
        RgbaRows { pixels, width, height, step: Vec::new(), next: 0, step_first: 0 }
    }
}

impl<P: RgbaPixels + ?Sized> RowSource for RgbaRows<'_, P> {
    fn width(&self) -> u32 {
        self.width
    }
    fn height(&self) -> u32 {
        self.height
    }
    fn orientation(&self) -> u8 {
        1
    }
    fn peak_bytes(&self) -> u64 {
        step_rows(self.width, self.height) * 4 * self.width as u64
    }
    fn next_row(&mut self, row: &mut [u8]) -> Result<()> {
        if self.next >= self.height {
            return Err(Error::CorruptImage("read past the last row".into()));
        }
        let stride = 4 * self.width as usize;
        let held = (self.step.len() / stride) as u32;
        if self.next >= self.step_first + held {
            let rows = step_rows(self.width, self.height).min((self.height - self.next) as u64) as usize;
            self.step.resize(rows * stride, 0);
            self.pixels.read(self.next as usize * stride, &mut self.step);
            self.step_first = self.next;
        }
        let at = (self.next - self.step_first) as usize * stride;
        for (rgb, rgba) in row.chunks_exact_mut(3).zip(self.step[at..at + stride].chunks_exact(4)) {
            rgb.copy_from_slice(&rgba[..3]);
        }
        self.next += 1;
        Ok(())
    }
}
