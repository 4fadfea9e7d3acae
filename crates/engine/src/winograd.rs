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

use crate::error::Result;
use crate::gemm::{self, PackedA, Ptr, B};
use crate::kernels::Kernel;

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
/// for 7.5 MiB more weights. In wasm, F(4x4) on block 2 costs 3.8 MiB of
/// weights (Worker: 46 MiB after load, its budget 48) and saves 1-2% of the
/// time (workerd A/B: 0.98 / 0.99 / 0.98x, 88-90 vs 90-91 ms/image).
pub fn tile_for(side: usize) -> usize {
    if side >= 28 {
        4
    } else {
        2
    }
}

fn tiles_per_side(side: usize, tile: usize) -> usize {
    side.div_ceil(tile)
}

/// Room for tile columns per row in F(2x2)'s stack arrays.
const H: usize = 32;

/// The largest map side the transforms handle.
pub fn max_side(tile: usize) -> usize {
    if tile == 4 {
        (H4 - 1) * 4
    } else {
        (H - 1) * 2
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
/// out (block 3 at batch 1 has 49 tiles: F(2x2)'s GEMMs there ran at 0.73x
/// the speed of 56 tiles in wasm, bench/engine/wasm_kernels.mjs). The extra
/// columns hold stale tiles whose products are never read.
fn padded_cols(cols: usize, step: usize) -> usize {
    cols.next_multiple_of(step)
}

/// Runs `chunks` of `plan`: the conv of `mid` ([Cin][images][side][side],
/// `ld` floats per channel) into `out` (same layout), with `buf` for the
/// chunk's matrices and `scratch` for the GEMM's panels.
///
/// # Safety
/// `out` must hold Cout channels `ld` floats apart, and no other thread may
/// write the rows of these chunks.
#[allow(clippy::too_many_arguments)]
pub unsafe fn run(
    kern: &Kernel,
    w: &WinogradW,
    plan: &Plan,
    mid: &[f32],
    ld: usize,
    chunks: std::ops::Range<usize>,
    out: *mut f32,
    buf: &mut Vec<f32>,
    scratch: &mut Vec<f32>,
) {
    let (points, vs, ms) = (w.u.len(), plan.vs, plan.ms);
    if buf.len() < plan.buf_len(points) {
        buf.resize(plan.buf_len(points), 0.0);
    }
    let (v, m) = buf.split_at_mut(points * vs);
    for chunk in chunks {
        let (r0, r1, cols) = plan.chunk(chunk);
        (kern.wino_in)(mid, ld, plan.side, w.tile, w.cin, vs, r0, r1, v.as_mut_ptr(), cols);
        point_gemms(kern, &w.u, v, vs, m, ms, cols, scratch);
        (kern.wino_out)(m, plan.side, w.tile, w.cout, ms, r0, r1, cols, out, ld);
    }
}

/// The GEMMs of a chunk, one per point p: M_p = U_p V_p, with V_p the
/// [Cin][cols] matrix at v[p * vs..] and M_p the [Cout][cols] one at m[p * ms..].
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn point_gemms(
    kern: &Kernel,
    u: &[PackedA],
    v: &[f32],
    vs: usize,
    m: &mut [f32],
    ms: usize,
    cols: usize,
    scratch: &mut Vec<f32>,
) {
    for (p, up) in u.iter().enumerate() {
        let vp = &v[p * vs..][..up.k * cols];
        let mp = &mut m[p * ms..][..up.m * cols];
        let panels = 0..cols.div_ceil(kern.nr);
        gemm::gemm(kern, up, cols, panels, B::Rows(vp, cols), Ptr(mp.as_mut_ptr()), cols, false, scratch);
    }
}

/// Input transform of tile rows r0..r1 of channels 0..cin of `mid`
/// ([C][images][side][side], row stride `ld` per channel) into
/// v[p * p_stride + ci * ld_v + (R - r0) * T + tx].
///
/// # Safety
/// `v` must hold P * cin * ld_v floats that no other thread writes.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub unsafe fn input_rows(
    mid: &[f32],
    ld: usize,
    side: usize,
    tile: usize,
    cin: usize,
    p_stride: usize,
    r0: usize,
    r1: usize,
    v: *mut f32,
    ld_v: usize,
) {
    if tile == 4 {
        input_rows4(mid, ld, side, cin, p_stride, r0, r1, v, ld_v)
    } else {
        for ci in 0..cin {
            input_rows2(mid, ld, side, ci, p_stride, r0, r1, v, ld_v)
        }
    }
}

/// Output transform of tile rows r0..r1 of channels 0..cout from
/// m[p * p_stride + co * ld_m + (R - r0) * T + tx] into `dst`, which holds
/// each channel's [images][side][side] `ld` floats apart.
///
/// # Safety
/// `dst` must hold the channels' planes, which no other thread writes.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub unsafe fn output_rows(
    m: &[f32],
    side: usize,
    tile: usize,
    cout: usize,
    p_stride: usize,
    r0: usize,
    r1: usize,
    ld_m: usize,
    dst: *mut f32,
    ld: usize,
) {
    if tile == 4 {
        output_rows4(m, side, cout, p_stride, r0, r1, ld_m, dst, ld)
    } else {
        for co in 0..cout {
            output_rows2(m, side, co, p_stride, r0, r1, ld_m, dst.add(co * ld))
        }
    }
}

