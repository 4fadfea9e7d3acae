//! What the int8 kernel sets are made of: operand layouts, the tile
//! signature, the set names. A leaf below the kernels and the driver.

use crate::kernels::{KernelKind, Strided};

/// The weights the kernels accept: `reduce_range=True`'s 7 bits.
pub const W_MIN: i8 = -64;
pub const W_MAX: i8 = 64;
/// Largest K: |sum| <= K * 255 * 64 (or 128 * 127) stays below 2^31, so an
/// accumulator never wraps before the offsets are added.
pub const K_MAX: usize = 1 << 17;
/// The largest tile any set uses (MR x NR), for the driver's edge tiles.
pub const MAX_TILE: usize = 8 * 32;

/// How a set stores the weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AStore {
    /// W as i8.
    I8,
    /// W + 64 as a byte in 0..=127 (wasm relaxed dot's second operand).
    U7,
}

/// How a set stores the activations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BStore {
    /// X as u8.
    U8,
    /// X - 128 as i8 (X ^ 0x80): for dot instructions whose first operand is
    /// signed (NEON `sdot`, wasm relaxed dot).
    I8,
    /// X as i16 (little-endian, zero-extended): wasm's `i32x4.dot_i16x8_s`.
    I16,
}

/// `tile(groups, a, b, c, ldc, row_off, col_off, row_neg)`: one MR x NR
/// tile, `C[r][j] = sum over groups of a x b + row_off[r]`, or for sets with
/// `a_shift` `sign[r] (sum + col_off[j]) + row_off[r]` (sign -1 where
/// `row_neg[r]` is -1), written as MR rows of NR i32s `ldc` apart. `a`: one
/// A panel (`groups * kg * mr` bytes); `b`: one B panel (`groups * kg * nr`
/// elements); `row_off`, `row_neg`: MR; `col_off`: NR. No allocation.
pub type Int8TileFn = unsafe fn(usize, *const u8, *const u8, Strided<*mut i32>, *const i32, *const i32, *const i32);

/// `quads(groups, a, (b, offs), c, row_off, col_off, row_neg)`: `tile` of a
/// set that stores B as bytes in groups of 4 (X, or X - 128), reading k
/// group g's NR columns (4 NR bytes) at `b + offs[g]`: a 3x3 conv's B
/// straight from channel-quad planes (`ops::bordered`), with no packing.
pub type Int8QuadsTileFn =
    unsafe fn(usize, *const u8, (*const u8, *const usize), Strided<*mut i32>, *const i32, *const i32, *const i32);

/// An int8 kernel set: tile shape, operand storage, micro-kernel.
#[derive(Clone, Copy)]
pub struct Int8Kernel {
    pub kind: Int8Kind,
    pub mr: usize,
    pub nr: usize,
    /// Consecutive k's one 32-bit lane holds.
    pub kg: usize,
    pub a_store: AStore,
    pub b_store: BStore,
    pub tile: Int8TileFn,
    /// The tile over B read in place, where the set stores B as bytes in
    /// groups of 4 (x86, NEON, wasm relaxed; not simd128's i16 nor portable).
    pub quads: Option<Int8QuadsTileFn>,
}

impl Int8Kernel {
    pub fn a_shift(&self) -> i32 {
        match self.a_store {
            AStore::I8 => 0,
            AStore::U7 => 64,
        }
    }

    pub fn b_shift(&self) -> i32 {
        match self.b_store {
            BStore::I8 => 128,
            BStore::U8 | BStore::I16 => 0,
        }
    }

    /// Bytes per stored activation.
    pub fn b_bytes(&self) -> usize {
        match self.b_store {
            BStore::I16 => 2,
            BStore::U8 | BStore::I8 => 1,
        }
    }

    /// k groups for K.
    pub fn groups(&self, k: usize) -> usize {
        k.div_ceil(self.kg)
    }

    /// Bytes of one packed B panel of K rows.
    pub fn b_panel_bytes(&self, k: usize) -> usize {
        self.groups(k) * self.kg * self.nr * self.b_bytes()
    }
}

/// The int8 kernel sets. `Int8Kind::available()` lists those this machine
/// (or this wasm build) can run, best first; `kernel()` forces one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Int8Kind {
    /// Plain Rust, 4x16, k one at a time.
    Portable,
    /// `vpmaddubsw` + `vpmaddwd` (ones) + `vpaddd` on ymm, 4x16.
    Avx2,
    /// `vpdpbusd` on ymm (AVX-VNNI: CPUs with VNNI but no AVX-512), 4x16,
    /// the AVX2 set's layout.
    AvxVnni,
    /// `vpmaddubsw` + `vpmaddwd` on zmm, 8x32.
    Avx512Bw,
    /// `vpdpbusd` on zmm (embedded broadcast of the weights), 8x32.
    Avx512Vnni,
    /// `i32x4.dot_i16x8_s` on i16 pairs, 4x8.
    Simd128,
    /// `i16x8.relaxed_dot_i8x16_i7x16_s` (`pmaddubsw`), then `i32x4.dot_i16x8_s`
    /// by ones (`pmaddwd`) and `i32x4.add`, 4x8.
    Simd128Relaxed,
    /// `i32x4.relaxed_dot_i8x16_i7x16_add_s`, 4x8, same layout: one
    /// instruction where the engine has `sdot` or AVX-VNNI, but V8 on x86
    /// without AVX-VNNI rebuilds its i16 ones in every one (two instructions
    /// more than `Simd128Relaxed`), and Node 20's V8 (flag) miscompiles it
    /// (see int8/wasm.rs). The best set where the engine runs it as
    /// `vpdpbusd` (`dot_add_is_fused`).
    Simd128RelaxedAdd,
    /// `sdot` (by-lane), 8x8, where the CPU has dotprod.
    NeonDot,
    /// `smull`/`smlal` + `sadalp`, 4x8.
    Neon,
}

