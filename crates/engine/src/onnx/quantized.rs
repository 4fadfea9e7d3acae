//! An int8 (QDQ) model at `finish`, when every initializer has arrived: its
//! weights dequantized for the float structures, and its quantization
//! (`plan::Quant`) read from the scales and zero points `qdq::strip` found.
//! What onnxruntime's `quantize_static` writes with our options is taken;
//! anything else (signed activations, weights past 7 bits, a bias at another
//! scale than input x weight) is refused by name.

use std::collections::HashMap;

use super::proto::{RawTensor, Tensor};
use super::qdq::{QNames, QdqGraph};
use super::topology::{Role, Topology};
use crate::error::{invalid, Result};
use crate::int8::{Int8Kernel, Int8Kind, PackedA8};
use crate::kernels::quant::BnReluMaps;
use crate::kernels::{Bn, KernelKind};
use crate::ops::quant::{ConvInt8, Q};
use crate::plan::{block_side, LayerQ, Net, Quant, TransQ};

/// What the loader keeps of an int8 model until `finish`.
pub struct Quantized {
    pub graph: QdqGraph,
    /// Every initializer, by name.
    pub inits: HashMap<String, RawTensor>,
}

/// Whether a weight's conv runs in int8 with the int8 kernel set `kind`:
/// it then gets no float copy. All do but the 3x3 convs of the blocks where
/// `conv3_int8` says no.
fn runs_int8(role: Role, kind: Int8Kind) -> bool {
    match role {
        Role::Conv0W | Role::Conv1W(..) | Role::TransW(_) | Role::FcW => true,
        Role::Conv2W(b, _) => conv3_int8(kind, block_side(b)),
        _ => false,
    }
}

/// Whether a dense layer's 3x3 conv on `side` x `side` maps runs in int8
/// (a GEMM over bordered planes: 9 products per output and input channel)
/// or in f32 on dequantized values (Winograd: 2.25 to 4 times fewer, but 4
/// to 16 times the weights' bytes). Measured (crates/engine/README.md,
/// "int8"): on x86 (AVX2, int8 GEMMs at 2 times the f32 rate; VNNI 4
/// times) the direct conv is faster in blocks 3-4 and within 2% in blocks
/// 1-2, so int8 runs everywhere for its smaller weights, and so it does
/// with wasm's dot-add where the engine runs it as one `vpdpbusd`
/// (`int8::dot_add_is_fused`: 3.6-3.9 times f32 in Chromium); the
/// other relaxed dot lowers to `pmaddubsw` + `pmaddwd`, about 1.6 times
/// f32, so F(4x4) stays faster where it runs (blocks 1-2), while the 14 x
/// 14 and 7 x 7 blocks, whose F(2x2) weights are half the model's bytes,
/// gain memory and lose no time in int8.
pub fn conv3_int8(kind: Int8Kind, side: usize) -> bool {
    match kind {
        Int8Kind::Avx2
        | Int8Kind::AvxVnni
        | Int8Kind::Avx512Bw
        | Int8Kind::Avx512Vnni
        | Int8Kind::Simd128RelaxedAdd => true,
        _ => side <= 14,
    }
}

/// The order of a conv's weights along K, as the kernel set reads them.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Layout {
    /// The file's: [M][C][kh][kw].
    AsStored,
    /// A 3x3 conv's for a set with a quads tile (`int8::taps_by_quad`).
    TapsByQuad,
}

/// The int8-run weights (name, role, dims), for the shapes the plan needs.
pub fn int8_run(roles: &HashMap<String, Role>, q: &Quantized, kind: Int8Kind) -> Vec<(String, Role, Vec<usize>)> {
    let run = roles.iter().filter(|(_, r)| runs_int8(**r, kind));
    run.filter_map(|(n, r)| q.inits.get(n).map(|t| (n.clone(), *r, t.dims.clone()))).collect()
}

