//! `Loader::set_max_weight_bytes`: a model whose packed weights would pass
//! the limit is refused before the loader allocates past it (a Worker
//! isolate dies at 128 MB and wasm memory never shrinks), and a limit the
//! weights fit in changes nothing.

mod common;

use common::*;
use densenet_engine::{Engine, Error};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

/// Counts live heap bytes and their peak while `TRACK` is on.
struct Counting;
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
static TRACK: AtomicBool = AtomicBool::new(false);
/// The tests of this file measure one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        if TRACK.load(Ordering::Relaxed) {
            let now = LIVE.fetch_add(l.size(), Ordering::Relaxed) + l.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        if TRACK.load(Ordering::Relaxed) {
            LIVE.fetch_sub(l.size(), Ordering::Relaxed);
        }
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        if TRACK.load(Ordering::Relaxed) {
            if new > l.size() {
                let now = LIVE.fetch_add(new - l.size(), Ordering::Relaxed) + new - l.size();
                PEAK.fetch_max(now, Ordering::Relaxed);
            } else {
                LIVE.fetch_sub(l.size() - new, Ordering::Relaxed);
            }
        }
        unsafe { System.realloc(p, l, new) }
    }
}

#[global_allocator]
static A: Counting = Counting;

const MIB: usize = 1 << 20;

/// Loads `bytes` in 256 KiB pieces (as the Worker feeds R2's stream) with
/// the limit; returns the outcome and the heap's peak during the load.
fn load(bytes: &[u8], limit: Option<usize>) -> (Result<Engine, Error>, usize) {
    LIVE.store(0, Ordering::Relaxed);
    PEAK.store(0, Ordering::Relaxed);
    TRACK.store(true, Ordering::Relaxed);
    let mut l = Engine::loader();
    if let Some(limit) = limit {
        l.set_max_weight_bytes(limit);
    }
    let r = bytes.chunks(256 << 10).try_for_each(|c| l.push(c)).and_then(|()| l.finish());
    TRACK.store(false, Ordering::Relaxed);
    (r, PEAK.load(Ordering::Relaxed))
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
