//! Reads the references in model/reference (written by model/make_references.py
//! from onnxruntime on the same ONNX file).
#![allow(dead_code)]

use std::path::PathBuf;

pub fn repo() -> PathBuf {
    PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("run by cargo")).join("../..")
}

pub fn model_path() -> PathBuf {
    repo().join("model/build/densenet121-random.onnx")
}

pub fn model_bytes() -> Vec<u8> {
    let p = model_path();
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}; run scripts/prepare-model.sh", p.display()))
}

/// A little-endian float32 .npy file (format 1.0, C order): (shape, values).
pub fn read_npy(path: &std::path::Path) -> (Vec<usize>, Vec<f32>) {
    let b = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(&b[..6], b"\x93NUMPY", "{} is not .npy", path.display());
    let (hlen, start) = if b[6] == 1 {
        (u16::from_le_bytes([b[8], b[9]]) as usize, 10)
    } else {
        (u32::from_le_bytes([b[8], b[9], b[10], b[11]]) as usize, 12)
    };
    let header = std::str::from_utf8(&b[start..start + hlen]).unwrap();
    assert!(header.contains("'descr': '<f4'"), "{}: {header}", path.display());
    assert!(header.contains("'fortran_order': False"));
    let shape_txt = header.split("'shape': (").nth(1).unwrap().split(')').next().unwrap();
    let shape: Vec<usize> =
        shape_txt.split(',').filter(|s| !s.trim().is_empty()).map(|s| s.trim().parse().unwrap()).collect();
    let data: Vec<f32> = b[start + hlen..].chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect();
    assert_eq!(data.len(), shape.iter().product::<usize>());
    (shape, data)
}

pub const PHOTOS: [&str; 4] = ["astronaut", "chelsea", "coffee", "rocket"];

pub fn photo_input(name: &str) -> Vec<f32> {
    read_npy(&repo().join(format!("model/reference/photos_{name}.input.npy"))).1
}

pub fn photo_logits(name: &str) -> Vec<f32> {
    read_npy(&repo().join(format!("model/reference/photos_{name}.logits.densenet121-random.npy"))).1
}

pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}
