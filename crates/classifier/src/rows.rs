//! Decoders that hand over an image one row at a time, so that a large
//! image is resized and cropped without ever being held whole in memory.

use crate::error::Result;

/// An image's rows, top to bottom in stored order (before any EXIF
/// orientation is applied), as 8-bit RGB converted like PIL's
/// `convert("RGB")`.
pub(crate) trait RowSource {
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
}
