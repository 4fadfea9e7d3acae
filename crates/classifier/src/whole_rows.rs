//! GIF, BMP, WebP and JPEG through the `image` crate, which decodes a whole
//! image at once: rows are handed out of that buffer, converted one at a
//! time (never a second whole copy), and nothing is decoded before the
//! first row is asked for, so the budget is checked first.

use image::{DynamicImage, ImageDecoder, ImageError};

use crate::error::{Error, Result};
use crate::rows::RowSource;

pub(crate) struct WholeRows<'a> {
    decoder: Option<Box<dyn ImageDecoder + 'a>>,
    image: Option<DynamicImage>,
    width: u32,
    height: u32,
    orientation: u8,
    peak: u64,
    next: usize,
}

impl<'a> WholeRows<'a> {
    pub(crate) fn new(mut decoder: Box<dyn ImageDecoder + 'a>, peak: u64) -> Self {
        let (width, height) = decoder.dimensions();
        let orientation = decoder.orientation().map_or(1, |o| o.to_exif());
        WholeRows { decoder: Some(decoder), image: None, width, height, orientation, peak, next: 0 }
    }
}

impl RowSource for WholeRows<'_> {
    fn width(&self) -> u32 {
        self.width
    }
    fn height(&self) -> u32 {
        self.height
    }
    fn orientation(&self) -> u8 {
        self.orientation
    }
    fn peak_bytes(&self) -> u64 {
        self.peak
    }
    fn next_row(&mut self, row: &mut [u8]) -> Result<()> {
        if let Some(decoder) = self.decoder.take() {
            let img = DynamicImage::from_decoder(decoder).map_err(decode_error)?;
            if (img.width(), img.height()) != (self.width, self.height) {
                return Err(Error::CorruptImage("the decoded image is not the size its header declares".into()));
            }
            self.image = Some(img);
        }
        let img = self.image.as_ref().ok_or_else(|| Error::CorruptImage("the image could not be decoded".into()))?;
        let y = self.next;
        if y >= self.height as usize {
            return Err(Error::CorruptImage("read past the last row".into()));
        }
        let w = self.width as usize;
        fn line<T>(raw: &[T], y: usize, w: usize, channels: usize) -> &[T] {
            &raw[y * w * channels..(y + 1) * w * channels]
        }
        // PIL's convert("RGB"): grey replicated, alpha dropped (not
        // composited), 16-bit samples keep their high byte (the image
        // crate's own conversion rounds v / 257, one level off PIL).
        match img {
            DynamicImage::ImageRgb8(i) => row.copy_from_slice(line(i.as_raw(), y, w, 3)),
            DynamicImage::ImageRgba8(i) => {
                for (o, p) in row.chunks_exact_mut(3).zip(line(i.as_raw(), y, w, 4).chunks_exact(4)) {
                    o.copy_from_slice(&p[..3]);
                }
            }
            DynamicImage::ImageLuma8(i) => {
                for (o, &p) in row.chunks_exact_mut(3).zip(line(i.as_raw(), y, w, 1)) {
                    o.fill(p);
                }
            }
            DynamicImage::ImageLumaA8(i) => {
                for (o, p) in row.chunks_exact_mut(3).zip(line(i.as_raw(), y, w, 2).chunks_exact(2)) {
                    o.fill(p[0]);
                }
            }
            DynamicImage::ImageRgb16(i) => {
                for (o, &p) in row.iter_mut().zip(line(i.as_raw(), y, w, 3)) {
                    *o = (p >> 8) as u8;
                }
            }
            DynamicImage::ImageRgba16(i) => {
                for (o, p) in row.chunks_exact_mut(3).zip(line(i.as_raw(), y, w, 4).chunks_exact(4)) {
                    for c in 0..3 {
                        o[c] = (p[c] >> 8) as u8;
                    }
                }
            }
            DynamicImage::ImageLuma16(i) => {
                for (o, &p) in row.chunks_exact_mut(3).zip(line(i.as_raw(), y, w, 1)) {
                    o.fill((p >> 8) as u8);
                }
            }
            DynamicImage::ImageLumaA16(i) => {
                for (o, p) in row.chunks_exact_mut(3).zip(line(i.as_raw(), y, w, 2).chunks_exact(2)) {
                    o.fill((p[0] >> 8) as u8);
                }
            }
            other => {
                return Err(Error::UnsupportedFormat(format!("pixel format {:?}", other.color())));
            }
        }
        self.next += 1;
        Ok(())
    }
}

/// Our error for one of the `image` crate's decoders (opening one in
/// `decode`, or decoding with it here).
pub(crate) fn decode_error(e: ImageError) -> Error {
    match e {
        // Only reachable when a frame is larger than the header said.
        ImageError::Limits(l) => {
            Error::CorruptImage(format!("the image needs more memory than its header declares: {l}"))
        }
        ImageError::Unsupported(u) => Error::UnsupportedFormat(u.to_string()),
        ImageError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            Error::CorruptImage("the data ends before the image does (truncated)".into())
        }
        other => Error::CorruptImage(other.to_string()),
    }
}
