//! A push parser for the ONNX file: bytes arrive in chunks of any size, and
//! only one message at a time is buffered (a node, or one initializer of at
//! most 1 MiB). Each initializer is packed into the kernel's layout as soon
//! as it arrives, so the file never sits whole in memory next to the packed
//! weights; larger ones (the 4 MB classifier, the 2 MB transition 3) are
//! read field by field, their values going straight into the packed weights,
//! so that not even one of them is buffered next to its packed copy (wasm
//! memory never shrinks: a buffer's peak stays in the Worker's footprint).
//!
//! Protobuf writes fields in field-number order, so a GraphProto holds all its
//! nodes (field 1) before its initializers (field 5): the topology is checked
//! when the first initializer arrives, and every initializer's role is known
//! from then on.

use std::collections::{HashMap, HashSet};

use super::proto::{self, Node, Reader, Tensor, TensorFields, Value, WIRE_I32, WIRE_I64, WIRE_LEN, WIRE_VARINT};
use super::qdq;
use super::quantized::{self, Quantized};
use super::topology::{self, Role, Topology};
use crate::error::{invalid, Error, Result};
use crate::int8::Int8Kind;
use crate::kernels::Kernel;
use crate::ops::gemm::PackedA;
use crate::ops::stem::{StemW, IMAGE};
use crate::ops::winograd::{self, WinogradW};
use crate::plan::{block_side, BlockW, Conv3, LayerW, Net, Stem, TransW};

/// The largest initializer: DenseNet-201's classifier is 7.7 MB; anything
/// near this is a corrupt length, not a weight. (Streamed: a length is only
/// a claim, and nothing is allocated for it until its bytes arrive.)
const MAX_MESSAGE: u64 = 256 << 20;

/// Initializers larger than this are streamed (see `Streamed`); smaller
/// ones are buffered whole.
const STREAM_ABOVE: u64 = 1 << 20;

/// The largest initializer of an int8 model, which is read whole (the
/// classifier of an int8 DenseNet-161 is 2.2 MB).
const MAX_QUANTIZED: u64 = 16 << 20;

/// The largest node or graph input or output, buffered whole: a DenseNet's
/// are under 4 KiB (its largest Concat names 49 inputs).
const MAX_NODE: u64 = 256 << 10;

/// What the parsed nodes, graph inputs and outputs and initializer names may
/// take in all (`proto::Node::heap_bytes`): DenseNet-121's take 0.3 MiB,
/// -201's under 1. A bound on the loader's own memory whatever the file.
const MAX_GRAPH_BYTES: usize = 8 << 20;

/// The largest field of a streamed initializer other than its values.
const MAX_TENSOR_FIELD: u64 = 64 << 10;

/// `push` feeds its chunk to the parser in pieces of this: the buffer then
/// holds at most one message and a piece, however large the chunk.
const PIECE: usize = 64 << 10;

/// A streamed weight's packed matrix is allocated as its rows arrive, first
/// this much at once (the classifiers of DenseNet-121, -169 and -201 fit,
/// so they are allocated once, as before), then doubling: a file that only
/// claims a large initializer gets no more than this.
const FIRST_PACKED: usize = 8 << 20;

/// An initializer read field by field as its bytes arrive. Protobuf's field
/// order puts dims (1), data_type (2) and name (8) before raw_data (9), so
/// when the values start, their role and shape are known and they go
/// straight into the packed weights.
#[derive(Default)]
struct Streamed {
    /// Bytes of the TensorProto not consumed yet.
    left: u64,
    fields: TensorFields,
    /// Bytes left in the raw_data or packed float_data field being read.
    data_left: u64,
    /// A value split between two pushes.
    carry: Vec<u8>,
    raw: bool,
    floats: bool,
    values: usize,
    sink: Option<Sink>,
}

/// Where a streamed initializer's values go, chosen when the first arrives.
enum Sink {
    /// The kernel's layout, for a weight whose name, role and dims came first.
    Packed(Role, Vec<usize>, PackedA),
    /// Not used by the graph: only counted.
    Dropped,
    /// Anything else (values before the name, float_data, shapes that do not
    /// add up): kept as floats, then stored like a buffered initializer,
    /// with the same checks and messages.
    Values(Vec<f32>),
}

impl Streamed {
    /// Chooses the sink; returns the bytes it reserved for packed weights,
    /// refusing to reserve more than `left` of the weights' `limit`. A
    /// packed sink's matrix is allocated as its rows arrive (`push`).
    fn open_sink(
        &mut self,
        roles: &HashMap<String, Role>,
        mr: usize,
        values: Option<usize>,
        (limit, left): (usize, usize),
    ) -> Result<usize> {
        if self.sink.is_some() {
            return Ok(0);
        }
        let name = &self.fields.name;
        let mut bytes = 0;
        self.sink = Some(match roles.get(name) {
            _ if name.is_empty() => Sink::Values(Vec::new()),
            None => Sink::Dropped,
            // A 3x3 conv's weights may become Winograd matrices: those take
            // the buffered path.
            Some(&role) => match (role.is_weight() && !matches!(role, Role::Conv2W(..)), self.fields.dims(), values) {
                (true, Some(d), Some(n))
                    if d.len() >= 2
                        && !d.contains(&0)
                        && d.iter().try_fold(1usize, |a, &x| a.checked_mul(x)) == Some(n) =>
                {
                    let m = d[0];
                    let Some(b) = PackedA::bytes_for(m, n / m, mr) else {
                        return too_large(name, &d);
                    };
                    if b > left {
                        return over_budget(name, limit);
                    }
                    bytes = b;
                    Sink::Packed(role, d, PackedA { m, k: n / m, mr, data: Vec::new(), bias: Vec::new() })
                }
                _ => Sink::Values(Vec::new()),
            },
        });
        Ok(bytes)
    }

