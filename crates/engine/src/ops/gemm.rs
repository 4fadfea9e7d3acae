//! The GEMM driver and the packing of both operands. Weights (A) are packed
//! once at load; activations (B) are packed per panel of NR columns, and the
//! packing is where the layer's prologue happens (BN + ReLU, im2col).

use crate::error::{invalid, Result};
use crate::grow;
use crate::kernels::Kernel;
use crate::kernels::{copy, Cols, Strided};

/// Weights [M][K] in panels of MR rows: for each k, MR consecutive values.
/// Rows past M are zero; `bias` is padded to a multiple of MR.
pub struct PackedA {
    pub m: usize,
    pub k: usize,
    pub mr: usize,
    pub data: Vec<f32>,
    pub bias: Vec<f32>,
}

impl PackedA {
    pub fn new(w: &[f32], m: usize, k: usize, bias: Option<&[f32]>, mr: usize) -> PackedA {
        assert_eq!(w.len(), m * k);
        Self::from_fn(m, k, bias, mr, |i| w[i])
    }

    /// `w(i)` is element i of the row-major [M][K] weights.
    pub fn from_fn(m: usize, k: usize, bias: Option<&[f32]>, mr: usize, w: impl Fn(usize) -> f32) -> PackedA {
        let mut a = Self::zeroed(m, k, mr);
        a.fill(w);
        if let Some(bias) = bias {
            a.bias[..m].copy_from_slice(bias);
        }
        a
    }

    /// [`PackedA::from_fn`] for weights read from a model file: sizes that
    /// overflow or an allocation that fails are `ModelInvalid`, not a panic
    /// or an abort (wasm memory may be unable to grow).
    pub fn try_from_fn(m: usize, k: usize, mr: usize, what: &str, w: impl Fn(usize) -> f32) -> Result<PackedA> {
        let mut a = Self::try_zeroed(m, k, mr, what)?;
        a.fill(w);
        Ok(a)
    }

    fn fill(&mut self, w: impl Fn(usize) -> f32) {
        let (m, k, mr) = (self.m, self.k, self.mr);
        for p in 0..m.div_ceil(mr) {
            let dst = &mut self.data[p * k * mr..(p + 1) * k * mr];
            for r in 0..mr.min(m - p * mr) {
                let row = (p * mr + r) * k;
                for kk in 0..k {
                    dst[kk * mr + r] = w(row + kk);
                }
            }
        }
    }

    /// All zeros, for weights whose values arrive in pieces (`set_from`).
    pub fn zeroed(m: usize, k: usize, mr: usize) -> PackedA {
        let (data, bias) = Self::lens(m, k, mr).expect("packed weights of a size that fits in memory");
        PackedA { m, k, mr, data: vec![0f32; data], bias: vec![0f32; bias] }
    }

    /// [`PackedA::zeroed`] for weights read from a model file (see `try_from_fn`).
    pub fn try_zeroed(m: usize, k: usize, mr: usize, what: &str) -> Result<PackedA> {
        let Some((data, bias)) = Self::lens(m, k, mr) else {
            return invalid(format!("{what}: {m} x {k} weights overflow this target's address space"));
        };
        Ok(PackedA { m, k, mr, data: try_zeros(data, what)?, bias: try_zeros(bias, what)? })
    }

    /// Floats of `data` and `bias` for M rows in panels of MR (rows past M
    /// are zero); None if they overflow `usize`.
    pub(crate) fn lens(m: usize, k: usize, mr: usize) -> Option<(usize, usize)> {
        let padded = m.div_ceil(mr).checked_mul(mr)?;
        Some((padded.checked_mul(k)?, padded))
    }

    /// Sets elements i0, i0 + 1, ... of the row-major [M][K] weights; values
    /// past M * K are ignored. (`data` may be shorter than the whole matrix
    /// while a streamed weight's rows arrive: it must hold these values' panels.)
    pub fn set_from(&mut self, i0: usize, values: impl Iterator<Item = f32>) {
        let (mut row, mut kk) = (i0 / self.k, i0 % self.k);
        // Where row `row`'s element 0 goes: its panel, then its lane.
        let at = |row: usize| row / self.mr * self.k * self.mr + row % self.mr;
        let mut base = at(row);
        for v in values {
            if row >= self.m {
                break;
            }
            self.data[base + kk * self.mr] = v;
            kk += 1;
            if kk == self.k {
                (row, kk) = (row + 1, 0);
                base = at(row);
            }
        }
    }

