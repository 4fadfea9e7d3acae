//! GFLOP/s of every kernel this machine has on DenseNet-shaped GEMMs
//! (1 thread, B packed per panel as in the network, packing time included),
//! then the time of its Winograd transforms per layer and per image.
//! `cargo run --release -p densenet-edge-engine --example kernels`

use densenet_edge_engine::bench_api::{gemm, pack_plain, stem_transforms, winograd_transforms, Out, PackedA, Ptr, B};
use densenet_edge_engine::KernelKind;
use std::time::Instant;

fn main() {
    // (what, M, K, N)
    let shapes = [
        ("block1 conv1 (K=160)", 128, 160, 3136),
        ("block2 conv1 (K=352)", 128, 352, 784),
        ("block3 conv1 (K=640), batch 8", 128, 640, 196 * 8),
        ("block4 conv1 (K=992), batch 1", 128, 992, 49),
        ("block4 conv1 (K=992), batch 8", 128, 992, 49 * 8),
        ("3x3 conv as GEMM, block1", 32, 1152, 3136),
        ("3x3 conv as GEMM, block3 batch 8", 32, 1152, 196 * 8),
        ("transition1 (pooled)", 128, 256, 784),
        ("Winograd chunk, block1 (x16 per chunk)", 32, 128, 56),
        ("Winograd chunk, block3 batch 8", 32, 128, 63),
    ];
    for kind in KernelKind::available() {
        let kern = kind.kernel().unwrap();
        for &(what, m, k, n) in &shapes {
            let w: Vec<f32> = (0..m * k).map(|i| ((i * 31) % 97) as f32 / 97.0 - 0.5).collect();
            let b: Vec<f32> = (0..k * n).map(|i| ((i * 17) % 89) as f32 / 89.0 - 0.5).collect();
            let a = PackedA::new(&w, m, k, None, kern.mr);
            let mut c = vec![0f32; m * n];
            let mut scratch = Vec::new();
            let nr = kern.nr;
            let pack = |n0: usize, nc: usize, dst: &mut [f32]| pack_plain(&b, n, k, n0, nc, nr, dst);
            let flops = 2.0 * (m * k * n) as f64;
            let reps = ((2e9 / flops) as usize).clamp(3, 200);
            let (mut best, mut best_cpu) = (f64::MAX, f64::MAX);
            for _ in 0..5 {
                let (t, c0) = (Instant::now(), cpu_s());
                for _ in 0..reps {
                    unsafe {
                        gemm(
                            &kern,
                            &a,
                            n,
                            0..n.div_ceil(nr),
                            B::Pack(&pack),
                            Out { c: Ptr(c.as_mut_ptr()), ld: n, relu: false },
                            &mut scratch,
                        )
                    };
                }
                best = best.min(t.elapsed().as_secs_f64() / reps as f64);
                best_cpu = best_cpu.min((cpu_s() - c0) / reps as f64);
            }
            println!(
                "{:<22} {:<34} M={m:<4} K={k:<5} N={n:<5} {:6.1} GFLOP/s wall, {:6.1} per CPU second",
                kind.name(),
                what,
                flops / best / 1e9,
                flops / best_cpu / 1e9
            );
        }
    }
    // (what, side, tile, conv2s per image): the tiles the network uses natively.
    let transforms = [
        ("block1 F(4x4)", 56, 4, 6),
        ("block2 F(4x4)", 28, 4, 12),
        ("block3 F(2x2)", 14, 2, 24),
        ("block4 F(2x2)", 7, 2, 16),
    ];
    for kind in KernelKind::available() {
        let kern = kind.kernel().unwrap();
        for (pass, out) in [("input ", false), ("output", true)] {
            for &(what, side, tile, layers) in &transforms {
                let reps = (200_000 / (side * side)).max(5);
                winograd_transforms(&kern, side, tile, out, 1);
                let mut best = f64::MAX;
                for _ in 0..5 {
                    let c0 = cpu_s();
                    winograd_transforms(&kern, side, tile, out, reps);
                    best = best.min((cpu_s() - c0) / reps as f64);
                }
                println!(
                    "{:<22} Winograd {pass} transform, {what:<14} {:6.0} us/layer, {:5.2} ms/image (CPU time)",
                    kind.name(),
                    best * 1e6,
                    best * 1e3 * layers as f64
                );
            }
            stem_transforms(&kern, out, 1);
            let mut best = f64::MAX;
            for _ in 0..5 {
                let c0 = cpu_s();
                stem_transforms(&kern, out, 10);
                best = best.min((cpu_s() - c0) / 10.0);
            }
            println!(
                "{:<22} Winograd {pass} transform, stem F(3x3,4x4)   {:5.2} ms/image (CPU time)",
                kind.name(),
                best * 1e3
            );
        }
    }
}

/// CPU time of the process in seconds (wall time on a shared machine moves with the load).
fn cpu_s() -> f64 {
    #[cfg(unix)]
    unsafe {
        let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
        libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts);
        ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
    }
    #[cfg(not(unix))]
    f64::NAN
}
