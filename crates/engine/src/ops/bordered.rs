//! The layout a dense layer's int8 3x3 conv reads: conv1's u8 codes, each
//! channel a plane `side + 1` wide holding the `g` images one below the
//! other, with a border (the input's zero point: the code of 0.0, the conv's
//! zero padding) above, below and between the images and one column left
//! of each row, which is also the right border of the row above (a pixel
//! at the row's end reads the next position, the next row's border).
//!
//! Then the conv's output at plane column `q` (a pixel's position less one
//! row and one column) reads `plane[q + ky * width + kx]` for tap (ky, kx):
//! each row of the GEMM's B is a window of the plane shifted by its tap, a
//! plain copy, where an im2col over the map would pick every value apart.
//! The price is the border column and the rows between images, computed
//! and dropped: about (side + 1) / side more columns for one image (2% at
//! 56 x 56, 14% at 7 x 7; a border column on both sides made it 4% and
//! 29%).
//!
//! The sets with a `quads` tile (x86, NEON, wasm relaxed) take one step
//! further: their B panel for a k group is 4 channels' bytes per column, so
//! with the planes' channels interleaved by 4 (a quad plane: byte 4 p + l
//! is channel 4G + l at position p) a tap's panel is 4 NR contiguous bytes
//! of a quad plane, read in place: no window copy and no packing.

/// `g` images of `side` x `side` in the bordered layout.
#[derive(Clone, Copy, Debug)]
pub struct Bordered {
    pub side: usize,
    pub g: usize,
}

impl Bordered {
    pub fn width(&self) -> usize {
        self.side + 1
    }

    fn rows(&self) -> usize {
        self.g * (self.side + 1) + 1
    }

    /// Bytes per channel: the rows, and 2 past them that the last column's
    /// taps read (for a dropped output).
    pub fn plane(&self) -> usize {
        self.rows() * self.width() + 2
    }

    /// [`Bordered::plane`], None where it overflows `usize` (a hostile
    /// model's batch or sides: `Net::checked_workspace_bytes`).
    pub fn checked_plane(&self) -> Option<usize> {
        let rows = self.g.checked_mul(self.side.checked_add(1)?)?.checked_add(1)?;
        rows.checked_mul(self.side.checked_add(1)?)?.checked_add(2)
    }

    /// The GEMM's columns: every position from the first pixel's to the
    /// last's, borders included (column q is the output of position q +
    /// width + 1).
    pub fn cols(&self) -> usize {
        (self.g * (self.side + 1) - 1) * self.width() - 1
    }

    /// Where tap `t` (ky * 3 + kx) reads, from the output's column.
    pub fn tap(&self, t: usize) -> usize {
        t / 3 * self.width() + t % 3
    }

    /// Bytes per quad plane (4 channels interleaved).
    pub fn quad_plane(&self) -> usize {
        4 * self.plane()
    }

    /// Where k group G 9 + t (tap t of quad plane G) reads, from the
    /// output's column (times 4), for `quads` quad planes.
    pub fn quad_offsets(&self, quads: usize) -> Vec<usize> {
        (0..quads * 9).map(|q| q / 9 * self.quad_plane() + 4 * self.tap(q % 9)).collect()
    }

    /// Sets the border of one channel's plane to `zero`.
    pub fn fill_border(&self, plane: &mut [u8], zero: u8) {
        self.fill(plane, zero, 1)
    }

    /// Sets the border of one quad plane to `zero`.
    pub fn fill_border_quads(&self, plane: &mut [u8], zero: u8) {
        self.fill(plane, zero, 4)
    }

    /// The border of a plane of `e` bytes per position.
    fn fill(&self, plane: &mut [u8], zero: u8, e: usize) {
        let (w, s) = (self.width(), self.side);
        let plane = &mut plane[..e * self.plane()];
        for i in 0..=self.g {
            plane[e * i * (s + 1) * w..][..e * w].fill(zero);
        }
        for r in 0..self.rows() {
            plane[e * r * w..][..e].fill(zero);
        }
        let end = e * self.rows() * w;
        plane[end..].fill(zero);
    }

    /// The runs of map columns `n0..n0 + nc` (pixel i * side^2 + y * side +
    /// x) that lie in one image row: `f(j, len, at)` for columns n0 + j..
    /// n0 + j + len, the first at plane position `at`.
    pub fn map_runs(&self, n0: usize, nc: usize, mut f: impl FnMut(usize, usize, usize)) {
        let (s, w) = (self.side, self.width());
        let mut j = 0;
        while j < nc {
            let p = n0 + j;
            let (i, y, x) = (p / (s * s), p % (s * s) / s, p % s);
            let len = (s - x).min(nc - j);
            f(j, len, (i * (s + 1) + 1 + y) * w + 1 + x);
            j += len;
        }
    }

