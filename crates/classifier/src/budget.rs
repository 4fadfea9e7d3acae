//! What decoding one image will allocate, estimated from its header before
//! a pixel is decoded. The figures per format come from reading the
//! decoders (`image` 0.25 with zune-jpeg, gif, image-webp; the `png`
//! crate) and are checked by tests/hostile.rs and tests/fuzz_decode.rs,
//! which measure the real peak with a counting allocator.

use image::{ColorType, ImageFormat};

/// What the header says about a JPEG's frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct JpegFrame {
    pub progressive: bool,
    pub width: u32,
    pub height: u32,
    /// Per component: horizontal and vertical sampling factors.
    pub components: [(u8, u8); 4],
    pub count: usize,
}

/// The first frame header (SOFn) of a JPEG, or None if there is none.
pub(crate) fn jpeg_frame(bytes: &[u8]) -> Option<JpegFrame> {
    let mut i = 2;
    while i + 4 <= bytes.len() {
        if bytes[i] != 0xFF {
            return None;
        }
        let marker = bytes[i + 1];
        if marker == 0xFF {
            i += 1;
            continue;
        }
        if marker == 0xD8 || (0xD0..=0xD7).contains(&marker) || marker == 0x01 {
            i += 2;
            continue;
        }
        let len = u16::from_be_bytes([bytes[i + 2], bytes[i + 3]]) as usize;
        if matches!(marker, 0xC0..=0xCF) && !matches!(marker, 0xC4 | 0xC8 | 0xCC) {
            let s = bytes.get(i + 4..i + 2 + len)?;
            let height = u16::from_be_bytes([*s.get(1)?, *s.get(2)?]) as u32;
            let width = u16::from_be_bytes([*s.get(3)?, *s.get(4)?]) as u32;
            let count = (*s.get(5)? as usize).min(4);
            let mut components = [(1, 1); 4];
            for (c, slot) in components.iter_mut().enumerate().take(count) {
                let hv = *s.get(6 + c * 3 + 1)?;
                *slot = ((hv >> 4).max(1), (hv & 15).max(1));
            }
            return Some(JpegFrame { progressive: matches!(marker, 0xC2 | 0xC6 | 0xCA | 0xCE), width, height, components, count });
        }
        i += 2 + len;
    }
    None
}

/// Left, top, width and height of a GIF's first frame (its image descriptor), which may be
/// far larger than the logical screen.
pub(crate) fn gif_first_frame(bytes: &[u8]) -> Option<[u32; 4]> {
    let flags = *bytes.get(10)?;
    let mut i = 13 + if flags & 0x80 != 0 { 3 << ((flags & 7) + 1) } else { 0 };
    loop {
        match *bytes.get(i)? {
            0x21 => {
                // Extension: label, then sub-blocks up to a zero length.
                i += 2;
                loop {
                    let n = *bytes.get(i)? as usize;
                    i += 1 + n;
                    if n == 0 {
                        break;
                    }
                }
            }
            0x2C => {
                let d = bytes.get(i + 1..i + 9)?;
                let v = |k: usize| u16::from_le_bytes([d[k], d[k + 1]]) as u32;
                return Some([v(0), v(2), v(4), v(6)]);
            }
            _ => return None,
        }
    }
}

/// Slack for a decoder's small allocations (tables, headers, Huffman
/// codes), in bytes.
const DECODER_FIXED_BYTES: u64 = 1 << 20;

/// Upper bound of what the `image` crate allocates to decode a whole image
/// of this format and header, the decoded buffer included.
pub(crate) fn whole_image_bytes(format: ImageFormat, bytes: &[u8], width: u32, height: u32, color: ColorType) -> u64 {
    let pixels = width as u64 * height as u64;
    let output = pixels * color.bytes_per_pixel() as u64;
    let input = bytes.len() as u64;
    DECODER_FIXED_BYTES
        + output
        + match format {
            ImageFormat::Jpeg => {
                // image copies the input; zune-jpeg keeps, padded to whole
                // MCUs, i16 coefficients of every component of a
                // progressive image, and the u8 planes of the subsampled
                // components of a baseline one (measured on a 12 MP 4:2:0
                // photo: its chroma planes), plus MCU-row buffers.
                let frame = jpeg_frame(bytes);
                let Some(f) = frame else {
                    // No frame header: the decoder fails before any pixel.
                    return DECODER_FIXED_BYTES + input + output;
                };
                let c = &f.components[..f.count];
                let hmax = c.iter().map(|c| c.0).max().unwrap_or(1) as u64;
                let vmax = c.iter().map(|c| c.1).max().unwrap_or(1) as u64;
                let mcu_w = (width as u64).div_ceil(8 * hmax) * 8 * hmax;
                let mcu_h = (height as u64).div_ceil(8 * vmax) * 8 * vmax;
                let plane = |c: &(u8, u8)| mcu_w * mcu_h * c.0 as u64 * c.1 as u64 / (hmax * vmax);
                let planes: u64 = if f.progressive {
                    c.iter().map(|c| plane(c) * 2).sum()
                } else {
                    c.iter().filter(|c| (c.0 as u64, c.1 as u64) != (hmax, vmax)).map(plane).sum()
                };
                let mcu_rows = mcu_w * 8 * vmax * f.count as u64 * 4 + mcu_w * 256;
                // Measured peaks sit within 3% of this: 1/32 more is slack.
                input + planes + mcu_rows + (planes + output) / 32
            }
            ImageFormat::Gif => {
                // The first frame in RGBA and as palette indices, then
                // composed onto the screen.
                let [_, _, fw, fh] = gif_first_frame(bytes).unwrap_or([0, 0, width, height]);
                let frame = fw as u64 * fh as u64;
                frame * 5 + pixels * 4
            }
            // Lossless WebP keeps ARGB words and a transform copy; lossy
            // keeps YUV planes: both under 8 bytes per pixel.
            ImageFormat::WebP => input + pixels * 8,
            // A row buffer at most.
            ImageFormat::Bmp => (width as u64 * 4).max(1024),
            _ => pixels * 8,
        }
}
