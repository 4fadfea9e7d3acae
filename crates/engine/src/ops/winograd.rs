//! 3x3, stride 1, padding 1 convolutions by Winograd F(m x m, 3x3) with
//! output tiles of m = 2 or 4 (Lavin & Gray 2015): an m x m tile costs
//! (m+2)^2 multiplies per (in, out) channel pair instead of 9 m^2, 2.25x
//! fewer for m = 2 and 4x fewer for m = 4. With P = (m+2)^2 points:
//!
//! - weights, once at load: U = G g G^T;
//! - input, per layer: V = B^T d B over (m+2)^2 patches (stride m);
//! - then, for each of the P points p, one GEMM M_p = U_p V_p
//!   ([Cout x Cin] x [Cin x tiles]) with the packed kernels;
//! - output: Y = A^T M A.
//!
//! F(4x4) holds 36/16 the weights of F(2x2) and its transforms cost more per
//! tile: the loader uses it only where the maps are largest (`tile_for`).
//!
//! Activations are [C][images][side][side]; tiles are numbered
//! image-major, then tile row, then tile column.

use super::gemm::{self, Out, PackedA, Ptr, B};
use super::Scratch;
use crate::error::Result;
use crate::grow;
pub use crate::kernels::winograd::max_side;
use crate::kernels::winograd::tiles_per_side;
use crate::kernels::{Kernel, WinoChunk, WinoInput};

/// The transformed weights of one 3x3 conv: (tile+2)^2 matrices, each
/// [Cout][Cin] packed.
pub struct WinogradW {
    pub cout: usize,
    pub cin: usize,
    /// Output tile side m: 2 or 4.
    pub tile: usize,
    pub u: Vec<PackedA>,
}

/// G for F(2x2, 3x3) and F(4x4, 3x3) (interpolation points 0, +-1, +-2, inf).
const G2: [[f64; 3]; 4] = [[1.0, 0.0, 0.0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0.0, 0.0, 1.0]];
const G4: [[f64; 3]; 6] = [
    [0.25, 0.0, 0.0],
    [-1.0 / 6.0, -1.0 / 6.0, -1.0 / 6.0],
    [-1.0 / 6.0, 1.0 / 6.0, -1.0 / 6.0],
    [1.0 / 24.0, 1.0 / 12.0, 1.0 / 6.0],
    [1.0 / 24.0, -1.0 / 12.0, 1.0 / 6.0],
    [0.0, 0.0, 1.0],
];

impl WinogradW {
    /// From weights [Cout][Cin][3][3], for output tiles of `tile` (2 or 4).
    /// Each filter's U = (G g) G^T, in f64, goes straight to its place in
    /// the packed matrices: half the multiplies of the 9-term sums per point,
    /// and no [Cout][Cin] copies to pack (the Worker loads once per isolate).
    #[cfg(test)]
    pub fn new(w: impl Fn(usize) -> f32, cout: usize, cin: usize, tile: usize, mr: usize) -> WinogradW {
        Self::try_new(w, cout, cin, tile, mr, "a test's weights").unwrap()
    }

    /// [`WinogradW::new`] for weights `what` read from a model file: sizes
    /// that overflow or allocations that fail are `ModelInvalid`.
    pub fn try_new(
        w: impl Fn(usize) -> f32,
        cout: usize,
        cin: usize,
        tile: usize,
        mr: usize,
        what: &str,
    ) -> Result<WinogradW> {
        let g_rows: &[[f64; 3]] = if tile == 4 { &G4 } else { &G2 };
        let n = g_rows.len();
        let mut u: Vec<PackedA> = Vec::with_capacity(n * n);
        for _ in 0..n * n {
            u.push(PackedA::try_zeroed(cout, cin, mr, what)?);
        }
        let mut gg = [[0f64; 3]; 6];
        for o in 0..cout {
            for i in 0..cin {
                let g: [f64; 9] = std::array::from_fn(|j| f64::from(w((o * cin + i) * 9 + j)));
                for (t, ga) in gg.iter_mut().zip(g_rows) {
                    for x in 0..3 {
                        t[x] = ga[0] * g[x] + ga[1] * g[3 + x] + ga[2] * g[6 + x];
                    }
                }
                // Element (o, i) of a [Cout][Cin] matrix packed in panels of MR rows.
                let at = o / mr * cin * mr + i * mr + o % mr;
                for (a, t) in gg[..n].iter().enumerate() {
                    for (c, gc) in g_rows.iter().enumerate() {
                        u[a * n + c].data[at] = (t[0] * gc[0] + t[1] * gc[1] + t[2] * gc[2]) as f32;
                    }
                }
            }
        }
        Ok(WinogradW { cout, cin, tile, u })
    }