    /// Takes the next bytes of raw_data or packed float_data; `cap`: the
    /// most floats a `Values` sink may hold (see `push`).
    fn take_values(&mut self, mut bytes: &[u8], cap: usize) -> Result<()> {
        if !self.carry.is_empty() {
            let n = (4 - self.carry.len()).min(bytes.len());
            self.carry.extend_from_slice(&bytes[..n]);
            bytes = &bytes[n..];
            if self.carry.len() < 4 {
                return Ok(());
            }
            let v = f32::from_le_bytes(self.carry[..].try_into().unwrap());
            self.carry.clear();
            self.push(std::iter::once(v), cap)?;
        }
        let whole = bytes.chunks_exact(4);
        self.carry.extend_from_slice(whole.remainder());
        self.push(whole.map(|c| f32::from_le_bytes(c.try_into().unwrap())), cap)
    }

    /// Stores the next values. A `Values` sink grows by doubling as they
    /// arrive, to at most `cap` floats (the weights' budget left, or the
    /// end of the field); a packed one by rows (`grow_packed`).
    fn push(&mut self, floats: impl ExactSizeIterator<Item = f32>, cap: usize) -> Result<()> {
        let n = floats.len();
        let end = self.values.saturating_add(n);
        let name = &self.fields.name;
        match &mut self.sink {
            // Past the end only counts: the check at the end refuses it.
            Some(Sink::Packed(_, _, a)) => {
                grow_packed(a, end, name)?;
                a.set_from(self.values, floats);
            }
            Some(Sink::Values(vals)) => {
                let need = vals.len().saturating_add(n);
                if need > vals.capacity() {
                    let want = need.max(vals.capacity().saturating_mul(2).min(cap));
                    if vals.try_reserve_exact(want - vals.len()).is_err() {
                        return invalid(format!("initializer {name:?}: could not allocate {want} floats"));
                    }
                }
                vals.extend(floats);
            }
            _ => {}
        }
        self.values = end;
        Ok(())
    }
}

/// Makes room in a streamed weight's packed matrix for its first `values`
/// values (row-major [M][K]): the panels of the rows they touch, allocated
/// `FIRST_PACKED` bytes at first, then doubling, never past the whole matrix.
fn grow_packed(a: &mut PackedA, values: usize, name: &str) -> Result<()> {
    // `open_sink` checked that the whole matrix's size fits in a usize.
    let full = a.m.div_ceil(a.mr) * a.mr * a.k;
    let rows = values.div_ceil(a.k).min(a.m);
    let need = rows.div_ceil(a.mr) * a.mr * a.k;
    if need <= a.data.len() {
        return Ok(());
    }
    let want = need.max(a.data.len().saturating_mul(2).max(FIRST_PACKED / 4).min(full));
    if a.data.try_reserve_exact(want - a.data.len()).is_err() {
        return invalid(format!("initializer {name:?}: could not allocate {} bytes for its packed weights", want * 4));
    }
    a.data.resize(want, 0.0);
    Ok(())
}

enum State {
    Top,
    Graph { left: u64 },
}

enum Stored {
    Packed(Vec<usize>, PackedA),
    Raw(Vec<usize>, Vec<f32>),
    Winograd(Vec<usize>, WinogradW),
    Stem(Vec<usize>, StemW),
}

/// What a model may make the engine allocate, checked while it loads, for a
/// host with a hard memory limit (a Worker isolate dies at 128 MB, and wasm
/// memory never shrinks). A model past a limit is refused (`ModelInvalid`)
/// before the allocation that would pass it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoadLimits {
    /// Bytes of packed weights, counted as each initializer arrives. What
    /// DenseNet-121's take: about 43 MiB (-169 69, -201 94, -161 142).
    /// Capped at what one allocation may take (`isize::MAX`, 2 GiB on wasm32).
    pub max_weight_bytes: usize,
    /// Bytes of activations and scratch of one run of `max_batch` images on
    /// one thread (`Engine::workspace_bytes`), checked when the file ends:
    /// they scale with channels x pixels, the weights only with channels, so
    /// a model within `max_weight_bytes` (a wide stem, say) could still pass
    /// a host's limit on its first run. DenseNet-121 at batch 1: about 12 MiB.
    pub max_workspace_bytes: usize,
    /// The largest batch the host will run (at least 1).
    pub max_batch: usize,
}

impl LoadLimits {
    /// No limit but what the target can address; batch 1.
    pub const NONE: LoadLimits =
        LoadLimits { max_weight_bytes: ADDRESSABLE, max_workspace_bytes: usize::MAX, max_batch: 1 };
}

