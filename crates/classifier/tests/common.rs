//! Paths and loaders shared by the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

use densenet_edge::Manifest;
use densenet_edge_npy::{parse_npy, NpyElement};

pub fn repo() -> PathBuf {
    PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("run by cargo")).join("../..")
}

pub fn image(rel: &str) -> Vec<u8> {
    let p = repo().join("tests/images").join(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

pub fn reference<T: NpyElement>(name: &str) -> (Vec<usize>, Vec<T>) {
    let p = repo().join("model/reference").join(name);
    let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    parse_npy(&bytes).unwrap()
}

/// The random-weight DenseNet-121, checked against its manifest.
pub fn random_model() -> Vec<u8> {
    let manifest = std::fs::read_to_string(repo().join("model/manifests/densenet121-random.json")).unwrap();
    let manifest = Manifest::from_json(&manifest).unwrap();
    let path = repo().join("model/build").join(&manifest.file);
    let bytes =
        std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}; run scripts/prepare-model.sh first", path.display()));
    manifest.verify(&bytes).unwrap();
    bytes
}

pub const PHOTOS: [&str; 4] = ["astronaut", "chelsea", "coffee", "rocket"];

pub fn photo_file(name: &str) -> String {
    if name == "rocket" {
        "photos/rocket.jpg".into()
    } else {
        format!("photos/{name}.png")
    }
}

pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).fold(0.0, |m, (x, y)| m.max((x - y).abs()))
}