/// F(2x2): each input row is split into its even and odd padded columns
/// (4x4 patches overlap by 2: tile column tx reads even[tx], odd[tx],
/// even[tx + 1], odd[tx + 1]); then B^T runs across rows and B across
/// columns, both on contiguous arrays. B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1].
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn input_rows2(
    mid: &[f32],
    ld: usize,
    side: usize,
    ci: usize,
    p_stride: usize,
    r0: usize,
    r1: usize,
    v: *mut f32,
    ld_v: usize,
) {
    let t = tiles_per_side(side, 2);
    let hw = side * side;
    debug_assert!(t < H);
    for rr in r0..r1 {
        let (img, ty) = (rr / t, rr % t);
        let plane = &mid[ci * ld + img * hw..][..hw];
        // Rows 2ty - 1 .. 2ty + 2, split: even[i] = row[2i - 1], odd[i] = row[2i], zero outside.
        let mut eo = [[[0f32; H]; 2]; 4];
        for (k, [e, o]) in eo.iter_mut().enumerate() {
            let y = (2 * ty + k) as isize - 1;
            if y < 0 || y as usize >= side {
                continue;
            }
            let row = &plane[y as usize * side..][..side];
            let pairs = side / 2;
            for (i, pair) in row[..2 * pairs].chunks_exact(2).enumerate().take(H - 1) {
                o[i] = pair[0];
                e[i + 1] = pair[1];
            }
            if side % 2 == 1 {
                o[pairs] = row[side - 1];
            }
        }
        let mut u = [[[0f32; H]; 2]; 4];
        for h in 0..2 {
            for i in 0..H {
                let (x0, x1, x2, x3) = (eo[0][h][i], eo[1][h][i], eo[2][h][i], eo[3][h][i]);
                u[0][h][i] = x0 - x2;
                u[1][h][i] = x1 + x2;
                u[2][h][i] = x2 - x1;
                u[3][h][i] = x1 - x3;
            }
        }
        let col0 = (rr - r0) * t;
        for (a, [even, odd]) in u.iter().enumerate() {
            let out = |c: usize| std::slice::from_raw_parts_mut(v.add((a * 4 + c) * p_stride + ci * ld_v + col0), t);
            let (e0, e1, o0, o1) = (&even[..t], &even[1..=t], &odd[..t], &odd[1..=t]);
            let (v0, v1, v2, v3) = (out(0), out(1), out(2), out(3));
            for tx in 0..t {
                v0[tx] = e0[tx] - e1[tx];
                v1[tx] = o0[tx] + e1[tx];
                v2[tx] = e1[tx] - o0[tx];
                v3[tx] = o0[tx] - o1[tx];
            }
        }
    }
}

/// F(2x2): A^T = [1 1 1 0; 0 1 -1 -1].
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn output_rows2(
    m: &[f32],
    side: usize,
    co: usize,
    p_stride: usize,
    r0: usize,
    r1: usize,
    ld_m: usize,
    dst: *mut f32,
) {
    let t = tiles_per_side(side, 2);
    for rr in r0..r1 {
        let (img, ty) = (rr / t, rr % t);
        let col0 = (rr - r0) * t;
        let at = |a: usize, c: usize| &m[(a * 4 + c) * p_stride + co * ld_m + col0..][..t];
        // s[a][x] = (M A)[a][x]; y[r][x] = (A^T s)[r][x].
        let mut s = [[[0f32; H]; 2]; 4];
        for a in 0..4 {
            let (m0, m1, m2, m3) = (at(a, 0), at(a, 1), at(a, 2), at(a, 3));
            for tx in 0..t {
                s[a][0][tx] = m0[tx] + m1[tx] + m2[tx];
                s[a][1][tx] = m1[tx] - m2[tx] - m3[tx];
            }
        }
        let plane = dst.add(img * side * side);
        for dy in 0..2 {
            let y = 2 * ty + dy;
            if y >= side {
                break;
            }
            let row = plane.add(y * side);
            for tx in 0..t {
                for dx in 0..2 {
                    let x = 2 * tx + dx;
                    if x >= side {
                        break;
                    }
                    let v = if dy == 0 {
                        s[0][dx][tx] + s[1][dx][tx] + s[2][dx][tx]
                    } else {
                        s[1][dx][tx] - s[2][dx][tx] - s[3][dx][tx]
                    };
                    *row.add(x) = v;
                }
            }
        }
    }
}

