//! A conv as a GEMM in int8 (a 1x1 conv, or a 3x3 over `Bordered` planes),
//! as onnxruntime's QLinearConv: u8 activations, i8 weights, i32
//! accumulators, and the output `saturate(round_half_even(acc * (s_x * s_w
//! / s_y)) + z_y)`, as codes or dequantized (`kernels::quant`).

use std::ops::Range;

use super::bordered::Bordered;
use super::gemm::Ptr;
use crate::int8::{gemm_panel, pack_b, pack_b_bn_relu, Int8Kernel, PackedA8, Strided};
pub use crate::kernels::qparams::Q;
use crate::kernels::quant::BnReluMaps;
use crate::kernels::{QRequant8Fn, QRequantFn};

/// A conv in int8: weights i8 per output channel ([M][K], K = Cin x taps),
/// activations u8.
pub struct ConvInt8 {
    pub a: PackedA8,
    /// Per output channel: its bias and the kernel set's offsets
    /// (`PackedA8::row_offsets` for the input's zero point).
    pub row_off: Vec<i32>,
    /// Per output channel: `s_x * s_w / s_y`, in onnxruntime's order (no
    /// `/ s_y` for a float output).
    pub mult: Vec<f32>,
    /// The output's quantization; None for a float output (the classifier,
    /// as QGemm: `acc * s_x * s_w`).
    pub out: Option<Q>,
    /// `quant::requant_row` of the f32 kernel set.
    pub requant: QRequantFn,
    /// `quant::requant_row_u8` of the f32 kernel set.
    pub requant8: QRequant8Fn,
}

/// A u8 pointer that threads share (each writes its own columns).
#[derive(Clone, Copy)]
pub struct Ptr8(pub *mut u8);
unsafe impl Send for Ptr8 {}
unsafe impl Sync for Ptr8 {}

/// Where a conv's output goes.
#[derive(Clone, Copy)]
pub enum Dst {
    /// Dequantized (or float, with no output quantization): M rows `ld` apart.
    Rows(Strided<Ptr>),
    /// The codes, M rows `ld` apart.
    Codes(Strided<Ptr8>),
    /// The codes, into the bordered planes of the map's pixels (a GEMM over
    /// the map), M planes `plane()` apart.
    Bordered(Bordered, Ptr8),
    /// The codes, M rows `ld` apart, from a GEMM over bordered planes'
    /// columns: the pixels' outputs, the border's dropped.
    FromBordered(Bordered, Strided<Ptr8>),
}

/// A conv's input that its kernel set may pack straight into panels
/// (`int8::pack_b_bn_relu`): a block's codes (`ld` per channel) through
/// `maps`, what the conv's `fill` writes row by row.
#[derive(Clone, Copy)]
pub struct Direct<'a> {
    pub src: &'a [u8],
    pub ld: usize,
    pub maps: &'a BnReluMaps,
}

/// A thread's int8 GEMM buffers: one packed B panel, its column terms, one
/// panel's i32 products.
#[derive(Default)]
pub struct Scratch8 {
    /// The panel's activations, row by row, before packing.
    rows: Vec<u8>,
    panel: Vec<u8>,
    col_off: Vec<i32>,
    /// The chunk's i32 products, `CHUNK * NR` per row.
    acc: Vec<i32>,
    /// A bordered map's runs of the chunk's columns: (first column, length, position).
    runs: Vec<(usize, usize, usize)>,
    /// The chunk's codes, before their runs are copied out.
    codes: Vec<u8>,
    /// A float plane before its quantization (a pool's output).
    plane: Vec<f32>,
}

impl Scratch8 {
    /// The float plane, `len` long.
    pub fn plane(&mut self, len: usize) -> &mut [f32] {
        if self.plane.len() < len {
            self.plane.resize(len, 0.0);
        }
        &mut self.plane[..len]
    }
}

impl ConvInt8 {
    /// Bytes held: the packed weights and the per-channel terms.
    pub fn bytes(&self) -> usize {
        self.a.bytes() + 4 * (self.row_off.len() + self.mult.len())
    }

    /// Bytes of the per-thread scratch `run` uses.
    pub fn scratch_bytes(&self, kern: &Int8Kernel) -> usize {
        let wide = CHUNK * kern.nr;
        // The runs: at most one per column, 24 bytes each.
        wide * self.a.k
            + kern.b_panel_bytes(self.a.k)
            + 4 * (kern.nr + wide * self.a.m.next_multiple_of(kern.mr))
            + 24 * wide
            + wide * self.a.m
    }

