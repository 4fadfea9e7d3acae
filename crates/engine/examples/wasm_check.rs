//! The engine behind a plain C ABI, for tests/engine/wasm_check.mjs to drive
//! from Node (build for wasm32-unknown-unknown with simd128; see that script).
//! Exports: buffers, a chunked loader, run, the kernel checks, the device name.

use densenet_edge_engine::bench_api::{gemm, Bn, Cols, Out, PackedA, Ptr, Strided, WinoChunk, WinoInput, B};
use densenet_edge_engine::int8::Int8Kind;
use densenet_edge_engine::{Engine, KernelKind, Loader};
use std::cell::RefCell;

thread_local! {
    static LOADER: RefCell<Option<Loader>> = const { RefCell::new(None) };
    static ENGINE: RefCell<Option<Engine>> = const { RefCell::new(None) };
    static LAST: RefCell<String> = const { RefCell::new(String::new()) };
}

fn fail(e: densenet_edge_engine::Error) -> i32 {
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

/// `kind`: 0 the best, 1 simd128, 2 portable; 3 and 4 the best with an
/// int8 model on the int8 set simd128+relaxed (3) or relaxed dot-add (4).
#[no_mangle]
pub extern "C" fn loader_new(kind: u32) -> i32 {
    let int8 = match kind {
        3 => Some(Int8Kind::Simd128Relaxed),
        4 => Some(Int8Kind::Simd128RelaxedAdd),
        _ => None,
    };
    let f32_kind = match kind {
        1 => KernelKind::Simd128,
        2 => KernelKind::Portable,
        _ => KernelKind::best(),
    };
    let loader = Engine::loader_with(f32_kind).and_then(|l| match int8 {
        Some(k) => l.with_int8(k),
        None => Ok(l),
    });
    match loader {
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
        let input = std::slice::from_raw_parts(input, batch * densenet_edge_engine::INPUT_LEN);
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
/// sources and ReLU, and its BN + ReLU packer against the scalar formula.
/// Returns the number of mismatches (0 = pass).
#[no_mangle]
pub extern "C" fn kernel_check() -> u32 {
    let data = |n: usize, seed: usize| -> Vec<f32> {
        (0..n).map(|i| (((i * 7919 + seed * 104_729) % 2003) as f32 / 1001.0) - 1.0).collect()
    };
    let codes =
        |n: usize, seed: usize| -> Vec<u8> { (0..n).map(|i| ((i * 7919 + seed * 104_729) % 251) as u8).collect() };
    let mut bad = 0;
    for kind in KernelKind::available() {
        let kern = kind.kernel().unwrap();
        // N = 49, 196 and 19 end in panels the tail tile takes (M a multiple of 8).
        for &(m, k, n) in &[(1, 1, 1), (8, 16, 32), (37, 75, 101), (128, 160, 49), (32, 128, 196), (16, 9, 19)] {
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
                        Out { c: Ptr(c.as_mut_ptr()), ld: n, relu },
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
    // conv1's BN + ReLU packer, full and partial panels: the same float ops
    // as the scalar formula, so bit for bit.
    for kind in KernelKind::available() {
        let kern = kind.kernel().unwrap();
        let nr = kern.nr;
        for &(k, n) in &[(1, 1), (5, 13), (70, 37)] {
            let (src, scale, shift) = (data(k * n, 4), data(k, 5), data(k, 6));
            let mut panel = vec![f32::NAN; k * nr];
            for n0 in (0..n).step_by(nr) {
                let nc = nr.min(n - n0);
                unsafe {
                    (kern.bn_relu)(&src, n, Bn { scale: &scale, shift: &shift }, Cols { n0, nc, nr }, &mut panel)
                };
                for kk in 0..k {
                    for j in 0..nr {
                        let want = if j < nc { (src[kk * n + n0 + j] * scale[kk] + shift[kk]).max(0.0) } else { 0.0 };
                        bad += u32::from(panel[kk * nr + j].to_bits() != want.to_bits());
                    }
                }
            }
        }
    }
    // Requantization into codes (wasm has its own loop) against the
    // portable kernel's, byte for byte: 3 rows (strided, each its own
    // multiplier) of 1 to 70 (whole 16s, an overlapping last 16, the generic
    // loop under 16), codes past both ends of the range, and ties (acc *
    // mult = k + 0.5 exactly); the bytes between the rows left as they were.
    let portable = KernelKind::Portable.kernel().unwrap();
    for kind in KernelKind::available() {
        let kern = kind.kernel().unwrap();
        for (n, mult, zero) in [(1, 0.5, 0), (15, 0.5, 3), (16, 0.25, 128), (33, 0.5, 255), (70, 0.013, 17)] {
            let (rows, ld, ld_acc) = (3, n + 3, n + 5);
            let acc: Vec<i32> = (0..(rows * ld_acc) as i32)
                .map(|i| (i * 7919 % 2001 - 1000) * if i % 3 == 0 { 1 } else { 9 })
                .collect();
            let mults = [mult, mult * 2.0, mult / 4.0];
            let out = densenet_edge_engine::bench_api::Q { scale: 1.0, zero };
            let run = |k: &densenet_edge_engine::bench_api::Kernel| {
                let mut codes = vec![0xAAu8; rows * ld];
                let (a, d) = (Strided { ptr: acc.as_ptr(), ld: ld_acc }, Strided { ptr: codes.as_mut_ptr(), ld });
                unsafe { (k.q_requant8)(a, &mults, out, n, d) };
                codes
            };
            let (got, want) = (run(&kern), run(&portable));
            bad += got.iter().zip(&want).filter(|(a, b)| a != b).count() as u32;
            bad += want.chunks(ld).map(|row| row[n..].iter().filter(|&&b| b != 0xAA).count() as u32).sum::<u32>();
        }
    }
    // The Winograd transforms (wasm has its own loops) against
    // the portable kernel's, F(2x2) and F(4x4), ragged sides, tile rows
    // that start mid-image and cross images: the same float ops, so bit for bit.
    for kind in KernelKind::available() {
        let kern = kind.kernel().unwrap();
        for &(tile, side, cin, r0, r1) in &[
            (2, 7, 3, 0, 8),
            (2, 14, 2, 3, 14),
            (2, 28, 2, 5, 31),
            (2, 5, 2, 0, 6),
            (2, 9, 1, 2, 5),
            (2, 8, 2, 1, 10),
            (4, 56, 2, 0, 28),
            (4, 16, 2, 2, 11),
            (4, 13, 2, 1, 7),
        ] {
            let (t, images) = (usize::div_ceil(side, tile), 3);
            assert!(r1 <= images * t);
            let ld = images * side * side;
            let mid = data(cin * ld, 7);
            let ld_v = (r1 - r0) * t;
            let p_stride = cin * ld_v;
            let points = (tile + 2) * (tile + 2);
            let chunk = WinoChunk { side, tile, channels: cin, p_stride, r0, r1, cols: ld_v };
            let run = |k: &densenet_edge_engine::bench_api::Kernel, mid: WinoInput| {
                let mut v = vec![f32::NAN; points * p_stride];
                unsafe { (k.wino_in)(mid, ld, &chunk, v.as_mut_ptr()) };
                v
            };
            let (got, want) = (run(&kern, WinoInput::Floats(&mid)), run(&portable, WinoInput::Floats(&mid)));
            bad += got.iter().zip(&want).filter(|(g, w)| g.to_bits() != w.to_bits()).count() as u32;
            // Codes: the transform of their values less the zero point.
            let (codes, zero) = (codes(cin * ld, 7), 9);
            let values: Vec<f32> = codes.iter().map(|&c| f32::from(c) - f32::from(zero)).collect();
            let (got, want) = (run(&kern, WinoInput::Codes(&codes, zero)), run(&portable, WinoInput::Floats(&values)));
            bad += got.iter().zip(&want).filter(|(g, w)| g.to_bits() != w.to_bits()).count() as u32;
            // The output transform of as many channels, from products in the same layout.
            let m = data(points * p_stride, 8);
            let run = |k: &densenet_edge_engine::bench_api::Kernel| {
                let mut out = vec![f32::NAN; cin * ld];
                unsafe { (k.wino_out)(&m, &chunk, out.as_mut_ptr(), ld) };
                out
            };
            let (got, want) = (run(&kern), run(&portable));
            bad += got.iter().zip(&want).filter(|(g, w)| g.to_bits() != w.to_bits()).count() as u32;
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

/// The micro-benchmark of this build's best kernel (bench/engine/wasm_kernels.mjs
/// times it): `reps` GEMMs of [m x k] x [k x n] with B from `src`: 0 packed
/// per panel with BN + ReLU (conv1 in the network), 1 read in place (the
/// Winograd GEMMs). Returns an output, so nothing is dead code.
#[no_mangle]
pub extern "C" fn gemm_bench(m: usize, k: usize, n: usize, src: u32, reps: usize) -> f32 {
    let kern = KernelKind::best().kernel().unwrap();
    let w: Vec<f32> = (0..m * k).map(|i| ((i * 31) % 97) as f32 / 97.0 - 0.5).collect();
    let b: Vec<f32> = (0..k * n).map(|i| ((i * 17) % 89) as f32 / 89.0 - 0.5).collect();
    let (scale, shift) = (vec![0.9f32; k], vec![0.1f32; k]);
    let a = PackedA::new(&w, m, k, None, kern.mr);
    let mut c = vec![0f32; m * n];
    let mut scratch = Vec::new();
    let nr = kern.nr;
    let bn = Bn { scale: &scale, shift: &shift };
    let pack = |n0: usize, nc: usize, dst: &mut [f32]| unsafe { (kern.bn_relu)(&b, n, bn, Cols { n0, nc, nr }, dst) };
    let src = if src == 1 { B::Rows(&b, n) } else { B::Pack(&pack) };
    for _ in 0..reps {
        unsafe {
            gemm(&kern, &a, n, 0..n.div_ceil(nr), src, Out { c: Ptr(c.as_mut_ptr()), ld: n, relu: false }, &mut scratch)
        };
    }
    c[n - 1]
}

/// The micro-benchmark of this build's Winograd transforms (wasm_kernels.mjs
/// times it): `bench_api::winograd_transforms` with the best kernel.
#[no_mangle]
pub extern "C" fn wino_bench(side: usize, tile: usize, out: u32, reps: usize) -> f32 {
    densenet_edge_engine::bench_api::winograd_transforms(
        &KernelKind::best().kernel().unwrap(),
        side,
        tile,
        out == 1,
        reps,
    )
}

/// The stem's transforms (wasm_kernels.mjs times it): `bench_api::stem_transforms`.
#[no_mangle]
pub extern "C" fn stem_bench(out: u32, reps: usize) -> f32 {
    densenet_edge_engine::bench_api::stem_transforms(&KernelKind::best().kernel().unwrap(), out == 1, reps)
}