    pub fn bytes(&self) -> usize {
        self.u.iter().map(PackedA::bytes).sum()
    }

    /// What `new` allocates for these sizes, in bytes; None if that
    /// overflows `usize`.
    pub fn bytes_for(cout: usize, cin: usize, tile: usize, mr: usize) -> Option<usize> {
        ((tile + 2) * (tile + 2)).checked_mul(PackedA::bytes_for(cout, cin, mr)?)
    }
}

/// The output tile for 3x3 convs on maps of `side`: 4 on DenseNet's blocks
/// 1-2 (56 x 56 and 28 x 28: 83% of DenseNet-121's 3x3 multiplies), 2
/// elsewhere: F(4x4) on block 3 would save little (14 = 4 ragged tiles of 4)
/// for 7.5 MiB more weights. In wasm too: F(4x4) on block 2 costs 3.8 MiB
/// more weights, which still fit the Worker's memory budget after load, for
/// a small saving of time.
pub fn tile_for(side: usize) -> usize {
    if side >= 28 {
        4
    } else {
        2
    }
}

/// How one conv's tile rows are cut into chunks. Tile rows are numbered
/// across the images of a group: row R is tile row R % T of image R / T (T
/// tiles per side). Each chunk of rows is transformed, multiplied and
/// transformed back while its buffers stay in the core's L2.
pub struct Plan {
    side: usize,
    t: usize,
    rows: usize,
    per: usize,
    /// The kernel's column step (`Kernel::col_step`).
    step: usize,
    pub chunks: usize,
    /// Floats between two of the P transformed-input (and product) matrices.
    pub(crate) vs: usize,
    pub(crate) ms: usize,
}

impl Plan {
    /// For `g` images of `side` x `side`, with at least one chunk per thread,
    /// for a kernel whose GEMMs take columns in steps of `step`
    /// (`Kernel::col_step`).
    pub fn new(w: &WinogradW, side: usize, g: usize, threads: usize, step: usize) -> Plan {
        Plan::for_shape(w.tile, w.cin, w.cout, side, g, threads, step)
    }

    /// [`Plan::new`] for a conv of `cin` to `cout` channels with output
    /// tiles of `tile`, given without its weights (the transforms'
    /// micro-benchmark).
    pub(crate) fn for_shape(
        tile: usize,
        cin: usize,
        cout: usize,
        side: usize,
        g: usize,
        threads: usize,
        step: usize,
    ) -> Plan {
        let t = tiles_per_side(side, tile);
        let rows = g * t;
        // About 64 tiles per chunk (56 for F(4x4): its 36 matrices then
        // take 1.0 MB).
        let target = if tile == 4 { 56 } else { 64 };
        let per = (target / t).max(1).min(rows.div_ceil(threads)).max(1);
        // The P matrices sit 64 floats off a multiple of 4 KiB apart: the
        // transforms write (and read) all P at once, and P streams 4 KiB-aligned
        // apart thrash one L1 set.
        let cols = padded_cols(per * t, step);
        let (vs, ms) = (cin * cols + 64, cout * cols + 64);
        Plan { side, t, rows, per, step, chunks: rows.div_ceil(per), vs, ms }
    }

    /// Floats of the chunk buffer `run` needs for `points` matrices.
    pub fn buf_len(&self, points: usize) -> usize {
        points * (self.vs + self.ms)
    }

