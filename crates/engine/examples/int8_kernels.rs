//! The int8 GEMM micro-kernels (crates/engine/src/int8) against the f32
//! kernels of the same ISA, on DenseNet's GEMM shapes, 1 thread.
//!
//! Natively (`cargo run --release -p densenet-edge-engine --example
//! int8_kernels [SET...] [--table] [--network]`): for every int8 set this
//! CPU has (or those named), int8 GOP/s and f32 GFLOP/s (2 ops per
//! multiply-add), best of 7 runs, int8 and f32 interleaved, by CPU time of
//! the thread (wall time moves with the shared machine's load), then the
//! ratio:
//! - "kernel": B packed before the clock starts (both sides), A packed at
//!   load: the micro-kernels and their drivers only;
//! - "+pack": B packed panel by panel inside the GEMM, as the network does,
//!   from a row-major [K][N] source: f32 by the set's BN + ReLU packer (what
//!   conv1's input costs; scale 1, shift 0), int8 by interleaving groups of
//!   k's of u8 already quantized (relaxed wasm also sums columns): the
//!   quantization the network would fuse into it is not counted.
//!
//! Then the sum over DenseNet-121's GEMMs for one image: the 58 conv1 and 3
//! (pooled) transition 1x1 convs in both; the 58 3x3 convs as the f32
//! engine runs them (Winograd GEMMs: F(4x4) on blocks 1-2, F(2x2) on 3-4,
//! in the plan's chunks; transforms not counted) and as int8 must (a direct
//! 32 x 1152 x HW GEMM: Winograd's transforms leave the integers' range;
//! im2col packing not counted), with the Amdahl projection of the network's
//! time from the GEMMs' share of it, a constant taken from a profile
//! (`report_network`'s `g`: 0.72 natively; the wasm script passes 0.77).
//!
//! In wasm32 the same file is a module without WASI for Node: it exports
//! the int8 GEMM for tests/engine/int8-wasm.test.mjs and the same benchmark
//! for bench/engine/wasm_int8_kernels.mjs (scripts/build-int8-wasm.sh builds
//! both variants).

use densenet_edge_engine::bench_api::{gemm as gemm_f32, pack_plain, Bn, Cols, Kernel, Out, PackedA, Ptr, B};
use densenet_edge_engine::int8::{gemm, gemm_panel, pack_b, Int8Kernel, Int8Kind, PackedA8, PackedB8, Strided};
use std::hint::black_box;

/// Deterministic weights in -64..=63 (no relaxed fixups: a real layer has a
/// few at most) and u8 activations.
fn weights(len: usize) -> Vec<i8> {
    (0..len).map(|i| ((i * 31 + 7) % 128) as i8 - 64).collect()
}

fn activations(len: usize) -> Vec<u8> {
    (0..len).map(|i| ((i * 17 + 3) % 256) as u8).collect()
}

/// One GEMM shape, ready to run in int8 and in f32 with one kernel set each.
#[cfg_attr(target_arch = "wasm32", allow(dead_code))]
struct Case {
    k8: Int8Kernel,
    k32: Kernel,
    m: usize,
    k: usize,
    n: usize,
    a8: PackedA8,
    row_off: Vec<i32>,
    b8: PackedB8,
    x8: Vec<u8>,
    c8: Vec<i32>,
    panel8: Vec<u8>,
    col8: Vec<i32>,
    a32: PackedA,
    /// B packed in NR-column panels of K x NR.
    b32: Vec<f32>,
    x32: Vec<f32>,
    c32: Vec<f32>,
    tmp32: Vec<f32>,
    scratch32: Vec<f32>,
    scale: Vec<f32>,
    shift: Vec<f32>,
}