/// The float values of each initializer that has a role: FLOAT ones as they
/// are, integer weights and biases dequantized (`(q - zero) * scale`, per
/// output channel); not the weights of convs that run in int8.
pub fn dequantized(roles: &HashMap<String, Role>, q: &Quantized, kind: Int8Kind) -> Result<Vec<Tensor<'static>>> {
    let mut out = Vec::new();
    for (name, &role) in roles {
        let Some(t) = q.inits.get(name).filter(|_| !runs_int8(role, kind)) else { continue };
        let values = match t.data_type {
            1 => t.to_f32(),
            3 | 6 => {
                let (scales, zeros) = q.channels(name, t)?;
                let per = t.len() / scales.len().max(1);
                let v = t.to_f32();
                v.iter().enumerate().map(|(i, &x)| (x - zeros[i / per]) * scales[i / per]).collect()
            }
            d => return invalid(format!("initializer {name:?}: data type {d} where a weight or a bias is read")),
        };
        out.push(Tensor::from_floats(name.clone(), t.dims.clone(), values));
    }
    Ok(out)
}

/// The int8 kernel set that goes with the float one by default: the best
/// of its ISA.
pub fn int8_kind(kind: KernelKind) -> Int8Kind {
    Int8Kind::available().into_iter().find(|k| k.f32_kind() == kind).unwrap_or(Int8Kind::Portable)
}

/// The model's quantization and its int8 convs, on the int8 set `kind`.
pub fn plan(topo: &Topology, q: &mut Quantized, net: &Net, kind: Int8Kind) -> Result<Quant> {
    for r in &q.graph.folded_relus {
        if q.act(r)?.zero != 0 {
            return invalid(format!("{r:?}: a ReLU folded into a zero point that is not 0"));
        }
    }
    let kern = kind.kernel().expect("an available int8 set");
    let (input, stem) = (q.act(&topo.input)?, q.act(&topo.stem_outs[1])?);
    q.same(&topo.stem_outs[2], stem)?;
    let conv0 = q.conv((&kern, net), (&topo.conv0_w, Layout::AsStored), Some(&topo.conv0_b), (input, Some(stem)))?;
    let mut layers = Vec::new();
    for (bi, b) in topo.blocks.iter().enumerate() {
        let mut qs = Vec::new();
        for l in &b.layers {
            let (relu, mid, out) = (q.act(&l.outs[2])?, q.act(&l.outs[4])?, q.act(&l.outs[5])?);
            qs.push(LayerQ {
                cat: q.act(&l.outs[0])?,
                relu,
                conv1: q.conv((&kern, net), (&l.conv1_w, Layout::AsStored), Some(&l.conv1_b), (relu, Some(mid)))?,
                maps: None,
                mid,
                conv2: if conv3_int8(kind, block_side(bi)) {
                    let layout = if kern.quads.is_some() { Layout::TapsByQuad } else { Layout::AsStored };
                    Some(q.conv((&kern, net), (&l.conv2_w, layout), None, (mid, Some(out)))?)
                } else {
                    None
                },
                conv2_out: out,
            });
        }
        layers.push(qs);
    }
    let mut trans = Vec::new();
    for (t, b) in topo.transitions.iter().zip(&topo.blocks) {
        let (relu, out) = (q.act(&t.outs[1])?, q.act(&t.outs[2])?);
        q.same(&t.outs[3], out)?;
        let conv = q.conv((&kern, net), (&t.conv_w, Layout::AsStored), None, (relu, Some(out)))?;
        trans.push(TransQ { cat: q.act(&b.out)?, relu, conv, maps: None, out });
    }
    // Each block channel's quantization: its producer's (the stem's pool or
    // the transition, then each layer's conv2), as its buffer holds codes.
    let mut codes = Vec::new();
    for (bi, (blk, qs)) in net.blocks.iter().zip(&layers).enumerate() {
        let first = if bi == 0 { stem } else { trans[bi - 1].out };
        let mut c = vec![first; blk.c_in];
        for (l, lq) in blk.layers.iter().zip(qs) {
            c.extend(std::iter::repeat_n(lq.conv2_out, l.conv2.cout()));
        }
        codes.push(c);
    }
    // conv1's (and a transition's) input maps, from the codes' producers.
    for ((qs, blk), c) in layers.iter_mut().zip(&net.blocks).zip(&codes) {
        for (lq, l) in qs.iter_mut().zip(&blk.layers) {
            let bn = Bn { scale: &l.scale, shift: &l.shift };
            lq.maps = BnReluMaps::new(bn, &c[..l.scale.len()], lq.cat, lq.relu);
        }
    }
    for ((tq, t), c) in trans.iter_mut().zip(&net.trans).zip(&codes) {
        tq.maps = BnReluMaps::new(Bn { scale: &t.scale, shift: &t.shift }, c, tq.cat, tq.relu);
    }
    let last = topo.blocks.last().map_or("", |b| b.out.as_str());
    let gap = q.act(&topo.head_outs[2])?;
    q.same(&topo.head_outs[3], gap)?;
    let fc = q.conv((&kern, net), (&topo.fc_w, Layout::AsStored), Some(&topo.fc_b), (gap, None))?;
    Ok(Quant { kern, input, conv0, layers, trans, codes, head: [q.act(last)?, q.act(&topo.head_outs[1])?, gap], fc })
}

