//! Logits of both engines against onnxruntime on the same ONNX file
//! (model/reference/*.logits.*.npy, written by model/make_references.py).

mod common;

use common::{max_abs_diff, random_model, reference, PHOTOS};
use densenet_edge::{CpuEngine, Engine, Tensor};

/// onnxruntime and our engines sum in different orders; measured
/// differences are ~1e-5 on logits of magnitude ~10.
const LOGIT_TOLERANCE: f32 = 1e-4;

fn photo_input(name: &str) -> Tensor {
    let (shape, data) = reference::<f32>(&format!("photos_{name}.input.npy"));
    Tensor { shape: shape.try_into().unwrap(), data }
}

fn expected_logits(name: &str) -> Vec<f32> {
    reference::<f32>(&format!("photos_{name}.logits.densenet121-random.npy")).1
}

fn check_engine(engine: &dyn Engine) {
    for name in PHOTOS {
        let logits = pollster::block_on(engine.run(&photo_input(name))).unwrap();
        let diff = max_abs_diff(&logits[0], &expected_logits(name));
        println!("{} {name}: max |logit - onnxruntime| = {diff:.2e}", engine.kind());
        assert!(diff <= LOGIT_TOLERANCE, "{} on {name}: {diff}", engine.kind());
    }
}

#[test]
fn cpu_engine_matches_onnxruntime() {
    let engine = CpuEngine::load(&random_model()).unwrap();
    check_engine(&engine);
}

#[test]
fn cpu_engine_runs_a_batch() {
    let engine = CpuEngine::load(&random_model()).unwrap();
    let inputs: Vec<Tensor> = PHOTOS.iter().map(|n| photo_input(n)).collect();
    let batch = Tensor { shape: [4, 3, 224, 224], data: inputs.iter().flat_map(|t| t.data.iter().copied()).collect() };
    let (shape, expected) = reference::<f32>("batch4.logits.densenet121-random.npy");
    assert_eq!(shape, [4, 1000]);
    let logits = engine.run_sync(&batch).unwrap();
    assert_eq!(logits.len(), 4);
    for (row, want) in logits.iter().zip(expected.chunks(1000)) {
        assert!(max_abs_diff(row, want) <= LOGIT_TOLERANCE);
    }
}

#[test]
fn an_invalid_model_is_refused() {
    let err = CpuEngine::load(b"not an onnx file").err().unwrap();
    assert_eq!(err.code(), "model_invalid");
    let mut truncated = random_model();
    truncated.truncate(truncated.len() / 2);
    assert_eq!(CpuEngine::load(&truncated).err().unwrap().code(), "model_invalid");
}

/// wonnx natively, on whatever Vulkan device there is (Debian's lavapipe
/// in CI: scripts/setup.sh installs mesa-vulkan-drivers). Fails when no
/// adapter exists, unless DENSENET_EDGE_SKIP_WEBGPU=1 says so explicitly.
#[test]
fn webgpu_engine_matches_onnxruntime() {
    use densenet_edge::adapter_info;
    use densenet_edge::WebGpuEngine;
    if std::env::var("DENSENET_EDGE_SKIP_WEBGPU").as_deref() == Ok("1") {
        eprintln!("SKIPPED: DENSENET_EDGE_SKIP_WEBGPU=1");
        return;
    }
    let info = pollster::block_on(adapter_info()).expect("a WebGPU adapter (install mesa-vulkan-drivers)");
    println!("adapter: {info:?}");
    let model = random_model();
    let cpu = CpuEngine::load(&model).unwrap();
    let gpu = pollster::block_on(WebGpuEngine::load(&model, 224, &cpu)).unwrap();
    println!("self-check max diff {:.2e}", gpu.self_check_max_diff);
    check_engine(&gpu);
}