    /// The runs of GEMM columns `n0..n0 + nc` that are pixels (not border
    /// columns or rows between images): `f(j, len, p)` for columns n0 + j..
    /// n0 + j + len, the first being map column `p`.
    pub fn pixel_runs(&self, n0: usize, nc: usize, mut f: impl FnMut(usize, usize, usize)) {
        let (s, w) = (self.side, self.width());
        let mut j = 0;
        while j < nc {
            let q = n0 + j;
            let (r, x) = (q / w, q % w);
            let (i, y) = (r / (s + 1), r % (s + 1));
            if x >= s || y >= s {
                // A border column or the row between two images.
                j += (w - x).min(nc - j);
                continue;
            }
            let len = (s - x).min(nc - j);
            f(j, len, i * s * s + y * s + x);
            j += len;
        }
    }

    /// B's rows for GEMM columns `n0..n0 + nc` of a 3x3 conv over `c`
    /// channel planes (`plane()` bytes apart): row `ch * 9 + t` is the
    /// plane's window at `n0 + tap(t)`.
    pub fn windows(&self, planes: &[u8], c: usize, n0: usize, nc: usize, rows: &mut [u8]) {
        let p = self.plane();
        let taps: [usize; 9] = std::array::from_fn(|t| n0 + self.tap(t));
        let rows = &mut rows[..c * 9 * nc];
        // Copies of the widths `ConvInt8::run` fills (NR x 4 for each kernel
        // set), so that each is a few vector moves, not a call.
        match nc {
            8 => copy_windows::<8>(planes, p, &taps, rows),
            16 => copy_windows::<16>(planes, p, &taps, rows),
            32 => copy_windows::<32>(planes, p, &taps, rows),
            64 => copy_windows::<64>(planes, p, &taps, rows),
            128 => copy_windows::<128>(planes, p, &taps, rows),
            _ => {
                for (k, row) in rows.chunks_exact_mut(nc).enumerate() {
                    let at = (k / 9) * p + taps[k % 9];
                    row.copy_from_slice(&planes[at..at + nc]);
                }
            }
        }
    }
}

#[inline(always)]
fn copy_windows<const N: usize>(planes: &[u8], p: usize, taps: &[usize; 9], rows: &mut [u8]) {
    for (ch, rows) in rows.chunks_exact_mut(9 * N).enumerate() {
        let plane = &planes[ch * p..][..p];
        for (row, &at) in rows.chunks_exact_mut(N).zip(taps) {
            let src: &[u8; N] = plane[at..at + N].try_into().unwrap();
            row.copy_from_slice(src);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The windows are the 3x3 conv's im2col with the zero point as padding,
    /// and the pixel runs put the outputs where the map has them.
    #[test]
    fn windows_are_im2col_and_runs_cover_the_map() {
        for (side, g) in [(7, 1), (7, 3), (4, 2), (14, 1)] {
            let b = Bordered { side, g };
            let (c, hw, z) = (2, side * side, 9u8);
            let map: Vec<u8> = (0..c * g * hw).map(|i| (i % 200) as u8 + 20).collect();
            let mut planes = vec![0xAAu8; c * b.plane()];
            for ch in 0..c {
                b.fill_border(&mut planes[ch * b.plane()..], z);
                b.map_runs(0, g * hw, |j, len, at| {
                    planes[ch * b.plane() + at..][..len].copy_from_slice(&map[ch * g * hw + j..][..len]);
                });
            }
            let n = b.cols();
            let mut rows = vec![0u8; c * 9 * n];
            b.windows(&planes, c, 0, n, &mut rows);
            let mut seen = vec![false; g * hw];
            b.pixel_runs(0, n, |j, len, p| {
                for d in 0..len {
                    let (q, p) = (j + d, p + d);
                    seen[p] = true;
                    let (i, y, x) = (p / hw, p % hw / side, p % side);
                    for ch in 0..c {
                        for t in 0..9 {
                            let (yy, xx) = (y as isize + t as isize / 3 - 1, x as isize + t as isize % 3 - 1);
                            let inside = (0..side as isize).contains(&yy) && (0..side as isize).contains(&xx);
                            let want =
                                if inside { map[ch * g * hw + i * hw + yy as usize * side + xx as usize] } else { z };
                            assert_eq!(rows[(ch * 9 + t) * n + q], want, "side {side} g {g} pixel {p} ch {ch} tap {t}");
                        }
                    }
                }
            });
            assert!(seen.iter().all(|&s| s), "side {side} g {g}: every pixel once");
            // Panels of any width see the same runs.
            let mut count = 0;
            for n0 in (0..n).step_by(5) {
                b.pixel_runs(n0, 5.min(n - n0), |_, len, _| count += len);
            }
            assert_eq!(count, g * hw);
        }
    }
}