    pub fn bytes(&self) -> usize {
        (self.data.len() + self.bias.len()) * 4
    }

    /// What `zeroed(m, k, mr)` (or `from_fn`) allocates, in bytes; None if
    /// that overflows `usize` (a hostile model's dims on a 32-bit target).
    pub fn bytes_for(m: usize, k: usize, mr: usize) -> Option<usize> {
        let (data, bias) = Self::lens(m, k, mr)?;
        data.checked_add(bias)?.checked_mul(4)
    }
}

/// `len` zeroed floats, or `ModelInvalid` naming `what` when the allocator
/// cannot give them (`vec![0.0; len]` would abort: in wasm, a memory that
/// cannot grow traps the instance). Zeroed by the allocator, like `vec!`.
pub(crate) fn try_zeros(len: usize, what: &str) -> Result<Vec<f32>> {
    if len == 0 {
        return Ok(Vec::new());
    }
    let Ok(layout) = std::alloc::Layout::array::<f32>(len) else {
        return invalid(format!("{what}: {len} floats overflow this target's address space"));
    };
    // SAFETY: `layout` has a non-zero size; a non-null pointer from the
    // global allocator with this layout holds `len` zeroed f32s, and
    // `Vec::from_raw_parts` takes it with the same layout (capacity `len`).
    unsafe {
        let p = std::alloc::alloc_zeroed(layout) as *mut f32;
        if p.is_null() {
            return invalid(format!("{what}: could not allocate {} bytes", layout.size()));
        }
        Ok(Vec::from_raw_parts(p, len, len))
    }
}

/// A raw pointer that threads share; each thread writes a disjoint part.
#[derive(Clone, Copy)]
pub struct Ptr(pub *mut f32);
unsafe impl Send for Ptr {}
unsafe impl Sync for Ptr {}

