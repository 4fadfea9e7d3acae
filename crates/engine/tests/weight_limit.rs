//! `LoadLimits::max_weight_bytes`: a model whose packed weights would pass
//! the limit is refused before the loader allocates past it (a Worker
//! isolate dies at 128 MB and wasm memory never shrinks), and a limit the
//! weights fit in changes nothing. `Engine::workspace_bytes` bounds what a
//! run allocates, and `LoadLimits::max_workspace_bytes` refuses a model
//! whose runs would pass the limit.

mod common;

use common::*;
use densenet_edge_engine::{Engine, Error, KernelKind, LoadLimits};
use std::sync::Mutex;

#[global_allocator]
static A: densenet_edge_heap_count::Counting = densenet_edge_heap_count::Counting;
/// The heap's counters are global: the tests of this file measure one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

const MIB: usize = 1 << 20;

/// Loads `bytes` in 256 KiB pieces (as the Worker feeds R2's stream) with
/// the limit; returns the outcome and the heap's peak during the load.
fn load(bytes: &[u8], limit: Option<usize>) -> (Result<Engine, Error>, usize) {
    densenet_edge_heap_count::peak_during(|| {
        let mut l = Engine::loader();
        if let Some(limit) = limit {
            l.set_limits(LoadLimits { max_weight_bytes: limit, ..LoadLimits::NONE });
        }
        bytes.chunks(256 << 10).try_for_each(|c| l.push(c)).and_then(|()| l.finish())
    })
}

#[test]
fn a_model_over_the_limit_is_refused_before_its_weights_pass_it() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let bytes = model_bytes();
    for limit in [MIB, 8 * MIB, 20 * MIB, 40 * MIB] {
        let (r, peak) = load(&bytes, Some(limit));
        match r {
            Err(Error::ModelInvalid(m)) => assert!(m.contains("first initializer past the limit"), "{m}"),
            Err(e) => panic!("limit {limit}: {e}"),
            Ok(_) => panic!("limit {limit}: DenseNet-121 loaded"),
        }
        // Besides the weights: the parser's buffer of one initializer (at
        // most 1 MiB, larger ones are streamed), nodes and names.
        println!("limit {:.0} MiB: refused, heap peak {:.2} MiB", limit as f64 / MIB as f64, peak as f64 / MIB as f64);
        assert!(peak <= limit + 2 * MIB, "limit {limit}: the load's heap peaked at {peak} bytes");
    }
}

#[test]
fn a_limit_the_weights_fit_in_changes_nothing() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let bytes = model_bytes();
    let (free, _) = load(&bytes, None);
    let free = free.unwrap();
    // The packed weights plus the batch-norm vectors they are folded from.
    let (limited, peak) = load(&bytes, Some(free.weight_bytes() + 2 * MIB));
    let limited = limited.unwrap();
    println!(
        "weights {:.2} MiB, load's heap peak {:.2} MiB",
        free.weight_bytes() as f64 / MIB as f64,
        peak as f64 / MIB as f64
    );
    let input = photo_input("chelsea");
    assert_eq!(limited.run(&input, 1).unwrap(), free.run(&input, 1).unwrap());
}

#[test]
fn workspace_bytes_bound_what_a_run_allocates() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let int8 = repo().join("model/build/densenet121-random-int8.onnx");
    let int8 =
        std::fs::read(&int8).unwrap_or_else(|e| panic!("{}: {e} (run scripts/prepare-model.sh)", int8.display()));
    let mut wrong = Vec::new();
    // Every set this machine has (their tiles, panels and Winograd chunks
    // differ), on the f32 model and the int8 one.
    for (bytes, kind) in
        [model_bytes(), int8].iter().flat_map(|b| KernelKind::available().into_iter().map(move |k| (b, k)))
    {
        let mut l = Engine::loader_with(kind).unwrap();
        l.push(bytes).unwrap();
        let engine = l.finish().unwrap();
        for batch in [1, 4] {
            let input = photo_input("chelsea").repeat(batch);
            engine.release_buffers();
            let (out, peak) = densenet_edge_heap_count::peak_during(|| engine.run(&input, batch).unwrap());
            let bound = engine.workspace_bytes(batch);
            let name = format!("{} {}", engine.precision(), kind.name());
            println!(
                "{name}, batch {batch}: a run allocated {:.2} MiB at its peak ({peak} bytes), workspace_bytes {:.2} MiB ({bound})",
                peak as f64 / MIB as f64,
                bound as f64 / MIB as f64
            );
            if peak > bound {
                wrong.push(format!("{name}, batch {batch}: the run peaked at {peak} bytes, over the bound {bound}"));
            }
            // A bound worth checking against a host's limit: close to the truth.
            if (peak as f64) < 0.9 * bound as f64 {
                wrong.push(format!("{name}, batch {batch}: {peak} bytes of a bound of {bound}"));
            }
            drop(out);
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn a_model_whose_runs_need_more_than_the_limit_is_refused_at_load() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let bytes = model_bytes();
    let need = Engine::load(&bytes).unwrap().workspace_bytes(8);
    let load = |limit: usize| {
        let mut l = Engine::loader();
        l.set_limits(LoadLimits { max_workspace_bytes: limit, max_batch: 8, ..LoadLimits::NONE });
        l.push(&bytes).and_then(|()| l.finish())
    };
    match load(need - 1) {
        Err(Error::ModelInvalid(m)) => {
            assert!(m.contains("a run of 8 image(s) needs") && m.contains("activations"), "{m}")
        }
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("loaded with a limit under what a run of 8 needs"),
    }
    assert!(load(need).is_ok());
}