impl Case {
    fn new(kind: Int8Kind, m: usize, k: usize, n: usize) -> Option<Case> {
        let k8 = kind.kernel()?;
        let k32 = kind.f32_kind().kernel()?;
        let w = weights(m * k);
        let x8 = activations(k * n);
        let a8 = PackedA8::new(&k8, &w, m, k).ok()?;
        let row_off = a8.row_offsets(&k8, 77, None);
        let b8 = PackedB8::new(&k8, &x8, k, n);
        let wf: Vec<f32> = w.iter().map(|&v| f32::from(v) / 64.0).collect();
        let x32: Vec<f32> = x8.iter().map(|&v| f32::from(v) / 255.0).collect();
        let a32 = PackedA::new(&wf, m, k, None, k32.mr);
        let nr = k32.nr;
        let panels = n.div_ceil(nr);
        let mut b32 = vec![0f32; panels * k * nr];
        for p in 0..panels {
            let (n0, nc) = (p * nr, nr.min(n - p * nr));
            pack_plain(&x32, n, k, n0, nc, nr, &mut b32[p * k * nr..(p + 1) * k * nr]);
        }
        Some(Case {
            m,
            k,
            n,
            row_off,
            c8: vec![0; m * n],
            panel8: vec![0; k8.b_panel_bytes(k)],
            col8: vec![0; k8.nr],
            a8,
            b8,
            x8,
            a32,
            b32,
            x32,
            c32: vec![0.0; m * n],
            tmp32: vec![0.0; 2 * k32.mr * k32.nr],
            scratch32: Vec::new(),
            scale: vec![1.0; k],
            shift: vec![0.0; k],
            k8,
            k32,
        })
    }

    #[cfg_attr(target_arch = "wasm32", allow(dead_code))]
    fn ops(&self) -> f64 {
        2.0 * (self.m * self.k * self.n) as f64
    }

    /// One int8 GEMM; `pack`: B packed panel by panel from the u8 rows.
    fn int8(&mut self, pack: bool) -> i32 {
        let (kern, n) = (&self.k8, self.n);
        if !pack {
            gemm(kern, &self.a8, &self.row_off, &self.b8, &mut self.c8, n);
        } else {
            for p in 0..n.div_ceil(kern.nr) {
                let n0 = p * kern.nr;
                let nc = kern.nr.min(n - n0);
                pack_b(kern, &self.x8, n, self.k, n0..n0 + nc, &mut self.panel8, &mut self.col8);
                // SAFETY: one packed panel, its column terms, C's columns n0..n0 + nc.
                unsafe {
                    gemm_panel(
                        kern,
                        &self.a8,
                        &self.row_off,
                        self.panel8.as_ptr(),
                        self.col8.as_ptr(),
                        nc,
                        Strided { ptr: self.c8.as_mut_ptr().add(n0), ld: n },
                    )
                };
            }
        }
        black_box(self.c8[self.c8.len() - 1])
    }

    /// One f32 GEMM; `pack`: `bench_api::gemm` packing B per panel with the
    /// set's BN + ReLU packer (as conv1's input is packed; scale 1, shift
    /// 0), else the same driver over B packed beforehand.
    fn f32(&mut self, pack: bool) -> f32 {
        let (kern, n) = (&self.k32, self.n);
        if pack {
            let (x, nr) = (&self.x32, kern.nr);
            let (scale, shift) = (&self.scale, &self.shift);
            // SAFETY: the set's packer for its own target features, on K rows of N.
            let bn = Bn { scale, shift };
            let f =
                |n0: usize, nc: usize, dst: &mut [f32]| unsafe { (kern.bn_relu)(x, n, bn, Cols { n0, nc, nr }, dst) };
            // SAFETY: C holds M rows of N floats.
            unsafe {
                gemm_f32(
                    kern,
                    &self.a32,
                    n,
                    0..n.div_ceil(nr),
                    B::Pack(&f),
                    Out { c: Ptr(self.c32.as_mut_ptr()), ld: n, relu: false },
                    &mut self.scratch32,
                )
            };
        } else {
            // SAFETY: as above; b32 holds every packed panel.
            unsafe { f32_prepacked(kern, &self.a32, &self.b32, n, &mut self.c32, &mut self.tmp32) };
        }
        black_box(self.c32[self.c32.len() - 1])
    }
}