impl Default for LoadLimits {
    fn default() -> LoadLimits {
        LoadLimits::NONE
    }
}

/// Feeds an ONNX file in chunks (`Engine::loader`): [`Loader::push`] them,
/// then `finish` (in lib.rs, where `Engine` is).
pub struct Loader {
    kern: Kernel,
    /// The int8 set an int8 model runs on (`with_int8`).
    int8: Int8Kind,
    buf: Vec<u8>,
    start: usize,
    skip: u64,
    state: State,
    graphs: usize,
    nodes: Vec<Node>,
    topo: Option<Topology>,
    roles: HashMap<String, Role>,
    stored: HashMap<Role, Stored>,
    initializers: HashSet<String>,
    inputs: Vec<(String, Vec<Option<usize>>)>,
    outputs: Vec<String>,
    failed: Option<Error>,
    winograd: bool,
    streamed: Option<Streamed>,
    /// An int8 model's quantization and initializers, as they arrive.
    qdq: Option<Quantized>,
    limits: LoadLimits,
    /// What the packed weights take so far (`limits.max_weight_bytes`).
    weight_bytes: usize,
    /// Bytes (from `start`) of the message the buffer waits for, 0 if none:
    /// the buffer grows towards it as its bytes arrive (`grow_for`).
    pending: usize,
    /// What the parsed nodes, inputs, outputs and names take (`MAX_GRAPH_BYTES`).
    graph_bytes: usize,
}

/// The default weight limit: the most one allocation may take on this
/// target (2 GiB on wasm32).
pub(crate) const ADDRESSABLE: usize = isize::MAX as usize;

fn too_large<T>(name: &str, dims: &[usize]) -> Result<T> {
    invalid(format!(
        "initializer {name:?} has dims {dims:?}: its packed weights overflow a {}-bit target's address space",
        usize::BITS
    ))
}

fn over_budget<T>(name: &str, limit: usize) -> Result<T> {
    if limit == ADDRESSABLE {
        return invalid(format!(
            "the weights, packed, need more than a {}-bit target can address; {name:?} is the first initializer \
             past it",
            usize::BITS
        ));
    }
    invalid(format!(
        "the weights, packed, need more than the {limit} bytes ({:.1} MiB) this engine may allocate for them; \
         {name:?} is the first initializer past the limit",
        limit as f64 / (1 << 20) as f64
    ))
}

/// What `header` found at the front of the buffer.
enum Field {
    /// Not enough bytes yet.
    More,
    /// (field number, wire type, header bytes, payload length for LEN
    /// fields, header and payload bytes in all).
    Header(u32, u8, usize, u64, u64),
}

fn header(avail: &[u8]) -> Result<Field> {
    let Some((tag, n)) = proto::varint(avail)? else {
        return Ok(Field::More);
    };
    let field = proto::field_number(tag)?;
    let wire = (tag & 7) as u8;
    let (len, m) = match wire {
        WIRE_LEN => match proto::varint(&avail[n..])? {
            Some(v) => v,
            None => return Ok(Field::More),
        },
        WIRE_VARINT => match proto::varint(&avail[n..])? {
            Some((_, m)) => (0, m),
            None => return Ok(Field::More),
        },
        WIRE_I64 => (8, 0),
        WIRE_I32 => (4, 0),
        w => return invalid(format!("protobuf wire type {w} at the model's top level or in its graph")),
    };
    // For non-LEN fields, `len` is what follows the header; for varints,
    // nothing. A length near 2^64 would wrap the sum: refused.
    let Some(total) = ((n + m) as u64).checked_add(len) else {
        return invalid(format!("a protobuf length of {len} bytes (field {field}) overflows"));
    };
    Ok(Field::Header(field, wire, n + m, len, total))
}

impl Loader {
    pub(crate) fn new(kern: Kernel) -> Loader {
        Loader {
            int8: quantized::int8_kind(kern.kind),
            kern,
            buf: Vec::new(),
            start: 0,
            skip: 0,
            state: State::Top,
            graphs: 0,
            nodes: Vec::new(),
            topo: None,
            roles: HashMap::new(),
            stored: HashMap::new(),
            initializers: HashSet::new(),
            inputs: Vec::new(),
            outputs: Vec::new(),
            failed: None,
            winograd: true,
            streamed: None,
            qdq: None,
            limits: LoadLimits::NONE,
            weight_bytes: 0,
            pending: 0,
            graph_bytes: 0,
        }
    }

    /// The int8 set an int8 model runs on, instead of the best of the
    /// float set's ISA (tests and benchmarks compare them; an f32 model
    /// ignores it). Whichever set runs, the logits are the same: they
    /// compute the same integers.
    pub fn with_int8(mut self, kind: Int8Kind) -> Result<Loader> {
        if !Int8Kind::available().contains(&kind) || kind.f32_kind() != self.kern.kind {
            return Err(Error::InvalidArgument(format!(
                "int8 kernel {} is not available with {} here",
                kind.name(),
                self.kern.kind.name()
            )));
        }
        self.int8 = kind;
        Ok(self)
    }

