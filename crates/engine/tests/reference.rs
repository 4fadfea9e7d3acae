//! The whole network, with every kernel this machine has, against onnxruntime.

mod common;

use common::*;
use densenet_edge_engine::{Engine, KernelKind};

const TOL: f32 = 1e-4;

fn load(kind: KernelKind, bytes: &[u8], winograd: bool) -> Engine {
    let mut l = Engine::loader_with(kind).unwrap();
    l.set_winograd(winograd);
    l.push(bytes).unwrap();
    l.finish().unwrap()
}

/// Every kernel this machine has, each with Winograd and with im2col; or,
/// with ENGINE_TEST_KERNEL=<name> (e.g. `neon` under qemu, where every
/// network run is emulated and slow), that kernel's production path
/// (Winograd) only.
fn variants() -> Vec<(KernelKind, bool)> {
    let available = KernelKind::available();
    match std::env::var("ENGINE_TEST_KERNEL") {
        Ok(name) => {
            let kind = available.into_iter().find(|k| k.name() == name);
            vec![(kind.unwrap_or_else(|| panic!("ENGINE_TEST_KERNEL={name}: not a kernel this machine has")), true)]
        }
        Err(_) => available.into_iter().flat_map(|k| [(k, true), (k, false)]).collect(),
    }
}

#[test]
fn every_kernel_matches_onnxruntime_batch_1_and_4() {
    let bytes = model_bytes();
    let inputs: Vec<Vec<f32>> = PHOTOS.iter().map(|p| photo_input(p)).collect();
    let batch4 = read_npy(&repo().join("model/reference/batch4.logits.densenet121-random.npy")).1;
    for (kind, winograd) in variants() {
        let engine = load(kind, &bytes, winograd);
        let conv = if winograd { "winograd" } else { "im2col" };
        assert_eq!(engine.block_sizes(), [6, 12, 24, 16]);
        for (name, input) in PHOTOS.iter().zip(&inputs) {
            let got = engine.run(input, 1).unwrap();
            let d = max_abs_diff(&got, &photo_logits(name));
            println!("{} {conv} {name}: max |diff| {d:.2e}", engine.device());
            assert!(d <= TOL, "{} {conv} {name}: max |diff| {d:e}", engine.device());
        }
        let all: Vec<f32> = inputs.concat();
        let got = engine.run(&all, 4).unwrap();
        let d = max_abs_diff(&got, &batch4);
        println!("{} {conv} batch 4: max |diff| {d:.2e}", engine.device());
        assert!(d <= TOL, "{} {conv} batch 4: max |diff| {d:e}", engine.device());
    }
}

#[test]
fn chunked_loading_and_threads_give_identical_logits() {
    let bytes = model_bytes();
    let whole = Engine::load(&bytes).unwrap();
    let mut l = Engine::loader();
    // Odd sizes put chunk boundaries inside varints, headers and tensors.
    for piece in bytes[..1000].chunks(1).chain(bytes[1000..].chunks(65_537)) {
        l.push(piece).unwrap();
    }
    let mut chunked = l.finish().unwrap();
    let input = [photo_input("chelsea"), photo_input("rocket")].concat();
    let a = whole.run(&input, 2).unwrap();
    let b = chunked.run(&input, 2).unwrap();
    assert_eq!(a, b);
    // Threads change no arithmetic, whether they share every step or take
    // whole images alone (batch 3 on 2 threads: both, one image each alone,
    // then the third together).
    let three = [&input[..], &input[..densenet_edge_engine::INPUT_LEN]].concat();
    let one_thread = chunked.run(&three, 3).unwrap();
    for threads in [2, 3, 4] {
        chunked.set_threads(threads).unwrap();
        assert_eq!(a, chunked.run(&input, 2).unwrap(), "{threads} threads, batch 2");
        assert_eq!(one_thread, chunked.run(&three, 3).unwrap(), "{threads} threads, batch 3");
    }
    let single = whole.run(&input[..densenet_edge_engine::INPUT_LEN], 1).unwrap();
    assert!(max_abs_diff(&single, &a[..1000]) <= 1e-5);
}