/// `bench_api::gemm`'s loop (the tail tile for a narrow last panel
/// included) over B panels packed beforehand.
unsafe fn f32_prepacked(kern: &Kernel, a: &PackedA, b: &[f32], n: usize, c: &mut [f32], tmp: &mut [f32]) {
    let (mr, nr, k) = (kern.mr, kern.nr, a.k);
    for p in 0..n.div_ceil(nr) {
        let n0 = p * nr;
        let nc = nr.min(n - n0);
        let (tile, rows_per, width) = match kern.tail {
            Some(tail) if nc <= nr / 2 && a.m.is_multiple_of(2 * mr) => (tail, 2 * mr, nr / 2),
            _ => (kern.tile, mr, nr),
        };
        let bp = Strided { ptr: b.as_ptr().add(p * k * nr), ld: nr };
        for (t, a_panels) in a.data.chunks_exact(k * rows_per).enumerate() {
            let m0 = t * rows_per;
            let rows = rows_per.min(a.m - m0);
            let bias = a.bias.as_ptr().add(m0);
            if nc == width && rows == rows_per {
                tile(k, a_panels.as_ptr(), bp, Strided { ptr: c.as_mut_ptr().add(m0 * n + n0), ld: n }, bias, false);
            } else {
                tile(k, a_panels.as_ptr(), bp, Strided { ptr: tmp.as_mut_ptr(), ld: width }, bias, false);
                for r in 0..rows {
                    c[(m0 + r) * n + n0..(m0 + r) * n + n0 + nc].copy_from_slice(&tmp[r * width..r * width + nc]);
                }
            }
        }
    }
}

/// The table's shapes: (what, M, K, N). conv1 at the first, a middle and
/// the last layer of each block; the 3x3 convs as direct GEMMs.
const SHAPES: [(&str, usize, usize, usize); 16] = [
    ("block1 conv1", 128, 64, 3136),
    ("block1 conv1", 128, 160, 3136),
    ("block1 conv1", 128, 224, 3136),
    ("block2 conv1", 128, 128, 784),
    ("block2 conv1", 128, 320, 784),
    ("block2 conv1", 128, 480, 784),
    ("block3 conv1", 128, 256, 196),
    ("block3 conv1", 128, 640, 196),
    ("block3 conv1", 128, 992, 196),
    ("block4 conv1", 128, 512, 49),
    ("block4 conv1", 128, 768, 49),
    ("block4 conv1", 128, 992, 49),
    ("3x3 direct, block1", 32, 1152, 3136),
    ("3x3 direct, block2", 32, 1152, 784),
    ("3x3 direct, block3", 32, 1152, 196),
    ("3x3 direct, block4", 32, 1152, 49),
];

