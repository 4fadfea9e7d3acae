//! Bytes to an 8-bit RGB image, the way the tutorial's pipeline sees it:
//! `ImageOps.exif_transpose(Image.open(f)).convert("RGB")`.

use std::io::Cursor;

use image::{DynamicImage, ImageDecoder, ImageError, ImageFormat, ImageReader, RgbImage};

use crate::error::{Error, Result};

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
}

impl Default for DecodeLimits {
    fn default() -> Self {
        DecodeLimits { max_bytes: 20 << 20, max_pixels: 40_000_000, max_decode_bytes: 512 << 20 }
    }
}

/// The formats we decode, sniffed from content, never from a file name.
pub const SUPPORTED_FORMATS: [ImageFormat; 5] =
    [ImageFormat::Jpeg, ImageFormat::Png, ImageFormat::WebP, ImageFormat::Gif, ImageFormat::Bmp];

/// Decode an image, apply its EXIF orientation and convert it to RGB like
/// PIL's `convert("RGB")`: alpha is dropped (not composited), grey is
/// replicated, 16-bit samples keep their high byte.
pub fn decode(bytes: &[u8], limits: &DecodeLimits) -> Result<RgbImage> {
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
    if format == ImageFormat::Jpeg && !jpeg_has_end(bytes) {
        // zune-jpeg fills a truncated scan with grey without an error; PIL
        // refuses it ("image file is truncated"), and so do we.
        return Err(Error::CorruptImage("the JPEG data ends before its end-of-image marker (truncated)".into()));
    }

    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    // A second line of defence inside the decoders (e.g. for GIF frames
    // larger than the logical screen): at most RGBA16 of max_pixels.
    let mut image_limits = image::Limits::default();
    image_limits.max_alloc = Some(limits.max_pixels.saturating_mul(8).max(1 << 20));
    reader.limits(image_limits);
    let mut decoder = reader.into_decoder().map_err(decode_error)?;
    let (width, height) = decoder.dimensions();
    check_pixels(width as u64, height as u64, limits)?;
    if width == 0 || height == 0 {
        return Err(Error::CorruptImage(format!("the image is {width}x{height} pixels")));
    }
    let orientation = decoder.orientation().unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut img = DynamicImage::from_decoder(decoder).map_err(decode_error)?;
    img.apply_orientation(orientation);
    Ok(to_rgb_like_pil(img))
}

fn check_pixels(width: u64, height: u64, limits: &DecodeLimits) -> Result<()> {
    if width.saturating_mul(height) > limits.max_pixels {
        let clamp = |v: u64| v.min(u32::MAX as u64) as u32;
        return Err(Error::TooManyPixels { width: clamp(width), height: clamp(height), max_pixels: limits.max_pixels });
    }
    Ok(())
}

/// Whether an end-of-image marker (FF D9) follows the last start-of-scan
/// (FF DA). Entropy-coded data never holds FF D9 (an FF there is stuffed
/// with 00 or is a restart marker), and an embedded EXIF thumbnail's EOI
/// comes before the main image's scans.
fn jpeg_has_end(bytes: &[u8]) -> bool {
    let last_scan = bytes.windows(2).rposition(|w| w == [0xFF, 0xDA]);
    last_scan.is_some_and(|s| bytes[s..].windows(2).any(|w| w == [0xFF, 0xD9]))
}

fn decode_error(e: ImageError) -> Error {
    match e {
        // Only reachable when a frame is larger than the header said.
        ImageError::Limits(l) => Error::CorruptImage(format!("the image needs more memory than its header declares: {l}")),
        ImageError::Unsupported(u) => Error::UnsupportedFormat(u.to_string()),
        ImageError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            Error::CorruptImage("the data ends before the image does (truncated)".into())
        }
        other => Error::CorruptImage(other.to_string()),
    }
}

fn to_rgb_like_pil(img: DynamicImage) -> RgbImage {
    // PIL reads 16-bit PNG samples by their most significant byte; the image
    // crate's own conversion rounds (v / 257), which is one level off.
    fn high_bytes(samples: &[u16], channels: usize, w: u32, h: u32) -> RgbImage {
        let mut out = Vec::with_capacity(w as usize * h as usize * 3);
        for px in samples.chunks_exact(channels) {
            match channels {
                1 | 2 => out.extend_from_slice(&[(px[0] >> 8) as u8; 3]),
                _ => out.extend(px[..3].iter().map(|&v| (v >> 8) as u8)),
            }
        }
        RgbImage::from_raw(w, h, out).expect("sizes match")
    }
    let (w, h) = (img.width(), img.height());
    match img {
        DynamicImage::ImageRgb8(rgb) => rgb,
        DynamicImage::ImageLuma16(i) => high_bytes(i.as_raw(), 1, w, h),
        DynamicImage::ImageLumaA16(i) => high_bytes(i.as_raw(), 2, w, h),
        DynamicImage::ImageRgb16(i) => high_bytes(i.as_raw(), 3, w, h),
        DynamicImage::ImageRgba16(i) => high_bytes(i.as_raw(), 4, w, h),
        // Luma8 / LumaA8 / Rgba8: the image crate replicates grey and drops
        // alpha exactly as PIL does.
        other => other.to_rgb8(),
    }
}