impl Quantized {
    fn init(&self, name: &str) -> Result<&RawTensor> {
        match self.inits.get(name) {
            Some(t) => Ok(t),
            None => invalid(format!("initializer {name:?} is missing")),
        }
    }

    /// An activation's quantization: a positive f32 scale and a u8 zero point.
    fn scalar(&self, n: &QNames, tensor: &str) -> Result<Q> {
        let (s, z) = (self.init(&n.scale)?, self.init(&n.zero)?);
        if s.data_type != 1 || s.len() != 1 || z.len() != 1 {
            return invalid(format!(
                "{tensor:?}: its scale and zero point must be scalars (one quantization per tensor)"
            ));
        }
        if z.data_type != 2 {
            return invalid(format!(
                "{tensor:?}: zero point of data type {}; this engine takes u8 activations (QUInt8)",
                z.data_type
            ));
        }
        let scale = s.to_f32()[0];
        if !(scale.is_finite() && scale > 0.0) {
            return invalid(format!("{tensor:?}: scale {scale}"));
        }
        Ok(Q { scale, zero: z.bytes[0] })
    }

    /// The quantization of a float tensor of the graph.
    fn act(&self, tensor: &str) -> Result<Q> {
        match self.graph.activations.get(tensor) {
            Some(n) => self.scalar(n, tensor),
            None => invalid(format!("{tensor:?} is not quantized (no QuantizeLinear follows it)")),
        }
    }

    /// Refuses a tensor quantized otherwise than `q` (a pool or a flatten
    /// that requantizes, which onnxruntime's QDQ format never writes).
    fn same(&self, tensor: &str, q: Q) -> Result<()> {
        if self.act(tensor)? != q {
            return invalid(format!("{tensor:?} is quantized otherwise than its input"));
        }
        Ok(())
    }

    /// A weight's or bias's scales and zero points, one per output channel
    /// (or one for all).
    fn channels(&self, name: &str, t: &RawTensor) -> Result<(Vec<f32>, Vec<f32>)> {
        let Some(n) = self.graph.weights.get(name) else {
            return invalid(format!("initializer {name:?} is integer but no DequantizeLinear reads it"));
        };
        let (s, z) = (self.init(&n.scale)?, self.init(&n.zero)?);
        let m = t.dims.first().copied().unwrap_or(1);
        if s.data_type != 1 || !(s.len() == m || s.len() == 1) || z.len() != s.len() {
            return invalid(format!("{name:?}: a scale and zero point per output channel ({m}) are expected"));
        }
        let scales = s.to_f32();
        if let Some(x) = scales.iter().find(|x| !(x.is_finite() && **x > 0.0)) {
            return invalid(format!("{name:?}: scale {x}"));
        }
        Ok((scales, z.to_f32()))
    }