/// DenseNet-121's GEMMs for one image, each (M, K, N, count, group):
/// group 0 the 1x1 convs (both precisions), 1 the f32 Winograd GEMMs of the
/// 3x3 convs, 2 the int8 direct 3x3 GEMMs.
fn network() -> Vec<(usize, usize, usize, usize, usize)> {
    let mut v = Vec::new();
    // (input channels, layers, side, Winograd tile, tiles per chunk, chunks)
    let blocks = [(64, 6, 56, 4, [56, 56, 56, 28]), (128, 12, 28, 4, [49, 0, 0, 0]), (256, 24, 14, 2, [49, 0, 0, 0])];
    let blocks = blocks.into_iter().chain([(512, 16, 7, 2, [16, 0, 0, 0])]);
    for (c0, layers, side, tile, chunks) in blocks {
        for i in 0..layers {
            v.push((128, c0 + 32 * i, side * side, 1, 0));
        }
        let points = (tile + 2) * (tile + 2);
        for &cols in chunks.iter().filter(|&&c| c > 0) {
            v.push((32, 128, cols, points * layers, 1));
        }
        v.push((32, 1152, side * side, layers, 2));
    }
    // Transitions, pooled before the conv.
    for (m, k, n) in [(128, 256, 784), (256, 512, 196), (512, 1024, 49)] {
        v.push((m, k, n, 1, 0));
    }
    v
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let only_table = args.iter().any(|a| a == "--table");
    let only_net = args.iter().any(|a| a == "--network");
    let named: Vec<Int8Kind> =
        args.iter().filter(|a| !a.starts_with("--")).filter_map(|a| Int8Kind::from_name(a)).collect();
    let kinds: Vec<Int8Kind> =
        Int8Kind::available().into_iter().filter(|k| named.is_empty() || named.contains(k)).collect();
    println!("int8 sets on this CPU: {:?}", Int8Kind::available().iter().map(|k| k.name()).collect::<Vec<_>>());
    if !only_net {
        println!(
            "{:<12} {:<9} {:<20} {:>4} {:>5} {:>5} | {:>8} {:>8} {:>6} | {:>8} {:>8} {:>6}",
            "int8 set", "f32 set", "shape", "M", "K", "N", "int8", "f32", "ratio", "int8+pk", "f32+pk", "ratio"
        );
        for &kind in &kinds {
            for &(what, m, k, n) in &SHAPES {
                let Some(mut case) = Case::new(kind, m, k, n) else { continue };
                let ops = case.ops();
                let reps = ((4e8 / ops) as usize).clamp(1, 2000);
                // Warm: caches, frequency.
                case.int8(false);
                case.f32(false);
                let mut best = [f64::MAX; 4];
                for _ in 0..7 {
                    for (i, slot) in best.iter_mut().enumerate() {
                        let t = thread_cpu_s();
                        for _ in 0..reps {
                            match i {
                                0 => drop(case.int8(false)),
                                1 => drop(case.f32(false)),
                                2 => drop(case.int8(true)),
                                _ => drop(case.f32(true)),
                            }
                        }
                        *slot = slot.min((thread_cpu_s() - t) / reps as f64);
                    }
                }
                let g = best.map(|t| ops / t / 1e9);
                println!(
                    "{:<12} {:<9} {:<20} {m:>4} {k:>5} {n:>5} | {:>8.1} {:>8.1} {:>5.2}x | {:>8.1} {:>8.1} {:>5.2}x",
                    kind.name(),
                    kind.f32_kind().name(),
                    what,
                    g[0],
                    g[1],
                    g[0] / g[1],
                    g[2],
                    g[3],
                    g[2] / g[3]
                );
            }
        }
    }
    if !only_table {
        for &kind in &kinds {
            let [t8_1, t32_1, t32_w, t8_3] = network_times(kind, 5, |case, int8, reps| {
                let t = thread_cpu_s();
                for _ in 0..reps {
                    if int8 {
                        case.int8(false);
                    } else {
                        case.f32(false);
                    }
                }
                (thread_cpu_s() - t) / reps as f64
            });
            report_network(kind, 0.72, t8_1, t32_1, t32_w, t8_3);
        }
    }
}

/// Times every distinct GEMM of `network()` (best of `trials`, int8 and f32
/// interleaved) with `time(case, int8, reps)` -> seconds per GEMM; returns
/// the seconds per image of [int8 1x1, f32 1x1, f32 Winograd, int8 3x3 direct].
#[cfg(not(target_arch = "wasm32"))]
fn network_times(kind: Int8Kind, trials: usize, mut time: impl FnMut(&mut Case, bool, usize) -> f64) -> [f64; 4] {
    let mut sums = [0f64; 4];
    for (m, k, n, count, group) in network() {
        let Some(mut case) = Case::new(kind, m, k, n) else { return [f64::NAN; 4] };
        let reps = ((1e8 / case.ops()) as usize).clamp(1, 2000);
        let (mut b8, mut b32) = (f64::MAX, f64::MAX);
        for _ in 0..trials {
            if group != 1 {
                b8 = b8.min(time(&mut case, true, reps));
            }
            if group != 2 {
                b32 = b32.min(time(&mut case, false, reps));
            }
        }
        let c = count as f64;
        match group {
            0 => {
                sums[0] += b8 * c;
                sums[1] += b32 * c;
            }
            1 => sums[2] += b32 * c,
            _ => sums[3] += b8 * c,
        }
    }
    sums
}