    /// The columns in panels `panels` (of the int8 kernel's NR) of the conv
    /// of the activations `fill(n0, nc, rows)` gives (u8, in the input's
    /// quantization: columns n0..n0 + nc of each of the K rows, `nc` apart),
    /// stored at `dst`. With `direct`, whole panels are packed straight
    /// from it where the kernel set can (the same bytes), `fill` taking
    /// the rest.
    ///
    /// # Safety
    /// `dst` holds M rows (or planes) covering what columns `0..n` write,
    /// which no other thread writes in these panels.
    pub unsafe fn run(
        &self,
        kern: &Int8Kernel,
        (n, panels): (usize, Range<usize>),
        (fill, direct): (impl Fn(usize, usize, &mut [u8]), Option<Direct>),
        dst: Dst,
        s: &mut Scratch8,
    ) {
        let (m, k, nr) = (self.a.m, self.a.k, kern.nr);
        let wide = CHUNK * nr;
        s.panel.resize(kern.b_panel_bytes(k), 0);
        s.col_off.resize(nr, 0);
        s.acc.resize(m.next_multiple_of(kern.mr) * wide, 0);
        s.rows.resize(k * wide, 0);
        s.codes.resize(m * wide, 0);
        let mut p = panels.start;
        while p < panels.end && p * nr < n {
            let n0 = p * nr;
            let nc = ((panels.end - p).min(CHUNK) * nr).min(n - n0);
            p += CHUNK;
            let mut filled = false;
            for c0 in (0..nc).step_by(nr) {
                let cols = c0..nc.min(c0 + nr);
                let width = cols.len();
                let packed = width == nr
                    && direct.is_some_and(|d| {
                        pack_b_bn_relu(kern, d.src, (d.ld, k, n0 + c0), d.maps, &mut s.panel, &mut s.col_off)
                    });
                if !packed {
                    if !filled {
                        fill(n0, nc, &mut s.rows[..k * nc]);
                        filled = true;
                    }
                    pack_b(kern, &s.rows, nc, k, cols, &mut s.panel, &mut s.col_off);
                }
                let acc = Strided { ptr: s.acc.as_mut_ptr().add(c0), ld: wide };
                gemm_panel(kern, &self.a, &self.row_off, s.panel.as_ptr(), s.col_off.as_ptr(), width, acc);
            }
            // A bordered map's runs of consecutive columns, the same for
            // every row (first column, length, position in the row or
            // plane), and the rows or planes they go into.
            let runs = &mut s.runs;
            runs.clear();
            let runs_into = match dst {
                Dst::Rows(_) | Dst::Codes(_) => None,
                Dst::Bordered(b, p) => {
                    b.map_runs(n0, nc, |j, len, at| runs.push((j, len, at)));
                    Some(Strided { ptr: p, ld: b.plane() })
                }
                Dst::FromBordered(b, d) => {
                    b.pixel_runs(n0, nc, |j, len, p| runs.push((j, len, p)));
                    Some(d)
                }
            };
            let acc = Strided { ptr: s.acc.as_ptr(), ld: wide };
            match (runs_into, dst, self.out) {
                // Every row at once, then each row's runs: a map's rows are
                // 7 to 56 pixels, mostly a vector loop's tail.
                (Some(d), _, Some(out)) => {
                    (self.requant8)(acc, &self.mult, out, nc, Strided { ptr: s.codes.as_mut_ptr(), ld: nc });
                    for r in 0..m {
                        let (codes, row) = (s.codes.as_ptr().add(r * nc), d.ptr.0.add(r * d.ld));
                        for &(j, len, at) in &s.runs {
                            copy_run(codes.add(j), row.add(at), len);
                        }
                    }
                }
                (None, Dst::Codes(d), Some(out)) => {
                    (self.requant8)(acc, &self.mult, out, nc, Strided { ptr: d.ptr.0.add(n0), ld: d.ld })
                }
                (None, Dst::Rows(d), out) => {
                    for (r, &mult) in self.mult.iter().enumerate() {
                        let acc = &s.acc[r * wide..][..nc];
                        let row = std::slice::from_raw_parts_mut(d.ptr.0.add(r * d.ld + n0), nc);
                        match out {
                            Some(out) => (self.requant)(acc, row, mult, out),
                            None => row.iter_mut().zip(acc).for_each(|(y, &a)| *y = a as f32 * mult),
                        }
                    }
                }
                _ => unreachable!("a conv into codes has an output quantization"),
            }
        }
    }
}

/// Copies a run of `len` codes (7 to 56: a map's row) in 8-byte words, the
/// last one overlapping the one before: a `memcpy` call costs more than
/// such a copy.
///
/// # Safety
/// `src` and `dst` hold `len` bytes and do not overlap.
#[inline(always)]
unsafe fn copy_run(src: *const u8, dst: *mut u8, len: usize) {
    if len < 8 {
        std::ptr::copy_nonoverlapping(src, dst, len);
        return;
    }
    let word = |i: usize| (src.add(i) as *const u64).read_unaligned();
    let mut i = 0;
    while i + 8 < len {
        (dst.add(i) as *mut u64).write_unaligned(word(i));
        i += 8;
    }
    (dst.add(len - 8) as *mut u64).write_unaligned(word(len - 8));
}

/// Panels filled at once: `fill`'s and the epilogue's work per row (a BN
/// channel's constants, a conv's multiplier, the runs of a bordered map)
/// then spans 4 NR columns, not one panel's few.
const CHUNK: usize = 4;
