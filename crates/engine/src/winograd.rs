//! 3x3, stride 1, padding 1 convolutions by Winograd F(2x2, 3x3): each 2x2
//! output tile costs 16 multiplies per (in, out) channel pair instead of 36,
//! 2.25x fewer. The transforms (Lavin & Gray 2015):
//!
//! - weights, once at load: U = G g G^T, G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1];
//! - input, per layer: V = B^T d B over 4x4 patches (stride 2), B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1];
//! - then, for each of the 16 positions p, one GEMM M_p = U_p V_p
//!   ([Cout x Cin] x [Cin x tiles]) with the packed kernels;
//! - output: Y = A^T M A, A^T = [1 1 1 0; 0 1 -1 -1].
//!
//! Activations are [C][images][side][side]; tiles are numbered
//! image-major, then tile row, then tile column.

use crate::gemm::PackedA;

/// The 16 transformed weight matrices of one 3x3 conv, each [Cout][Cin] packed.
pub struct WinogradW {
    pub cout: usize,
    pub cin: usize,
    pub u: Vec<PackedA>,
}

impl WinogradW {
    /// From weights [Cout][Cin][3][3].
    pub fn new(w: impl Fn(usize) -> f32, cout: usize, cin: usize, mr: usize) -> WinogradW {
        const G: [[f64; 3]; 4] = [[1.0, 0.0, 0.0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0.0, 0.0, 1.0]];
        let mut mats = vec![vec![0f32; cout * cin]; 16];
        for o in 0..cout {
            for i in 0..cin {
                let g: [f32; 9] = std::array::from_fn(|j| w((o * cin + i) * 9 + j));
                for a in 0..4 {
                    for c in 0..4 {
                        let mut s = 0f64;
                        for y in 0..3 {
                            for x in 0..3 {
                                s += G[a][y] * f64::from(g[y * 3 + x]) * G[c][x];
                            }
                        }
                        mats[a * 4 + c][o * cin + i] = s as f32;
                    }
                }
            }
        }
        let u = mats.iter().map(|m| PackedA::new(m, cout, cin, None, mr)).collect();
        WinogradW { cout, cin, u }
    }

    pub fn bytes(&self) -> usize {
        self.u.iter().map(PackedA::bytes).sum()
    }
}

pub fn tiles_per_side(side: usize) -> usize {
    side.div_ceil(2)
}

/// Tile rows are numbered across the images of a group: row R is tile row
/// R % T of image R / T (T tiles per side). A chunk of rows R0..R1 is
/// transformed, multiplied and transformed back while its buffers stay in
/// the core's L2.
///
/// Input transform of tile rows r0..r1 of channel `ci` of `mid`
/// ([C][images][side][side], row stride `ld` per channel) into
/// v[p * p_stride + ci * ld_v + (R - r0) * T + tx].
///
/// Each input row is split into its even and odd padded columns (4x4 patches
/// overlap by 2: tile column tx reads even[tx], odd[tx], even[tx + 1],
/// odd[tx + 1]); then B^T runs across rows and B across columns, both on
/// contiguous arrays.
///
/// # Safety
/// `v` must hold 16 * cin * ld_v floats that no other thread writes.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub unsafe fn input_rows(
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
    const H: usize = 32;
    let t = tiles_per_side(side);
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

/// Output transform of tile rows r0..r1 of channel `co` from
/// m[p * p_stride + co * ld_m + (R - r0) * T + tx] into `dst`, the channel's
/// [images][side][side].
///
/// # Safety
/// `dst` must hold the images' planes, which no other thread writes.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub unsafe fn output_rows(
    m: &[f32],
    side: usize,
    co: usize,
    p_stride: usize,
    r0: usize,
    r1: usize,
    ld_m: usize,
    dst: *mut f32,
) {
    let t = tiles_per_side(side);
    for rr in r0..r1 {
        let (img, ty) = (rr / t, rr % t);
        let col0 = (rr - r0) * t;
        let at = |a: usize, c: usize| &m[(a * 4 + c) * p_stride + co * ld_m + col0..][..t];
        // s[a][x] = (M A)[a][x]; y[r][x] = (A^T s)[r][x].
        let mut s = [[[0f32; 32]; 2]; 4];
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
