//! The stem's 7x7, stride-2, padding-3 conv (3 -> C0 channels, 224 -> 112)
//! by Winograd F(3x3, 4x4).
//!
//! Each input channel is split into its 2x2 phases (even or odd rows, even
//! or odd columns): s[c,p,q][u][v] = x[c][2u + p - 3][2v + q - 3], zero
//! outside the image (the conv's padding). The strided 7x7 conv is then a
//! 4x4 conv of stride 1 over those 12 planes, with kernels
//! k[c,p,q][a][b] = w[c][2a + p][2b + q] (zero past row or column 6).
//! F(3x3, 4x4) makes each 3x3 output tile from a 6x6 patch with 36
//! multiplies per (in, out) channel pair: 12 x 36 = 432 per 9 outputs
//! instead of 9 x 147 = 1323, 3.1x fewer than the im2col GEMM. The stem was
//! the largest GEMM left at its full cost (118 M multiply-adds per image).
//!
//! Same points (0, +-1, +-2, inf) as F(4x4, 3x3), so B^T is the same
//! (`winograd::bt4`); tiles are numbered tile row by tile row, T per row.

use super::gemm::{try_zeros, PackedA};
use super::winograd::point_gemms;
use super::Scratch;
use crate::error::Result;
use crate::grow;
pub use crate::kernels::stem::{IMAGE, STEM_OUT};
use crate::kernels::stem::{P, PH, TILES};
use crate::kernels::{Kernel, StemChunk};

/// G for F(3x3, 4x4): rows are the points' powers 0..3, scaled as in
/// `winograd::G4`; the last row is the point at infinity.
const G: [[f64; 4]; 6] = [
    [0.25, 0.0, 0.0, 0.0],
    [-1.0 / 6.0, -1.0 / 6.0, -1.0 / 6.0, -1.0 / 6.0],
    [-1.0 / 6.0, 1.0 / 6.0, -1.0 / 6.0, 1.0 / 6.0],
    [1.0 / 24.0, 1.0 / 12.0, 1.0 / 6.0, 1.0 / 3.0],
    [1.0 / 24.0, -1.0 / 12.0, 1.0 / 6.0, -1.0 / 3.0],
    [0.0, 0.0, 0.0, 1.0],
];

/// The stem's transformed weights: 36 matrices [C0][12] packed, and its
/// bias (norm0, folded by the export), added after the output transform.
pub struct StemW {
    pub cout: usize,
    pub u: Vec<PackedA>,
    pub bias: Vec<f32>,
}

impl StemW {
    /// From weights [C0][3][7][7]; the bias is set by the caller.
    #[cfg(test)]
    pub fn new(w: impl Fn(usize) -> f32, cout: usize, mr: usize) -> StemW {
        Self::try_new(w, cout, mr, "a test's weights").unwrap()
    }

    /// [`StemW::new`] for weights `what` read from a model file: sizes that
    /// overflow or allocations that fail are `ModelInvalid`.
    pub fn try_new(w: impl Fn(usize) -> f32, cout: usize, mr: usize, what: &str) -> Result<StemW> {
        let mut u: Vec<PackedA> = Vec::with_capacity(P);
        for _ in 0..P {
            u.push(PackedA::try_zeroed(cout, PH, mr, what)?);
        }
        let bias = try_zeros(cout, what)?;
        for o in 0..cout {
            for ch in 0..PH {
                let (c, p, q) = (ch / 4, ch / 2 % 2, ch % 2);
                let k: [[f64; 4]; 4] = std::array::from_fn(|a| {
                    std::array::from_fn(|b| {
                        let (y, x) = (2 * a + p, 2 * b + q);
                        if y < 7 && x < 7 {
                            f64::from(w(((o * 3 + c) * 7 + y) * 7 + x))
                        } else {
                            0.0
                        }
                    })
                });
                // G k, then (G k) G^T straight into the packed matrices.
                let gk: [[f64; 4]; 6] =
                    std::array::from_fn(|a| std::array::from_fn(|x| (0..4).map(|j| G[a][j] * k[j][x]).sum()));
                let at = o / mr * PH * mr + ch * mr + o % mr;
                for (a, row) in gk.iter().enumerate() {
                    for (b, gb) in G.iter().enumerate() {
                        u[a * 6 + b].data[at] = (0..4).map(|x| row[x] * gb[x]).sum::<f64>() as f32;
                    }
                }
            }
        }
        Ok(StemW { cout, u, bias })
    }

