//! Protobuf wire format and the few ONNX messages a torchvision DenseNet
//! export uses (NodeProto, AttributeProto, TensorProto, ValueInfoProto).
//! Field numbers are from onnx/onnx.proto.

use crate::error::{invalid, Result};

pub const WIRE_VARINT: u8 = 0;
pub const WIRE_I64: u8 = 1;
pub const WIRE_LEN: u8 = 2;
pub const WIRE_I32: u8 = 5;

/// Reads a varint from the front of `buf`: `Ok(None)` when `buf` ends inside it.
pub fn varint(buf: &[u8]) -> Result<Option<(u64, usize)>> {
    let mut v = 0u64;
    for (i, &b) in buf.iter().enumerate() {
        if i == 10 {
            return invalid("protobuf varint longer than 10 bytes");
        }
        v |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Ok(Some((v, i + 1)));
        }
    }
    if buf.len() >= 10 {
        return invalid("protobuf varint longer than 10 bytes");
    }
    Ok(None)
}

/// A tag's field number: protobuf's are at most 2^29 - 1. (Truncated to
/// u32, a larger one would read as another field.)
pub fn field_number(tag: u64) -> Result<u32> {
    match u32::try_from(tag >> 3) {
        Ok(f) if f < 1 << 29 => Ok(f),
        _ => invalid(format!("protobuf field number {} is out of range", tag >> 3)),
    }
}

/// The most fields one node may have (inputs, outputs, attributes): a
/// DenseNet's largest Concat has 49 inputs. Bounds what parsing a node
/// allocates, whatever its bytes say.
const MAX_NODE_FIELDS: usize = 4096;

/// A cursor over one complete message.
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

