//! Fuzz test of the model loader on hostile files: mutated, truncated and
//! reshaped DenseNets, wrapping protobuf lengths (cases in
//! support/fuzz_model.rs). Each case must end in a model or
//! `Error::ModelInvalid`, never a panic, and the loader (and a run of a
//! model that loads) must stay within the limits it was given plus 2 MiB.
//! Fixed seed and count here; `scripts/fuzz-model.sh N [SEED]` runs more,
//! and tests/engine/fuzz-model-wasm.sh runs the same cases in wasm32.
//!
//! Environment: FUZZ_MODEL_CASES (count), FUZZ_MODEL_SEED, FUZZ_MODEL_CASE
//! (replay one case by its index), FUZZ_MODEL_FILE (the real model; default
//! model/build/densenet121-random.onnx, or a generated stand-in if absent).

#[path = "support/fuzz_model.rs"]
mod fuzz_model;

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Mutex;
use std::time::Instant;

use densenet_edge_engine::{Engine, Error, LoadLimits};
use fuzz_model::{case, case_seed, execute, Corpus, Outcome, Spec, MIB};

#[global_allocator]
static A: densenet_edge_heap_count::Counting = densenet_edge_heap_count::Counting;
/// The heap's counters are global: the tests of this file measure one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn env<T: std::str::FromStr>(name: &str) -> Option<T> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

fn real_model() -> Option<Vec<u8>> {
    let path = std::env::var_os("FUZZ_MODEL_FILE").map(std::path::PathBuf::from).unwrap_or_else(|| {
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../model/build/densenet121-random.onnx")
    });
    match std::fs::read(&path) {
        Ok(b) => Some(b),
        Err(e) => {
            println!("{}: {e}; fuzzing a generated DenseNet-shaped model instead", path.display());
            None
        }
    }
}

#[test]
fn the_loader_refuses_hostile_models_without_panicking_or_passing_its_limits() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let cases: u64 = env("FUZZ_MODEL_CASES").unwrap_or(600);
    let seed: u64 = env("FUZZ_MODEL_SEED").unwrap_or(0x5EED_0DE1);
    let only: Option<u64> = env("FUZZ_MODEL_CASE");
    let corpus = Corpus::new(real_model());
    let input = fuzz_model::input();
    // Panics are caught and reported below; the default hook would print
    // each one's message and backtrace in the middle of the run.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let t0 = Instant::now();
    let mut failures = Vec::new();
    let mut answers = BTreeMap::<&str, usize>::new();
    let mut refusals = BTreeMap::<String, usize>::new();
    let (mut worst, mut worst_case) = (0f64, String::new());
    let mut peak_max = 0usize;
    let mut bytes = 0usize;
    for index in 0..cases {
        if only.is_some_and(|o| o != index) {
            continue;
        }
        let cs = case_seed(seed, index);
        let c = case(cs, &corpus);
        bytes += c.bytes.len();
        let run = catch_unwind(AssertUnwindSafe(|| densenet_edge_heap_count::peak_during(|| execute(&c, &input))));
        let tag = format!("case {index} (FUZZ_MODEL_SEED={seed} FUZZ_MODEL_CASE={index}; {})", c.what);
        let Ok((outcome, peak)) = run else {
            let path = std::env::temp_dir().join(format!("fuzz-model-panic-{seed}-{index}.onnx"));
            let _ = std::fs::write(&path, &c.bytes);
            failures.push(format!("{tag}: panicked (bytes in {})", path.display()));
            continue;
        };
        let bound = c.bound();
        if peak as f64 / bound as f64 > worst {
            (worst, worst_case) = (peak as f64 / bound as f64, tag.clone());
        }
        peak_max = peak_max.max(peak);
        if peak > bound {
            failures.push(format!("{tag}: the heap peaked at {peak} bytes, over the bound {bound} ({outcome:?})"));
        }
        match outcome {
            Outcome::Loaded(_) => *answers.entry("loaded").or_default() += 1,
            Outcome::Refused(m) => {
                *answers.entry("model_invalid").or_default() += 1;
                // The message's start, digits dropped: which check refused.
                let key: String = m.chars().filter(|c| !c.is_ascii_digit()).take(48).collect();
                *refusals.entry(key).or_default() += 1;
            }
            Outcome::Wrong(m) => failures.push(format!("{tag}: {m}")),
        }
    }
    std::panic::set_hook(hook);
    let secs = t0.elapsed().as_secs_f64();
    let n = if only.is_some() { 1 } else { cases };
    println!(
        "{n} cases (seed {seed}, {} model: {} bytes) in {secs:.1} s, {:.0} cases/s, {:.1} MB fed: {answers:?}",
        if corpus.big_is_real { "real" } else { "generated" },
        corpus.big.len(),
        n as f64 / secs,
        bytes as f64 / 1e6
    );
    println!("peak heap {:.2} MiB at most; worst peak / bound {worst:.3} ({worst_case})", peak_max as f64 / MIB as f64);
    let mut top: Vec<_> = refusals.into_iter().collect();
    top.sort_by_key(|&(_, k)| std::cmp::Reverse(k));
    for (m, k) in top.iter().take(12) {
        println!("  {k:5} x {m}");
    }
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
}

