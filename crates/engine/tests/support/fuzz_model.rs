//! The cases of the model loader's fuzz test, shared by the native test
//! (tests/fuzz_model.rs) and its wasm32 run (examples/fuzz_model_wasm.rs,
//! driven by tests/engine/fuzz-model-wasm.mjs): no file system, no
//! dependencies, the same bytes for a seed on every target.
//!
//! A case is the bytes of a model file, how they are fed to the loader
//! (whole, or in chunks of random sizes), the loader's two limits, and
//! whether a model that loads is run once. Its bytes come from:
//!
//! - a small DenseNet-shaped ONNX file written here (`densenet`: random
//!   block configuration, channels, classes), whole or mutated;
//! - the real DenseNet-121 file when the caller has one (or a larger
//!   generated model, with a streamed classifier, when not): truncated,
//!   mutated near its fields' headers, or with dims rewritten;
//! - hostile shapes that still look like a DenseNet: an initializer's dims
//!   set to 0, negative, 2^31, 2^32 + k, products past 32 or 64 bits; graph
//!   input dims and node attributes likewise; consistent models with a very
//!   wide stem, bottleneck, transition or classifier;
//! - protobuf lengths that wrap: a 13-byte file whose node length wraps the
//!   loader's length sum, and its kin.
#![allow(dead_code)]

use densenet_edge_engine::{Engine, Error, KernelKind, LoadLimits, INPUT_LEN};

pub const MIB: usize = 1 << 20;

/// xorshift64*: a few lines, the same sequence everywhere.
pub struct Rng(pub u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(splitmix(seed) | 1)
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    pub fn upto(&mut self, n: usize) -> usize {
        self.below(n as u64) as usize
    }
    /// True with probability `p` percent.
    pub fn pct(&mut self, p: u64) -> bool {
        self.below(100) < p
    }
    pub fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.upto(xs.len())]
    }
}

fn splitmix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The seed of case `index` of a run seeded `seed`: each case can be
/// replayed alone.
pub fn case_seed(seed: u64, index: u64) -> u64 {
    splitmix(seed ^ splitmix(index))
}

// ---------------------------------------------------------------------------
// Protobuf and ONNX writing.

const VARINT: u8 = 0;
const LEN: u8 = 2;
const I32: u8 = 5;

pub fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn key(out: &mut Vec<u8>, field: u32, wire: u8) {
    put_varint(out, u64::from(field) << 3 | u64::from(wire));
}