    /// 3x3 convs by Winograd F(2x2,3x3) (default) or by im2col panels; call
    /// before the first `push`. For measurements and tests.
    #[doc(hidden)]
    pub fn set_winograd(&mut self, on: bool) {
        self.winograd = on;
    }

    /// What the model may make this engine allocate; call before the first
    /// `push`. See [`LoadLimits`].
    pub fn set_limits(&mut self, limits: LoadLimits) {
        self.limits = LoadLimits {
            max_weight_bytes: limits.max_weight_bytes.min(ADDRESSABLE),
            max_batch: limits.max_batch.max(1),
            ..limits
        };
    }

    /// Counts `bytes` of weights about to be allocated for initializer
    /// `name`, or refuses them past the limit (before they are allocated).
    fn reserve(&mut self, bytes: usize, name: &str) -> Result<()> {
        let limit = self.limits.max_weight_bytes;
        if bytes > limit - self.weight_bytes {
            return over_budget(name, limit);
        }
        self.weight_bytes += bytes;
        Ok(())
    }

    /// Reads everything from `r` in 64 KiB pieces.
    pub fn read_from(&mut self, mut r: impl std::io::Read) -> Result<()> {
        let mut buf = vec![0u8; 64 << 10];
        loop {
            let n = match r.read(&mut buf) {
                Ok(0) => return Ok(()),
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::InvalidArgument(format!("reading the model: {e}"))),
            };
            self.push(&buf[..n])?;
        }
    }

    /// Parses what it can of `chunk`; weights are packed as they complete.
    /// Chunks of any size: the loader buffers at most one message (a node,
    /// or an initializer of up to 1 MiB) and 64 KiB, not the chunk. After an
    /// error, every later call returns the same error.
    pub fn push(&mut self, chunk: &[u8]) -> Result<()> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let mut r = Ok(());
        // In pieces: the buffer holds at most the message being read and a
        // piece, however large the chunk (a whole file, say).
        for piece in chunk.chunks(PIECE) {
            self.grow_for(piece.len());
            self.buf.extend_from_slice(piece);
            r = self.process();
            if self.start > 0 && self.start * 2 >= self.buf.len() {
                self.buf.drain(..self.start);
                self.start = 0;
            }
            if r.is_err() {
                break;
            }
        }
        if let Err(e) = &r {
            self.failed = Some(e.clone());
            self.buf = Vec::new();
            self.stored.clear();
            self.streamed = None;
            self.nodes = Vec::new();
        }
        r
    }

    /// Makes room for `more` bytes: the buffer grows by doubling, as a
    /// `Vec` does, but never past the end of the message it waits for
    /// (`pending`): that length is only a claim until its bytes arrive, and
    /// a weight can be a megabyte (doubling would overshoot by as much).
    fn grow_for(&mut self, more: usize) {
        if self.buf.len() + more <= self.buf.capacity() {
            return;
        }
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        let need = self.buf.len() + more;
        if need > self.buf.capacity() {
            let want = need.max((2 * self.buf.capacity()).min(self.pending));
            self.buf.reserve_exact(want - self.buf.len());
        }
    }

    /// Counts `bytes` of parsed graph structure (nodes, inputs, outputs,
    /// names), refusing past `MAX_GRAPH_BYTES`.
    fn graph_memory(&mut self, bytes: usize) -> Result<()> {
        self.graph_bytes = self.graph_bytes.saturating_add(bytes);
        if self.graph_bytes > MAX_GRAPH_BYTES {
            return invalid(format!(
                "the graph's nodes, inputs, outputs and names take more than {} MiB (a DenseNet's take under 1 MiB)",
                MAX_GRAPH_BYTES >> 20
            ));
        }
        Ok(())
    }

    fn consume(&mut self, n: usize) {
        self.start += n;
        if let State::Graph { left } = &mut self.state {
            *left -= n as u64;
        }
    }

    fn process(&mut self) -> Result<()> {
        loop {
            let avail = self.buf.len() - self.start;
            if self.skip > 0 {
                let n = (self.skip.min(avail as u64)) as usize;
                self.consume(n);
                self.skip -= n as u64;
                if self.skip > 0 {
                    return Ok(());
                }
                continue;
            }
            if self.streamed.is_some() {
                if !self.stream()? {
                    return Ok(());
                }
                continue;
            }
            let in_graph = match self.state {
                State::Graph { left: 0 } => {
                    self.state = State::Top;
                    continue;
                }
                State::Graph { left } => Some(left),
                State::Top => None,
            };
            if avail == 0 {
                return Ok(());
            }
            let Field::Header(field, wire, hlen, len, total) = header(&self.buf[self.start..])? else {
                return Ok(());
            };
            if let Some(left) = in_graph {
                if total > left {
                    return invalid("a field runs past the end of the GraphProto");
                }
            }
            match (in_graph, field, wire) {
                (None, 7, WIRE_LEN) => {
                    self.graphs += 1;
                    if self.graphs > 1 {
                        return invalid("ModelProto holds more than one graph");
                    }
                    self.start += hlen;
                    self.state = State::Graph { left: len };
                }
                (Some(_), 5, WIRE_LEN) if total > STREAM_ABOVE && !self.quantized()? => {
                    if total > MAX_MESSAGE {
                        return invalid(format!(
                            "an initializer of {total} bytes (a DenseNet's largest is its classifier, a few MB)"
                        ));
                    }
                    self.topology()?;
                    self.consume(hlen);
                    self.streamed = Some(Streamed { left: len, ..Streamed::default() });
                }
                (Some(_), 1 | 5 | 11 | 12, WIRE_LEN) => {
                    // Initializers here are at most STREAM_ABOVE, or an int8
                    // model's, kept whole: at most MAX_QUANTIZED.
                    if field == 5 && total > MAX_QUANTIZED {
                        return invalid(format!(
                            "an int8 model's initializer of {total} bytes (a DenseNet's largest is its classifier, a \
                             few MB)"
                        ));
                    }
                    if field != 5 && total > MAX_NODE {
                        let what = if field == 1 { "node" } else { "graph input or output" };
                        return invalid(format!(
                            "a {what} of {total} bytes (a DenseNet's are a few KiB at most; its weights are initializers)"
                        ));
                    }
                    // At most MAX_NODE or MAX_QUANTIZED: they fit a usize.
                    let (total, len) = (total as usize, len as usize);
                    if avail < total {
                        // Wait for the rest; the buffer grows towards it as it arrives.
                        self.pending = total;
                        return Ok(());
                    }
                    self.pending = 0;
                    let s = self.start + hlen;
                    // Taken out while a tensor borrows from it.
                    let buf = std::mem::take(&mut self.buf);
                    let r = self.message(field, &buf[s..s + len]);
                    self.buf = buf;
                    r?;
                    self.consume(total);
                }
                _ => {
                    self.consume(hlen);
                    self.skip = if wire == WIRE_VARINT { 0 } else { len };
                }
            }
        }
    }

    /// Reads what it can of the streamed initializer: false when it needs
    /// more bytes.
    fn stream(&mut self) -> Result<bool> {
        let avail = &self.buf[self.start..];
        let limit = self.limits.max_weight_bytes;
        let left = limit - self.weight_bytes;
        let mut packed = 0;
        let st = self.streamed.as_mut().expect("streaming");
        let used = if st.data_left > 0 {
            let n = st.data_left.min(avail.len() as u64) as usize;
            if n == 0 {
                return Ok(false);
            }
            // A Values sink holds at most the budget left, and no more
            // than the field's declared floats.
            let cap = (left / 4).min(st.values.saturating_add((st.data_left / 4).try_into().unwrap_or(usize::MAX)));
            st.take_values(&avail[..n], cap)?;
            st.data_left -= n as u64;
            // Values kept as floats are packed at the end: bound them too.
            if matches!(st.sink, Some(Sink::Values(_))) && st.values.saturating_mul(4) > left {
                return over_budget(&st.fields.name, limit);
            }
            n
        } else if st.left == 0 {
            let st = self.streamed.take().expect("streaming");
            self.end_streamed(st)?;
            return Ok(true);
        } else {
            let Field::Header(field, wire, hlen, len, total) = header(avail)? else {
                return Ok(false);
            };
            let name = &st.fields.name;
            if total > st.left {
                return invalid(format!("a field runs past the end of initializer {name:?}"));
            }
            if wire == WIRE_LEN && (field == 9 || field == 4) {
                if len % 4 != 0 {
                    let what = if field == 9 { "raw_data" } else { "float_data" };
                    return invalid(format!("initializer {name:?} {what} length is not a multiple of 4"));
                }
                if field == 9 {
                    st.raw = true;
                } else {
                    st.floats = true;
                }
                packed = st.open_sink(&self.roles, self.kern.mr, usize::try_from(len / 4).ok(), (limit, left))?;
                st.data_left = len;
                hlen
            } else {
                if total > MAX_TENSOR_FIELD {
                    return invalid(format!("a field of {total} bytes in initializer {name:?}"));
                }
                if (avail.len() as u64) < total {
                    return Ok(false);
                }
                let whole = &avail[..total as usize];
                match Reader::new(whole).next("TensorProto")?.expect("a whole field") {
                    (4, Value::I32(x)) => {
                        st.floats = true;
                        packed = st.open_sink(&self.roles, self.kern.mr, None, (limit, left))?;
                        st.push(std::iter::once(f32::from_bits(x)), left / 4)?;
                        if matches!(st.sink, Some(Sink::Values(_))) && st.values.saturating_mul(4) > left {
                            return over_budget(&st.fields.name, limit);
                        }
                    }
                    (f, v) => st.fields.read(f, &v)?,
                }
                total as usize
            }
        };
        st.left -= used as u64;
        self.weight_bytes += packed;
        self.consume(used);
        Ok(true)
    }

    fn end_streamed(&mut self, st: Streamed) -> Result<()> {
        let dims = st.fields.check(st.raw, st.floats, st.values)?;
        let name = st.fields.name;
        match st.sink {
            // Dims read after the values (out of protobuf's order) must agree.
            Some(Sink::Packed(role, d, mut packed)) if d == dims => {
                self.register(&name)?;
                // Every value arrived (`check`): the matrix is whole. Its
                // bias was reserved with it in `open_sink`.
                grow_packed(&mut packed, usize::MAX, &name)?;
                packed.bias = crate::ops::gemm::try_zeros(packed.m.div_ceil(packed.mr) * packed.mr, &name)?;
                self.stored.insert(role, Stored::Packed(dims, packed));
            }
            Some(Sink::Dropped) => {
                self.register(&name)?;
            }
            Some(Sink::Packed(..)) => {
                return invalid(format!("initializer {name:?} has dims {dims:?} after its values"))
            }
            Some(Sink::Values(v)) => {
                // The floats stay until they are packed: count them meanwhile.
                let held = v.len() * 4;
                self.reserve(held, &name)?;
                let r = self.initializer(Tensor::from_floats(name, dims, v));
                self.weight_bytes -= held;
                r?
            }
            None => self.initializer(Tensor::from_floats(name, dims, Vec::new()))?,
        }
        Ok(())
    }

    fn message(&mut self, field: u32, msg: &[u8]) -> Result<()> {
        match field {
            1 => {
                let node = proto::parse_node(msg)?;
                if self.topo.is_some() {
                    return invalid(format!(
                        "node {:?} comes after the initializers; this reader expects protobuf's field order",
                        node.name
                    ));
                }
                self.graph_memory(node.heap_bytes())?;
                self.nodes.push(node);
            }
            5 if self.quantized()? => {
                let (name, t) = proto::parse_raw_tensor(msg)?;
                self.reserve(t.bytes.len(), &name)?;
                self.graph_memory(48 + name.len())?;
                if self.qdq.as_mut().expect("quantized").inits.insert(name.clone(), t).is_some() {
                    return invalid(format!("initializer {name:?} appears twice"));
                }
            }
            5 => self.initializer(proto::parse_tensor(msg)?)?,
            11 => {
                let (name, dims) = proto::parse_value_info(msg)?;
                self.graph_memory(64 + name.len() + 16 * dims.len())?;
                self.inputs.push((name, dims));
            }
            _ => {
                let name = proto::parse_value_info(msg)?.0;
                self.graph_memory(32 + name.len())?;
                self.outputs.push(name);
            }
        }
        Ok(())
    }

    /// Checks the topology when the first initializer arrives (every node
    /// has by then), and sets the roles of the initializers. An int8 (QDQ)
    /// graph is checked as the float graph its Q/DQ nodes wrap.
    fn topology(&mut self) -> Result<()> {
        if self.topo.is_none() {
            let topo = if qdq::is_qdq_graph(&self.nodes) {
                let mut g = qdq::strip(&self.nodes)?;
                let topo = topology::check(&g.nodes)?;
                g.nodes = Vec::new();
                self.qdq = Some(Quantized { graph: g, inits: HashMap::new() });
                topo
            } else {
                topology::check(&self.nodes)?
            };
            self.roles = topo.roles().into_iter().collect();
            self.topo = Some(topo);
        }
        Ok(())
    }

    /// Whether the model is int8 (QDQ), whose initializers are kept whole
    /// until `finish` (their scales may come after them).
    fn quantized(&mut self) -> Result<bool> {
        self.topology()?;
        Ok(self.qdq.is_some())
    }

    /// Notes an initializer's name: its role, or None when no node uses it.
    fn register(&mut self, name: &str) -> Result<Option<Role>> {
        self.topology()?;
        self.graph_memory(48 + name.len())?;
        if !self.initializers.insert(name.to_string()) {
            return invalid(format!("initializer {name:?} appears twice"));
        }
        Ok(self.roles.get(name).copied())
    }

    fn initializer(&mut self, t: Tensor<'_>) -> Result<()> {
        let Some(role) = self.register(&t.name)? else {
            // Not used by any node: nothing to keep.
            return Ok(());
        };
        let (mr, name) = (self.kern.mr, t.name.as_str());
        if role.is_weight() && (t.dims.len() < 2 || t.dims.contains(&0)) {
            return invalid(format!("weight {name:?} has dims {:?}", t.dims));
        }
        let what = format!("initializer {name:?}");
        let stored = if let (Role::Conv2W(b, _), true, &[o, i, 3, 3]) = (role, self.winograd, t.dims.as_slice()) {
            let tile = winograd::tile_for(block_side(b));
            let Some(bytes) = WinogradW::bytes_for(o, i, tile, mr) else { return too_large(name, &t.dims) };
            self.reserve(bytes, name)?;
            Stored::Winograd(t.dims.clone(), WinogradW::try_new(|j| t.get(j), o, i, tile, mr, &what)?)
        } else if let (Role::Conv0W, true, &[o, 3, 7, 7]) = (role, self.winograd, t.dims.as_slice()) {
            let Some(bytes) = StemW::bytes_for(o, mr) else { return too_large(name, &t.dims) };
            self.reserve(bytes, name)?;
            Stored::Stem(t.dims.clone(), StemW::try_new(|j| t.get(j), o, mr, &what)?)
        } else if role.is_weight() {
            let m = t.dims[0];
            let k = t.len() / m;
            let Some(bytes) = PackedA::bytes_for(m, k, mr) else { return too_large(name, &t.dims) };
            self.reserve(bytes, name)?;
            Stored::Packed(t.dims.clone(), PackedA::try_from_fn(m, k, mr, &what, |j| t.get(j))?)
        } else {
            // At most the bytes of the message: no overflow.
            self.reserve(t.len() * 4, name)?;
            Stored::Raw(t.dims.clone(), t.to_vec())
        };
        self.stored.insert(role, stored);
        Ok(())
    }

    /// Checks that the file ended cleanly and every weight arrived with the
    /// shape the graph needs, and returns the planned network.
    pub(crate) fn finish_plan(mut self) -> Result<(Topology, Net)> {
        if let Some(e) = self.failed.take() {
            return Err(e);
        }
        let unfinished = self.streamed.is_some() || self.skip > 0 || matches!(self.state, State::Graph { .. });
        if self.start != self.buf.len() || unfinished {
            return invalid("the file ends in the middle of a protobuf message (truncated?)");
        }
        if self.graphs == 0 {
            return invalid("the file holds no graph (is it an ONNX model?)");
        }
        if self.topo.is_none() {
            // A graph with no initializers cannot be a DenseNet; report the topology first.
            topology::check(&self.nodes)?;
            return invalid("the graph has no initializers");
        }
        // An int8 model's weights, dequantized, go where a float model's do.
        let qdq = self.qdq.take();
        if let Some(q) = &qdq {
            for t in quantized::dequantized(&self.roles, q, self.int8)? {
                self.initializer(t)?;
            }
            // The convs that run in int8 need no float copy: their shapes only.
            for (name, role, dims) in quantized::int8_run(&self.roles, q, self.int8) {
                self.register(&name)?;
                let (m, k) = (dims[0], dims.iter().skip(1).product());
                let bias = crate::ops::gemm::try_zeros(m.next_multiple_of(self.kern.mr), &name)?;
                let shape = PackedA { m, k, mr: self.kern.mr, data: Vec::new(), bias };
                self.stored.insert(role, Stored::Packed(dims, shape));
            }
        }
        let topo = self.topo.take().unwrap();
        let inp = self.inputs.iter().find(|(n, _)| *n == topo.input);
        match inp {
            None => return invalid(format!("the first conv reads {:?}, which is not a graph input", topo.input)),
            Some(_) if self.initializers.contains(&topo.input) => {
                return invalid(format!("the first conv reads {:?}, an initializer", topo.input))
            }
            Some((_, dims)) => {
                let ok = dims.len() == 4
                    && dims[1..] == [Some(3), Some(IMAGE), Some(IMAGE)]
                    && dims[0].is_none_or(|b| b >= 1);
                if !ok {
                    return invalid(format!(
                        "graph input {:?} has shape {dims:?}, expected [batch, 3, 224, 224]",
                        topo.input
                    ));
                }
            }
        }
        if !self.outputs.contains(&topo.output) {
            return invalid(format!("the classifier's output {:?} is not a graph output", topo.output));
        }
        let mut net = self.build(&topo)?;
        if let Some(mut q) = qdq {
            net.quant = Some(quantized::plan(&topo, &mut q, &net, self.int8)?);
        }
        // Checked: channels from a hostile file can make these sizes wrap on
        // a 32-bit target (and a GEMM would then write past its buffer).
        let need = match net.checked_workspace_bytes(self.limits.max_batch, 1) {
            Some(need) if need <= ADDRESSABLE => need,
            _ => {
                return invalid(format!(
                    "a run of {} image(s) needs more bytes of activations and scratch than a {}-bit target can \
                     address (the model's channel counts are too large)",
                    self.limits.max_batch,
                    usize::BITS
                ))
            }
        };
        if need > self.limits.max_workspace_bytes {
            return invalid(format!(
                "a run of {} image(s) needs {need} bytes ({:.1} MiB) of activations and scratch, more than the {} \
                 bytes ({:.1} MiB) this engine may allocate for them",
                self.limits.max_batch,
                need as f64 / (1 << 20) as f64,
                self.limits.max_workspace_bytes,
                self.limits.max_workspace_bytes as f64 / (1 << 20) as f64
            ));
        }
        Ok((topo, net))
    }

    fn take_packed(&mut self, role: Role, name: &str, dims: &[usize]) -> Result<PackedA> {
        match self.stored.remove(&role) {
            Some(Stored::Packed(d, a)) if d == dims => Ok(a),
            Some(Stored::Packed(d, _)) => invalid(format!("weight {name:?} has dims {d:?}, expected {dims:?}")),
            _ => invalid(format!("initializer {name:?} is missing")),
        }
    }

    fn take_raw(&mut self, role: Role, name: &str, len: usize) -> Result<Vec<f32>> {
        match self.stored.remove(&role) {
            Some(Stored::Raw(d, v)) if d == [len] => Ok(v),
            Some(Stored::Raw(d, _)) => invalid(format!("initializer {name:?} has dims {d:?}, expected [{len}]")),
            _ => invalid(format!("initializer {name:?} is missing")),
        }
    }

    fn take_bn(&mut self, roles: [Role; 4], bn: &topology::Bn, c: usize) -> Result<(Vec<f32>, Vec<f32>)> {
        let mut p: Vec<Vec<f32>> = Vec::new();
        for (role, name) in roles.into_iter().zip(&bn.params) {
            p.push(self.take_raw(role, name, c)?);
        }
        // y = (x - mean) / sqrt(var + eps) * gamma + beta = x * scale + shift.
        let mut scale = vec![0f32; c];
        let mut shift = vec![0f32; c];
        for i in 0..c {
            let s = f64::from(p[0][i]) / (f64::from(p[3][i]) + f64::from(bn.eps)).sqrt();
            scale[i] = s as f32;
            shift[i] = (f64::from(p[1][i]) - f64::from(p[2][i]) * s) as f32;
        }
        Ok((scale, shift))
    }

    fn build(&mut self, topo: &Topology) -> Result<Net> {
        let c0 = match self.stored.get(&Role::Conv0W) {
            Some(Stored::Packed(d, _)) | Some(Stored::Stem(d, _)) => d[0],
            _ => return invalid(format!("initializer {:?} is missing", topo.conv0_w)),
        };
        // Stored as StemW only with the dims [c0, 3, 7, 7] (`initializer`).
        let mut stem = match self.stored.remove(&Role::Conv0W) {
            Some(Stored::Stem(_, w)) => Stem::Winograd(w),
            other => {
                if let Some(o) = other {
                    self.stored.insert(Role::Conv0W, o);
                }
                Stem::Im2col(self.take_packed(Role::Conv0W, &topo.conv0_w, &[c0, 3, 7, 7])?)
            }
        };
        let bias = self.take_raw(Role::Conv0B, &topo.conv0_b, c0)?;
        match &mut stem {
            Stem::Winograd(w) => w.bias.copy_from_slice(&bias),
            Stem::Im2col(a) => a.bias[..c0].copy_from_slice(&bias),
        }
        let mut blocks = Vec::new();
        let mut trans = Vec::new();
        let mut c = c0;
        for (b, block) in topo.blocks.iter().enumerate() {
            let (c_in, side) = (c, block_side(b));
            let mut layers = Vec::new();
            for (l, layer) in block.layers.iter().enumerate() {
                let roles = [0, 1, 2, 3].map(|p| Role::Norm1(b, l, p));
                let (scale, shift) = self.take_bn(roles, &layer.bn1, c)?;
                let bott = self.out_channels(Role::Conv1W(b, l), &layer.conv1_w)?;
                let mut conv1 = self.take_packed(Role::Conv1W(b, l), &layer.conv1_w, &[bott, c, 1, 1])?;
                conv1.bias[..bott].copy_from_slice(&self.take_raw(Role::Conv1B(b, l), &layer.conv1_b, bott)?);
                let growth = self.out_channels(Role::Conv2W(b, l), &layer.conv2_w)?;
                let conv2 = match self.stored.remove(&Role::Conv2W(b, l)) {
                    Some(Stored::Winograd(d, w)) if d == [growth, bott, 3, 3] && side <= winograd::max_side(w.tile) => {
                        Conv3::Winograd(w)
                    }
                    Some(Stored::Winograd(d, _)) => {
                        return invalid(format!(
                            "weight {:?} has dims {d:?}, expected [{growth}, {bott}, 3, 3]",
                            layer.conv2_w
                        ))
                    }
                    other => {
                        if let Some(o) = other {
                            self.stored.insert(Role::Conv2W(b, l), o);
                        }
                        Conv3::Im2col(self.take_packed(Role::Conv2W(b, l), &layer.conv2_w, &[growth, bott, 3, 3])?)
                    }
                };
                layers.push(LayerW { scale, shift, conv1, conv2 });
                c = c.checked_add(growth).ok_or_else(|| {
                    Error::ModelInvalid(format!("denseblock{} has more channels than a usize counts", b + 1))
                })?;
            }
            blocks.push(BlockW { c_in, c_out: c, side, layers });
            if let Some(tr) = topo.transitions.get(b) {
                let (scale, shift) = self.take_bn([0, 1, 2, 3].map(|p| Role::TransNorm(b, p)), &tr.bn, c)?;
                let out = self.out_channels(Role::TransW(b), &tr.conv_w)?;
                let conv = self.take_packed(Role::TransW(b), &tr.conv_w, &[out, c, 1, 1])?;
                trans.push(TransW { scale, shift, conv });
                c = out;
                if block_side(b + 1) == 0 {
                    return invalid(format!("transition{} pools a 1x1 feature map", b + 1));
                }
            }
        }
        let (n5_scale, n5_shift) = self.take_bn([0, 1, 2, 3].map(Role::Norm5), &topo.norm5, c)?;
        let classes = self.out_channels(Role::FcW, &topo.fc_w)?;
        let mut fc = self.take_packed(Role::FcW, &topo.fc_w, &[classes, c])?;
        fc.bias[..classes].copy_from_slice(&self.take_raw(Role::FcB, &topo.fc_b, classes)?);
        Ok(Net { kern: self.kern, stem, blocks, trans, n5_scale, n5_shift, fc, fold_below: 784, quant: None })
    }

    fn out_channels(&self, role: Role, name: &str) -> Result<usize> {
        match self.stored.get(&role) {
            Some(Stored::Packed(d, _)) | Some(Stored::Winograd(d, _)) => Ok(d[0]),
            _ => invalid(format!("initializer {name:?} is missing")),
        }
    }
}