/// B^T x for F(4x4): B^T = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0;
/// 0 -2 -1 2 1 0; 0 2 -1 -2 1 0; 0 4 0 -5 0 1].
#[inline(always)]
pub(crate) fn bt4(x: [f32; 6]) -> [f32; 6] {
    let (a, b) = (x[4] - 4.0 * x[2], x[3] - 4.0 * x[1]);
    let (c, d) = (x[4] - x[2], 2.0 * (x[3] - x[1]));
    [4.0 * x[0] - 5.0 * x[2] + x[4], a + b, a - b, c + d, c - d, 4.0 * x[1] - 5.0 * x[3] + x[5]]
}

/// A^T x for F(4x4): A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1].
#[inline(always)]
fn at4(x: [f32; 6]) -> [f32; 4] {
    let (s12, d12, s34, d34) = (x[1] + x[2], x[1] - x[2], x[3] + x[4], x[3] - x[4]);
    [x[0] + s12 + s34, d12 + 2.0 * d34, s12 + 4.0 * s34, d12 + 8.0 * d34 + x[5]]
}

/// Room for tile columns per row in F(4x4)'s stack arrays: loops over all
/// of it have fixed bounds and vectorize.
const H4: usize = 16;
/// Room for a group of tile rows' tiles (plus one row's H4 of slack): the
/// last pass of each transform runs over all of them contiguously, so its
/// loops are long whatever the number of tiles per row.
const XC: usize = 64 + H4;

/// Tile rows per group: as many as fit XC.
fn group_rows(t: usize) -> usize {
    ((XC - H4) / t).max(1)
}

/// F(4x4). Per tile row, each of its 6 input rows is split into 4 phases,
/// ph[j][i] = row[4i + j - 1] (zero outside), so that tile column tx reads
/// ph[0][tx], ph[1][tx], ph[2][tx], ph[3][tx], ph[0][tx + 1], ph[1][tx + 1];
/// B^T runs down the rows on those, giving x[a][c][tile] for the group's
/// tiles, then B across the columns of all the group's tiles at once.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn input_rows4(
    mid: &[f32],
    ld: usize,
    side: usize,
    cin: usize,
    p_stride: usize,
    r0: usize,
    r1: usize,
    v: *mut f32,
    ld_v: usize,
) {
    let t = tiles_per_side(side, 4);
    let hw = side * side;
    debug_assert!(t < H4);
    // Entries of ph past the row's end are never written: they stay zero.
    let mut ph = [[[0f32; H4]; 4]; 6];
    let mut u = [[[0f32; H4]; 4]; 6];
    let mut x = [[[0f32; XC]; 6]; 6];
    for ci in 0..cin {
        let mut ra = r0;
        while ra < r1 {
            let rb = (ra + group_rows(t)).min(r1);
            for rr in ra..rb {
                let (img, ty) = (rr / t, rr % t);
                let plane = &mid[ci * ld + img * hw..][..hw];
                for (k, p) in ph.iter_mut().enumerate() {
                    let y = (4 * ty + k) as isize - 1;
                    if y < 0 || y as usize >= side {
                        *p = [[0.0; H4]; 4];
                        continue;
                    }
                    let row = &plane[y as usize * side..][..side];
                    let quads = row.chunks_exact(4);
                    let rest = quads.remainder();
                    for (i, q) in quads.enumerate().take(H4 - 1) {
                        p[1][i] = q[0];
                        p[2][i] = q[1];
                        p[3][i] = q[2];
                        p[0][i + 1] = q[3];
                    }
                    for (xx, &val) in (side - rest.len()..).zip(rest) {
                        p[(xx + 1) % 4][(xx + 1) / 4] = val;
                    }
                }
                for j in 0..4 {
                    for i in 0..H4 {
                        let y = bt4(std::array::from_fn(|k| ph[k][j][i]));
                        for (ua, ya) in u.iter_mut().zip(y) {
                            ua[j][i] = ya;
                        }
                    }
                }
                // Past this row's t tiles the copies leave garbage that the
                // next row overwrites and that is never read.
                let col = (rr - ra) * t;
                for (xa, ua) in x.iter_mut().zip(&u) {
                    for (c, xc) in xa.iter_mut().enumerate() {
                        xc[col..col + H4 - 1].copy_from_slice(&ua[c % 4][c / 4..c / 4 + H4 - 1]);
                    }
                }
            }
            let (col0, cols) = ((ra - r0) * t, (rb - ra) * t);
            for (a, xa) in x.iter().enumerate() {
                let out =
                    |c: usize| std::slice::from_raw_parts_mut(v.add((a * 6 + c) * p_stride + ci * ld_v + col0), cols);
                let mut outs: [&mut [f32]; 6] = std::array::from_fn(out);
                let xs: [&[f32]; 6] = std::array::from_fn(|c| &xa[c][..cols]);
                for col in 0..cols {
                    let y = bt4(std::array::from_fn(|c| xs[c][col]));
                    for (o, yc) in outs.iter_mut().zip(y) {
                        o[col] = yc;
                    }
                }
            }
            ra = rb;
        }
    }
}

