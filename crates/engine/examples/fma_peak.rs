//! The FMA throughput this machine really gives one thread: 8 independent
//! accumulators (FMA latency 4 x 2 pipes) in a loop of nothing else, for
//! 128-, 256- and 512-bit vectors. This is the denominator for the GEMM
//! kernels' GFLOP/s (`kernels` example natively, bench/engine/wasm_kernels.mjs
//! for wasm, whose `f32x4.relaxed_madd` V8 lowers to a 128-bit FMA): a
//! nominal peak from a clock the VM does not show says little.
//! `cargo run --release -p densenet-edge-engine --example fma_peak`

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::asm;

    const ITERS: u64 = 200_000_000;

    /// Runs 8 FMAs into accumulators a0..a7 from x and y, ITERS times.
    macro_rules! fma_loop {
        ($feature:literal, $fn:ident, $class:ident) => {
            #[target_feature(enable = $feature)]
            pub unsafe fn $fn() {
                asm!(
                    "vxorps {x}, {x}, {x}",
                    "vxorps {y}, {y}, {y}",
                    "vxorps {a0}, {a0}, {a0}", "vxorps {a1}, {a1}, {a1}",
                    "vxorps {a2}, {a2}, {a2}", "vxorps {a3}, {a3}, {a3}",
                    "vxorps {a4}, {a4}, {a4}", "vxorps {a5}, {a5}, {a5}",
                    "vxorps {a6}, {a6}, {a6}", "vxorps {a7}, {a7}, {a7}",
                    "2:",
                    "vfmadd231ps {a0}, {x}, {y}", "vfmadd231ps {a1}, {x}, {y}",
                    "vfmadd231ps {a2}, {x}, {y}", "vfmadd231ps {a3}, {x}, {y}",
                    "vfmadd231ps {a4}, {x}, {y}", "vfmadd231ps {a5}, {x}, {y}",
                    "vfmadd231ps {a6}, {x}, {y}", "vfmadd231ps {a7}, {x}, {y}",
                    "dec {n}",
                    "jnz 2b",
                    n = inout(reg) ITERS => _,
                    x = out($class) _, y = out($class) _,
                    a0 = out($class) _, a1 = out($class) _, a2 = out($class) _, a3 = out($class) _,
                    a4 = out($class) _, a5 = out($class) _, a6 = out($class) _, a7 = out($class) _,
                    options(nostack, nomem),
                );
            }
        };
    }
    fma_loop!("fma", xmm, xmm_reg);
    fma_loop!("fma,avx", ymm, ymm_reg);
    // vxorps on zmm registers is AVX-512 DQ.
    fma_loop!("avx512f,avx512dq", zmm, zmm_reg);

    /// What, whether this CPU has it, f32 lanes, the loop.
    type Run = (&'static str, bool, usize, unsafe fn());

    pub fn main() {
        let runs: [Run; 3] = [
            ("128-bit (xmm; what wasm's f32x4 FMA runs on)", is_x86_feature_detected!("fma"), 4, xmm),
            ("256-bit (ymm, AVX2+FMA)", is_x86_feature_detected!("fma"), 8, ymm),
            (
                "512-bit (zmm, AVX-512)",
                is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512dq"),
                16,
                zmm,
            ),
        ];
        for (what, have, lanes, f) in runs {
            if !have {
                println!("{what}: not on this CPU");
                continue;
            }
            let best = (0..5)
                .map(|_| {
                    let t = std::time::Instant::now();
                    unsafe { f() };
                    t.elapsed().as_secs_f64()
                })
                .fold(f64::MAX, f64::min);
            let fmas = ITERS as f64 * 8.0 / best;
            println!(
                "{what}: {:.2} G FMA instructions/s, {:.1} G multiply-adds/s = {:.1} GFLOP/s (best of 5)",
                fmas / 1e9,
                fmas * lanes as f64 / 1e9,
                2.0 * fmas * lanes as f64 / 1e9
            );
        }
    }
}

fn main() {
    #[cfg(target_arch = "x86_64")]
    x86::main();
    #[cfg(not(target_arch = "x86_64"))]
    println!("fma_peak measures x86-64 only");
}
