//! Bytes to an 8-bit RGB image, the way the tutorial's pipeline sees it:
//! `ImageOps.exif_transpose(Image.open(f)).convert("RGB")`.

use std::io::Cursor;

use image::{ImageDecoder, ImageFormat, ImageReader, RgbImage};

use crate::budget;
use crate::crop::Crop;
use crate::crop_resize::Plan;
use crate::error::{Error, Result};
use crate::jpeg::JpegRows;
use crate::png_rows::PngRows;
use crate::preprocess::Preprocess;
use crate::rows::RowSource;
use crate::whole_rows::{decode_error, WholeRows};
use crate::work_budget::WorkBudget;

/// Limits checked before any pixel is allocated, so a decompression bomb
/// costs only the parsing of its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeLimits {
    /// Largest encoded input accepted. Default 20 MiB.
    pub max_bytes: usize,
    /// Largest `width * height` accepted. Default 40 megapixels: a 48 MP
    /// phone photo must be downscaled first; 40 MP of RGBA16 decodes into
    /// 320 MB, more would not fit a 128 MB Worker isolate anyway.
    pub max_pixels: u64,
    /// Largest number of bytes that decoding and preprocessing one image may
    /// allocate, estimated from the header before decoding (format, bit
    /// depth, channels, progressive mode, frames, orientation). Over it:
    /// [`Error::ImageTooLarge`]. Default 512 MiB.
    pub max_decode_bytes: u64,
    /// Most scans a JPEG may have: each scan of a progressive JPEG walks
    /// every block of its components, so a file of thousands of (even
    /// empty) scans costs seconds of CPU. Counted as the scans are met
    /// (refusing costs the bytes up to the first one over); over it:
    /// [`Error::TooMuchWork`]. Default 500, as libjpeg-turbo's own fuzz
    /// targets set TJPARAM_SCANLIMIT: encoders write about 10 (libjpeg's
    /// progressive script 10 for YCbCr, 6 for grey, mozjpeg about as many),
    /// and no encoder comes near 500. PIL has no such limit.
    pub max_jpeg_scans: u32,
}

impl DecodeLimits {
    /// The defaults, as a constant (`..DecodeLimits::DEFAULT` in a const).
    pub const DEFAULT: DecodeLimits = DecodeLimits {
        max_bytes: 20 << 20,
        max_pixels: 40_000_000,
        max_decode_bytes: 512 << 20,
        max_jpeg_scans: crate::jpeg::DEFAULT_MAX_SCANS,
    };
}

impl Default for DecodeLimits {
    fn default() -> Self {
        DecodeLimits::DEFAULT
    }
}

/// The formats we decode, sniffed from content, never from a file name.
pub const SUPPORTED_FORMATS: [ImageFormat; 5] =
    [ImageFormat::Jpeg, ImageFormat::Png, ImageFormat::WebP, ImageFormat::Gif, ImageFormat::Bmp];

/// Decode an image, apply its EXIF orientation and convert it to RGB like
/// PIL's `convert("RGB")`: alpha is dropped (not composited), grey is
/// replicated, 16-bit samples keep their high byte. The whole image is held:
/// its bytes (and a second copy when the orientation rotates it) count
/// against `max_decode_bytes`. [`decode_crop`] needs far less.
pub fn decode(bytes: &[u8], limits: &DecodeLimits) -> Result<RgbImage> {
    let mut src = open(bytes, limits)?;
    let (w, h) = (src.width(), src.height());
    let copies = if src.orientation() == 1 { 1 } else { 2 };
    let needed = src.peak_bytes() + copies * w as u64 * h as u64 * 3;
    check_budget(w, h, needed, limits)?;
    let stride = w as usize * 3;
    let mut raw = vec![0u8; stride * h as usize];
    src.read_rows(&mut raw, true)?;
    let img = RgbImage::from_raw(w, h, raw).ok_or_else(|| Error::CorruptImage("the image has no pixels".into()))?;
    let mut img = image::DynamicImage::ImageRgb8(img);
    img.apply_orientation(
        image::metadata::Orientation::from_exif(src.orientation())
            .unwrap_or(image::metadata::Orientation::NoTransforms),
    );
    Ok(img.into_rgb8())
}

/// What [`decode_crop`] would allocate for this input, estimated from its
/// header alone (the figure checked against `max_decode_bytes`), with the
/// errors it would give before decoding.
pub fn decode_crop_cost(bytes: &[u8], limits: &DecodeLimits, pre: &Preprocess) -> Result<u64> {
    let src = open(bytes, limits)?;
    let plan = Plan::new(src.width(), src.height(), src.orientation(), pre)?;
    Ok(src.peak_bytes() + plan.peak_bytes())
}

/// What decoding this input costs in CPU, in pixels of work (what
/// [`decode_crop_within`] charges to its [`WorkBudget`]), from its header
/// alone, with the errors it would give before decoding: `width * height`,
/// and for a progressive or multi-scan JPEG the block loops of its scans
/// besides (counted from its markers).
pub fn decode_work(bytes: &[u8], limits: &DecodeLimits) -> Result<u64> {
    Ok(open(bytes, limits)?.work())
}