/// Prints the network sums and the projection of the whole network's time
/// with GEMMs `g` of it: the rest (stem, transforms, packing, pooling)
/// unchanged.
fn report_network(kind: Int8Kind, g: f64, t8_1: f64, t32_1: f64, t32_w: f64, t8_3: f64) -> String {
    let ms = |t: f64| t * 1e3;
    let all8 = (t8_1 + t8_3) / (t32_1 + t32_w);
    let mixed = (t8_1 + t32_w) / (t32_1 + t32_w);
    let proj = |r: f64| 1.0 - g + g * r;
    let s = format!(
        "{} vs {} f32, DenseNet-121 GEMMs per image: 1x1 convs int8 {:.2} ms / f32 {:.2} ms ({:.2}x the time); \
         3x3 convs int8 direct {:.2} ms / f32 Winograd GEMMs {:.2} ms ({:.2}x); \
         all int8 {:.2}x the f32 GEMM time -> network {:.2}x (GEMMs {:.0}%); \
         int8 1x1 + f32 Winograd {:.2}x -> network {:.2}x",
        kind.name(),
        kind.f32_kind().name(),
        ms(t8_1),
        ms(t32_1),
        t8_1 / t32_1,
        ms(t8_3),
        ms(t32_w),
        t8_3 / t32_w,
        all8,
        proj(all8),
        g * 100.0,
        mixed,
        proj(mixed)
    );
    println!("{s}");
    s
}

/// CPU time of this thread, in seconds.
#[cfg(not(target_arch = "wasm32"))]
fn thread_cpu_s() -> f64 {
    #[cfg(unix)]
    unsafe {
        let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
        libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts);
        ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
    }
    #[cfg(not(unix))]
    {
        use std::sync::OnceLock;
        static T0: OnceLock<std::time::Instant> = OnceLock::new();
        T0.get_or_init(std::time::Instant::now).elapsed().as_secs_f64()
    }
}

#[cfg(target_arch = "wasm32")]
fn main() {}

/// The wasm exports (a plain C ABI; Node drives them).
#[cfg(target_arch = "wasm32")]
mod exports {
    use super::*;
    use densenet_edge_engine::int8::pack_b_bn_relu_matches_rows;
    use std::cell::RefCell;

    thread_local! {
        static CASE: RefCell<Option<Case>> = const { RefCell::new(None) };
    }

    fn kind(i: u32) -> Option<Int8Kind> {
        Int8Kind::ALL.get(i as usize).copied()
    }

    #[no_mangle]
    pub extern "C" fn buf_alloc(len: usize) -> *mut u8 {
        let mut v = Vec::<u8>::with_capacity(len.max(1));
        let p = v.as_mut_ptr();
        std::mem::forget(v);
        p
    }

    /// # Safety
    /// `ptr` and `len` from `buf_alloc`.
    #[no_mangle]
    pub unsafe extern "C" fn buf_free(ptr: *mut u8, len: usize) {
        drop(Vec::from_raw_parts(ptr, 0, len.max(1)));
    }

    /// How many sets `Int8Kind::ALL` names (in or out of this build).
    #[no_mangle]
    pub extern "C" fn int8_kind_count() -> u32 {
        Int8Kind::ALL.len() as u32
    }

    /// Bit i set: `Int8Kind::ALL[i]` runs in this build.
    #[no_mangle]
    pub extern "C" fn int8_kinds() -> u32 {
        Int8Kind::ALL.iter().enumerate().filter(|(_, k)| k.kernel().is_some()).map(|(i, _)| 1 << i).sum()
    }

    /// The name of `Int8Kind::ALL[i]`, written to `out` (at most `cap` bytes); its length.
    ///
    /// # Safety
    /// `out` is writable for `cap` bytes.
    #[no_mangle]
    pub unsafe extern "C" fn int8_name(i: u32, out: *mut u8, cap: usize) -> usize {
        let name = kind(i).map_or("", |k| k.name()).as_bytes();
        let len = name.len().min(cap);
        std::ptr::copy_nonoverlapping(name.as_ptr(), out, len);
        len
    }

    /// Geometry of set `i`: `what` 0 MR, 1 NR, 2 k per group, 3 bytes per
    /// stored activation, 4 a_shift, 5 b_shift; 0 where the set is absent.
    #[no_mangle]
    pub extern "C" fn int8_geometry(i: u32, what: u32) -> i32 {
        let Some(k) = kind(i).and_then(|k| k.kernel()) else { return 0 };
        match what {
            0 => k.mr as i32,
            1 => k.nr as i32,
            2 => k.kg as i32,
            3 => k.b_bytes() as i32,
            4 => k.a_shift(),
            _ => k.b_shift(),
        }
    }

