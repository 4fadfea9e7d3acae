//! Every kernel this machine (or wasm build) has against a float64 reference
//! and against the portable kernel, on ragged shapes (edge panels and tiles),
//! with both B sources, bias and ReLU.

use densenet_engine::bench_api::{gemm, pack_plain, PackedA, Ptr, B};
use densenet_engine::KernelKind;

fn data(n: usize, seed: usize) -> Vec<f32> {
    (0..n).map(|i| (((i * 7919 + seed * 104_729) % 2003) as f32 / 1001.0) - 1.0).collect()
}

fn run(kind: KernelKind, m: usize, k: usize, n: usize, rows: bool, relu: bool) -> Vec<f32> {
    let kern = kind.kernel().unwrap();
    let (w, b, bias) = (data(m * k, 1), data(k * n, 2), data(m, 3));
    let a = PackedA::new(&w, m, k, Some(&bias), kern.mr);
    let mut c = vec![f32::NAN; m * n];
    let mut scratch = Vec::new();
    let nr = kern.nr;
    let pack = |n0: usize, nc: usize, dst: &mut [f32]| pack_plain(&b, n, k, n0, nc, nr, dst);
    let src = if rows { B::Rows(&b, n) } else { B::Pack(&pack) };
    let panels = n.div_ceil(nr);
    // Two calls over halves of the panels, as two threads would.
    unsafe {
        gemm(&kern, &a, n, 0..panels / 2, src, Ptr(c.as_mut_ptr()), n, relu, &mut scratch);
        gemm(&kern, &a, n, panels / 2..panels, src, Ptr(c.as_mut_ptr()), n, relu, &mut scratch);
    }
    c
}

fn reference(m: usize, k: usize, n: usize, relu: bool) -> Vec<f64> {
    let (w, b, bias) = (data(m * k, 1), data(k * n, 2), data(m, 3));
    let mut c = vec![0f64; m * n];
    for i in 0..m {
        for j in 0..n {
            let mut s = f64::from(bias[i]);
            for kk in 0..k {
                s += f64::from(w[i * k + kk]) * f64::from(b[kk * n + j]);
            }
            c[i * n + j] = if relu { s.max(0.0) } else { s };
        }
    }
    c
}

#[test]
fn every_kernel_matches_float64_and_portable() {
    let shapes = [(1, 1, 1), (8, 16, 32), (37, 75, 101), (128, 160, 49), (32, 128, 196), (5, 300, 7)];
    for kind in KernelKind::available() {
        for &(m, k, n) in &shapes {
            for (rows, relu) in [(false, false), (true, true), (true, false)] {
                let got = run(kind, m, k, n, rows, relu);
                let want = reference(m, k, n, relu);
                let portable = run(KernelKind::Portable, m, k, n, rows, relu);
                for (i, ((g, w), p)) in got.iter().zip(&want).zip(&portable).enumerate() {
                    let tol = 1e-5 * (k as f64).sqrt() * 4.0;
                    assert!((f64::from(*g) - w).abs() <= tol, "{kind:?} {m}x{k}x{n} [{i}]: {g} vs {w}");
                    assert!((g - p).abs() as f64 <= 2.0 * tol, "{kind:?} vs portable {m}x{k}x{n} [{i}]");
                    if kind == KernelKind::Portable {
                        assert_eq!(g.to_bits(), p.to_bits());
                    }
                }
            }
        }
    }
}