pub enum Value<'a> {
    Varint(u64),
    #[allow(dead_code)]
    I64(u64),
    I32(u32),
    Bytes(&'a [u8]),
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    fn varint(&mut self, what: &str) -> Result<u64> {
        match varint(&self.buf[self.pos..])? {
            Some((v, n)) => {
                self.pos += n;
                Ok(v)
            }
            None => invalid(format!("protobuf message truncated in {what}")),
        }
    }

    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8]> {
        if self.buf.len() - self.pos < n {
            return invalid(format!("protobuf message truncated in {what}"));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    /// The next field: (number, value), or None at the end.
    pub fn next(&mut self, what: &str) -> Result<Option<(u32, Value<'a>)>> {
        if self.pos == self.buf.len() {
            return Ok(None);
        }
        let tag = self.varint(what)?;
        let field = field_number(tag)?;
        let value = match (tag & 7) as u8 {
            WIRE_VARINT => Value::Varint(self.varint(what)?),
            WIRE_I64 => Value::I64(u64::from_le_bytes(self.take(8, what)?.try_into().unwrap())),
            WIRE_LEN => {
                let n = self.varint(what)?;
                let n = usize::try_from(n).or_else(|_| invalid(format!("length too large in {what}")))?;
                Value::Bytes(self.take(n, what)?)
            }
            WIRE_I32 => Value::I32(u32::from_le_bytes(self.take(4, what)?.try_into().unwrap())),
            w => return invalid(format!("protobuf wire type {w} (groups are not supported) in {what}")),
        };
        Ok(Some((field, value)))
    }
}

fn string(b: &[u8], what: &str) -> Result<String> {
    String::from_utf8(b.to_vec()).or_else(|_| invalid(format!("{what} is not UTF-8")))
}

/// Repeated int64: packed (one length-delimited run) or one varint per field.
fn push_ints(v: &Value, out: &mut Vec<i64>, what: &str) -> Result<()> {
    match v {
        Value::Varint(x) => out.push(*x as i64),
        Value::Bytes(b) => {
            let mut pos = 0;
            while pos < b.len() {
                match varint(&b[pos..])? {
                    Some((x, n)) => {
                        out.push(x as i64);
                        pos += n;
                    }
                    None => return invalid(format!("packed ints truncated in {what}")),
                }
            }
        }
        _ => return invalid(format!("wrong wire type for ints in {what}")),
    }
    Ok(())
}

#[derive(Debug, Clone, PartialEq)]
pub enum Attr {
    Int(i64),
    Float(f32),
    Ints(Vec<i64>),
    Other,
}

#[derive(Debug, Clone, Default)]
pub struct Node {
    pub name: String,
    pub op: String,
    pub domain: String,
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
    pub attrs: Vec<(String, Attr)>,
}

impl Node {
    pub fn attr(&self, name: &str) -> Option<&Attr> {
        self.attrs.iter().find(|(n, _)| n == name).map(|(_, a)| a)
    }

    /// About what the node takes on the heap, to bound the loader's memory
    /// whatever the file holds.
    pub fn heap_bytes(&self) -> usize {
        let s = std::mem::size_of::<String>();
        let strings = self.inputs.iter().chain(&self.outputs).map(|x| s + x.len()).sum::<usize>();
        let attrs = self
            .attrs
            .iter()
            .map(|(n, a)| {
                std::mem::size_of::<(String, Attr)>() + n.len() + if let Attr::Ints(v) = a { 8 * v.len() } else { 0 }
            })
            .sum::<usize>();
        std::mem::size_of::<Node>() + self.name.len() + self.op.len() + self.domain.len() + strings + attrs
    }
}

pub fn parse_node(buf: &[u8]) -> Result<Node> {
    let mut r = Reader::new(buf);
    let mut n = Node::default();
    while let Some((field, v)) = r.next("NodeProto")? {
        if n.inputs.len() + n.outputs.len() + n.attrs.len() == MAX_NODE_FIELDS && matches!(field, 1 | 2 | 5) {
            return invalid(format!("a node with more than {MAX_NODE_FIELDS} inputs, outputs and attributes"));
        }
        match (field, v) {
            (1, Value::Bytes(b)) => n.inputs.push(string(b, "node input")?),
            (2, Value::Bytes(b)) => n.outputs.push(string(b, "node output")?),
            (3, Value::Bytes(b)) => n.name = string(b, "node name")?,
            (4, Value::Bytes(b)) => n.op = string(b, "node op_type")?,
            (5, Value::Bytes(b)) => n.attrs.push(parse_attr(b)?),
            (7, Value::Bytes(b)) => n.domain = string(b, "node domain")?,
            _ => {}
        }
    }
    Ok(n)
}

fn parse_attr(buf: &[u8]) -> Result<(String, Attr)> {
    let mut r = Reader::new(buf);
    let mut name = String::new();
    let (mut f, mut i, mut ints, mut ty) = (None, None, Vec::new(), 0u64);
    while let Some((field, v)) = r.next("AttributeProto")? {
        match (field, v) {
            (1, Value::Bytes(b)) => name = string(b, "attribute name")?,
            (2, Value::I32(x)) => f = Some(f32::from_bits(x)),
            (3, Value::Varint(x)) => i = Some(x as i64),
            (8, v) => push_ints(&v, &mut ints, "AttributeProto.ints")?,
            (20, Value::Varint(x)) => ty = x,
            _ => {}
        }
    }
    // AttributeProto.AttributeType: FLOAT 1, INT 2, INTS 7.
    let attr = match ty {
        1 => Attr::Float(f.unwrap_or(0.0)),
        2 => Attr::Int(i.unwrap_or(0)),
        7 => Attr::Ints(ints),
        _ => Attr::Other,
    };
    Ok((name, attr))
}

/// An initializer; `raw` borrows the message's bytes so that weights are
/// packed straight from them, without an intermediate copy.
#[derive(Debug, Clone, Default)]
pub struct Tensor<'a> {
    pub name: String,
    pub dims: Vec<usize>,
    raw: Option<&'a [u8]>,
    floats: Vec<f32>,
}