    /// `Plan::new(w, side, g, threads, step).buf_len(w.u.len())` in checked
    /// arithmetic: None where a size overflows `usize` (a hostile model's
    /// channels, or a huge batch, on a 32-bit target). Where it is Some, no
    /// size `new` and `run` compute for these arguments (or more threads)
    /// overflows: each is at most this one.
    pub fn checked_buf_len(w: &WinogradW, side: usize, g: usize, threads: usize, step: usize) -> Option<usize> {
        let t = tiles_per_side(side, w.tile);
        let rows = g.checked_mul(t)?;
        let target = if w.tile == 4 { 56 } else { 64 };
        let per = (target / t.max(1)).max(1).min(rows.div_ceil(threads.max(1))).max(1);
        let cols = per.checked_mul(t)?.checked_next_multiple_of(step)?;
        let vs = w.cin.checked_mul(cols)?.checked_add(64)?;
        let ms = w.cout.checked_mul(cols)?.checked_add(64)?;
        w.u.len().checked_mul(vs.checked_add(ms)?)
    }

    /// Chunk `chunk`'s tile rows r0..r1 and its padded column count.
    pub(crate) fn chunk(&self, chunk: usize) -> (usize, usize, usize) {
        let (r0, r1) = (chunk * self.per, ((chunk + 1) * self.per).min(self.rows));
        (r0, r1, padded_cols((r1 - r0) * self.t, self.step))
    }
}

/// A chunk's columns rounded up to the kernel's column step: whole panels,
/// or a last half panel for a kernel with a tail tile. The GEMMs then read
/// every panel in place; a partial panel is packed and its product copied
/// out, which costs a GEMM of few panels a good part of its speed (block 3
/// at batch 1 has 49 tiles: with wasm's 8-column panels, 6 whole ones and a
/// last one of 1 column, padded to 4 for the tail tile). The extra columns
/// hold stale tiles whose products are never read.
fn padded_cols(cols: usize, step: usize) -> usize {
    cols.next_multiple_of(step)
}

/// Runs `chunks` of `plan`: the conv of `mid` ([Cin][images][side][side],
/// `ld` values per channel) into `out` (floats, `ld` per channel; for codes
/// in units of their scale).
///
/// # Safety
/// `out` must hold Cout channels `ld` floats apart, and no other thread may
/// write the rows of these chunks.
pub unsafe fn run(
    (kern, w, plan): (&Kernel, &WinogradW, &Plan),
    (mid, ld): (WinoInput, usize),
    chunks: std::ops::Range<usize>,
    out: *mut f32,
    s: Scratch,
) {
    let (buf, scratch) = (s.chunks, s.panels);
    let (points, vs, ms) = (w.u.len(), plan.vs, plan.ms);
    grow::at_least(buf, plan.buf_len(points));
    let (v, m) = buf.split_at_mut(points * vs);
    for chunk in chunks {
        let (r0, r1, cols) = plan.chunk(chunk);
        let c = WinoChunk { side: plan.side, tile: w.tile, channels: w.cin, p_stride: vs, r0, r1, cols };
        (kern.wino_in)(mid, ld, &c, v.as_mut_ptr());
        point_gemms(kern, &w.u, (v, vs), (m, ms), cols, scratch);
        (kern.wino_out)(m, &WinoChunk { channels: w.cout, p_stride: ms, ..c }, out, ld);
    }
}

