//! A 1x1 conv in int8, as onnxruntime's QLinearConv: u8 activations, i8
//! weights, i32 accumulators, and the output
//! `saturate(round_half_even(acc * (s_x * s_w / s_y)) + z_y)`. The network
//! keeps its activations as f32 holding exactly the dequantized values
//! (`kernels::quant`), so every op between two quantized edges sees what
//! onnxruntime's sees.

use std::ops::Range;

use super::gemm::Ptr;
use crate::int8::{gemm_panel, pack_b, Int8Kernel, PackedA8, Strided};
pub use crate::kernels::qparams::Q;
use crate::kernels::QRequantFn;

/// A 1x1 conv in int8: weights i8 per output channel, activations u8.
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
}

/// A thread's int8 GEMM buffers: one packed B panel, its column terms, one
/// panel's i32 products.
#[derive(Default)]
pub struct Scratch8 {
    /// The panel's activations, row by row, before packing.
    rows: Vec<u8>,
    panel: Vec<u8>,
    col_off: Vec<i32>,
    acc: Vec<i32>,
}

impl ConvInt8 {
    /// Bytes held: the packed weights and the per-channel terms.
    pub fn bytes(&self) -> usize {
        self.a.bytes() + 4 * (self.row_off.len() + self.mult.len())
    }

    /// Bytes of the per-thread scratch `run` uses.
    pub fn scratch_bytes(&self, kern: &Int8Kernel) -> usize {
        kern.nr * self.a.k + kern.b_panel_bytes(self.a.k) + 4 * kern.nr * (1 + self.a.m.next_multiple_of(kern.mr))
    }

    /// The columns in panels `panels` (of the int8 kernel's NR) of the conv
    /// of the activations `fill(n0, nc, rows)` gives (u8, in the input's
    /// quantization: columns n0..n0 + nc of each of the K rows, `nc` apart),
    /// stored dequantized at `dst` (M rows `ld` apart).
    ///
    /// # Safety
    /// `dst` holds M rows of `ld` floats covering columns `0..n`, which no
    /// other thread writes in these panels.
    pub unsafe fn run(
        &self,
        kern: &Int8Kernel,
        (n, panels): (usize, Range<usize>),
        fill: impl Fn(usize, usize, &mut [u8]),
        dst: Strided<Ptr>,
        s: &mut Scratch8,
    ) {
        let (m, k, nr) = (self.a.m, self.a.k, kern.nr);
        s.panel.resize(kern.b_panel_bytes(k), 0);
        s.col_off.resize(nr, 0);
        s.acc.resize(m.next_multiple_of(kern.mr) * nr, 0);
        s.rows.resize(k * nr, 0);
        for p in panels {
            let n0 = p * nr;
            if n0 >= n {
                break;
            }
            let nc = nr.min(n - n0);
            fill(n0, nc, &mut s.rows[..k * nc]);
            pack_b(kern, &s.rows, nc, k, 0..nc, &mut s.panel, &mut s.col_off);
            let acc = Strided { ptr: s.acc.as_mut_ptr(), ld: nr };
            gemm_panel(kern, &self.a, &self.row_off, s.panel.as_ptr(), s.col_off.as_ptr(), nc, acc);
            for (r, &mult) in self.mult.iter().enumerate() {
                let row = std::slice::from_raw_parts_mut(dst.ptr.0.add(r * dst.ld + n0), nc);
                let acc = &s.acc[r * nr..][..nc];
                match self.out {
                    Some(out) => (self.requant)(acc, row, mult, out),
                    None => row.iter_mut().zip(acc).for_each(|(y, &a)| *y = a as f32 * mult),
                }
            }
        }
    }
}