/// F(4x4): A across the columns of all the group's tiles, then A^T down,
/// then each tile row's 4 output rows are interleaved from 4 phases.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn output_rows4(
    m: &[f32],
    side: usize,
    cout: usize,
    p_stride: usize,
    r0: usize,
    r1: usize,
    ld_m: usize,
    dst: *mut f32,
    ld: usize,
) {
    let t = tiles_per_side(side, 4);
    debug_assert!(t < H4);
    // s[a][dx][tile] = (M A)[a][dx], then y[dy][dx][tile] = (A^T s)[dy][dx].
    let mut s = [[[0f32; XC]; 4]; 6];
    let mut y = [[[0f32; XC]; 4]; 4];
    for co in 0..cout {
        let mut ra = r0;
        while ra < r1 {
            let rb = (ra + group_rows(t)).min(r1);
            let (col0, cols) = ((ra - r0) * t, (rb - ra) * t);
            for (a, sa) in s.iter_mut().enumerate() {
                let ms: [&[f32]; 6] = std::array::from_fn(|c| &m[(a * 6 + c) * p_stride + co * ld_m + col0..][..cols]);
                for col in 0..cols {
                    let r = at4(std::array::from_fn(|c| ms[c][col]));
                    for (sd, rd) in sa.iter_mut().zip(r) {
                        sd[col] = rd;
                    }
                }
            }
            for dx in 0..4 {
                for col in 0..cols {
                    let r = at4(std::array::from_fn(|a| s[a][dx][col]));
                    for (yd, rd) in y.iter_mut().zip(r) {
                        yd[dx][col] = rd;
                    }
                }
            }
            for rr in ra..rb {
                let (img, ty) = (rr / t, rr % t);
                let c0 = (rr - ra) * t;
                let plane = dst.add(co * ld + img * side * side);
                for (dy, yd) in y.iter().enumerate() {
                    let row_y = 4 * ty + dy;
                    if row_y >= side {
                        break;
                    }
                    let row = std::slice::from_raw_parts_mut(plane.add(row_y * side), side);
                    let quads = row.chunks_exact_mut(4);
                    for (tx, q) in quads.enumerate() {
                        for (dx, o) in q.iter_mut().enumerate() {
                            *o = yd[dx][c0 + tx];
                        }
                    }
                    for xx in side - side % 4..side {
                        row[xx] = yd[xx % 4][c0 + xx / 4];
                    }
                }
            }
            ra = rb;
        }
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
                        let plan = Plan::new(&w, side, g, threads, kern.col_step());
                        let mut out = vec![f32::NAN; cout * g * side * side];
                        // NaN in every column a transform does not write (the
                        // padding to whole panels) must not reach the output.
                        let mut buf = vec![f32::NAN; w.u.len() * (plan.vs + plan.ms)];
                        let mut scratch = Vec::new();
                        let ld = g * side * side;
                        unsafe {
                            run(&kern, &w, &plan, &x, ld, 0..plan.chunks, out.as_mut_ptr(), &mut buf, &mut scratch)
                        };
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
