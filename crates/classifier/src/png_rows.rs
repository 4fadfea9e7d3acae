//! PNG rows straight from the `png` crate, one at a time: a 60000x1 or a
//! 9-megapixel RGBA16 PNG costs a few row buffers, not the whole image.
//! Adam7-interlaced images have no row order and are decoded whole (that
//! buffer is in `peak_bytes`).

use std::io::Cursor;

use png::{BitDepth, ColorType, Transformations};

use crate::error::{Error, Result};
use crate::rows::RowSource;

/// What the `png` crate allocates besides the output, measured with a
/// counting allocator (tests/hostile.rs): its inflate state and the
/// compressed-data window (up to 128 KiB), plus slack.
const PNG_FIXED_BYTES: u64 = 512 << 10;
/// The crate keeps the raw row being filled, the previous row, its
/// scratch output row and a stream buffer of up to a few rows.
const PNG_ROW_BUFFERS: u64 = 8;
/// Metadata the crate may hold (eXIf, unknown chunks are skipped; text and
/// ICC chunks are ignored).
const PNG_METADATA_BYTES: usize = 4 << 20;

pub(crate) struct PngRows<'a> {
    reader: png::Reader<Cursor<&'a [u8]>>,
    width: u32,
    height: u32,
    orientation: u8,
    color: ColorType,
    depth: BitDepth,
    /// The whole image, for interlaced files (decoded on the first row).
    frame: Option<Vec<u8>>,
    interlaced: bool,
    line: usize,
    next: usize,
    peak: u64,
}

pub(crate) fn png_error(e: png::DecodingError) -> Error {
    match e {
        png::DecodingError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            Error::CorruptImage("the data ends before the image does (truncated)".into())
        }
        png::DecodingError::LimitsExceeded => Error::CorruptImage("the PNG's metadata is too large".into()),
        other => Error::CorruptImage(other.to_string()),
    }
}

impl<'a> PngRows<'a> {
    /// Reads the header and the chunks before the image data; allocates no
    /// pixel. `check` sees the stored size before anything else happens.
    pub(crate) fn open(bytes: &'a [u8], check: impl FnOnce(u32, u32) -> Result<()>) -> Result<Self> {
        let mut decoder = png::Decoder::new_with_limits(Cursor::new(bytes), png::Limits { bytes: PNG_METADATA_BYTES });
        decoder.set_ignore_text_chunk(true);
        decoder.set_ignore_iccp_chunk(true);
        let info = decoder.read_header_info().map_err(png_error)?;
        let (width, height) = (info.width, info.height);
        check(width, height)?;
        if width == 0 || height == 0 {
            return Err(Error::CorruptImage(format!("the image is {width}x{height} pixels")));
        }
        // The filter byte and the packed samples of one row.
        let raw_row = (1 + (width as u64 * info.bits_per_pixel() as u64).div_ceil(8)) as usize;
        // Row buffers are not counted by the crate's own limit.
        decoder.set_limits(png::Limits { bytes: PNG_METADATA_BYTES + PNG_ROW_BUFFERS as usize * raw_row });
        decoder.set_transformations(Transformations::EXPAND);
        let reader = decoder.read_info().map_err(png_error)?;
        let orientation = reader
            .info()
            .exif_metadata
            .as_ref()
            // PIL also reads an eXIf chunk that starts like a JPEG's APP1
            // ("Exif\0\0", as PIL itself writes it).
            .and_then(|e| image::metadata::Orientation::from_exif_chunk(e.strip_prefix(b"Exif\0\0").unwrap_or(e)))
            .map_or(1, |o| o.to_exif());
        // Deflate cannot expand data more than 1032 times: image data too
        // short for the header's size is truncated (or a bomb), known
        // before a row is decoded.
        let packed = width as u64 * height as u64 * reader.info().bits_per_pixel() as u64 / 8;
        let compressed = idat_bytes(bytes);
        if compressed.saturating_mul(1032) < packed {
            return Err(Error::CorruptImage(format!(
                "the PNG's {compressed} bytes of image data cannot hold its {width}x{height} pixels (truncated)"
            )));
        }
        let (color, depth) = reader.output_color_type();
        let interlaced = reader.info().interlaced;
        let line =
            reader.output_line_size(width).ok_or_else(|| Error::CorruptImage("the PNG's rows are too long".into()))?;
        let frame = if interlaced {
            reader.output_buffer_size().ok_or_else(|| Error::CorruptImage("the PNG is too large".into()))? as u64
        } else {
            0
        };
        let peak =
            PNG_FIXED_BYTES + PNG_METADATA_BYTES as u64 + PNG_ROW_BUFFERS * (raw_row as u64 + line as u64) + frame;
        Ok(PngRows { reader, width, height, orientation, color, depth, frame: None, interlaced, line, next: 0, peak })
    }
}

impl RowSource for PngRows<'_> {
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
        if self.next >= self.height as usize {
            return Err(Error::CorruptImage("read past the last row".into()));
        }
        if self.interlaced {
            if self.frame.is_none() {
                let mut frame = vec![0u8; self.reader.output_buffer_size().unwrap_or(0)];
                self.reader.next_frame(&mut frame).map_err(png_error)?;
                self.frame = Some(frame);
            }
            let frame = self.frame.take().unwrap_or_default();
            let line = &frame[self.next * self.line..(self.next + 1) * self.line];
            convert(self.color, self.depth, line, row);
            self.frame = Some(frame);
        } else {
            let src = self
                .reader
                .next_row()
                .map_err(png_error)?
                .ok_or_else(|| Error::CorruptImage("the data ends before the image does (truncated)".into()))?;
            convert(self.color, self.depth, src.data(), row);
        }
        self.next += 1;
        if self.next == self.height as usize && !self.interlaced {
            // Like decoding the whole frame: the end of the compressed
            // stream is read and checked too.
            self.reader.next_row().map_err(png_error)?;
        }
        Ok(())
    }
}

/// Total length of the IDAT chunks (the image data), read from the chunk
/// headers.
fn idat_bytes(bytes: &[u8]) -> u64 {
    let mut total = 0u64;
    let mut i = 8;
    while let Some(head) = bytes.get(i..i + 8) {
        let len = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as u64;
        if &head[4..8] == b"IDAT" {
            total += len.min(bytes.len() as u64);
        }
        i = match (i as u64).checked_add(12 + len) {
            Some(next) if next <= bytes.len() as u64 => next as usize,
            _ => break,
        };
    }
    total
}

/// One row of the `png` crate's output as RGB like PIL's `convert("RGB")`:
/// grey replicated, alpha dropped, 16-bit samples (big-endian) keep their
/// high byte.
fn convert(color: ColorType, depth: BitDepth, src: &[u8], row: &mut [u8]) {
    let channels = color.samples();
    let bytes = if depth == BitDepth::Sixteen { 2 } else { 1 };
    if channels == 3 && bytes == 1 {
        // Already RGB: the pixel loop took 0.5 ms of a 451x300 photo's 3.4 ms
        // decode in wasm (Node profile of the npm package).
        let n = row.len().min(src.len());
        row[..n].copy_from_slice(&src[..n]);
        return;
    }
    for (px, out) in src.chunks_exact(channels * bytes).zip(row.chunks_exact_mut(3)) {
        match channels {
            1 | 2 => out.fill(px[0]),
            _ => {
                out[0] = px[0];
                out[1] = px[bytes];
                out[2] = px[2 * bytes];
            }
        }
    }
}
