//! Every kernel this machine (or wasm build) has against a float64 reference
//! and against the portable kernel, on ragged shapes (edge panels and tiles),
//! with both B sources, bias and ReLU.

use densenet_edge_engine::bench_api::{gemm, pack_plain, Bn, Cols, Out, PackedA, Ptr, B};
use densenet_edge_engine::KernelKind;

fn data(n: usize, seed: usize) -> Vec<f32> {
    (0..n).map(|i| (((i * 7919 + seed * 104_729) % 2003) as f32 / 1001.0) - 1.0).collect()
}

/// Where the kernel's B comes from.
#[derive(Clone, Copy, Debug)]
enum Src {
    /// Read in place.
    Rows,
    /// Packed one panel at a time.
    Pack,
    /// Packed one panel at a time by the kernel set's BN + ReLU packer
    /// (conv1's prologue): B is then relu(b * scale + shift).
    BnRelu,
}

fn scale_shift(k: usize) -> (Vec<f32>, Vec<f32>) {
    (data(k, 4), data(k, 5))
}

fn run(kind: KernelKind, m: usize, k: usize, n: usize, src: Src, relu: bool) -> Vec<f32> {
    let kern = kind.kernel().unwrap();
    let (w, b, bias) = (data(m * k, 1), data(k * n, 2), data(m, 3));
    let (scale, shift) = scale_shift(k);
    let a = PackedA::new(&w, m, k, Some(&bias), kern.mr);
    let mut c = vec![f32::NAN; m * n];
    let mut scratch = Vec::new();
    let nr = kern.nr;
    let pack = |n0: usize, nc: usize, dst: &mut [f32]| pack_plain(&b, n, k, n0, nc, nr, dst);
    let bn = Bn { scale: &scale, shift: &shift };
    let bn_relu =
        |n0: usize, nc: usize, dst: &mut [f32]| unsafe { (kern.bn_relu)(&b, n, bn, Cols { n0, nc, nr }, dst) };
    let src = match src {
        Src::Rows => B::Rows(&b, n),
        Src::Pack => B::Pack(&pack),
        Src::BnRelu => B::Pack(&bn_relu),
    };
    let panels = n.div_ceil(nr);
    // Two calls over halves of the panels, as two threads would.
    unsafe {
        gemm(&kern, &a, n, 0..panels / 2, src, Out { c: Ptr(c.as_mut_ptr()), ld: n, relu }, &mut scratch);
        gemm(&kern, &a, n, panels / 2..panels, src, Out { c: Ptr(c.as_mut_ptr()), ld: n, relu }, &mut scratch);
    }
    c
}

fn reference(m: usize, k: usize, n: usize, src: Src, relu: bool) -> Vec<f64> {
    let (w, b, bias) = (data(m * k, 1), data(k * n, 2), data(m, 3));
    let (scale, shift) = scale_shift(k);
    let b_at = |kk: usize, j: usize| match src {
        Src::BnRelu => (f64::from(b[kk * n + j]) * f64::from(scale[kk]) + f64::from(shift[kk])).max(0.0),
        _ => f64::from(b[kk * n + j]),
    };
    let mut c = vec![0f64; m * n];
    for i in 0..m {
        for j in 0..n {
            let mut s = f64::from(bias[i]);
            for kk in 0..k {
                s += f64::from(w[i * k + kk]) * b_at(kk, j);
            }
            c[i * n + j] = if relu { s.max(0.0) } else { s };
        }
    }
    c
}

#[test]
fn every_kernel_matches_float64_and_portable() {
    let shapes = [(1, 1, 1), (8, 16, 32), (37, 75, 101), (128, 160, 49), (32, 128, 196), (5, 300, 7)];
    let sources =
        [(Src::Pack, false), (Src::Rows, true), (Src::Rows, false), (Src::BnRelu, true), (Src::BnRelu, false)];
    for kind in KernelKind::available() {
        for &(m, k, n) in &shapes {
            for (src, relu) in sources {
                let got = run(kind, m, k, n, src, relu);
                let want = reference(m, k, n, src, relu);
                let portable = run(KernelKind::Portable, m, k, n, src, relu);
                for (i, ((g, w), p)) in got.iter().zip(&want).zip(&portable).enumerate() {
                    let tol = 1e-5 * (k as f64).sqrt() * 4.0;
                    assert!((f64::from(*g) - w).abs() <= tol, "{kind:?} {src:?} {m}x{k}x{n} [{i}]: {g} vs {w}");
                    assert!((g - p).abs() as f64 <= 2.0 * tol, "{kind:?} {src:?} vs portable {m}x{k}x{n} [{i}]");
                    if kind == KernelKind::Portable {
                        assert_eq!(g.to_bits(), p.to_bits());
                    }
                }
            }
        }
    }
}
