//! A conv as a GEMM in int8 (a 1x1 conv, or a 3x3 over `Bordered` planes),
//! as onnxruntime's QLinearConv: u8 activations, i8 weights, i32
//! accumulators, and the output `saturate(round_half_even(acc * (s_x * s_w
//! / s_y)) + z_y)`, as codes or dequantized (`kernels::quant`).

use std::ops::Range;

use super::bordered::Bordered;
use super::gemm::Ptr;
use crate::grow;
use crate::int8::{
    gemm_panel, gemm_panel_quads, interleave_quads, pack_b, pack_b_bn_relu, Int8Kernel, PackedA8, Strided,
};
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
    /// The codes, into quad planes (`Bordered::quad_plane` apart) of the
    /// map's pixels, each xor the third field (0x80 for a set storing B as
    /// X - 128): what `run_quads` reads.
    BorderedQuads(Bordered, Ptr8, u8),
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
    /// Quad planes' sums of X - 128 per position (`run_quads`' column terms).
    sums: Vec<i32>,
}

impl Scratch8 {
    /// The float plane, `len` long.
    pub fn plane(&mut self, len: usize) -> &mut [f32] {
        grow::at_least(&mut self.plane, len);
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
        let (k, nr, wide) = (self.a.k, kern.nr, CHUNK * kern.nr);
        grow::to_len(&mut s.panel, kern.b_panel_bytes(k));
        grow::to_len(&mut s.col_off, nr);
        grow::to_len(&mut s.rows, k * wide);
        self.chunks(kern, (n, panels), dst, s, |s, n0, nc| {
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
        })
    }

    /// [`ConvInt8::run`] of a 3x3 conv (weights `int8::taps_by_quad`) over
    /// the quad planes of `b` at `planes` (as `Dst::BorderedQuads` wrote
    /// them for this set), B read in place by the set's `quads` tile; for a
    /// set with column terms, those from each position's sum over the
    /// planes, 9 taps of them per column.
    ///
    /// # Safety
    /// As `run`; `planes` holds the quad planes and, past the last, 4 NR
    /// readable bytes (a last panel's columns past `n`).
    pub unsafe fn run_quads(
        &self,
        kern: &Int8Kernel,
        (n, panels): (usize, Range<usize>),
        (planes, b): (Ptr8, Bordered),
        dst: Dst,
        s: &mut Scratch8,
    ) {
        let (nr, wide, quads) = (kern.nr, CHUNK * kern.nr, self.a.k / 36);
        let offs = b.quad_offsets(quads);
        let shift = kern.a_shift();
        s.col_off.clear();
        grow::to_len(&mut s.col_off, nr);
        if shift != 0 {
            let plane = std::slice::from_raw_parts(planes.0, quads * b.quad_plane());
            // Past the plane, zeros: a last panel's columns read up to NR on.
            position_sums(plane, b.quad_plane(), b.plane() + nr, &mut s.sums);
        }
        self.chunks(kern, (n, panels), dst, s, |s, n0, nc| {
            for c0 in (0..nc).step_by(nr) {
                if shift != 0 {
                    for (j, o) in s.col_off.iter_mut().enumerate() {
                        let sum: i32 = (0..9).map(|t| s.sums[n0 + c0 + j + b.tap(t)]).sum();
                        *o = -shift * sum;
                    }
                }
                let acc = Strided { ptr: s.acc.as_mut_ptr().add(c0), ld: wide };
                let bp = planes.0.add(4 * (n0 + c0)) as *const u8;
                gemm_panel_quads(kern, &self.a, &self.row_off, (bp, &offs), s.col_off.as_ptr(), nr.min(nc - c0), acc);
            }
        })
    }

    /// For each chunk of columns (n0, nc) of `panels`: `product(s, n0, nc)`
    /// leaves the accumulators in `s.acc` (CHUNK NR per row), then they
    /// are stored at `dst`.
    unsafe fn chunks(
        &self,
        kern: &Int8Kernel,
        (n, panels): (usize, Range<usize>),
        dst: Dst,
        s: &mut Scratch8,
        mut product: impl FnMut(&mut Scratch8, usize, usize),
    ) {
        let (m, nr) = (self.a.m, kern.nr);
        let wide = CHUNK * nr;
        grow::to_len(&mut s.acc, m.next_multiple_of(kern.mr) * wide);
        grow::to_len(&mut s.codes, m * wide);
        let mut p = panels.start;
        while p < panels.end && p * nr < n {
            let n0 = p * nr;
            let nc = ((panels.end - p).min(CHUNK) * nr).min(n - n0);
            p += CHUNK;
            product(s, n0, nc);
            self.store(dst, (n0, nc, wide), s);
        }
    }

