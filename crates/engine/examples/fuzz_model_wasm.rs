//! The model loader's fuzz cases (tests/support/fuzz_model.rs, the same as
//! the native test tests/fuzz_model.rs) inside a wasm instance, where
//! `usize` is 32 bits and a panic is a trap: a cdylib with a C ABI that
//! tests/engine/fuzz-model-wasm.mjs drives from Node (build and run:
//! tests/engine/fuzz-model-wasm.sh). Exports: buffers, `fuzz_init` (the
//! real model's bytes, or none), `fuzz_case` (one case by seed and index),
//! `fuzz_wide` (a DenseNet whose sizes pass 2^32), `fuzz_text`, `fuzz_peak`.

#[path = "../tests/support/fuzz_model.rs"]
mod fuzz_model;

use std::cell::RefCell;
use std::sync::Mutex;

use densenet_edge_engine::{Engine, Error};
use fuzz_model::{case, case_seed, execute, Corpus, Outcome, Spec, MIB};

#[global_allocator]
static A: densenet_edge_heap_count::Counting = densenet_edge_heap_count::Counting;

thread_local! {
    static CORPUS: RefCell<Option<Corpus>> = const { RefCell::new(None) };
    static INPUT: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
    /// The current case's description (set before it runs: a trap leaves it
    /// for the host to read), then its outcome.
    static TEXT: RefCell<String> = const { RefCell::new(String::new()) };
    static PEAK: RefCell<(usize, usize)> = const { RefCell::new((0, 0)) };
}

/// The last panic's message and place: a panic traps the instance (wasm32's
/// panics abort), after the hook has written it here.
static PANIC: Mutex<String> = Mutex::new(String::new());

#[no_mangle]
pub extern "C" fn buf_alloc(len: usize) -> *mut u8 {
    let mut v = Vec::<u8>::with_capacity(len);
    let p = v.as_mut_ptr();
    std::mem::forget(v);
    p
}

/// # Safety
/// `ptr` and `len` from `buf_alloc`.
#[no_mangle]
pub unsafe extern "C" fn buf_free(ptr: *mut u8, len: usize) {
    drop(Vec::from_raw_parts(ptr, 0, len));
}

/// Takes the real model's bytes (a `buf_alloc(len)` buffer the host filled;
/// the instance keeps it), or none (`len` 0: a generated stand-in), and
/// installs the panic hook. Returns the corpus model's length.
///
/// # Safety
/// `ptr` from `buf_alloc(len)` with `len` bytes written, or `len` 0.
#[no_mangle]
pub unsafe extern "C" fn fuzz_init(ptr: *mut u8, len: usize) -> usize {
    std::panic::set_hook(Box::new(|info| {
        if let Ok(mut p) = PANIC.lock() {
            *p = info.to_string();
        }
    }));
    let real = (len > 0).then(|| Vec::from_raw_parts(ptr, len, len));
    let corpus = Corpus::new(real);
    let n = corpus.big.len();
    CORPUS.with(|c| *c.borrow_mut() = Some(corpus));
    INPUT.with(|i| *i.borrow_mut() = fuzz_model::input());
    n
}

/// Case `index` of a run seeded `seed`: 0 the model loaded (and ran, if
/// the case runs it), 1 `ModelInvalid`, 2 anything else (a failure), 3 the
/// heap passed the case's bound (a failure), 4 not initialised. A panic
/// traps. `fuzz_text(0)` describes it; `fuzz_peak` gives its heap peak.
#[no_mangle]
pub extern "C" fn fuzz_case(seed: u64, index: u64) -> u32 {
    CORPUS.with(|corpus| {
        let corpus = corpus.borrow();
        let Some(corpus) = corpus.as_ref() else { return 4 };
        let c = case(case_seed(seed, index), corpus);
        TEXT.with(|t| *t.borrow_mut() = c.what.clone());
        let (outcome, peak) = INPUT.with(|i| densenet_edge_heap_count::peak_during(|| execute(&c, &i.borrow())));
        PEAK.with(|p| *p.borrow_mut() = (peak, c.bound()));
        let code = match &outcome {
            _ if peak > c.bound() => 3,
            Outcome::Loaded(_) => 0,
            Outcome::Refused(_) => 1,
            Outcome::Wrong(_) => 2,
        };
        TEXT.with(|t| {
            let mut t = t.borrow_mut();
            *t = format!("{}: {outcome:?}", c.what);
        });
        code
    })
}

/// A consistent DenseNet whose first transition has 1.4 M output channels,
/// loaded with no limits: its run's sizes pass 2^32 (block 2's buffer alone
/// is 1.4 M x 28 x 28 x 4 bytes), so a 32-bit target must refuse it, and not
/// with wrapped sizes. 1 if it was refused with `ModelInvalid`, 0 if it
/// loaded, 2 for another error. Its weights take ~100 MiB of wasm memory.
#[no_mangle]
pub extern "C" fn fuzz_wide() -> u32 {
    let spec =
        Spec { c0: 1, growth: 1, bott: 1, blocks: vec![1, 1], trans: vec![1_369_600], classes: 1, float_data: false };
    let bytes = fuzz_model::densenet(&spec);
    let r = {
        let mut l = Engine::loader();
        bytes.chunks(MIB).try_for_each(|c| l.push(c)).and_then(|()| l.finish())
    };
    let (code, text) = match r {
        Err(Error::ModelInvalid(m)) => (1, m),
        Err(e) => (2, e.to_string()),
        Ok(e) => (0, format!("loaded; workspace_bytes(1) {}", e.workspace_bytes(1))),
    };
    TEXT.with(|t| *t.borrow_mut() = text);
    code
}

/// The last case's heap peak (`which` 0) or bound (1), in bytes.
#[no_mangle]
pub extern "C" fn fuzz_peak(which: u32) -> f64 {
    PEAK.with(|p| {
        let (peak, bound) = *p.borrow();
        if which == 0 {
            peak as f64
        } else {
            bound as f64
        }
    })
}

/// Writes the last case's text (`which` 0) or the last panic's (1) into
/// `out`; returns its length.
///
/// # Safety
/// `out` holds `cap` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn fuzz_text(which: u32, out: *mut u8, cap: usize) -> usize {
    let s = if which == 1 {
        PANIC.lock().map(|p| p.clone()).unwrap_or_default()
    } else {
        TEXT.with(|t| t.try_borrow().map(|t| t.clone()).unwrap_or_default())
    };
    let n = s.len().min(cap);
    std::ptr::copy_nonoverlapping(s.as_ptr(), out, n);
    n
}
