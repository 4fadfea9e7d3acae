//! `.npy` files (NumPy's format 1.0-3.0, C order, f32 and u8): how the
//! reference tensors written by model/make_references.py are read, and how
//! the CLI writes a preprocessed tensor. Dev tooling: not in the shipped
//! crates.

use std::fmt;

/// What is wrong with a file that is not a supported `.npy`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NpyError(pub String);

impl fmt::Display for NpyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "not a supported .npy file: {}", self.0)
    }
}

impl std::error::Error for NpyError {}

/// Serialise little-endian f32 or u8 data as a version 1.0 `.npy` file.
pub fn npy_bytes<T: NpyElement>(shape: &[usize], data: &[T]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let dims = if dims.len() == 1 { format!("{},", dims[0]) } else { dims.join(", ") };
    let mut header = format!("{{'descr': '{}', 'fortran_order': False, 'shape': ({dims}), }}", T::DESCR);
    // Magic (6) + version (2) + header length (2) + header + '\n', padded to 64.
    let unpadded = 10 + header.len() + 1;
    header.push_str(&" ".repeat((64 - unpadded % 64) % 64));
    header.push('\n');
    let mut out = Vec::with_capacity(10 + header.len() + data.len() * 4);
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    for v in data {
        v.write_le(&mut out);
    }
    out
}

/// Parse a C-order `.npy` file of `T`: its shape and data.
pub fn parse_npy<T: NpyElement>(bytes: &[u8]) -> Result<(Vec<usize>, Vec<T>), NpyError> {
    let bad = |m: &str| NpyError(m.to_string());
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err(bad("missing magic"));
    }
    let (header_len, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 => (u32::from_le_bytes(bytes[8..12].try_into().unwrap()) as usize, 12),
        _ => return Err(bad("unknown version")),
    };
    let header = std::str::from_utf8(bytes.get(start..start + header_len).ok_or_else(|| bad("short header"))?)
        .map_err(|_| bad("header is not UTF-8"))?;
    if !header.contains(&format!("'descr': '{}'", T::DESCR))
        && !header.contains(&format!("'descr': '{}'", T::DESCR_ALT))
    {
        return Err(bad(&format!("expected dtype {}, header {header}", T::DESCR)));
    }
    if header.contains("'fortran_order': True") {
        return Err(bad("Fortran order"));
    }
    let shape_src =
        header.split("'shape': (").nth(1).and_then(|s| s.split(')').next()).ok_or_else(|| bad("no shape"))?;
    let shape: Vec<usize> = shape_src
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().map_err(|_| bad("bad shape")))
        .collect::<Result<_, _>>()?;
    let body = &bytes[start + header_len..];
    let n: usize = shape.iter().product();
    if body.len() != n * T::SIZE {
        return Err(bad("data length does not match the shape"));
    }
    Ok((shape, body.chunks_exact(T::SIZE).map(T::read_le).collect()))
}

pub trait NpyElement: Copy {
    const DESCR: &'static str;
    const DESCR_ALT: &'static str;
    const SIZE: usize;
    fn write_le(&self, out: &mut Vec<u8>);
    fn read_le(b: &[u8]) -> Self;
}

impl NpyElement for f32 {
    const DESCR: &'static str = "<f4";
    const DESCR_ALT: &'static str = "<f4";
    const SIZE: usize = 4;
    fn write_le(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes())
    }
    fn read_le(b: &[u8]) -> Self {
        f32::from_le_bytes(b.try_into().unwrap())
    }
}

impl NpyElement for u8 {
    const DESCR: &'static str = "|u1";
    const DESCR_ALT: &'static str = "<u1";
    const SIZE: usize = 1;
    fn write_le(&self, out: &mut Vec<u8>) {
        out.push(*self)
    }
    fn read_le(b: &[u8]) -> Self {
        b[0]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn npy_round_trip() {
        let data: Vec<f32> = (0..24).map(|i| i as f32 * 0.5).collect();
        let bytes = npy_bytes(&[1, 2, 3, 4], &data);
        assert_eq!((10 + u16::from_le_bytes([bytes[8], bytes[9]]) as usize) % 64, 0);
        assert_eq!(parse_npy::<f32>(&bytes).unwrap(), (vec![1, 2, 3, 4], data));
        let one = npy_bytes(&[3], &[1u8, 2, 3]);
        assert_eq!(parse_npy::<u8>(&one).unwrap(), (vec![3], vec![1, 2, 3]));
        assert!(parse_npy::<u8>(&bytes).is_err());
    }
}