impl Tensor<'_> {
    pub fn from_floats(name: String, dims: Vec<usize>, floats: Vec<f32>) -> Tensor<'static> {
        Tensor { name, dims, raw: None, floats }
    }

    pub fn len(&self) -> usize {
        self.raw.map_or(self.floats.len(), |r| r.len() / 4)
    }

    #[inline]
    pub fn get(&self, i: usize) -> f32 {
        match self.raw {
            Some(r) => f32::from_le_bytes(r[4 * i..4 * i + 4].try_into().unwrap()),
            None => self.floats[i],
        }
    }

    pub fn to_vec(&self) -> Vec<f32> {
        (0..self.len()).map(|i| self.get(i)).collect()
    }
}

pub fn parse_tensor(buf: &[u8]) -> Result<Tensor<'_>> {
    let mut r = Reader::new(buf);
    let mut t = Tensor::default();
    let mut fields = TensorFields::default();
    let mut raw: Option<&[u8]> = None;
    while let Some((field, v)) = r.next("TensorProto")? {
        match (field, v) {
            (4, Value::Bytes(b)) => {
                if b.len() % 4 != 0 {
                    return invalid("TensorProto.float_data length is not a multiple of 4");
                }
                t.floats.extend(b.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())));
            }
            (4, Value::I32(x)) => t.floats.push(f32::from_bits(x)),
            (9, Value::Bytes(b)) => raw = Some(b),
            (f, v) => fields.read(f, &v)?,
        }
    }
    if let Some(b) = raw {
        if b.len() % 4 != 0 {
            return invalid(format!("initializer {:?} raw_data length is not a multiple of 4", fields.name));
        }
        t.raw = Some(b);
    }
    t.dims = fields.check(raw.is_some(), !t.floats.is_empty(), t.len())?;
    t.name = fields.name;
    Ok(t)
}

/// An initializer of any of the types a QDQ model holds, its bytes copied:
/// FLOAT (1), UINT8 (2), INT8 (3), INT32 (6), little-endian.
#[derive(Debug, Clone)]
pub struct RawTensor {
    pub dims: Vec<usize>,
    pub data_type: u64,
    pub bytes: Vec<u8>,
}

/// Bytes per value of a data type `RawTensor` reads.
fn type_size(data_type: u64) -> Option<usize> {
    match data_type {
        1 | 6 => Some(4),
        2 | 3 => Some(1),
        _ => None,
    }
}

impl RawTensor {
    pub fn len(&self) -> usize {
        self.dims.iter().product()
    }

    /// The values as f32: FLOAT as they are, the integer types converted.
    pub fn to_f32(&self) -> Vec<f32> {
        match self.data_type {
            1 => self.bytes.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect(),
            6 => self.bytes.chunks_exact(4).map(|c| i32::from_le_bytes(c.try_into().unwrap()) as f32).collect(),
            2 => self.bytes.iter().map(|&b| f32::from(b)).collect(),
            _ => self.bytes.iter().map(|&b| f32::from(b as i8)).collect(),
        }
    }
}

