//! GEMM micro-kernels. Each computes one MR x NR tile of C = A * B where A is
//! packed in panels of MR rows (for each k: MR weights) and B in panels of NR
//! columns (for each k: NR activations), then adds a per-row bias and
//! optionally applies ReLU, and stores the tile with row stride `ldc`.

pub(crate) mod baseline;
mod helpers;
#[cfg(target_arch = "aarch64")]
mod neon;
mod packing;
mod portable;
pub(crate) mod qparams;
pub(crate) mod quant;
pub(crate) mod stem;
pub(crate) mod types;
#[cfg(target_arch = "wasm32")]
pub(crate) mod wasm;
pub(crate) mod winograd;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub(crate) use wasm::bn_relu_avgpool2 as wasm_bn_relu_avgpool2;
#[cfg(target_arch = "x86_64")]
mod x86;

pub(crate) use packing::copy;

pub use types::{Bn, Cols, Kernel, KernelKind, QRequant8Fn, QRequantFn, StemChunk, Strided, WinoChunk, WinoInput};

impl KernelKind {
    /// The kernel, or None where this machine or build cannot run it.
    pub fn kernel(self) -> Option<Kernel> {
        if !Self::available().contains(&self) {
            return None;
        }
        Some(match self {
            KernelKind::Portable => portable::KERNEL,
            #[cfg(target_arch = "x86_64")]
            KernelKind::Avx2Fma => x86::AVX2,
            #[cfg(target_arch = "x86_64")]
            KernelKind::Avx512 => x86::AVX512,
            #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
            KernelKind::Simd128 => wasm::SIMD128,
            #[cfg(all(target_arch = "wasm32", target_feature = "simd128", target_feature = "relaxed-simd"))]
            KernelKind::Simd128Relaxed => wasm::RELAXED,
            #[cfg(target_arch = "aarch64")]
            KernelKind::Neon => neon::NEON,
            #[allow(unreachable_patterns)]
            _ => return None,
        })
    }
}
