//! The Winograd F(2x2, 3x3) and F(4x4, 3x3) input and output transforms
//! (see `ops::winograd` for the method), as loops the kernel sets compile
//! with their own target features (`kernels::helpers!`).

use super::types::{WinoChunk, WinoInput};

pub(crate) fn tiles_per_side(side: usize, tile: usize) -> usize {
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

/// Input transform of tile rows r0..r1 of channels 0..cin of `mid`
/// ([C][images][side][side], row stride `ld` per channel) into
/// v[p * p_stride + ci * ld_v + (R - r0) * T + tx].
///
/// # Safety
/// `v` must hold P * cin * ld_v floats that no other thread writes.
#[inline(always)]
pub unsafe fn input_rows(mid: WinoInput, ld: usize, chunk: &WinoChunk, v: *mut f32) {
    match mid {
        WinoInput::Floats(x) => input_rows_of(x, ld, chunk, v, |x| x),
        WinoInput::Codes(x, zero) => input_rows_of(x, ld, chunk, v, code_value(zero)),
    }
}

/// A code's value in a transform of codes: `code - zero`, exact.
#[inline(always)]
pub(crate) fn code_value(zero: u8) -> impl Fn(u8) -> f32 + Copy {
    let z = f32::from(zero);
    move |c| f32::from(c) - z
}

#[inline(always)]
unsafe fn input_rows_of<T: Copy>(
    mid: &[T],
    ld: usize,
    chunk: &WinoChunk,
    v: *mut f32,
    value: impl Fn(T) -> f32 + Copy,
) {
    // A local copy: its fields stay in registers through the loops below.
    let c = *chunk;
    if c.tile == 4 {
        input_rows4(mid, ld, &c, v, value)
    } else {
        for ci in 0..c.channels {
            input_rows2(mid, ld, &c, ci, v, value)
        }
    }
}

/// Output transform of tile rows r0..r1 of channels 0..cout from
/// m[p * p_stride + co * ld_m + (R - r0) * T + tx] into `dst`, which holds
/// each channel's [images][side][side] `ld` floats apart.
///
/// # Safety
/// `dst` must hold the channels' planes, which no other thread writes.
#[inline(always)]
pub unsafe fn output_rows(m: &[f32], chunk: &WinoChunk, dst: *mut f32, ld: usize) {
    let c = *chunk;
    if c.tile == 4 {
        output_rows4(m, &c, dst, ld)
    } else {
        for co in 0..c.channels {
            output_rows2(m, &c, co, dst.add(co * ld))
        }
    }
}

/// F(2x2): each input row is split into its even and odd padded columns
/// (4x4 patches overlap by 2: tile column tx reads even[tx], odd[tx],
/// even[tx + 1], odd[tx + 1]); then B^T runs across rows and B across
/// columns, both on contiguous arrays. B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1].
#[inline(always)]
unsafe fn input_rows2<T: Copy>(
    mid: &[T],
    ld: usize,
    chunk: &WinoChunk,
    ci: usize,
    v: *mut f32,
    value: impl Fn(T) -> f32,
) {
    let WinoChunk { side, p_stride, r0, r1, cols: ld_v, .. } = *chunk;
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
                o[i] = value(pair[0]);
                e[i + 1] = value(pair[1]);
            }
            if side % 2 == 1 {
                o[pairs] = value(row[side - 1]);
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
#[inline(always)]
unsafe fn output_rows2(m: &[f32], chunk: &WinoChunk, co: usize, dst: *mut f32) {
    let WinoChunk { side, p_stride, r0, r1, cols: ld_m, .. } = *chunk;
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
#[inline(always)]
unsafe fn input_rows4<T: Copy>(mid: &[T], ld: usize, chunk: &WinoChunk, v: *mut f32, value: impl Fn(T) -> f32) {
    let WinoChunk { side, channels: cin, p_stride, r0, r1, cols: ld_v, .. } = *chunk;
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
                        p[1][i] = value(q[0]);
                        p[2][i] = value(q[1]);
                        p[3][i] = value(q[2]);
                        p[0][i + 1] = value(q[3]);
                    }
                    for (xx, &val) in (side - rest.len()..).zip(rest) {
                        p[(xx + 1) % 4][(xx + 1) / 4] = value(val);
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
#[inline(always)]
unsafe fn output_rows4(m: &[f32], chunk: &WinoChunk, dst: *mut f32, ld: usize) {
    let WinoChunk { side, channels: cout, p_stride, r0, r1, cols: ld_m, .. } = *chunk;
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