    pub fn bytes(&self) -> usize {
        self.u.iter().map(PackedA::bytes).sum::<usize>() + self.bias.len() * 4
    }

    /// What `new` allocates for `cout` channels, in bytes; None if that
    /// overflows `usize`.
    pub fn bytes_for(cout: usize, mr: usize) -> Option<usize> {
        P.checked_mul(PackedA::bytes_for(cout, PH, mr)?)?.checked_add(cout.checked_mul(4)?)
    }
}

/// How an image's tiles are cut into chunks whose transformed input and
/// products stay in L2 (64 tiles: 0.7 MB with 64 output channels).
pub struct Plan {
    per: usize,
    step: usize,
    pub chunks: usize,
    vs: usize,
    ms: usize,
}

impl Plan {
    /// For `cout` output channels, at least one chunk per thread, and a
    /// kernel whose GEMMs take columns in steps of `step` (`Kernel::col_step`).
    pub fn new(cout: usize, threads: usize, step: usize) -> Plan {
        let per = 64.min(TILES.div_ceil(threads.max(1)));
        let cols = per.next_multiple_of(step);
        // 64 floats past a multiple of 4 KiB apart, as in `winograd::Plan`.
        let (vs, ms) = (PH * cols + 64, cout * cols + 64);
        Plan { per, step, chunks: TILES.div_ceil(per), vs, ms }
    }

    /// Floats of the chunk buffer `run` needs.
    pub fn buf_len(&self) -> usize {
        P * (self.vs + self.ms)
    }

    /// `Plan::new(cout, threads, step).buf_len()` in checked arithmetic:
    /// None where it overflows `usize` (a hostile model's stem width on a
    /// 32-bit target). Where it is Some, no size of `new` or `run` for
    /// these arguments (or more threads) overflows.
    pub fn checked_buf_len(cout: usize, threads: usize, step: usize) -> Option<usize> {
        let per = 64.min(TILES.div_ceil(threads.max(1)));
        let cols = per.checked_next_multiple_of(step)?;
        let vs = PH.checked_mul(cols)?.checked_add(64)?;
        let ms = cout.checked_mul(cols)?.checked_add(64)?;
        P.checked_mul(vs.checked_add(ms)?)
    }

    /// Chunk `chunk`'s tiles t0..t1 and its column count, rounded up to the
    /// kernel's step: the columns past t1 - t0 hold stale tiles whose
    /// products are never read.
    fn chunk(&self, chunk: usize) -> (usize, usize, usize) {
        let (t0, t1) = (chunk * self.per, ((chunk + 1) * self.per).min(TILES));
        (t0, t1, (t1 - t0).next_multiple_of(self.step))
    }
}

/// Runs `chunks` of `plan` on one image ([3][224][224]) into `out`
/// ([C0][112][112]), with bias and ReLU.
///
/// # Safety
/// `out` must hold C0 x 112 x 112 floats, and no other thread may write the
/// tiles of these chunks.
pub unsafe fn run(
    (kern, w, plan): (&Kernel, &StemW, &Plan),
    image: &[f32],
    chunks: std::ops::Range<usize>,
    out: *mut f32,
    s: Scratch,
) {
    let (buf, scratch) = (s.chunks, s.panels);
    let (vs, ms) = (plan.vs, plan.ms);
    grow::at_least(buf, plan.buf_len());
    let (v, m) = buf.split_at_mut(P * vs);
    for chunk in chunks {
        let (t0, t1, cols) = plan.chunk(chunk);
        let c = StemChunk { t0, t1, p_stride: vs, cols };
        (kern.stem_in)(image, &c, v.as_mut_ptr());
        point_gemms(kern, &w.u, (v, vs), (m, ms), cols, scratch);
        (kern.stem_out)(m, &StemChunk { p_stride: ms, ..c }, &w.bias, out);
    }
}