impl Int8Kind {
    pub const ALL: [Int8Kind; 10] = [
        Int8Kind::Avx512Vnni,
        Int8Kind::Avx512Bw,
        Int8Kind::AvxVnni,
        Int8Kind::Avx2,
        Int8Kind::Simd128Relaxed,
        Int8Kind::Simd128RelaxedAdd,
        Int8Kind::Simd128,
        Int8Kind::NeonDot,
        Int8Kind::Neon,
        Int8Kind::Portable,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Int8Kind::Portable => "portable",
            Int8Kind::Avx2 => "avx2",
            Int8Kind::AvxVnni => "avx-vnni",
            Int8Kind::Avx512Bw => "avx512bw",
            Int8Kind::Avx512Vnni => "avx512vnni",
            Int8Kind::Simd128 => "wasm simd128",
            Int8Kind::Simd128Relaxed => "wasm simd128+relaxed",
            Int8Kind::Simd128RelaxedAdd => "wasm relaxed dot-add",
            Int8Kind::NeonDot => "neon dotprod",
            Int8Kind::Neon => "neon",
        }
    }

    /// By name (as `name()`, or without the "wasm " / "neon " prefix).
    pub fn from_name(s: &str) -> Option<Int8Kind> {
        Self::ALL.into_iter().find(|k| {
            let n = k.name();
            n == s || n.strip_prefix("wasm ") == Some(s) || (n == "neon dotprod" && s == "dotprod")
        })
    }

    /// The f32 kernel set of the same ISA (what the benchmark compares with).
    pub fn f32_kind(self) -> KernelKind {
        match self {
            Int8Kind::Portable => KernelKind::Portable,
            Int8Kind::Avx2 | Int8Kind::AvxVnni => KernelKind::Avx2Fma,
            Int8Kind::Avx512Bw | Int8Kind::Avx512Vnni => KernelKind::Avx512,
            Int8Kind::Simd128 => KernelKind::Simd128,
            Int8Kind::Simd128Relaxed | Int8Kind::Simd128RelaxedAdd => KernelKind::Simd128Relaxed,
            Int8Kind::NeonDot | Int8Kind::Neon => KernelKind::Neon,
        }
    }

    /// The sets this machine can run, best first; `Portable` is always last.
    #[allow(clippy::vec_init_then_push)]
    pub fn available() -> Vec<Int8Kind> {
        #[allow(unused_mut)]
        let mut v = Vec::new();
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::is_x86_feature_detected as has;
            if has!("avx512f") && has!("avx512bw") && has!("avx512vnni") {
                v.push(Int8Kind::Avx512Vnni);
            }
            if has!("avx512f") && has!("avx512bw") {
                v.push(Int8Kind::Avx512Bw);
            }
            if has!("avx2") && has!("avxvnni") {
                v.push(Int8Kind::AvxVnni);
            }
            if has!("avx2") {
                v.push(Int8Kind::Avx2);
            }
        }
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128", target_feature = "relaxed-simd"))]
        v.extend(match dot_add_is_fused() {
            true => [Int8Kind::Simd128RelaxedAdd, Int8Kind::Simd128Relaxed],
            false => [Int8Kind::Simd128Relaxed, Int8Kind::Simd128RelaxedAdd],
        });
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        v.push(Int8Kind::Simd128);
        #[cfg(target_arch = "aarch64")]
        {
            if std::arch::is_aarch64_feature_detected!("dotprod") {
                v.push(Int8Kind::NeonDot);
            }
            v.push(Int8Kind::Neon);
        }
        v.push(Int8Kind::Portable);
        v
    }

    pub fn best() -> Int8Kind {
        Self::available()[0]
    }
}

/// Whether this engine runs `i32x4.relaxed_dot_i8x16_i7x16_add_s` as x86's
/// `vpdpbusd` (AVX-VNNI: 4 products summed in i32, the 7-bit operand read
/// as u8), told by its result on an operand outside the 7-bit range, which
/// the relaxed-SIMD spec leaves to the engine: 127 x 255, 4 times. V8
/// without AVX-VNNI lowers it to `pmaddubsw`, which saturates each pair
/// at 32767 (65534 in all); ARM's `sdot` reads 255 as -1 (-508). wasm has
/// no other way to see the CPU. Chromium 156 on a Zen 5 runs the dot-add
/// tile at 3.6-3.9 times the f32 tile's rate and the other at 2.2 times
/// (`bench/engine/wasm_int8_kernels.mjs --chromium`); Node 20's V8 runs it
/// at 1.5-1.7 times, with `pmaddubsw`. Either set computes the same
/// integers: the probe chooses speed, never the answer.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128", target_feature = "relaxed-simd"))]
pub fn dot_add_is_fused() -> bool {
    use core::arch::wasm32::*;
    // Opaque to LLVM, so that the engine, not the compiler, computes it.
    let (a, b) = core::hint::black_box((i8x16_splat(127), u8x16_splat(255)));
    i32x4_extract_lane::<0>(i32x4_relaxed_dot_i8x16_i7x16_add(a, b, i32x4_splat(0))) == 4 * 127 * 255
}