/// A 13-byte file: a graph of 11 bytes holding a node whose length varint
/// is 2^64 - 11. The loader's length sum must not wrap: the file is refused
/// as an overflow, whatever the pieces it arrives in.
#[test]
fn a_wrapping_node_length_is_refused() {
    let bytes = [0x3A, 0x0B, 0x0A, 0xF5, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01];
    for piece in [1, 2, 13] {
        let mut l = Engine::loader();
        let r = bytes.chunks(piece).try_for_each(|c| l.push(c)).and_then(|()| l.finish());
        match r {
            Err(Error::ModelInvalid(m)) => assert!(m.contains("overflows"), "{m}"),
            Err(e) => panic!("{e}"),
            Ok(_) => panic!("loaded"),
        }
    }
}

/// A graph and a node that claim the most the loader reads whole, in 20
/// bytes: nothing is reserved for what has not arrived.
#[test]
fn claimed_lengths_reserve_nothing() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut cases = Vec::new();
    for (field, len) in [(1u8, 200u64 << 10), (1, 255 << 20), (5, 1 << 20), (5, 255 << 20), (11, 200 << 10)] {
        let mut b = vec![0x3A];
        fuzz_model::put_varint(&mut b, 256 << 20);
        b.push(field << 3 | 2);
        fuzz_model::put_varint(&mut b, len);
        b.extend([0u8; 8]);
        cases.push(b);
    }
    for b in cases {
        let (r, peak) = densenet_edge_heap_count::peak_during(|| {
            let mut l = Engine::loader();
            l.push(&b).and_then(|()| l.finish())
        });
        assert!(matches!(r, Err(Error::ModelInvalid(_))), "{b:02X?}");
        assert!(peak < 256 << 10, "{b:02X?}: {peak} bytes");
    }
}

/// A consistent DenseNet whose first transition has 1.4 M output channels:
/// one run's block-2 buffer alone is 1.4 M x 28 x 28 x 4 bytes, past 2^32.
/// Natively the workspace limit refuses it; on a 32-bit target the sizes
/// would wrap (the limit then compared with the wrapped sum): checked, they
/// refuse it whatever the limit. Its weights take ~100 MiB.
#[test]
fn a_transition_too_wide_for_32_bits_is_refused() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let spec =
        Spec { c0: 1, growth: 1, bott: 1, blocks: vec![1, 1], trans: vec![1_369_600], classes: 1, float_data: false };
    let bytes = fuzz_model::densenet(&spec);
    let mut l = Engine::loader();
    l.set_limits(LoadLimits { max_workspace_bytes: 24 * MIB, ..LoadLimits::NONE });
    match l.push(&bytes).and_then(|()| l.finish()) {
        Err(Error::ModelInvalid(m)) => assert!(m.contains("activations and scratch"), "{m}"),
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("loaded"),
    }
    // Without a workspace limit it loads natively, and reports what a run needs.
    let e = Engine::load(&bytes).unwrap();
    assert!(e.workspace_bytes(1) > 1 << 32, "{}", e.workspace_bytes(1));
    assert_eq!(e.workspace_bytes(usize::MAX), usize::MAX);
}

/// The generated DenseNets are what `topology::check` accepts, and run.
#[test]
fn generated_densenets_load_and_run() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let input = fuzz_model::input();
    let mut rng = fuzz_model::Rng::new(7);
    for spec in (0..8).map(|_| Spec::small(&mut rng)).chain([Spec::medium()]) {
        let bytes = fuzz_model::densenet(&spec);
        let e = Engine::load(&bytes).unwrap_or_else(|e| panic!("{spec:?}: {e}"));
        assert_eq!(e.block_sizes(), spec.blocks);
        assert_eq!(e.run(&input, 1).unwrap().len(), spec.classes);
        // Pushed in pieces, the same model.
        let mut l = Engine::loader();
        for piece in bytes.chunks(1 + bytes.len() / 7) {
            l.push(piece).unwrap();
        }
        assert_eq!(l.finish().unwrap().run(&input, 1).unwrap(), e.run(&input, 1).unwrap());
    }
}
