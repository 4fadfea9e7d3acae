//! The engine behind a plain C ABI, for bench/engine/wasm_check.mjs to drive
//! from Node (build for wasm32-unknown-unknown with simd128; see that script).
//! Exports: buffers, a chunked loader, run, the kernel checks, the device name.

use densenet_engine::bench_api::{gemm, PackedA, Ptr, B};
use densenet_engine::{Engine, KernelKind, Loader};
use std::cell::RefCell;

thread_local! {
    static LOADER: RefCell<Option<Loader>> = const { RefCell::new(None) };
    static ENGINE: RefCell<Option<Engine>> = const { RefCell::new(None) };
    static LAST: RefCell<String> = const { RefCell::new(String::new()) };
}

fn fail(e: densenet_engine::Error) -> i32 {
    LAST.with(|l| *l.borrow_mut() = e.to_string());
    1
}

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

/// `kind`: 0 the best, 1 simd128, 2 portable.
#[no_mangle]
pub extern "C" fn loader_new(kind: u32) -> i32 {
    let kind = match kind {
        1 => KernelKind::Simd128,
        2 => KernelKind::Portable,
        _ => KernelKind::best(),
    };
    match Engine::loader_with(kind) {
        Ok(l) => {
            LOADER.with(|s| *s.borrow_mut() = Some(l));
            0
        }
        Err(e) => fail(e),
    }
}

/// # Safety
/// `ptr` points to `len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn loader_push(ptr: *const u8, len: usize) -> i32 {
    let bytes = std::slice::from_raw_parts(ptr, len);
    LOADER.with(|s| match s.borrow_mut().as_mut().map(|l| l.push(bytes)) {
        Some(Ok(())) => 0,
        Some(Err(e)) => fail(e),
        None => 2,
    })
}

#[no_mangle]
pub extern "C" fn loader_finish() -> i32 {
    let Some(l) = LOADER.with(|s| s.borrow_mut().take()) else {
        return 2;
    };
    match l.finish() {
        Ok(e) => {
            ENGINE.with(|s| *s.borrow_mut() = Some(e));
            0
        }
        Err(e) => fail(e),
    }
}

/// # Safety
/// `input` holds batch * 3 * 224 * 224 floats, `out` batch * classes.
#[no_mangle]
pub unsafe extern "C" fn engine_run(input: *const f32, batch: usize, out: *mut f32) -> i32 {
    ENGINE.with(|s| {
        let s = s.borrow();
        let Some(e) = s.as_ref() else { return 2 };
        let input = std::slice::from_raw_parts(input, batch * densenet_engine::INPUT_LEN);
        match e.run(input, batch) {
            Ok(v) => {
                std::ptr::copy_nonoverlapping(v.as_ptr(), out, v.len());
                0
            }
            Err(e) => fail(e),
        }
    })
}

/// Writes the device name (or the last error, `which` = 1) into `out`; returns its length.
///
/// # Safety
/// `out` holds `cap` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn text(which: u32, out: *mut u8, cap: usize) -> usize {
    let s = if which == 1 {
        LAST.with(|l| l.borrow().clone())
    } else {
        ENGINE.with(|s| s.borrow().as_ref().map(|e| e.device()).unwrap_or_default())
    };
    let n = s.len().min(cap);
    std::ptr::copy_nonoverlapping(s.as_ptr(), out, n);
    n
}

/// Every kernel of this build against float64 on ragged shapes, with both B
/// sources and ReLU. Returns the number of mismatches (0 = pass).
#[no_mangle]
pub extern "C" fn kernel_check() -> u32 {
    let data = |n: usize, seed: usize| -> Vec<f32> {
        (0..n).map(|i| (((i * 7919 + seed * 104_729) % 2003) as f32 / 1001.0) - 1.0).collect()
    };
    let mut bad = 0;
    for kind in KernelKind::available() {
        let kern = kind.kernel().unwrap();
        for &(m, k, n) in &[(1, 1, 1), (8, 16, 32), (37, 75, 101), (128, 160, 49), (32, 128, 196)] {
            let (w, b, bias) = (data(m * k, 1), data(k * n, 2), data(m, 3));
            let a = PackedA::new(&w, m, k, Some(&bias), kern.mr);
            for relu in [false, true] {
                let mut c = vec![f32::NAN; m * n];
                let mut scratch = Vec::new();
                unsafe {
                    gemm(
                        &kern,
                        &a,
                        n,
                        0..n.div_ceil(kern.nr),
                        B::Rows(&b, n),
                        Ptr(c.as_mut_ptr()),
                        n,
                        relu,
                        &mut scratch,
                    )
                };
                for i in 0..m {
                    for j in 0..n {
                        let mut s = f64::from(bias[i]);
                        for kk in 0..k {
                            s += f64::from(w[i * k + kk]) * f64::from(b[kk * n + j]);
                        }
                        let s = if relu { s.max(0.0) } else { s };
                        if (f64::from(c[i * n + j]) - s).abs() > 4e-5 * (k as f64).sqrt() {
                            bad += 1;
                        }
                    }
                }
            }
        }
    }
    bad
}

/// The kernel sets of this build, best first, as a bit per KernelKind
/// (1 portable, 2 simd128, 4 simd128+relaxed).
#[no_mangle]
pub extern "C" fn kernels() -> u32 {
    KernelKind::available()
        .iter()
        .map(|k| match k {
            KernelKind::Portable => 1,
            KernelKind::Simd128 => 2,
            KernelKind::Simd128Relaxed => 4,
            _ => 0,
        })
        .sum()
}
