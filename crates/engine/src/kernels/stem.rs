//! The stem's Winograd F(3x3, 4x4) input and output transforms (see
//! `ops::stem` for the method), as loops the kernel sets compile with their
//! own target features (`kernels::helpers!`).

use super::types::StemChunk;
use super::winograd::bt4;
use crate::scalar::relu;

/// The input image's side.
pub const IMAGE: usize = 224;
/// The stem conv's output side (7x7, stride 2, padding 3).
pub const STEM_OUT: usize = 112;
/// Phase planes: 3 channels x 2 row phases x 2 column phases.
pub(crate) const PH: usize = 12;
/// Points of F(3x3, 4x4): 6 x 6.
pub(crate) const P: usize = 36;
/// Output tiles per side (the last one is cut: 3 x 38 = 114).
pub(crate) const T: usize = STEM_OUT.div_ceil(3);
/// Output tiles per image.
pub(crate) const TILES: usize = T * T;
/// Room for a run of tiles within one tile row, so loops over it have fixed bounds.
pub(crate) const R: usize = 40;
/// A padded input row: `row[x]` at `x + 3`, zeros around, room for the
/// last tile's patch (6 (T - 1) + 12 floats).
pub(crate) const ROW: usize = 6 * T + 6;

/// A^T x for F(3x3, 4x4): A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 1].
#[inline(always)]
fn at3(x: [f32; 6]) -> [f32; 3] {
    let (s12, d12, s34, d34) = (x[1] + x[2], x[1] - x[2], x[3] + x[4], x[3] - x[4]);
    [x[0] + s12 + s34, d12 + 2.0 * d34, s12 + 4.0 * s34 + x[5]]
}

/// Calls `f(ty, tx0, n, col)` for each run of tiles t0..t1 within one tile
/// row: row ty, tiles tx0..tx0 + n, the first at column `col` of the chunk.
/// n <= T <= R: the callers' loops over k < n index [_; R] arrays.
fn runs(t0: usize, t1: usize, mut f: impl FnMut(usize, usize, usize, usize)) {
    let mut tile = t0;
    while tile < t1 {
        let (ty, tx0) = (tile / T, tile % T);
        let n = (T - tx0).min(t1 - tile);
        f(ty, tx0, n, tile - t0);
        tile += n;
    }
}

/// V = B^T d B of tiles t0..t1 into v[p * p_stride + ch * ld_v + col].
#[inline(always)]
pub(crate) unsafe fn input(image: &[f32], chunk: &StemChunk, v: *mut f32) {
    let StemChunk { t0, t1, p_stride, cols: ld_v } = *chunk;
    // Stack arrays set up once: clearing them per tile row cost as much as
    // the transform. Entries past a run's n tiles hold stale values that
    // are transformed but never stored.
    let mut row = [0f32; ROW];
    // d[q][i][j][k]: element (i, j) of tile tx0 + k's patch of plane (c, p, q).
    let mut d = [[[[0f32; R]; 6]; 6]; 2];
    let mut u = [[[0f32; R]; 6]; 6];
    runs(t0, t1, |ty, tx0, n, col0| {
        // Known to the compiler: no bounds checks in the loops over k.
        let n = n.min(R);
        for c in 0..3 {
            let plane = &image[c * IMAGE * IMAGE..][..IMAGE * IMAGE];
            for p in 0..2 {
                for i in 0..6 {
                    let y = (6 * ty + 2 * i + p) as isize - 3;
                    if y < 0 || y >= IMAGE as isize {
                        for dq in d.iter_mut() {
                            dq[i] = [[0.0; R]; 6];
                        }
                        continue;
                    }
                    // row[x + 3] = input column x; zeros around stay from the start.
                    row[3..3 + IMAGE].copy_from_slice(&plane[y as usize * IMAGE..][..IMAGE]);
                    // Tile tx's patch starts at input column 6 tx - 3: row[6 tx].
                    for k in 0..n {
                        let at = &row[6 * (tx0 + k)..][..12];
                        for j in 0..6 {
                            d[0][i][j][k] = at[2 * j];
                            d[1][i][j][k] = at[2 * j + 1];
                        }
                    }
                }
                for (q, dq) in d.iter().enumerate() {
                    let ch = c * 4 + p * 2 + q;
                    // B^T down the patch's rows, then across its columns.
                    for j in 0..6 {
                        for k in 0..R {
                            let y = bt4(std::array::from_fn(|i| dq[i][j][k]));
                            for (ua, ya) in u.iter_mut().zip(y) {
                                ua[j][k] = ya;
                            }
                        }
                    }
                    for (a, ua) in u.iter().enumerate() {
                        let out = |b: usize| {
                            std::slice::from_raw_parts_mut(v.add((a * 6 + b) * p_stride + ch * ld_v + col0), n)
                        };
                        let mut outs: [&mut [f32]; 6] = std::array::from_fn(out);
                        for k in 0..n {
                            let y = bt4(std::array::from_fn(|j| ua[j][k]));
                            for (o, yb) in outs.iter_mut().zip(y) {
                                o[k] = yb;
                            }
                        }
                    }
                }
            }
        }
    });
}

/// Y = A^T M A + bias, ReLU, of tiles t0..t1 from m[p * p_stride + o * ld_m + col]
/// into `dst` ([C0][112][112]).
#[inline(always)]
pub(crate) unsafe fn output(m: &[f32], chunk: &StemChunk, bias: &[f32], dst: *mut f32) {
    let StemChunk { t0, t1, p_stride, cols: ld_m } = *chunk;
    // Set up once, as in `input`.
    // s[a][x][k] = (M A)[a][x] of tile tx0 + k; y[r][x][k] its output (r, x).
    let mut s = [[[0f32; R]; 3]; 6];
    let mut y = [[[0f32; R]; 3]; 3];
    runs(t0, t1, |ty, tx0, n, col0| {
        let n = n.min(R);
        let x0 = 3 * tx0;
        let len = (3 * n).min(STEM_OUT - x0);
        for (o, &bo) in bias.iter().enumerate() {
            for (a, sa) in s.iter_mut().enumerate() {
                let mm: [&[f32]; 6] = std::array::from_fn(|b| &m[(a * 6 + b) * p_stride + o * ld_m + col0..][..n]);
                for k in 0..n {
                    let t = at3(std::array::from_fn(|b| mm[b][k]));
                    for (sx, tx) in sa.iter_mut().zip(t) {
                        sx[k] = tx;
                    }
                }
            }
            for x in 0..3 {
                for k in 0..n {
                    let t = at3(std::array::from_fn(|a| s[a][x][k]));
                    for (yr, tr) in y.iter_mut().zip(t) {
                        yr[x][k] = relu(tr + bo);
                    }
                }
            }
            for (r, yr) in y.iter().enumerate() {
                let oy = 3 * ty + r;
                if oy >= STEM_OUT {
                    break;
                }
                let out = std::slice::from_raw_parts_mut(dst.add((o * STEM_OUT + oy) * STEM_OUT + x0), len);
                // The tiles side by side: 3 columns each (the last tile may be cut).
                for (k, v) in out.chunks_mut(3).enumerate() {
                    for (x, vx) in v.iter_mut().enumerate() {
                        *vx = yr[x][k];
                    }
                }
            }
        }
    });
}