    /// C [M][ldc] = bias + W (X - zx) with set `i`; `bias` may be null.
    /// `panels` 0: all of B packed, then `gemm`; 1: panel by panel (last
    /// first, as a thread would), `pack_b` + `gemm_panel`. 0 done, 1 set
    /// absent, 2 weights refused.
    ///
    /// # Safety
    /// w: M*K, x: K*N, bias: M (or null), c: M*ldc (ldc >= N).
    #[no_mangle]
    pub unsafe extern "C" fn int8_gemm(
        i: u32,
        m: usize,
        k: usize,
        n: usize,
        w: *const i8,
        x: *const u8,
        zx: u32,
        bias: *const i32,
        c: *mut i32,
        ldc: usize,
        panels: u32,
    ) -> i32 {
        let Some(kern) = kind(i).and_then(|k| k.kernel()) else { return 1 };
        let (w, x) = (std::slice::from_raw_parts(w, m * k), std::slice::from_raw_parts(x, k * n));
        let bias = (!bias.is_null()).then(|| std::slice::from_raw_parts(bias, m));
        let Ok(a) = PackedA8::new(&kern, w, m, k) else { return 2 };
        let row_off = a.row_offsets(&kern, zx as u8, bias);
        if m == 0 || n == 0 {
            return 0;
        }
        if panels == 0 {
            let b = PackedB8::new(&kern, x, k, n);
            gemm(&kern, &a, &row_off, &b, std::slice::from_raw_parts_mut(c, (m - 1) * ldc + n), ldc);
        } else {
            let mut panel = vec![0xa5u8; kern.b_panel_bytes(k)];
            let mut col = vec![0x5a5a_5a5a; kern.nr];
            for p in (0..n.div_ceil(kern.nr)).rev() {
                let n0 = p * kern.nr;
                let nc = kern.nr.min(n - n0);
                pack_b(&kern, x, n, k, n0..n0 + nc, &mut panel, &mut col);
                gemm_panel(&kern, &a, &row_off, panel.as_ptr(), col.as_ptr(), nc, Strided { ptr: c.add(n0), ld: ldc });
            }
        }
        0
    }

    /// `int8::pack_b_bn_relu_matches_rows` for set `i`: 1 packed straight
    /// from the codes and matched the rows, 0 packs rows, 2 set absent, or
    /// -len of the mismatch's message written at `out`.
    ///
    /// # Safety
    /// out: cap bytes.
    #[no_mangle]
    pub unsafe extern "C" fn int8_check_bn_relu(i: u32, out: *mut u8, cap: usize) -> i32 {
        let Some(kern) = kind(i).and_then(|k| k.kernel()) else { return 2 };
        match pack_b_bn_relu_matches_rows(&kern) {
            Ok(fused) => i32::from(fused),
            Err(e) => {
                let len = e.len().min(cap);
                std::ptr::copy_nonoverlapping(e.as_ptr(), out, len);
                -(len as i32)
            }
        }
    }

    /// `check_in_place` for set `i` (a 3x3 conv reading B in place against
    /// windows and packed panels): 1 matched, 0 the set has no quads tile,
    /// 2 set absent, or -len of the mismatch's message written at `out`.
    ///
    /// # Safety
    /// out: cap bytes.
    #[no_mangle]
    pub unsafe extern "C" fn int8_check_in_place(i: u32, out: *mut u8, cap: usize) -> i32 {
        let Some(kern) = kind(i).and_then(|k| k.kernel()) else { return 2 };
        if kern.quads.is_none() {
            return 0;
        }
        match densenet_edge_engine::bench_api::check_in_place(&kern) {
            Ok(()) => 1,
            Err(e) => {
                let len = e.len().min(cap);
                std::ptr::copy_nonoverlapping(e.as_ptr(), out, len);
                -(len as i32)
            }
        }
    }