/// `bench_api::stem_transforms`.
pub(crate) fn transforms_bench(kern: &Kernel, cout: usize, out: bool, reps: usize) -> f32 {
    let plan = Plan::new(cout, 1, kern.col_step());
    let image: Vec<f32> = (0..3 * IMAGE * IMAGE).map(|i| ((i * 17) % 89) as f32 / 89.0 - 0.5).collect();
    let stride = if out { plan.ms } else { plan.vs };
    let mut buf = vec![0.5f32; P * stride];
    let mut dst = vec![0f32; cout * STEM_OUT * STEM_OUT];
    let bias = vec![0.1f32; cout];
    for _ in 0..reps {
        for chunk in 0..plan.chunks {
            let (t0, t1, cols) = plan.chunk(chunk);
            let c = StemChunk { t0, t1, p_stride: stride, cols };
            unsafe {
                if out {
                    (kern.stem_out)(&buf, &c, &bias, dst.as_mut_ptr())
                } else {
                    (kern.stem_in)(&image, &c, buf.as_mut_ptr())
                }
            }
        }
    }
    buf[P * stride - 1] + dst[dst.len() - 1]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::KernelKind;

    fn data(n: usize, seed: usize) -> Vec<f32> {
        (0..n).map(|i| ((i * 7919 + seed * 104729) % 1999) as f32 / 999.5 - 1.0).collect()
    }

    /// The direct 7x7 / 2 conv + bias + ReLU, in f64.
    fn direct(x: &[f32], w: &[f32], bias: &[f32], cout: usize) -> Vec<f64> {
        let mut y = vec![0f64; cout * STEM_OUT * STEM_OUT];
        for o in 0..cout {
            for oy in 0..STEM_OUT {
                for ox in 0..STEM_OUT {
                    let mut acc = f64::from(bias[o]);
                    for c in 0..3 {
                        for ky in 0..7 {
                            for kx in 0..7 {
                                let (iy, ix) = ((2 * oy + ky) as isize - 3, (2 * ox + kx) as isize - 3);
                                if iy < 0 || ix < 0 || iy >= IMAGE as isize || ix >= IMAGE as isize {
                                    continue;
                                }
                                let xv = x[(c * IMAGE + iy as usize) * IMAGE + ix as usize];
                                acc += f64::from(w[((o * 3 + c) * 7 + ky) * 7 + kx]) * f64::from(xv);
                            }
                        }
                    }
                    y[(o * STEM_OUT + oy) * STEM_OUT + ox] = acc.max(0.0);
                }
            }
        }
        y
    }

    /// Every kernel set, one thread and chunks split as for 3 threads.
    #[test]
    fn matches_direct_conv() {
        let cout = 8;
        let x: Vec<f32> = data(3 * IMAGE * IMAGE, 1).iter().map(|v| v * 2.5).collect();
        let w: Vec<f32> = data(cout * 147, 2).iter().map(|v| v * 0.2).collect();
        let bias = data(cout, 3);
        let want = direct(&x, &w, &bias, cout);
        for kind in KernelKind::available() {
            let kern = kind.kernel().unwrap();
            let mut sw = StemW::new(|i| w[i], cout, kern.mr);
            sw.bias.copy_from_slice(&bias);
            for threads in [1, 3] {
                let plan = Plan::new(cout, threads, kern.col_step());
                let mut out = vec![f32::NAN; cout * STEM_OUT * STEM_OUT];
                let (mut buf, mut scratch) = (Vec::new(), Vec::new());
                let s = Scratch { chunks: &mut buf, panels: &mut scratch };
                unsafe { run((&kern, &sw, &plan), &x, 0..plan.chunks, out.as_mut_ptr(), s) };
                let err = out.iter().zip(&want).map(|(&a, &b)| (f64::from(a) - b).abs()).fold(0.0, f64::max);
                assert!(err < 1e-4, "{kind:?}, {threads} threads: max error {err}");
            }
        }
    }
}
