//! Batch 8 and DenseNet-169, -201 and -161 (growth 48), every kernel, against
//! onnxruntime. The references are generated, not committed (253 MB): run
//! `$VENV_DIR/bin/python bench/engine/make_variants.py` first, then
//! `cargo test -p densenet-edge-engine --test variants -- --include-ignored`.

mod common;

use common::*;
use densenet_edge_engine::{Engine, KernelKind};
use std::path::PathBuf;

fn refs() -> PathBuf {
    std::env::var_os("DENSENET_ENGINE_REFS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/densenet-edge/engine-refs"))
}

fn check(model: &std::path::Path, name: &str, blocks: &[usize]) {
    let bytes =
        std::fs::read(model).unwrap_or_else(|e| panic!("{}: {e}; run bench/engine/make_variants.py", model.display()));
    let input = read_npy(&refs().join("batch8.input.npy")).1;
    let want = read_npy(&refs().join(format!("{name}.batch8.logits.npy"))).1;
    for kind in KernelKind::available() {
        for winograd in [true, false] {
            let mut l = Engine::loader_with(kind).unwrap();
            l.set_winograd(winograd);
            l.push(&bytes).unwrap();
            let mut engine = l.finish().unwrap();
            assert_eq!(engine.block_sizes(), blocks);
            engine.set_threads(2).unwrap();
            let got = engine.run(&input, 8).unwrap();
            let d = max_abs_diff(&got, &want);
            println!("{name} {} winograd {winograd} batch 8: max |diff| {d:.2e}", engine.device());
            assert!(d <= 1e-4, "{name} {} winograd {winograd}: {d:e}", engine.device());
        }
    }
}

#[test]
#[ignore = "needs bench/engine/make_variants.py"]
fn densenet121_batch_8() {
    check(&model_path(), "densenet121-random", &[6, 12, 24, 16]);
}

#[test]
#[ignore = "needs bench/engine/make_variants.py"]
fn densenet169_batch_8() {
    check(&refs().join("densenet169-random.onnx"), "densenet169-random", &[6, 12, 32, 32]);
}

#[test]
#[ignore = "needs bench/engine/make_variants.py"]
fn densenet201_batch_8() {
    check(&refs().join("densenet201-random.onnx"), "densenet201-random", &[6, 12, 48, 32]);
}

#[test]
#[ignore = "needs bench/engine/make_variants.py"]
fn densenet161_batch_8() {
    check(&refs().join("densenet161-random.onnx"), "densenet161-random", &[6, 12, 36, 24]);
}