    /// Packs W and X with set `i` for the layout test: A's data
    /// (`a_cap` bytes), row sums and row signs (M rounded up to MR each), B's
    /// panels (`b_cap` bytes) and column terms (panels x NR). 0 done, 1
    /// absent, 2 refused, 3 a buffer too small.
    ///
    /// # Safety
    /// As the lengths say.
    #[no_mangle]
    pub unsafe extern "C" fn int8_pack(
        i: u32,
        m: usize,
        k: usize,
        n: usize,
        w: *const i8,
        x: *const u8,
        a_out: *mut u8,
        a_cap: usize,
        sums_out: *mut i32,
        neg_out: *mut i32,
        b_out: *mut u8,
        b_cap: usize,
        col_out: *mut i32,
    ) -> i32 {
        let Some(kern) = kind(i).and_then(|k| k.kernel()) else { return 1 };
        let Ok(a) = PackedA8::new(&kern, std::slice::from_raw_parts(w, m * k), m, k) else { return 2 };
        let b = PackedB8::new(&kern, std::slice::from_raw_parts(x, k * n), k, n);
        if a.data.len() > a_cap || b.data.len() > b_cap {
            return 3;
        }
        std::ptr::copy_nonoverlapping(a.data.as_ptr(), a_out, a.data.len());
        std::ptr::copy_nonoverlapping(a.row_sums.as_ptr(), sums_out, a.row_sums.len());
        std::ptr::copy_nonoverlapping(a.row_neg.as_ptr(), neg_out, a.row_neg.len());
        std::ptr::copy_nonoverlapping(b.data.as_ptr(), b_out, b.data.len());
        std::ptr::copy_nonoverlapping(b.col_off.as_ptr(), col_out, b.col_off.len());
        0
    }

    /// Prepares one benchmark shape for set `i` (and its f32 set): 0, or 1
    /// where the set is absent.
    #[no_mangle]
    pub extern "C" fn bench_prepare(i: u32, m: usize, k: usize, n: usize) -> i32 {
        let case = kind(i).and_then(|kind| Case::new(kind, m, k, n));
        let ok = case.is_some();
        CASE.with(|c| *c.borrow_mut() = case);
        if ok {
            0
        } else {
            1
        }
    }

    /// `reps` GEMMs of the prepared shape: `int8` 1 int8, 0 f32; `pack` 1
    /// with B packed per panel. Returns an element of C.
    #[no_mangle]
    pub extern "C" fn bench_run(int8: u32, pack: u32, reps: usize) -> f64 {
        CASE.with(|c| {
            let mut c = c.borrow_mut();
            let Some(case) = c.as_mut() else { return f64::NAN };
            let mut v = 0f64;
            for _ in 0..reps {
                v = if int8 == 1 { f64::from(case.int8(pack == 1)) } else { f64::from(case.f32(pack == 1)) };
            }
            v
        })
    }

    /// The table's shapes and `network()`'s GEMMs, for the Node script:
    /// `table` 1: SHAPES[j] (what: 0 M, 1 K, 2 N, 3 block 1-4 or 0 for the
    /// 3x3s); 0: network()[j] (0 M, 1 K, 2 N, 3 count, 4 group). -1 past the end.
    #[no_mangle]
    pub extern "C" fn shape(table: u32, j: usize, what: u32) -> i64 {
        if table == 1 {
            let Some(&(name, m, k, n)) = SHAPES.get(j) else { return -1 };
            return match what {
                0 => m as i64,
                1 => k as i64,
                2 => n as i64,
                _ if name.starts_with("3x3") => 0,
                _ => i64::from(name.as_bytes()[5] - b'0'),
            };
        }
        let net = network();
        let Some(&(m, k, n, count, group)) = net.get(j) else { return -1 };
        [m, k, n, count, group].get(what as usize).map_or(-1, |&v| v as i64)
    }

    /// The projection line of `report_network`, written to `out`; its length.
    ///
    /// # Safety
    /// `out` is writable for `cap` bytes.
    #[no_mangle]
    pub unsafe extern "C" fn network_report(
        i: u32,
        g: f64,
        t8_1: f64,
        t32_1: f64,
        t32_w: f64,
        t8_3: f64,
        out: *mut u8,
        cap: usize,
    ) -> usize {
        let Some(kind) = kind(i) else { return 0 };
        let s = report_network(kind, g, t8_1, t32_1, t32_w, t8_3);
        let len = s.len().min(cap);
        std::ptr::copy_nonoverlapping(s.as_ptr(), out, len);
        len
    }
}