/// Decode and preprocess in one go: torchvision's `CenterCrop(crop)` of
/// `Resize(resize)` of the upright RGB image, `crop x crop`, computed from
/// the image's rows without holding the resized image (nor, for PNG, the
/// decoded one). Refused with [`Error::ImageTooLarge`] when the header says
/// it would allocate more than `max_decode_bytes`. [`decode_crop_within`]
/// with an unlimited budget.
pub fn decode_crop(bytes: &[u8], limits: &DecodeLimits, pre: &Preprocess) -> Result<Crop> {
    decode_crop_within(bytes, limits, pre, &mut WorkBudget::unlimited())
}

/// [`decode_crop`] charging the image's decode work ([`decode_work`]) to
/// `budget` once the header is read and the memory estimate passed, before
/// any pixel is decoded: when less is left, [`Error::TooMuchWork`] and the
/// budget stays as it was. An image that fails later (corrupt data) keeps
/// its charge: that work was done.
pub fn decode_crop_within(
    bytes: &[u8],
    limits: &DecodeLimits,
    pre: &Preprocess,
    budget: &mut WorkBudget,
) -> Result<Crop> {
    let mut src = open(bytes, limits)?;
    let plan = Plan::new(src.width(), src.height(), src.orientation(), pre)?;
    check_budget(src.width(), src.height(), src.peak_bytes() + plan.peak_bytes(), limits)?;
    budget.charge_image(src.width(), src.height(), src.work())?;
    plan.run(src.as_mut()).map(Crop::new)
}

pub(crate) fn check_budget(width: u32, height: u32, needed_bytes: u64, limits: &DecodeLimits) -> Result<()> {
    if needed_bytes > limits.max_decode_bytes {
        return Err(Error::ImageTooLarge { width, height, needed_bytes, budget_bytes: limits.max_decode_bytes });
    }
    Ok(())
}

/// Every check that needs no pixel, then a row source that has decoded
/// none yet.
fn open<'a>(bytes: &'a [u8], limits: &DecodeLimits) -> Result<Box<dyn RowSource + 'a>> {
    if bytes.is_empty() {
        return Err(Error::EmptyInput);
    }
    if bytes.len() > limits.max_bytes {
        return Err(Error::TooManyBytes { bytes: bytes.len(), max_bytes: limits.max_bytes });
    }
    let format = image::guess_format(bytes).map_err(|_| Error::NotAnImage)?;
    if !SUPPORTED_FORMATS.contains(&format) {
        return Err(Error::UnsupportedFormat(format!("{format:?}").to_uppercase()));
    }

    // From the header alone, before any decoder runs: on wasm32 some
    // decoders overflow 32-bit sizes on a huge header and report garbage.
    // (imagesize trusts any bytes after a PNG signature; a PNG whose first
    // chunk is not IHDR is corrupt and left to the decoder to say so.)
    let png_without_ihdr = format == ImageFormat::Png && bytes.get(12..16) != Some(b"IHDR");
    if let (false, Ok(size)) = (png_without_ihdr, imagesize::blob_size(bytes)) {
        check_pixels(size.width as u64, size.height as u64, limits)?;
    }
    if format == ImageFormat::Gif {
        // PIL grows the image to a first frame that overflows the logical
        // screen; the image crate cuts the frame to the screen (after
        // allocating all of it). Rather than answer something PIL would
        // not, such a file is refused.
        if let (Some([x, y, fw, fh]), Some(s)) = (budget::gif_first_frame(bytes), bytes.get(6..10)) {
            let (sw, sh) = (u16::from_le_bytes([s[0], s[1]]) as u32, u16::from_le_bytes([s[2], s[3]]) as u32);
            check_pixels(fw as u64, fh as u64, limits)?;
            if x + fw > sw || y + fh > sh {
                return Err(Error::CorruptImage(format!(
                    "the first GIF frame ({fw}x{fh} at {x},{y}) overflows the logical screen ({sw}x{sh})"
                )));
            }
        }
    }
    if format == ImageFormat::Jpeg {
        // Our own decoder: PIL's pixels bit for bit, one MCU row at a time.
        let src = JpegRows::with_max_scans(bytes, limits.max_jpeg_scans)?;
        check_pixels(src.width() as u64, src.height() as u64, limits)?;
        return Ok(Box::new(src));
    }
    if format == ImageFormat::Png {
        let src = PngRows::open(bytes, |w, h| check_pixels(w as u64, h as u64, limits))?;
        return Ok(Box::new(src));
    }

    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    // A second line of defence inside the decoders: nothing over the budget.
    let mut image_limits = image::Limits::default();
    image_limits.max_alloc = Some(limits.max_decode_bytes.max(1 << 20));
    reader.limits(image_limits);
    let decoder = reader.into_decoder().map_err(decode_error)?;
    let (width, height) = decoder.dimensions();
    check_pixels(width as u64, height as u64, limits)?;
    if width == 0 || height == 0 {
        return Err(Error::CorruptImage(format!("the image is {width}x{height} pixels")));
    }
    let peak = budget::whole_image_bytes(format, bytes, width, height, decoder.color_type());
    Ok(Box::new(WholeRows::new(Box::new(decoder), peak)))
}

pub(crate) fn check_pixels(width: u64, height: u64, limits: &DecodeLimits) -> Result<()> {
    if width.saturating_mul(height) > limits.max_pixels {
        let clamp = |v: u64| v.min(u32::MAX as u64) as u32;
        return Err(Error::TooManyPixels { width: clamp(width), height: clamp(height), max_pixels: limits.max_pixels });
    }
    Ok(())
}
