//! A global allocator that counts live heap bytes and their peak, for the
//! tests that bound what decoding or loading really allocates:
//!
//! ```ignore
//! #[global_allocator]
//! static A: densenet_edge_heap_count::Counting = densenet_edge_heap_count::Counting;
//!
//! let (result, peak) = densenet_edge_heap_count::peak_during(|| work());
//! let (result, peak) = densenet_edge_heap_count::thread_peak_during(|| work_on_this_thread());
//! ```
//!
//! Two views of the same counting. [`peak_during`] counts every thread,
//! for work that spreads over threads (the engine's runs): tests of one
//! binary that measure with it must not run at the same time (hold a
//! `Mutex` of the test file's own), and even then the test harness's own
//! allocations on its other threads count. [`thread_peak_during`] counts the
//! calling thread only, for work that stays on it (decoding an image):
//! other tests may run meanwhile.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The system allocator, counting.
pub struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    // Signed: a thread may free what another one allocated.
    static THREAD_LIVE: Cell<i64> = const { Cell::new(0) };
    static THREAD_PEAK: Cell<i64> = const { Cell::new(0) };
}

fn grew(by: usize) {
    let now = LIVE.fetch_add(by, Ordering::Relaxed) + by;
    PEAK.fetch_max(now, Ordering::Relaxed);
    thread_add(by as i64);
}

fn shrank(by: usize) {
    LIVE.fetch_sub(by, Ordering::Relaxed);
    thread_add(-(by as i64));
}

fn thread_add(n: i64) {
    // try_with: nothing is counted while the thread's locals are torn down.
    let _ = THREAD_LIVE.try_with(|live| {
        let now = live.get() + n;
        live.set(now);
        let _ = THREAD_PEAK.try_with(|peak| peak.set(peak.get().max(now)));
    });
}

// Only blocks the system allocator gave count: a failed allocation is
// never freed, so counting it would leave it live for good.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(l) };
        if !p.is_null() {
            grew(l.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(l) };
        if !p.is_null() {
            grew(l.size());
        }
        p
    }

    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        shrank(l.size());
        unsafe { System.dealloc(p, l) }
    }

    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        let q = unsafe { System.realloc(p, l, new) };
        // Counted as a block that grows or shrinks in place: the bounds the
        // tests check (the engine's workspace_bytes among them) are stated
        // that way, though an allocator that moves the block holds both
        // copies for a moment.
        if !q.is_null() {
            if new > l.size() {
                grew(new - l.size());
            } else {
                shrank(l.size() - new);
            }
        }
        q
    }
}

/// Heap bytes live now.
pub fn live() -> usize {
    LIVE.load(Ordering::SeqCst)
}

/// Runs `f`; returns its result and the most heap bytes live at once while
/// it ran, above what was live when it started, counting every thread.
pub fn peak_during<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let base = live();
    PEAK.store(base, Ordering::SeqCst);
    let r = f();
    (r, PEAK.load(Ordering::SeqCst).saturating_sub(base))
}

/// [`peak_during`] counting only what the calling thread allocates and
/// frees.
pub fn thread_peak_during<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let base = THREAD_LIVE.with(Cell::get);
    THREAD_PEAK.with(|peak| peak.set(base));
    let r = f();
    let peak = THREAD_PEAK.with(Cell::get) - base;
    (r, peak.max(0) as usize)
}