    /// Columns n0..n0 + nc's accumulators (`s.acc`, rows `wide` apart) to `dst`.
    unsafe fn store(&self, dst: Dst, (n0, nc, wide): (usize, usize, usize), s: &mut Scratch8) {
        let m = self.a.m;
        // A bordered map's runs of consecutive columns, the same for every
        // row (first column, length, position in the row or plane), and the
        // rows or planes they go into.
        let runs = &mut s.runs;
        runs.clear();
        let runs_into = match dst {
            Dst::Rows(_) | Dst::Codes(_) => None,
            Dst::Bordered(b, p) => {
                b.map_runs(n0, nc, |j, len, at| runs.push((j, len, at)));
                Some(Strided { ptr: p, ld: b.plane() })
            }
            Dst::BorderedQuads(b, p, _) => {
                b.map_runs(n0, nc, |j, len, at| runs.push((j, len, at)));
                Some(Strided { ptr: p, ld: b.quad_plane() })
            }
            Dst::FromBordered(b, d) => {
                b.pixel_runs(n0, nc, |j, len, p| runs.push((j, len, p)));
                Some(d)
            }
        };
        let acc = Strided { ptr: s.acc.as_ptr(), ld: wide };
        match (runs_into, dst, self.out) {
            // Every row at once, then each row's runs: a map's rows are 7 to
            // 56 pixels, mostly a vector loop's tail.
            (Some(d), Dst::BorderedQuads(_, _, flip), Some(out)) => {
                (self.requant8)(acc, &self.mult, out, nc, Strided { ptr: s.codes.as_mut_ptr(), ld: nc });
                // Channels past M (a last quad's) take the zero point: their weights are 0.
                let zeros = [out.zero; MAX_WIDE];
                assert!(nc <= MAX_WIDE);
                for q in 0..m.div_ceil(4) {
                    let row = |l: usize| {
                        let r = 4 * q + l;
                        if r < m {
                            s.codes.as_ptr().add(r * nc)
                        } else {
                            zeros.as_ptr()
                        }
                    };
                    let (rows, plane) = ([row(0), row(1), row(2), row(3)], d.ptr.0.add(q * d.ld));
                    for &(j, len, at) in &s.runs {
                        interleave_quads(rows.map(|r| r.add(j)), len, plane.add(4 * at), flip);
                    }
                }
            }
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

/// The widest chunk of columns `ConvInt8::run` stores (CHUNK x the widest NR).
const MAX_WIDE: usize = CHUNK * 32;

/// Per position p of quad planes (`quad_plane` bytes apart, each byte X -
/// 128 as i8): the sum over every plane's 4 bytes at p, into `sums`, `len`
/// long (zeros past the positions).
fn position_sums(planes: &[u8], quad_plane: usize, len: usize, sums: &mut Vec<i32>) {
    sums.clear();
    grow::to_len(sums, len);
    for plane in planes.chunks_exact(quad_plane) {
        for (sum, q) in sums.iter_mut().zip(plane.chunks_exact(4)) {
            *sum += q.iter().map(|&x| i32::from(x as i8)).sum::<i32>();
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

/// Checks that a set's 3x3 conv over quad planes read in place (`quads`)
/// gives the codes of the same conv over byte planes through windows and
/// packed panels, on ragged shapes: channels and outputs not multiples of
/// 4 or MR, several images, panels split as threads split them, weights
/// -64 and +64 in one row (the relaxed set's fixups); and that conv1 writes
/// the same codes into either layout. Run natively (`tests` below) and in
/// wasm (`examples/int8_kernels.rs`, `tests/engine/int8-wasm.test.mjs`).
#[doc(hidden)]
pub fn check_in_place(kern: &Int8Kernel) -> std::result::Result<(), String> {
    if kern.quads.is_none() {
        return Err(format!("{:?} has no quads tile", kern.kind));
    }
    let mut seed = 0x2545_f491u64;
    let mut next = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n) as i64
    };
    let conv = |w: &[i8], (m, k): (usize, usize), (x, y): (Q, Q)| -> ConvInt8 {
        let a = PackedA8::new(kern, w, m, k).unwrap();
        let row_off = a.row_offsets(kern, x.zero, None);
        let mult = (0..m).map(|r| x.scale * (0.002 + 0.0003 * r as f32) / y.scale).collect();
        let f = crate::kernels::KernelKind::Portable.kernel().unwrap();
        ConvInt8 { a, row_off, mult, out: Some(y), requant: f.q_requant, requant8: f.q_requant8 }
    };
    let flip = if kern.b_shift() == 128 { 0x80 } else { 0 };
    for (side, g, k1, c, m2) in [(7, 1, 5, 13, 6), (14, 2, 8, 16, 32), (5, 3, 3, 7, 9)] {
        let b = Bordered { side, g };
        let n = g * side * side;
        let (qx, qm, qy) = (Q { scale: 0.5, zero: 7 }, Q { scale: 0.25, zero: 11 }, Q { scale: 0.3, zero: 3 });
        let x: Vec<u8> = (0..k1 * n).map(|_| next(256) as u8).collect();
        let w1: Vec<i8> = (0..c * k1).map(|_| (next(129) - 64) as i8).collect();
        let mut w2: Vec<i8> = (0..m2 * c * 9).map(|_| (next(129) - 64) as i8).collect();
        // Row 0 holds both extremes (a fixup in the relaxed set), row 1
        // more +64s than -64s (stored negated).
        w2[..4].copy_from_slice(&[64, -64, 64, 64]);
        w2[c * 9..c * 9 + 3].copy_from_slice(&[64, 64, 64]);
        let conv1 = conv(&w1, (c, k1), (qx, qm));
        let fill = |n0: usize, nc: usize, rows: &mut [u8]| {
            for (kk, row) in rows.chunks_exact_mut(nc).enumerate() {
                row.copy_from_slice(&x[kk * n + n0..][..nc]);
            }
        };
        let mut s = Scratch8::default();
        let panels = n.div_ceil(kern.nr);
        let quads = c.div_ceil(4);
        let mut bytes = vec![0xAAu8; c * b.plane()];
        let mut quad = vec![0xAAu8; quads * b.quad_plane() + 4 * kern.nr];
        for h in [0..panels / 2, panels / 2..panels] {
            // SAFETY: the planes hold every position the map's columns write.
            unsafe {
                let d = Dst::Bordered(b, Ptr8(bytes.as_mut_ptr()));
                conv1.run(kern, (n, h.clone()), (fill, None), d, &mut s);
                let d = Dst::BorderedQuads(b, Ptr8(quad.as_mut_ptr()), flip);
                conv1.run(kern, (n, h), (fill, None), d, &mut s);
            }
        }
        for ch in 0..c {
            b.fill_border(&mut bytes[ch * b.plane()..], qm.zero);
        }
        for q in 0..quads {
            b.fill_border_quads(&mut quad[q * b.quad_plane()..], qm.zero ^ flip);
        }
        for p in 0..b.plane() {
            for ch in 0..c {
                if quad[ch / 4 * b.quad_plane() + 4 * p + ch % 4] != bytes[ch * b.plane() + p] ^ flip {
                    return Err(format!(
                        "{:?} side {side}: conv1's quad planes differ at {p}, channel {ch}",
                        kern.kind
                    ));
                }
            }
        }
        let cols = b.cols();
        let packed = conv(&w2, (m2, c * 9), (qm, qy));
        let (wq, kq) = crate::int8::taps_by_quad(&w2, m2, c);
        let in_place = conv(&wq, (m2, kq), (qm, qy));
        let (mut want, mut got) = (vec![0u8; m2 * n], vec![1u8; m2 * n]);
        let panels = cols.div_ceil(kern.nr);
        for h in [0..panels / 3, panels / 3..panels] {
            let windows = |n0: usize, nc: usize, rows: &mut [u8]| b.windows(&bytes, c, n0, nc, rows);
            // SAFETY: the outputs hold M rows of n; the quad planes have their slack.
            unsafe {
                let d = Dst::FromBordered(b, Strided { ptr: Ptr8(want.as_mut_ptr()), ld: n });
                packed.run(kern, (cols, h.clone()), (windows, None), d, &mut s);
                let d = Dst::FromBordered(b, Strided { ptr: Ptr8(got.as_mut_ptr()), ld: n });
                in_place.run_quads(kern, (cols, h), (Ptr8(quad.as_mut_ptr()), b), d, &mut s);
            }
        }
        if got != want {
            let at = got.iter().zip(&want).position(|(a, b)| a != b).unwrap();
            return Err(format!("{:?} side {side} images {g} channels {c} outputs {m2}: differs at {at}", kern.kind));
        }
        let distinct = want.iter().collect::<std::collections::HashSet<_>>().len();
        if distinct <= 20 {
            return Err(format!("{:?}: outputs span only {distinct} codes", kern.kind));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::int8::Int8Kind;

    /// `check_in_place` on every set this machine has with a quads tile.
    #[test]
    fn quads_read_in_place_match_packed_windows() {
        let sets: Vec<_> =
            Int8Kind::available().iter().filter_map(|k| k.kernel()).filter(|k| k.quads.is_some()).collect();
        for kern in &sets {
            super::check_in_place(kern).unwrap();
        }
        eprintln!("checked in place: {:?}", sets.iter().map(|k| k.kind).collect::<Vec<_>>());
    }
}