/// Parses an initializer into a `RawTensor`: raw_data, or float_data /
/// int32_data (which hold UINT8, INT8 and INT32 values too).
pub fn parse_raw_tensor(buf: &[u8]) -> Result<(String, RawTensor)> {
    let mut r = Reader::new(buf);
    let mut fields = TensorFields::default();
    let mut raw: Option<&[u8]> = None;
    let mut floats: Vec<u8> = Vec::new();
    let mut ints: Vec<i64> = Vec::new();
    while let Some((field, v)) = r.next("TensorProto")? {
        match (field, v) {
            (4, Value::Bytes(b)) => floats.extend_from_slice(b),
            (4, Value::I32(x)) => floats.extend_from_slice(&x.to_le_bytes()),
            (5, v) => push_ints(&v, &mut ints, "TensorProto.int32_data")?,
            (9, Value::Bytes(b)) => raw = Some(b),
            (f, v) => fields.read(f, &v)?,
        }
    }
    let name = fields.name.clone();
    let Some(size) = type_size(fields.data_type) else {
        return invalid(format!(
            "initializer {name:?} has data type {}; a QDQ model's are FLOAT, UINT8, INT8 or INT32",
            fields.data_type
        ));
    };
    let bytes = match (raw, floats.is_empty(), ints.is_empty()) {
        (Some(b), true, true) => b.to_vec(),
        (None, false, true) if fields.data_type == 1 => floats,
        (None, true, false) if fields.data_type != 1 => match size {
            4 => ints.iter().flat_map(|&v| (v as i32).to_le_bytes()).collect(),
            _ => ints.iter().map(|&v| v as u8).collect(),
        },
        (None, true, true) => Vec::new(),
        _ => return invalid(format!("initializer {name:?} holds its values in more than one field, or the wrong one")),
    };
    if bytes.len() % size != 0 {
        return invalid(format!("initializer {name:?}: {} bytes of data, not a multiple of {size}", bytes.len()));
    }
    let data_type = fields.data_type;
    // The checks of a float tensor's fields (external data, dims, count).
    let dims = TensorFields { data_type: 1, ..fields }.check(true, false, bytes.len() / size)?;
    Ok((name, RawTensor { dims, data_type, bytes }))
}

/// A TensorProto's fields other than its values (raw_data, float_data), as
/// they are read, and the checks on the whole tensor: shared by
/// `parse_tensor` and the loader's streamed initializers.
#[derive(Debug, Default)]
pub struct TensorFields {
    pub name: String,
    dims: Vec<i64>,
    data_type: u64,
    external: bool,
}

impl TensorFields {
    /// Takes dims, data_type, name or data_location; ignores other fields.
    pub fn read(&mut self, field: u32, v: &Value) -> Result<()> {
        match (field, v) {
            (1, v) => push_ints(v, &mut self.dims, "TensorProto.dims")?,
            (2, Value::Varint(x)) => self.data_type = *x,
            (8, Value::Bytes(b)) => self.name = string(b, "tensor name")?,
            (14, Value::Varint(x)) => self.external = *x == 1,
            _ => {}
        }
        Ok(())
    }

    /// The dims read so far, if none is negative or past `usize` (2^32 and
    /// more on a 32-bit target).
    pub fn dims(&self) -> Option<Vec<usize>> {
        self.dims.iter().map(|&d| usize::try_from(d).ok()).collect()
    }

    /// Checks the whole tensor, which held `values` values, from raw_data
    /// and/or float_data; returns its dims.
    pub fn check(&self, raw: bool, floats: bool, values: usize) -> Result<Vec<usize>> {
        let name = &self.name;
        if self.external {
            return invalid(format!("initializer {name:?} uses external data, which this engine does not read"));
        }
        // TensorProto.DataType FLOAT = 1.
        if self.data_type != 1 {
            return invalid(format!("initializer {name:?} has data type {}, expected FLOAT (1)", self.data_type));
        }
        let Some(dims) = self.dims() else {
            return invalid(format!(
                "initializer {name:?} has dims {:?}: negative, or too large for a {}-bit target",
                self.dims,
                usize::BITS
            ));
        };
        if raw && floats {
            return invalid(format!("initializer {name:?} has both raw_data and float_data"));
        }
        let Some(expect) = dims.iter().try_fold(1usize, |a, &d| a.checked_mul(d)) else {
            return invalid(format!("initializer {name:?} has dims {dims:?}, too large"));
        };
        if values != expect {
            return invalid(format!("initializer {name:?} holds {values} values, its dims {dims:?} say {expect}"));
        }
        Ok(dims)
    }
}

