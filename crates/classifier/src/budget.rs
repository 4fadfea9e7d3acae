//! What decoding one image will allocate, estimated from its header before
//! a pixel is decoded. The figures per format come from reading the
//! decoders (`image` 0.25 with gif, image-webp, bmp; the `png` crate;
//! JPEG states its own, see jpeg/mod.rs) and are checked by tests/hostile.rs and tests/fuzz_decode.rs,
//! which measure the real peak with a counting allocator.

use image::{ColorType, ImageFormat};

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
            ImageFormat::Gif => {
                // The first frame in RGBA and as palette indices, then
                // composed onto the screen.
                let [_, _, fw, fh] = gif_first_frame(bytes).unwrap_or([0, 0, width, height]);
                let frame = fw as u64 * fh as u64;
                frame * 5 + pixels * 4
            }
            // Lossless WebP keeps ARGB words and a transform copy; lossy
            // keeps YUV planes: both under 8 bytes per pixel. Lossy data
            // also allocates its partitions at the sizes their headers
            // claim, before reading them (up to 7 x 16 MiB from a 1 KB file).
            ImageFormat::WebP => input + pixels * 8 + vp8_partition_bytes(bytes),
            // A row buffer at most.
            ImageFormat::Bmp => (width as u64 * 4).max(1024),
            _ => pixels * 8,
        }
}

/// What image-webp allocates for the partitions of every lossy (VP8) frame
/// in the file, from the sizes their headers claim: the first partition
/// (19-bit size in the frame tag), then the 24-bit sizes of the other
/// DCT partitions, whose number is in the bool-coded frame header.
fn vp8_partition_bytes(bytes: &[u8]) -> u64 {
    let mut total = 0u64;
    let mut from = 0;
    while let Some(at) = bytes[from..].windows(4).position(|w| w == b"VP8 ") {
        let data = from + at + 8;
        from += at + 4;
        let Some(tag) = bytes.get(data..data + 3) else { break };
        let first = (u32::from_le_bytes([tag[0], tag[1], tag[2], 0]) >> 5) as u64;
        total += first.div_ceil(4) * 4;
        // Unknown count (header unreadable): every size that could follow.
        let count = bytes.get(data + 10..).and_then(vp8_dct_partitions).unwrap_or(8);
        let sizes_at = data as u64 + 10 + first;
        for i in 0..count.saturating_sub(1) as u64 {
            let at = (sizes_at + 3 * i) as usize;
            match bytes.get(at..at + 3) {
                Some(s) => total += (u32::from_le_bytes([s[0], s[1], s[2], 0]) as u64).div_ceil(4) * 4,
                None => break,
            }
        }
    }
    total
}

/// The number of DCT partitions of a VP8 key frame, read from its first
/// partition (RFC 6386, 9.2-9.5 and 19.2).
fn vp8_dct_partitions(first: &[u8]) -> Option<usize> {
    let mut d = BoolDecoder::new(first)?;
    d.literal(2); // colour space, clamping
    if d.flag() {
        // Segmentation.
        let update_map = d.flag();
        if d.flag() {
            d.flag(); // absolute or delta
            for bits in [7, 7, 7, 7, 6, 6, 6, 6] {
                if d.flag() {
                    d.literal(bits + 1); // value and sign
                }
            }
        }
        if update_map {
            for _ in 0..3 {
                if d.flag() {
                    d.literal(8);
                }
            }
        }
    }
    d.literal(1 + 6 + 3); // filter type, level, sharpness
    if d.flag() && d.flag() {
        // Loop filter deltas: 4 reference frames, 4 modes.
        for _ in 0..8 {
            if d.flag() {
                d.literal(7);
            }
        }
    }
    Some(1 << d.literal(2))
}

/// VP8's boolean entropy decoder (RFC 6386, 7.3); past the end it reads zeros.
struct BoolDecoder<'a> {
    data: &'a [u8],
    pos: usize,
    value: u32,
    range: u32,
    bits: u32,
}

impl<'a> BoolDecoder<'a> {
    fn new(data: &'a [u8]) -> Option<Self> {
        let value = u16::from_be_bytes([*data.first()?, *data.get(1)?]) as u32;
        Some(BoolDecoder { data, pos: 2, value, range: 255, bits: 0 })
    }

    fn bool(&mut self, prob: u32) -> bool {
        let split = 1 + (((self.range - 1) * prob) >> 8);
        let big = split << 8;
        let bit = self.value >= big;
        if bit {
            self.range -= split;
            self.value -= big;
        } else {
            self.range = split;
        }
        while self.range < 128 {
            self.value <<= 1;
            self.range <<= 1;
            self.bits += 1;
            if self.bits == 8 {
                self.bits = 0;
                self.value |= *self.data.get(self.pos).unwrap_or(&0) as u32;
                self.pos += 1;
            }
        }
        bit
    }

    fn flag(&mut self) -> bool {
        self.bool(128)
    }

    fn literal(&mut self, n: u32) -> u32 {
        (0..n).fold(0, |v, _| (v << 1) | self.flag() as u32)
    }
}