/// The GEMMs of a chunk, one per point p: M_p = U_p V_p, with V_p the
/// [Cin][cols] matrix at v[p * vs..] and M_p the [Cout][cols] one at m[p * ms..].
pub(crate) unsafe fn point_gemms(
    kern: &Kernel,
    u: &[PackedA],
    (v, vs): (&[f32], usize),
    (m, ms): (&mut [f32], usize),
    cols: usize,
    scratch: &mut Vec<f32>,
) {
    for (p, up) in u.iter().enumerate() {
        let vp = &v[p * vs..][..up.k * cols];
        let mp = &mut m[p * ms..][..up.m * cols];
        let panels = 0..cols.div_ceil(kern.nr);
        gemm::gemm(
            kern,
            up,
            cols,
            panels,
            B::Rows(vp, cols),
            Out { c: Ptr(mp.as_mut_ptr()), ld: cols, relu: false },
            scratch,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::KernelKind;

    fn data(n: usize, seed: usize) -> Vec<f32> {
        (0..n).map(|i| (((i * 7919 + seed * 104_729) % 2003) as f32 / 1001.0) - 1.0).collect()
    }

    /// 3x3, stride 1, padding 1, in float64: [cout][g][side][side].
    fn direct(x: &[f32], w: &[f32], cin: usize, cout: usize, side: usize, g: usize) -> Vec<f64> {
        let hw = side * side;
        let mut y = vec![0f64; cout * g * hw];
        for o in 0..cout {
            for b in 0..g {
                for py in 0..side {
                    for px in 0..side {
                        let mut s = 0f64;
                        for i in 0..cin {
                            for ky in 0..3 {
                                for kx in 0..3 {
                                    let (sy, sx) = ((py + ky) as isize - 1, (px + kx) as isize - 1);
                                    if sy < 0 || sx < 0 || sy as usize >= side || sx as usize >= side {
                                        continue;
                                    }
                                    let xv = x[(i * g + b) * hw + sy as usize * side + sx as usize];
                                    s += f64::from(xv) * f64::from(w[((o * cin + i) * 3 + ky) * 3 + kx]);
                                }
                            }
                        }
                        y[(o * g + b) * hw + py * side + px] = s;
                    }
                }
            }
        }
        y
    }

    fn conv(kern: &Kernel, w: &WinogradW, x: WinoInput, (side, g, threads): (usize, usize, usize)) -> Vec<f32> {
        let plan = Plan::new(w, side, g, threads, kern.col_step());
        let mut out = vec![f32::NAN; w.cout * g * side * side];
        // NaN in every column a transform does not write (the padding to
        // whole panels) must not reach the output.
        let mut buf = vec![f32::NAN; w.u.len() * (plan.vs + plan.ms)];
        let mut scratch = Vec::new();
        let s = Scratch { chunks: &mut buf, panels: &mut scratch };
        unsafe { run((kern, w, &plan), (x, g * side * side), 0..plan.chunks, out.as_mut_ptr(), s) };
        out
    }

    /// A conv of codes is the conv of their values less the zero point, bit
    /// for bit (the same floats enter the same transform), on every kernel.
    #[test]
    fn codes_are_their_values() {
        let (cin, cout) = (19, 6);
        for kind in KernelKind::available() {
            let kern = kind.kernel().unwrap();
            for tile in [2, 4] {
                for (side, g) in [(5, 2), (13, 3), (14, 2), (28, 1), (56, 1)] {
                    let codes: Vec<u8> = (0..cin * g * side * side).map(|i| ((i * 7919 + side) % 256) as u8).collect();
                    let wt = data(cout * cin * 9, 7);
                    let w = WinogradW::new(|j| wt[j], cout, cin, tile, kern.mr);
                    for zero in [0, 37, 255] {
                        let values: Vec<f32> = codes.iter().map(|&c| f32::from(c) - f32::from(zero)).collect();
                        let want = conv(&kern, &w, WinoInput::Floats(&values), (side, g, 1));
                        let got = conv(&kern, &w, WinoInput::Codes(&codes, zero), (side, g, 1));
                        let same = got.iter().zip(&want).all(|(a, b)| a.to_bits() == b.to_bits());
                        assert!(same, "{kind:?} F({tile}) side {side} images {g} zero {zero}");
                    }
                }
            }
        }
    }

    /// Both tile sizes, on every kernel, on sides with ragged tiles, over
    /// several images and chunkings, against the direct conv.
    #[test]
    fn both_tiles_match_direct_conv() {
        let (cin, cout) = (19, 6);
        for kind in KernelKind::available() {
            let kern = kind.kernel().unwrap();
            for tile in [2, 4] {
                for (side, g) in [(1, 1), (5, 2), (7, 1), (13, 3), (14, 2), (30, 1), (56, 1)] {
                    let (x, wt) = (data(cin * g * side * side, side), data(cout * cin * 9, 7));
                    let w = WinogradW::new(|j| wt[j], cout, cin, tile, kern.mr);
                    let want = direct(&x, &wt, cin, cout, side, g);
                    for threads in [1, 3] {
                        let out = conv(&kern, &w, WinoInput::Floats(&x), (side, g, threads));
                        for (i, (o, r)) in out.iter().zip(&want).enumerate() {
                            // F(4x4)'s transforms scale values by up to ~10: a looser bound.
                            let tol = if tile == 4 { 2e-5 } else { 5e-6 } * (cin as f64 * 9.0).sqrt() * 4.0;
                            assert!(
                                (f64::from(*o) - r).abs() <= tol,
                                "{kind:?} F({tile}) side {side} images {g} threads {threads} [{i}]: {o} vs {r}"
                            );
                        }
                    }
                }
            }
        }
    }
}