    /// A conv's or the classifier's int8 weights ([M][K], K = Cin x taps,
    /// symmetric: zero points 0) and their scales per output channel. Takes
    /// the initializer out: the loader's peak memory (what a Worker's wasm
    /// memory keeps) is then the packed weights and one file weight, not
    /// the packed weights and the whole file.
    fn weight(&mut self, name: &str) -> Result<(Vec<i8>, Vec<f32>, usize, usize)> {
        let Some(t) = self.inits.remove(name) else { return invalid(format!("initializer {name:?} is missing")) };
        let (m, k) = match t.dims.as_slice() {
            &[m, k, 1, 1] | &[m, k] if t.data_type == 3 => (m, k),
            &[m, k, 3, 3] if t.data_type == 3 => (m, k * 9),
            &[m, k, 7, 7] if t.data_type == 3 => (m, k * 49),
            d => {
                return invalid(format!(
                    "{name:?}: dims {d:?}, type {}: int8 [M, K(, 1, 1)], [M, K, 3, 3] or [M, K, 7, 7] expected",
                    t.data_type
                ))
            }
        };
        let (mut scales, zeros) = self.channels(name, &t)?;
        if zeros.iter().any(|&z| z != 0.0) {
            return invalid(format!("{name:?}: a weight zero point that is not 0 (weights must be symmetric)"));
        }
        if scales.len() == 1 {
            scales = vec![scales[0]; m];
        }
        Ok((t.bytes.iter().map(|&b| b as i8).collect(), scales, m, k))
    }

    /// A conv (or the classifier) from `x` to `y` in int8, as
    /// onnxruntime's QLinearConv; with no `y`, float output as QGemm's: the
    /// accumulator times `s_x * s_w`.
    fn conv(
        &mut self,
        (kern, net): (&Int8Kernel, &Net),
        (w, layout): (&str, Layout),
        b: Option<&str>,
        (x, y): (Q, Option<Q>),
    ) -> Result<ConvInt8> {
        let (mut wq, ws, m, mut k) = self.weight(w)?;
        if layout == Layout::TapsByQuad {
            (wq, k) = crate::int8::taps_by_quad(&wq, m, k / 9);
        }
        let a = PackedA8::new(kern, &wq, m, k).or_else(|e| invalid(format!("{w:?}: {e}")))?;
        let bias = match b {
            None => None,
            Some(b) => {
                let t = self.init(b)?;
                let (bs, bz) = self.channels(b, t)?;
                if t.data_type != 6 || t.len() != m || bz.iter().any(|&z| z != 0.0) {
                    return invalid(format!("{b:?}: an int32 bias of {m} values, zero points 0, is expected"));
                }
                // The accumulator adds the bias as it is: its scale must be the products'.
                let at = |c: usize| bs[if bs.len() == 1 { 0 } else { c }];
                if let Some(c) = (0..m).find(|&c| at(c) != x.scale * ws[c]) {
                    return invalid(format!("{b:?}: channel {c}'s scale is not the input's times the weight's"));
                }
                Some(t.bytes.chunks_exact(4).map(|c| i32::from_le_bytes(c.try_into().unwrap())).collect::<Vec<_>>())
            }
        };
        let row_off = a.row_offsets(kern, x.zero, bias.as_deref());
        let mult: Vec<f32> = ws.iter().map(|&sw| y.map_or(x.scale * sw, |y| x.scale * sw / y.scale)).collect();
        // Finite scales can still make an infinite or zero multiplier, which
        // would turn accumulators into NaN or every output into one code.
        if let Some(c) = mult.iter().position(|m| !(m.is_normal() && *m > 0.0)) {
            return invalid(format!("{w:?}: channel {c}'s scales multiply to {} (not a usable multiplier)", mult[c]));
        }
        Ok(ConvInt8 { a, row_off, mult, out: y, requant: net.kern.q_requant, requant8: net.kern.q_requant8 })
    }
}