/// ValueInfoProto: name and, when static, the dims (a symbolic dim is None).
pub fn parse_value_info(buf: &[u8]) -> Result<(String, Vec<Option<usize>>)> {
    let mut r = Reader::new(buf);
    let mut name = String::new();
    let mut dims = Vec::new();
    while let Some((field, v)) = r.next("ValueInfoProto")? {
        match (field, v) {
            (1, Value::Bytes(b)) => name = string(b, "value name")?,
            (2, Value::Bytes(ty)) => {
                // TypeProto.tensor_type (1) -> TypeProto.Tensor.shape (2) -> dim (1).
                let mut tr = Reader::new(ty);
                while let Some((f, v)) = tr.next("TypeProto")? {
                    if let (1, Value::Bytes(tt)) = (f, v) {
                        let mut r2 = Reader::new(tt);
                        while let Some((f2, v2)) = r2.next("TypeProto.Tensor")? {
                            if let (2, Value::Bytes(shape)) = (f2, v2) {
                                let mut r3 = Reader::new(shape);
                                while let Some((f3, v3)) = r3.next("TensorShapeProto")? {
                                    if let (1, Value::Bytes(dim)) = (f3, v3) {
                                        let mut r4 = Reader::new(dim);
                                        let mut value = None;
                                        while let Some((f4, v4)) = r4.next("Dimension")? {
                                            if let (1, Value::Varint(x)) = (f4, v4) {
                                                // A negative dim_value reads as unknown, as a
                                                // symbolic one does; one past usize as usize::MAX
                                                // (not truncated: 2^32 + 224 is not 224 on wasm32).
                                                value = u64::try_from(x as i64)
                                                    .ok()
                                                    .map(|x| usize::try_from(x).unwrap_or(usize::MAX));
                                            }
                                        }
                                        dims.push(value);
                                    }
                                }
                            }
                        }
                    }
                }
            }
            _ => {}
        }
    }
    Ok((name, dims))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(field: u32, wire: u8) -> u8 {
        ((field << 3) | u32::from(wire)) as u8
    }

    fn tensor(floats: &[u8]) -> Vec<u8> {
        let mut b = vec![tag(1, WIRE_VARINT), 2, tag(2, WIRE_VARINT), 1];
        b.extend([tag(8, WIRE_LEN), 1, b'w']);
        b.extend_from_slice(floats);
        b
    }

    #[test]
    fn float_data_packed_unpacked_and_raw() {
        let (one, two) = (1f32.to_le_bytes(), 2f32.to_le_bytes());
        let mut packed = vec![tag(4, WIRE_LEN), 8];
        packed.extend(one.iter().chain(&two));
        let mut unpacked = vec![tag(4, WIRE_I32)];
        unpacked.extend(one);
        unpacked.push(tag(4, WIRE_I32));
        unpacked.extend(two);
        let mut raw = vec![tag(9, WIRE_LEN), 8];
        raw.extend(one.iter().chain(&two));
        for body in [packed, unpacked, raw] {
            let bytes = tensor(&body);
            let t = parse_tensor(&bytes).unwrap();
            assert_eq!((t.name.as_str(), t.dims.as_slice(), t.to_vec()), ("w", &[2][..], vec![1.0, 2.0]));
        }
        // Two values where dims say 2, given as one: refused, not read past.
        let mut short = vec![tag(9, WIRE_LEN), 4];
        short.extend(one);
        assert!(parse_tensor(&tensor(&short)).is_err());
        // A length running past the message.
        assert!(parse_tensor(&tensor(&[tag(9, WIRE_LEN), 200, 0])).is_err());
    }

    #[test]
    fn non_float_and_external_tensors_are_refused() {
        let mut b = vec![tag(1, WIRE_VARINT), 1, tag(2, WIRE_VARINT), 7, tag(8, WIRE_LEN), 1, b'i'];
        b.extend([tag(9, WIRE_LEN), 8, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert!(parse_tensor(&b).unwrap_err().to_string().contains("data type 7"));
        let mut e = tensor(&[]);
        e.extend([tag(14, WIRE_VARINT), 1]);
        assert!(parse_tensor(&e).unwrap_err().to_string().contains("external"));
    }
}
