//! Decoders that hand over an image one row at a time, so that a large
//! image is resized and cropped without ever being held whole in memory.

use crate::error::Result;

/// An image's rows, top to bottom in stored order (before any EXIF
/// orientation is applied), as 8-bit RGB converted like PIL's
/// `convert("RGB")`.
pub trait RowSource {
    fn width(&self) -> u32;
    fn height(&self) -> u32;
    /// The EXIF orientation (1..=8; 1 when there is none).
    fn orientation(&self) -> u8;
    /// Upper bound, in bytes, of everything this source allocates from its
    /// creation until its last row, stated before the first row is decoded.
    fn peak_bytes(&self) -> u64;
    /// Fills `row` (`width * 3` bytes) with the next row. An error (corrupt
    /// or truncated data) ends the image.
    fn next_row(&mut self, row: &mut [u8]) -> Result<()>;
    /// Skips the next row when the source knows, without computing it, that
    /// it equals the row before it (a JPEG whose data ran out): returns true
    /// and the row counts as read. Otherwise returns false and nothing is
    /// consumed (call `next_row`). Never true for the first row.
    fn skip_repeated_row(&mut self) -> Result<bool> {
        Ok(false)
    }
    /// Every remaining row into `out` (whole rows of `width * 3` bytes); a
    /// row the source skips as a repeat is copied from the one above it
    /// (`skip_repeats: false` computes every row).
    fn read_rows(&mut self, out: &mut [u8], skip_repeats: bool) -> Result<()> {
        let stride = self.width() as usize * 3;
        for y in 0..out.len() / stride {
            let (before, rest) = out.split_at_mut(y * stride);
            if skip_repeats && y > 0 && self.skip_repeated_row()? {
                rest[..stride].copy_from_slice(&before[(y - 1) * stride..]);
            } else {
                self.next_row(&mut rest[..stride])?;
            }
        }
        Ok(())
    }
    /// CPU work of decoding every row, in pixels: one pixel of work is one
    /// pixel of a baseline JPEG decoded (and resized). `width * height`
    /// unless the source knows better (a progressive JPEG's scans).
    fn work(&self) -> u64 {
        self.width() as u64 * self.height() as u64
    }
}