fn put_bytes(out: &mut Vec<u8>, field: u32, b: &[u8]) {
    key(out, field, LEN);
    put_varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

fn put_int(out: &mut Vec<u8>, field: u32, v: i64) {
    key(out, field, VARINT);
    put_varint(out, v as u64);
}

fn attr_ints(name: &str, v: &[i64]) -> Vec<u8> {
    let mut a = Vec::new();
    put_bytes(&mut a, 1, name.as_bytes());
    for &x in v {
        put_int(&mut a, 8, x);
    }
    put_int(&mut a, 20, 7);
    a
}

fn attr_int(name: &str, v: i64) -> Vec<u8> {
    let mut a = Vec::new();
    put_bytes(&mut a, 1, name.as_bytes());
    put_int(&mut a, 3, v);
    put_int(&mut a, 20, 2);
    a
}

fn attr_float(name: &str, v: f32) -> Vec<u8> {
    let mut a = Vec::new();
    put_bytes(&mut a, 1, name.as_bytes());
    key(&mut a, 2, I32);
    a.extend_from_slice(&v.to_le_bytes());
    put_int(&mut a, 20, 1);
    a
}

fn node(op: &str, name: &str, inputs: &[&str], output: &str, attrs: &[Vec<u8>]) -> Vec<u8> {
    let mut n = Vec::new();
    for i in inputs {
        put_bytes(&mut n, 1, i.as_bytes());
    }
    put_bytes(&mut n, 2, output.as_bytes());
    put_bytes(&mut n, 3, name.as_bytes());
    put_bytes(&mut n, 4, op.as_bytes());
    for a in attrs {
        put_bytes(&mut n, 5, a);
    }
    n
}

/// A TensorProto of float32 `dims` holding `values` (cheap, deterministic),
/// in raw_data or as packed float_data (which protobuf's order puts before
/// the name: its values arrive before the loader knows their role).
fn tensor(name: &str, dims: &[usize], float_data: bool, salt: u64) -> Vec<u8> {
    let n: usize = dims.iter().product();
    let mut t = Vec::with_capacity(4 * n + 64);
    for &d in dims {
        put_int(&mut t, 1, d as i64);
    }
    put_int(&mut t, 2, 1);
    if !float_data {
        put_bytes(&mut t, 8, name.as_bytes());
    }
    let field = if float_data { 4 } else { 9 };
    key(&mut t, field, LEN);
    put_varint(&mut t, 4 * n as u64);
    let mut x = salt.wrapping_mul(0x9E37_79B9) as u32 | 1;
    for _ in 0..n {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        // Small weights in [-0.1, 0.1]: a run stays finite.
        let v = (x >> 8) as f32 / (1u32 << 24) as f32 * 0.2 - 0.1;
        t.extend_from_slice(&v.to_le_bytes());
    }
    // float_data (4) and raw_data (9) on either side of the name (8), as protobuf orders them.
    if float_data {
        put_bytes(&mut t, 8, name.as_bytes());
    }
    t
}

fn value_info(name: &str, dims: &[Option<i64>]) -> Vec<u8> {
    let mut shape = Vec::new();
    for d in dims {
        let mut dim = Vec::new();
        match d {
            Some(v) => put_int(&mut dim, 1, *v),
            None => put_bytes(&mut dim, 2, b"batch"),
        }
        put_bytes(&mut shape, 1, &dim);
    }
    let mut tt = Vec::new();
    put_int(&mut tt, 1, 1);
    put_bytes(&mut tt, 2, &shape);
    let mut ty = Vec::new();
    put_bytes(&mut ty, 1, &tt);
    let mut v = Vec::new();
    put_bytes(&mut v, 1, name.as_bytes());
    put_bytes(&mut v, 2, &ty);
    v
}

/// A DenseNet's shape: what `densenet` writes.
#[derive(Clone, Debug)]
pub struct Spec {
    pub c0: usize,
    pub growth: usize,
    pub bott: usize,
    /// Dense layers per block.
    pub blocks: Vec<usize>,
    /// Output channels of each transition (one fewer than blocks).
    pub trans: Vec<usize>,
    pub classes: usize,
    /// Weights as float_data instead of raw_data.
    pub float_data: bool,
}

impl Spec {
    /// A small random DenseNet: 1-4 blocks of 1-3 layers, a few channels.
    pub fn small(rng: &mut Rng) -> Spec {
        let nb = 1 + rng.upto(4);
        let blocks: Vec<usize> = (0..nb).map(|_| 1 + rng.upto(3)).collect();
        Spec {
            c0: 1 + rng.upto(8),
            growth: 1 + rng.upto(4),
            bott: 1 + rng.upto(8),
            trans: (1..nb).map(|_| 1 + rng.upto(8)).collect(),
            blocks,
            classes: 1 + rng.upto(10),
            float_data: rng.pct(15),
        }
    }

    /// DenseNet-121's structure with few channels and a classifier large
    /// enough (1.4 MB) to be streamed: the stand-in for the real file.
    pub fn medium() -> Spec {
        Spec {
            c0: 16,
            growth: 8,
            bott: 16,
            blocks: vec![6, 12, 24, 16],
            trans: vec![32, 64, 128],
            classes: 1400,
            float_data: false,
        }
    }
}

fn bn(
    nodes: &mut Vec<Vec<u8>>,
    init: &mut dyn FnMut(&str, &[usize], bool),
    pre: &str,
    input: &str,
    c: usize,
    out: &str,
) {
    let p: Vec<String> = ["scale", "bias", "mean", "var"].iter().map(|s| format!("{pre}.{s}")).collect();
    for name in &p {
        init(name, &[c], false);
    }
    let ins = [input, &p[0], &p[1], &p[2], &p[3]];
    nodes.push(node("BatchNormalization", &format!("{pre}/BN"), &ins, out, &[attr_float("epsilon", 1e-5)]));
}

/// Writes `spec` as a torchvision-style DenseNet ONNX file (the node order,
/// ops and attributes `topology::check` expects).
pub fn densenet(spec: &Spec) -> Vec<u8> {
    let mut nodes: Vec<Vec<u8>> = Vec::new();
    let mut inits: Vec<Vec<u8>> = Vec::new();
    let mut salt = 0u64;
    let mut init = |name: &str, dims: &[usize], fd: bool| {
        salt += 1;
        inits.push(tensor(name, dims, fd, salt));
    };
    let fd = spec.float_data;
    let mut n = 0usize;
    let mut fresh = |what: &str| {
        n += 1;
        format!("/{what}_{n}")
    };
    let k = |v: i64| attr_ints("kernel_shape", &[v, v]);
    let strides = |v: i64| attr_ints("strides", &[v, v]);
    let pads = |v: i64| attr_ints("pads", &[v, v, v, v]);
    init("conv0.w", &[spec.c0, 3, 7, 7], fd);
    init("conv0.b", &[spec.c0], fd);
    let conv0 = fresh("conv0");
    nodes.push(node("Conv", "/conv0/Conv", &["input", "conv0.w", "conv0.b"], &conv0, &[k(7), strides(2), pads(3)]));
    let relu0 = fresh("relu0");
    nodes.push(node("Relu", "/relu0/Relu", &[&conv0], &relu0, &[]));
    let mut x = fresh("pool0");
    nodes.push(node("MaxPool", "/pool0/MaxPool", &[&relu0], &x, &[k(3), strides(2), pads(1)]));
    let mut c = spec.c0;
    for (b, &layers) in spec.blocks.iter().enumerate() {
        let mut feats = vec![x.clone()];
        for l in 0..layers {
            let pre = format!("b{b}l{l}");
            let cat = fresh("cat");
            let refs: Vec<&str> = feats.iter().map(String::as_str).collect();
            nodes.push(node("Concat", &format!("{pre}/Concat"), &refs, &cat, &[attr_int("axis", 1)]));
            let norm = fresh("norm1");
            bn(&mut nodes, &mut init, &format!("{pre}.norm1"), &cat, c, &norm);
            let r1 = fresh("relu1");
            nodes.push(node("Relu", &format!("{pre}/relu1"), &[&norm], &r1, &[]));
            let (w1, b1, w2) = (format!("{pre}.conv1.w"), format!("{pre}.conv1.b"), format!("{pre}.conv2.w"));
            init(&w1, &[spec.bott, c, 1, 1], fd);
            init(&b1, &[spec.bott], fd);
            let c1 = fresh("conv1");
            nodes.push(node("Conv", &format!("{pre}/conv1"), &[&r1, &w1, &b1], &c1, &[k(1), strides(1), pads(0)]));
            let r2 = fresh("relu2");
            nodes.push(node("Relu", &format!("{pre}/relu2"), &[&c1], &r2, &[]));
            init(&w2, &[spec.growth, spec.bott, 3, 3], fd);
            let c2 = fresh("conv2");
            nodes.push(node("Conv", &format!("{pre}/conv2"), &[&r2, &w2], &c2, &[k(3), strides(1), pads(1)]));
            feats.push(c2);
            c += spec.growth;
        }
        let cat = fresh("cat");
        let refs: Vec<&str> = feats.iter().map(String::as_str).collect();
        nodes.push(node("Concat", &format!("b{b}/Concat"), &refs, &cat, &[attr_int("axis", 1)]));
        let norm = fresh("norm");
        let last = b + 1 == spec.blocks.len();
        let pre = if last { "norm5".to_string() } else { format!("t{b}.norm") };
        bn(&mut nodes, &mut init, &pre, &cat, c, &norm);
        let r = fresh("relu");
        nodes.push(node("Relu", &format!("{pre}/relu"), &[&norm], &r, &[]));
        if !last {
            let out = spec.trans[b];
            let w = format!("t{b}.conv.w");
            init(&w, &[out, c, 1, 1], fd);
            let conv = fresh("tconv");
            nodes.push(node("Conv", &format!("t{b}/conv"), &[&r, &w], &conv, &[k(1), strides(1), pads(0)]));
            x = fresh("tpool");
            nodes.push(node("AveragePool", &format!("t{b}/pool"), &[&conv], &x, &[k(2), strides(2), pads(0)]));
            c = out;
        } else {
            let gap = fresh("gap");
            nodes.push(node("GlobalAveragePool", "/gap", &[&r], &gap, &[]));
            let flat = fresh("flat");
            nodes.push(node("Flatten", "/flatten", &[&gap], &flat, &[attr_int("axis", 1)]));
            init("fc.w", &[spec.classes, c], fd);
            init("fc.b", &[spec.classes], fd);
            nodes.push(node("Gemm", "/fc/Gemm", &[&flat, "fc.w", "fc.b"], "logits", &[attr_int("transB", 1)]));
        }
    }
    let mut graph = Vec::new();
    for n in &nodes {
        put_bytes(&mut graph, 1, n);
    }
    put_bytes(&mut graph, 2, b"densenet-fuzz");
    for t in &inits {
        put_bytes(&mut graph, 5, t);
    }
    put_bytes(&mut graph, 11, &value_info("input", &[None, Some(3), Some(224), Some(224)]));
    put_bytes(&mut graph, 12, &value_info("logits", &[None, Some(spec.classes as i64)]));
    let mut model = Vec::with_capacity(graph.len() + 64);
    put_int(&mut model, 1, 8);
    put_bytes(&mut model, 2, b"fuzz");
    put_bytes(&mut model, 7, &graph);
    let mut opset = Vec::new();
    put_bytes(&mut opset, 1, b"");
    put_int(&mut opset, 2, 17);
    put_bytes(&mut model, 8, &opset);
    model
}

// ---------------------------------------------------------------------------
// Protobuf reading, to rewrite a file's fields (the real one's included).

/// One field of a message: number, wire type, where it starts and its
/// payload (LEN fields) or value bytes.
#[derive(Clone, Debug)]
pub struct Field {
    pub field: u32,
    pub wire: u8,
    pub start: usize,
    pub payload: std::ops::Range<usize>,
}

fn get_varint(b: &[u8], pos: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for i in 0..10 {
        let byte = *b.get(*pos)?;
        *pos += 1;
        v |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

/// The fields of a well-formed message, or None.
pub fn fields(b: &[u8]) -> Option<Vec<Field>> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < b.len() {
        let start = pos;
        let tag = get_varint(b, &mut pos)?;
        let (field, wire) = ((tag >> 3) as u32, (tag & 7) as u8);
        let len = match wire {
            0 => {
                let s = pos;
                get_varint(b, &mut pos)?;
                out.push(Field { field, wire, start, payload: s..pos });
                continue;
            }
            1 => 8,
            2 => usize::try_from(get_varint(b, &mut pos)?).ok()?,
            5 => 4,
            _ => return None,
        };
        let end = pos.checked_add(len).filter(|&e| e <= b.len())?;
        out.push(Field { field, wire, start, payload: pos..end });
        pos = end;
    }
    Some(out)
}

/// Which graph field a rewrite may change.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Part {
    Node,
    Initializer,
    Input,
    Output,
}

/// Rewrites the graph's fields of kind `part` through `f(index among
/// them, message) -> Some(new message)`, re-encoding every enclosing
/// length. None if the file is not a well-formed ModelProto.
pub fn rewrite(model: &[u8], part: Part, mut f: impl FnMut(usize, &[u8]) -> Option<Vec<u8>>) -> Option<Vec<u8>> {
    let top = fields(model)?;
    let mut out = Vec::with_capacity(model.len() + 64);
    for t in &top {
        if t.field != 7 || t.wire != LEN {
            out.extend_from_slice(&model[t.start..t.payload.end]);
            continue;
        }
        let g = &model[t.payload.clone()];
        let mut graph = Vec::with_capacity(g.len() + 64);
        let mut i = 0;
        for gf in fields(g)? {
            let kind = match (gf.field, gf.wire) {
                (1, LEN) => Some(Part::Node),
                (5, LEN) => Some(Part::Initializer),
                (11, LEN) => Some(Part::Input),
                (12, LEN) => Some(Part::Output),
                _ => None,
            };
            let msg = &g[gf.payload.clone()];
            let new = if kind == Some(part) {
                i += 1;
                f(i - 1, msg)
            } else {
                None
            };
            match new {
                Some(m) => put_bytes(&mut graph, gf.field, &m),
                None => graph.extend_from_slice(&g[gf.start..gf.payload.end]),
            }
        }
        put_bytes(&mut out, 7, &graph);
    }
    Some(out)
}

/// How many graph fields of kind `part` the file has.
pub fn count(model: &[u8], part: Part) -> usize {
    let field = match part {
        Part::Node => 1,
        Part::Initializer => 5,
        Part::Input => 11,
        Part::Output => 12,
    };
    let Some(top) = fields(model) else { return 0 };
    top.iter()
        .filter(|t| t.field == 7 && t.wire == LEN)
        .flat_map(|t| fields(&model[t.payload.clone()]).unwrap_or_default())
        .filter(|g| g.field == field && g.wire == LEN)
        .count()
}

/// A TensorProto with its dims replaced by `dims` (as unpacked varints, in
/// front, where protobuf's order puts them).
pub fn with_dims(tensor: &[u8], dims: &[i64]) -> Option<Vec<u8>> {
    let mut t = Vec::with_capacity(tensor.len() + 32);
    for &d in dims {
        put_int(&mut t, 1, d);
    }
    for f in fields(tensor)? {
        if f.field != 1 {
            t.extend_from_slice(&tensor[f.start..f.payload.end]);
        }
    }
    Some(t)
}

/// A NodeProto with its attribute `name`'s ints replaced.
pub fn with_attr_ints(node: &[u8], name: &str, ints: &[i64]) -> Option<Vec<u8>> {
    let mut n = Vec::with_capacity(node.len() + 32);
    let mut hit = false;
    for f in fields(node)? {
        let a = &node[f.payload.clone()];
        let is = f.field == 5 && fields(a)?.iter().any(|af| af.field == 1 && &a[af.payload.clone()] == name.as_bytes());
        if is {
            put_bytes(&mut n, 5, &attr_ints(name, ints));
            hit = true;
        } else {
            n.extend_from_slice(&node[f.start..f.payload.end]);
        }
    }
    hit.then_some(n)
}

/// A ValueInfoProto with its shape replaced by `dims`.
pub fn with_shape(vi: &[u8], dims: &[i64]) -> Option<Vec<u8>> {
    let name = fields(vi)?.into_iter().find(|f| f.field == 1)?;
    Some(value_info(std::str::from_utf8(&vi[name.payload]).ok()?, &dims.iter().map(|&d| Some(d)).collect::<Vec<_>>()))
}

/// Offsets where the file's structure lives: every field header of the
/// model, its graph, and its nodes' and initializers' own fields (not the
/// weights' values). Mutations land near these.
pub fn structure(model: &[u8]) -> Vec<usize> {
    let mut at = Vec::new();
    let Some(top) = fields(model) else { return at };
    for t in &top {
        at.push(t.start);
        if t.field != 7 {
            continue;
        }
        let base = t.payload.start;
        for gf in fields(&model[t.payload.clone()]).unwrap_or_default() {
            at.push(base + gf.start);
            let inner = base + gf.payload.start;
            for f in fields(&model[inner..base + gf.payload.end]).unwrap_or_default() {
                at.push(inner + f.start);
                if f.field == 9 || f.field == 4 {
                    // The first value's bytes, and the last's.
                    at.push(inner + f.payload.start);
                    at.push(inner + f.payload.end.saturating_sub(1));
                }
            }
        }
    }
    at
}

// ---------------------------------------------------------------------------
// Cases.

/// Dims a rewrite gives an initializer: zero, negative, 2^31, 2^32 + k
/// (k on a 32-bit target that truncates), near 2^63, and pairs whose
/// products pass 32 or 64 bits.
fn hostile_dims(rng: &mut Rng, real: &[i64]) -> Vec<i64> {
    let d0 = real.first().copied().unwrap_or(1);
    let rest: Vec<i64> = real.iter().skip(1).copied().collect();
    let one = |v: i64| -> Vec<i64> { std::iter::once(v).chain(rest.iter().copied()).collect() };
    match rng.upto(14) {
        0 => one(0),
        1 => one(-1),
        2 => one(-(1 << 31)),
        3 => one(1 << 31),
        4 => one((1 << 32) + d0),
        5 => one(i64::MAX),
        6 => one(i64::MIN),
        7 => vec![65536, 65537, 1, 1],
        8 => vec![1 << 32, (1 << 32) + 1, 3, 3],
        9 => vec![(1 << 31) + 1, 2],
        10 => {
            // The values' count, split to overflow 32 bits in two factors.
            let n: i64 = real.iter().product::<i64>().max(1);
            vec![n, 1 << 32, 1, 1]
        }
        11 => real.iter().rev().copied().collect(),
        12 => vec![],
        _ => {
            let mut v = real.to_vec();
            if !v.is_empty() {
                let i = rng.upto(v.len());
                v[i] = rng.pick(&[0, -7, 1 << 20, (1 << 32) + 3, 1 << 62]);
            }
            v
        }
    }
}

/// The dims a TensorProto declares.
pub fn dims_of(tensor: &[u8]) -> Vec<i64> {
    let mut d = Vec::new();
    for f in fields(tensor).unwrap_or_default() {
        if f.field == 1 && f.wire == VARINT {
            let mut p = f.payload.start;
            d.push(get_varint(tensor, &mut p).unwrap_or(0) as i64);
        }
    }
    d
}

fn wrapping_varint(rng: &mut Rng) -> u64 {
    match rng.upto(8) {
        0 => u64::MAX - rng.below(64),
        1 => 1 << 63,
        2 => (1 << 32) - 1 - rng.below(16),
        3 => (1 << 32) + rng.below(64),
        4 => 1 << 31,
        5 => (256 << 20) + rng.below(16),
        6 => (1 << 20) + 1 + rng.below(1 << 10),
        _ => rng.next(),
    }
}

/// Mutations: bytes set or flipped near the structure (or anywhere),
/// inserted, deleted, duplicated, lengths replaced by wrapping varints,
/// truncation.
fn mutate(rng: &mut Rng, bytes: &mut Vec<u8>, structure: &[usize]) {
    for _ in 0..1 + rng.upto(4) {
        if bytes.is_empty() {
            bytes.push(rng.next() as u8);
            continue;
        }
        let len = bytes.len();
        let at = if !structure.is_empty() && rng.pct(80) {
            (structure[rng.upto(structure.len())] + rng.upto(6)).min(len - 1)
        } else {
            rng.upto(len)
        };
        match rng.upto(8) {
            0 => bytes[at] ^= 1 << rng.upto(8),
            1 => {
                let r = rng.next() as u8;
                bytes[at] = rng.pick(&[0x00, 0xFF, 0x7F, 0x80, 0x01, r]);
            }
            2 => {
                let junk: Vec<u8> = (0..1 + rng.upto(16)).map(|_| rng.next() as u8).collect();
                bytes.splice(at..at, junk);
            }
            3 => {
                let n = 1 + rng.upto(32);
                bytes.drain(at..(at + n).min(len));
            }
            4 => {
                let mut v = Vec::new();
                put_varint(&mut v, wrapping_varint(rng));
                let end = (at + v.len()).min(len);
                bytes.splice(at..end, v);
            }
            5 => {
                let n = 1 + rng.upto(64);
                let piece: Vec<u8> = bytes[at..(at + n).min(len)].to_vec();
                bytes.splice(at..at, piece);
            }
            _ => bytes.truncate(at),
        }
    }
}

/// Protobuf headers whose lengths wrap or overshoot: the 13 bytes `ISSUE`
/// (`3A 0B 0A F5 FF FF FF FF FF FF FF FF 01`: a graph of 11 bytes holding a
/// node whose length is 2^64 - 11) and its kin, at the top level, in a
/// graph, in a streamed initializer.
fn wrapping_file(rng: &mut Rng) -> Vec<u8> {
    const ISSUE: [u8; 13] = [0x3A, 0x0B, 0x0A, 0xF5, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01];
    match rng.upto(5) {
        0 => ISSUE.to_vec(),
        1 => {
            // A graph of L bytes holding a field whose length wraps L's sum.
            let mut inner = Vec::new();
            key(&mut inner, rng.pick(&[1, 5, 11, 12, 2, 13]), LEN);
            put_varint(&mut inner, wrapping_varint(rng));
            inner.extend((0..rng.upto(24)).map(|_| rng.next() as u8));
            let mut b = Vec::new();
            key(&mut b, 7, LEN);
            put_varint(&mut b, if rng.pct(50) { inner.len() as u64 } else { wrapping_varint(rng) });
            b.extend(inner);
            b
        }
        2 => {
            // A streamed initializer (> 1 MiB claimed) whose fields wrap.
            let mut t = Vec::new();
            key(&mut t, rng.pick(&[1, 2, 4, 8, 9, 14]), rng.pick(&[LEN, VARINT, I32, 1, 3]));
            put_varint(&mut t, wrapping_varint(rng));
            t.extend((0..rng.upto(24)).map(|_| rng.next() as u8));
            let mut g = Vec::new();
            key(&mut g, 5, LEN);
            put_varint(&mut g, (1 << 20) + 100 + rng.below(1 << 20));
            g.extend(t);
            let mut b = Vec::new();
            key(&mut b, 7, LEN);
            put_varint(&mut b, if rng.pct(50) { (g.len() + (2 << 20)) as u64 } else { wrapping_varint(rng) });
            b.extend(g);
            b
        }
        3 => {
            // A 20-byte file whose lengths claim the most the loader takes.
            let mut b = Vec::new();
            key(&mut b, 7, LEN);
            put_varint(&mut b, (256 << 20) - rng.below(1 << 10));
            key(&mut b, rng.pick(&[1, 5, 11, 12]), LEN);
            put_varint(&mut b, (256 << 20) - 64 - rng.below(1 << 10));
            b.extend((0..rng.upto(8)).map(|_| rng.next() as u8));
            b
        }
        _ => {
            // Random tags, each with a wrapping varint.
            let mut b = Vec::new();
            for _ in 0..1 + rng.upto(6) {
                put_varint(&mut b, rng.below(1 << 12));
                put_varint(&mut b, wrapping_varint(rng));
            }
            b
        }
    }
}

/// How a case's bytes reach the loader.
#[derive(Clone, Copy, Debug)]
pub enum Feed {
    Whole,
    /// Chunks of 1..=2 base bytes, sizes drawn from the seed.
    Chunks(usize, u64),
}

pub struct Case {
    pub what: String,
    pub bytes: Vec<u8>,
    pub feed: Feed,
    pub max_weight_bytes: usize,
    pub max_workspace_bytes: usize,
    pub kernel: KernelKind,
    pub winograd: bool,
    /// Run one image through a model that loads (small models only).
    pub run: bool,
}

impl Case {
    /// What the loader may allocate at most: its two limits and 2 MiB of
    /// parser state (one buffered message, nodes, names).
    pub fn bound(&self) -> usize {
        self.max_weight_bytes.saturating_add(self.max_workspace_bytes).saturating_add(2 * MIB)
    }
}

/// The corpus a run draws from: the real file (or the medium generated
/// model), its structure offsets, and the initializers' count.
pub struct Corpus {
    pub big: Vec<u8>,
    pub big_is_real: bool,
    big_structure: Vec<usize>,
}

impl Corpus {
    /// `real`: DenseNet-121's file where the caller has it.
    pub fn new(real: Option<Vec<u8>>) -> Corpus {
        let big_is_real = real.is_some();
        let big = real.unwrap_or_else(|| densenet(&Spec::medium()));
        let big_structure = structure(&big);
        Corpus { big, big_is_real, big_structure }
    }
}

/// Case `seed`.
pub fn case(seed: u64, corpus: &Corpus) -> Case {
    let mut rng = Rng::new(seed);
    let kinds = KernelKind::available();
    let mut c = Case {
        what: String::new(),
        bytes: Vec::new(),
        feed: Feed::Whole,
        max_weight_bytes: 16 * MIB,
        max_workspace_bytes: 16 * MIB,
        kernel: kinds[rng.upto(kinds.len())],
        winograd: !rng.pct(10),
        run: false,
    };
    let roll = rng.upto(100);
    if roll < 30 {
        // A small DenseNet, whole (and run) or mutated.
        let spec = Spec::small(&mut rng);
        c.bytes = densenet(&spec);
        if rng.pct(25) {
            c.what = format!("small {spec:?}");
            c.run = true;
        } else {
            let st = structure(&c.bytes);
            mutate(&mut rng, &mut c.bytes, &st);
            c.what = format!("small {spec:?}, mutated");
            c.run = rng.pct(50);
        }
    } else if roll < 50 {
        // Hostile shapes in a small DenseNet that is otherwise whole.
        let spec = Spec::small(&mut rng);
        let file = densenet(&spec);
        c.run = true;
        (c.bytes, c.what) = hostile_shape(&mut rng, &file);
        c.what = format!("small {spec:?}, {}", c.what);
    } else if roll < 55 {
        // Protobuf lengths that wrap.
        c.bytes = wrapping_file(&mut rng);
        c.what = format!("wrapping lengths {:02X?}", &c.bytes[..c.bytes.len().min(40)]);
    } else if roll < 58 {
        // Consistent, DenseNet-shaped and very wide somewhere.
        // One layer per block and few channels elsewhere keep the file
        // at most ~20 MB.
        let nb = 1 + rng.upto(4);
        let mut spec = Spec {
            c0: 1 + rng.upto(2),
            growth: 1 + rng.upto(2),
            bott: 1 + rng.upto(4),
            blocks: vec![1; nb],
            trans: vec![1 + rng.upto(4); nb - 1],
            classes: 1 + rng.upto(10),
            float_data: false,
        };
        let wide = rng.pick(&[50_000, 300_000]);
        match rng.upto(5) {
            0 => spec.c0 = wide / 20,
            1 => spec.bott = wide / 10,
            2 => spec.growth = wide / 40,
            3 => spec.classes = wide,
            _ => {
                if spec.blocks.len() < 2 {
                    spec.blocks.push(1);
                    spec.trans.push(1);
                }
                spec.trans[0] = wide;
            }
        }
        c.bytes = densenet(&spec);
        (c.max_weight_bytes, c.max_workspace_bytes) = (80 * MIB, 24 * MIB);
        c.what = format!("wide {spec:?}");
        c.run = true;
    } else {
        // The real file (or the medium model): truncated, mutated,
        // hostile dims, graph input dims or attributes rewritten.
        (c.max_weight_bytes, c.max_workspace_bytes) = (80 * MIB, 24 * MIB);
        let name = if corpus.big_is_real { "densenet121" } else { "medium" };
        let big = &corpus.big;
        match rng.upto(10) {
            0..=2 => {
                let cut = if rng.pct(50) { rng.upto(big.len()) } else { rng.upto(400_000.min(big.len())) };
                c.bytes = big[..cut].to_vec();
                c.what = format!("{name} cut at {cut}");
            }
            3..=6 => {
                c.bytes = big.clone();
                mutate(&mut rng, &mut c.bytes, &corpus.big_structure);
                c.what = format!("{name} mutated");
            }
            _ => {
                (c.bytes, c.what) = hostile_shape(&mut rng, big);
                c.what = format!("{name}, {}", c.what);
            }
        }
        // Tight limits now and then: refusals part way.
        if rng.pct(15) {
            c.max_weight_bytes = rng.pick(&[MIB, 8 * MIB, 40 * MIB]);
        }
    }
    if rng.pct(10) {
        // Tight limits for a small case too.
        c.max_weight_bytes = c.max_weight_bytes.min(rng.pick(&[64 << 10, MIB]));
        c.max_workspace_bytes = c.max_workspace_bytes.min(rng.pick(&[64 << 10, 4 * MIB]));
    }
    c.feed = if rng.pct(30) {
        Feed::Whole
    } else {
        let small = c.bytes.len() < 200_000;
        let base = if small { rng.pick(&[1, 3, 16, 700, 4096, 65536]) } else { rng.pick(&[4096, 65536, 300_000, MIB]) };
        Feed::Chunks(base, rng.next())
    };
    c
}

/// One hostile shape in `file`: an initializer's dims, the graph input's,
/// or a node's ints attribute.
fn hostile_shape(rng: &mut Rng, file: &[u8]) -> (Vec<u8>, String) {
    let (part, n) = match rng.upto(10) {
        0 => (Part::Input, 1),
        1 => (Part::Node, count(file, Part::Node)),
        _ => (Part::Initializer, count(file, Part::Initializer)),
    };
    let target = rng.upto(n.max(1));
    let mut what = String::new();
    let out = rewrite(file, part, |i, msg| {
        if i != target {
            return None;
        }
        match part {
            Part::Initializer => {
                let real = dims_of(msg);
                let dims = hostile_dims(rng, &real);
                what = format!("initializer {i} dims {real:?} -> {dims:?}");
                with_dims(msg, &dims)
            }
            Part::Input => {
                let dims = match rng.upto(6) {
                    0 => vec![1, 3, (1 << 32) + 224, (1 << 32) + 224],
                    1 => vec![-1, 3, 224, 224],
                    2 => vec![0, 3, 224, 224],
                    3 => vec![1, (1 << 32) + 3, 224, 224],
                    4 => vec![i64::MAX, 3, 224, 224],
                    _ => vec![1, 3, 224],
                };
                what = format!("graph input dims {dims:?}");
                with_shape(msg, &dims)
            }
            _ => {
                let attr = rng.pick(&["kernel_shape", "strides", "pads", "dilations"]);
                let v = rng.pick(&[(1 << 32) + 7, (1 << 32) + 1, -1, 1 << 31, 0, i64::MAX]);
                let ints = match attr {
                    "pads" => vec![v, v, v, v],
                    _ => vec![v, v],
                };
                what = format!("node {i} {attr} {ints:?}");
                with_attr_ints(msg, attr, &ints)
            }
        }
    });
    (out.unwrap_or_else(|| file.to_vec()), what)
}

/// How a case ended.
#[derive(Debug)]
pub enum Outcome {
    /// Loaded (and run, if asked): classes.
    Loaded(usize),
    /// `Error::ModelInvalid`: what it said.
    Refused(String),
    /// Anything else: a failure of the test.
    Wrong(String),
}

/// Loads the case's bytes (and runs one image through the model if it
/// loads and the case says so). `input`: INPUT_LEN floats, allocated by the
/// caller outside what it measures.
pub fn execute(c: &Case, input: &[f32]) -> Outcome {
    let mut l = match Engine::loader_with(c.kernel) {
        Ok(l) => l,
        Err(e) => return Outcome::Wrong(format!("loader_with: {e}")),
    };
    l.set_winograd(c.winograd);
    l.set_limits(LoadLimits {
        max_weight_bytes: c.max_weight_bytes,
        max_workspace_bytes: c.max_workspace_bytes,
        max_batch: 1,
    });
    let pushed = match c.feed {
        Feed::Whole => l.push(&c.bytes),
        Feed::Chunks(base, seed) => {
            let mut rng = Rng::new(seed);
            let mut rest = &c.bytes[..];
            let mut r = Ok(());
            while !rest.is_empty() {
                let n = (1 + rng.upto(2 * base)).min(rest.len());
                r = l.push(&rest[..n]);
                if r.is_err() {
                    break;
                }
                rest = &rest[n..];
            }
            r
        }
    };
    let engine = match pushed.and_then(|()| l.finish()) {
        Ok(e) => e,
        Err(Error::ModelInvalid(m)) => return Outcome::Refused(m),
        Err(e) => return Outcome::Wrong(format!("not ModelInvalid: {e}")),
    };
    let classes = engine.classes();
    if engine.workspace_bytes(1) > c.max_workspace_bytes {
        return Outcome::Wrong(format!(
            "loaded with workspace_bytes(1) {} over the limit {}",
            engine.workspace_bytes(1),
            c.max_workspace_bytes
        ));
    }
    if c.run {
        assert_eq!(input.len(), INPUT_LEN);
        match engine.run(input, 1) {
            Ok(out) if out.len() == classes => {}
            Ok(out) => return Outcome::Wrong(format!("{} logits for {classes} classes", out.len())),
            Err(e) => return Outcome::Wrong(format!("run: {e}")),
        }
    }
    Outcome::Loaded(classes)
}

/// A deterministic, image-like input.
pub fn input() -> Vec<f32> {
    (0..INPUT_LEN).map(|i| ((i * 7919) % 1000) as f32 / 500.0 - 1.0).collect()
}