/// Where B comes from.
#[derive(Clone, Copy)]
pub enum B<'a> {
    /// `pack(n0, nc, dst)` fills dst[k * NR + j] with B[k][n0 + j] for j < nc
    /// (and zeros beyond nc).
    Pack(&'a dyn Fn(usize, usize, &mut [f32])),
    /// B is already a row-major [K][N] matrix with row stride `ld`: the kernel
    /// reads full panels in place (only the last, partial one is copied).
    Rows(&'a [f32], usize),
}

/// Where a GEMM stores C: M rows `ld` floats apart from `c`, after the bias
/// and, with `relu`, a ReLU.
#[derive(Clone, Copy)]
pub struct Out {
    pub c: Ptr,
    pub ld: usize,
    pub relu: bool,
}

/// Computes columns of panels `panels` of C[M][N] = A * B (+ bias, ReLU)
/// into `out`.
///
/// # Safety
/// `out.c` must be valid for M rows of `out.ld` floats covering columns
/// `0..n`, and no other thread may write the same columns.
pub unsafe fn gemm(
    kern: &Kernel,
    a: &PackedA,
    n: usize,
    panels: std::ops::Range<usize>,
    src: B,
    out: Out,
    scratch: &mut Vec<f32>,
) {
    let Out { c, ld: ldc, relu } = out;
    let (mr, nr, k) = (kern.mr, kern.nr, a.k);
    debug_assert_eq!(a.mr, mr);
    let need = k * nr + mr * nr;
    grow::at_least(scratch, need);
    let (bpanel, tmp) = scratch.split_at_mut(k * nr);
    for p in panels {
        let n0 = p * nr;
        if n0 >= n {
            break;
        }
        let nc = nr.min(n - n0);
        // A narrow last panel goes to the tail tile where there is one: it
        // takes half the columns and two A panels at a time.
        let (tile, rows_per, width) = match kern.tail {
            Some(tail) if nc <= nr / 2 && a.m.is_multiple_of(2 * mr) => (tail, 2 * mr, nr / 2),
            _ => (kern.tile, mr, nr),
        };
        let (bp, ldb) = match src {
            B::Rows(rows, ld) if nc == width => (rows.as_ptr().add(n0), ld),
            B::Rows(rows, ld) => {
                pack_plain(rows, ld, k, n0, nc, nr, bpanel);
                (bpanel.as_ptr(), nr)
            }
            B::Pack(pack) => {
                pack(n0, nc, bpanel);
                (bpanel.as_ptr(), nr)
            }
        };
        for (t, a_panels) in a.data.chunks_exact(k * rows_per).enumerate() {
            let m0 = t * rows_per;
            let rows = rows_per.min(a.m - m0);
            let bias = a.bias.as_ptr().add(m0);
            if nc == width && rows == rows_per {
                let b = Strided { ptr: bp, ld: ldb };
                tile(k, a_panels.as_ptr(), b, Strided { ptr: c.0.add(m0 * ldc + n0), ld: ldc }, bias, relu);
            } else {
                let b = Strided { ptr: bp, ld: ldb };
                tile(k, a_panels.as_ptr(), b, Strided { ptr: tmp.as_mut_ptr(), ld: width }, bias, relu);
                for r in 0..rows {
                    std::ptr::copy_nonoverlapping(tmp.as_ptr().add(r * width), c.0.add((m0 + r) * ldc + n0), nc);
                }
            }
        }
    }
}

/// Panel `t` of `threads` gets panels[lo..hi) of `total`.
pub fn share(total: usize, t: usize, threads: usize) -> std::ops::Range<usize> {
    (total * t / threads)..(total * (t + 1) / threads)
}

/// B[k][n] = src[k * ld + n].
pub fn pack_plain(src: &[f32], ld: usize, k: usize, n0: usize, nc: usize, nr: usize, dst: &mut [f32]) {
    for kk in 0..k {
        let out = &mut dst[kk * nr..(kk + 1) * nr];
        out[..nc].copy_from_slice(&src[kk * ld + n0..kk * ld + n0 + nc]);
        if nc < nr {
            out[nc..].fill(0.0);
        }
    }
}

/// im2col of a 3x3, stride 1, padding 1 convolution for columns n0..n0+nc of
/// an activation [C][B*H*W]: B[(c*9 + ky*3 + kx)][n] = src[c][b][y+ky-1][x+kx-1]
/// (zero outside the image). Columns are walked in runs that share an image
/// row, so each (c, ky, kx) is a few contiguous copies.
/// `(c, side)`: the channels and the maps' side.
pub fn pack_im2col3(src: &[f32], (c, side): (usize, usize), ld: usize, cols: Cols, dst: &mut [f32]) {
    let (h, w, Cols { n0, nc, nr }) = (side, side, cols);
    let hw = h * w;
    dst[..c * 9 * nr].fill(0.0);
    let mut j = 0;
    while j < nc {
        let n = n0 + j;
        let (img, pix) = (n / hw, n % hw);
        let (y, x0) = (pix / w, pix % w);
        let len = (w - x0).min(nc - j);
        let base = img * hw;
        for ky in 0..3 {
            let sy = y + ky;
            if sy == 0 || sy > h {
                continue;
            }
            let row_off = base + (sy - 1) * w;
            for kx in 0..3 {
                // Source columns x0+kx-1 .. x0+kx-1+len, clipped to 0..w.
                let lo = if x0 + kx == 0 { 1 } else { 0 };
                let hi = len.min((w + 1).saturating_sub(x0 + kx));
                if lo >= hi {
                    continue;
                }
                let s0 = row_off + x0 + kx + lo - 1;
                for ci in 0..c {
                    let kk = ci * 9 + ky * 3 + kx;
                    let s = &src[ci * ld + s0..ci * ld + s0 + (hi - lo)];
                    dst[kk * nr + j + lo..kk * nr + j + hi].copy_from_slice(s);
                }
            }
        }
        j += len;
    }
}

/// Longest run of one output row `pack_stem` handles at once.
const STEM_RUN: usize = 64;

/// im2col of the 7x7, stride 2, padding 3 stem conv on images [B][3][224][224]
/// (NCHW) of f32 pixels (the f32 stem) or u8 codes (the int8 one, padded
/// with the input's zero point): `pad` outside the image. Columns are
/// output pixels b*112*112 + oy*112 + ox, in rows `nr` apart (a panel's
/// width, `pad` past `nc`; or `nc` for plain rows). The columns are cut
/// into runs within one output row. For each run, channel and kernel row,
/// the input row's window is split once into its even and odd columns; the
/// 7 kernel columns then copy contiguous slices of those, rather than one
/// value at a time with a bounds check each.
pub fn pack_stem<T: StemValue>(
    src: &[T],
    (hin, hout): (usize, usize),
    (n0, nc, nr): (usize, usize, usize),
    pad: T,
    dst: &mut [T],
) {
    let hw_out = hout * hout;
    let dst = &mut dst[..147 * nr];
    // Output column ox0 + i reads window column 2i + kx, input column 2 ox0 - 3 + 2i + kx.
    let mut window = [pad; 2 * STEM_RUN + 8];
    let mut halves = [[pad; STEM_RUN + 4]; 2];
    let mut j = 0;
    while j < nc {
        let n = n0 + j;
        let (img, pix) = (n / hw_out, n % hw_out);
        let (oy, ox0) = (pix / hout, pix % hout);
        let len = (hout - ox0).min(nc - j).min(STEM_RUN);
        let (w, x0) = (2 * len + 6, 2 * ox0 as isize - 3);
        let lo = (-x0).clamp(0, w as isize) as usize;
        let hi = (hin as isize - x0).clamp(lo as isize, w as isize) as usize;
        for ci in 0..3 {
            let plane = &src[(img * 3 + ci) * hin * hin..][..hin * hin];
            for ky in 0..7 {
                let rows = (ci * 49 + ky * 7) * nr + j;
                let Some(sy) = (2 * oy + ky).checked_sub(3).filter(|&y| y < hin) else {
                    for kx in 0..7 {
                        dst[rows + kx * nr..][..len].fill(pad);
                    }
                    continue;
                };
                window[..lo].fill(pad);
                window[hi..w].fill(pad);
                let x = (x0 + lo as isize) as usize;
                T::copy(&mut window[lo..hi], &plane[sy * hin + x..][..hi - lo]);
                T::split_even_odd(&window, len + 3, &mut halves);
                for kx in 0..7 {
                    let half = if kx % 2 == 0 { &halves[0] } else { &halves[1] };
                    T::copy(&mut dst[rows + kx * nr..][..len], &half[kx / 2..][..len]);
                }
            }
        }
        j += len;
    }
    if nc < nr {
        for k in 0..147 {
            dst[k * nr + nc..(k + 1) * nr].fill(pad);
        }
    }
}

/// What [`pack_stem`] packs, with the copies it makes.
pub trait StemValue: Copy {
    fn copy(dst: &mut [Self], src: &[Self]);
    /// `halves[0][i] = window[2i]`, `halves[1][i] = window[2i + 1]` for i < n.
    fn split_even_odd(window: &[Self; 2 * STEM_RUN + 8], n: usize, halves: &mut [[Self; STEM_RUN + 4]; 2]);
}

impl StemValue for f32 {
    #[inline(always)]
    fn copy(dst: &mut [f32], src: &[f32]) {
        copy(dst, src)
    }

    #[inline(always)]
    fn split_even_odd(window: &[f32; 2 * STEM_RUN + 8], n: usize, halves: &mut [[f32; STEM_RUN + 4]; 2]) {
        split_even_odd(window, n, halves)
    }
}

impl StemValue for u8 {
    #[inline(always)]
    fn copy(dst: &mut [u8], src: &[u8]) {
        dst.copy_from_slice(src)
    }

    #[inline(always)]
    fn split_even_odd(window: &[u8; 2 * STEM_RUN + 8], n: usize, halves: &mut [[u8; STEM_RUN + 4]; 2]) {
        split_plain(window, n, halves)
    }
}

#[inline(always)]
fn split_plain<T: Copy>(window: &[T], n: usize, halves: &mut [[T; STEM_RUN + 4]; 2]) {
    let [even, odd] = halves;
    for ((e, o), pair) in even.iter_mut().zip(odd.iter_mut()).zip(window[..2 * n].chunks_exact(2)) {
        *e = pair[0];
        *o = pair[1];
    }
}

/// `halves[0][i] = window[2i]`, `halves[1][i] = window[2i + 1]` for i < n.
#[inline(always)]
fn split_even_odd(window: &[f32; 2 * STEM_RUN + 8], n: usize, halves: &mut [[f32; STEM_RUN + 4]; 2]) {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    {
        use core::arch::wasm32::*;
        // Whole vectors: up to n rounded up to 4, within both arrays.
        let n4 = n.div_ceil(4) * 4;
        assert!(2 * n4 <= window.len() && n4 <= STEM_RUN + 4);
        for i in (0..n4).step_by(4) {
            // SAFETY: in bounds by the assert; unaligned v128 access is allowed.
            unsafe {
                let a = v128_load(window.as_ptr().add(2 * i) as *const v128);
                let b = v128_load(window.as_ptr().add(2 * i + 4) as *const v128);
                v128_store(halves[0].as_mut_ptr().add(i) as *mut v128, i32x4_shuffle::<0, 2, 4, 6>(a, b));
                v128_store(halves[1].as_mut_ptr().add(i) as *mut v128, i32x4_shuffle::<1, 3, 5, 7>(a, b));
            }
        }
    }
    #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
    split_plain(window, n, halves)
}

#[cfg(test)]
mod tests {
    /// `set_from` in pieces of any length packs as `from_fn` does, and
    /// ignores values past the end.
    #[test]
    fn set_from_packs_like_from_fn() {
        let (m, k, mr) = (7, 5, 4);
        let want = super::PackedA::from_fn(m, k, None, mr, |i| i as f32 + 1.0);
        let mut got = super::PackedA::zeroed(m, k, mr);
        let mut i = 0;
        for piece in [1, 4, 6, 13, 20] {
            got.set_from(i, (i..i + piece).map(|j| j as f32 + 1.0));
            i += piece;
        }
        assert!(i > m * k);
        assert_eq!(got.data, want.data);
    }

    /// `pack_stem` against the im2col formula, for panels that start
    /// mid-row, cross rows and images, and end ragged: f32 pixels padded
    /// with 0, and u8 codes padded with a zero point.
    #[test]
    fn pack_stem_is_im2col() {
        check_pack_stem(|i| i as f32 + 1.0, 0.0);
        check_pack_stem(|i| (i % 251) as u8, 77);
    }

    fn check_pack_stem<T: super::StemValue + PartialEq + std::fmt::Debug>(value: impl Fn(usize) -> T, pad: T) {
        // Small images, and the stem's own size with runs longer than STEM_RUN.
        let cases = [
            (20, 10, vec![(0, 8, 8), (5, 8, 8), (96, 16, 16), (0, 32, 32), (190, 10, 16), (7, 1, 4)]),
            (224, 112, vec![(0, 112, 112), (3 * 112 + 5, 120, 128), (2 * 112 * 112 - 20, 20, 32)]),
        ];
        for (hin, hout, panels) in cases {
            let src: Vec<T> = (0..2 * 3 * hin * hin).map(&value).collect();
            for (n0, nc, nr) in panels {
                let mut got = vec![value(7); 147 * nr];
                super::pack_stem(&src, (hin, hout), (n0, nc, nr), pad, &mut got);
                for k in 0..147 {
                    let (ci, ky, kx) = (k / 49, k % 49 / 7, k % 7);
                    for j in 0..nr {
                        let n = n0 + j;
                        let (img, oy, ox) = (n / (hout * hout), n % (hout * hout) / hout, n % hout);
                        let (sy, sx) = ((2 * oy + ky) as isize - 3, (2 * ox + kx) as isize - 3);
                        let inside = j < nc && (0..hin as isize).contains(&sy) && (0..hin as isize).contains(&sx);
                        let want =
                            if inside { src[((img * 3 + ci) * hin + sy as usize) * hin + sx as usize] } else { pad };
                        assert_eq!(got[k * nr + j], want, "n0 {n0} nc {nc} nr {nr} k {k} j {j}");
                    }
                }
            }
        }
    }
}
