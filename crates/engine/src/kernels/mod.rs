//! GEMM micro-kernels. Each computes one MR x NR tile of C = A * B where A is
//! packed in panels of MR rows (for each k: MR weights) and B in panels of NR
//! columns (for each k: NR activations), then adds a per-row bias and
//! optionally applies ReLU, and stores the tile with row stride `ldc`.

#[cfg(target_arch = "aarch64")]
mod neon;
mod portable;
#[cfg(target_arch = "wasm32")]
mod wasm;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub(crate) use wasm::bn_relu_avgpool2 as wasm_bn_relu_avgpool2;
#[cfg(target_arch = "x86_64")]
mod x86;

/// `tile(k, a, b, ldb, c, ldc, bias, relu)`; `a` holds k*MR floats, `b` k
/// rows of NR floats `ldb` apart (NR when packed), `bias` MR, `c` MR rows of
/// NR writable floats `ldc` apart.
pub type TileFn = unsafe fn(usize, *const f32, *const f32, usize, *mut f32, usize, *const f32, bool);

pub type BnReluFn = unsafe fn(&[f32], usize, &[f32], &[f32], usize, usize, usize, &mut [f32]);
pub type WinoInFn = unsafe fn(&[f32], usize, usize, usize, usize, usize, usize, usize, *mut f32, usize);
pub type WinoOutFn = unsafe fn(&[f32], usize, usize, usize, usize, usize, usize, usize, *mut f32, usize);
pub type StemInFn = unsafe fn(&[f32], usize, usize, *mut f32, usize, usize);
pub type StemOutFn = unsafe fn(&[f32], usize, usize, usize, usize, &[f32], *mut f32);

/// A kernel set: the tile shape, its micro-kernel, and the packing and
/// transform loops compiled for the same target features (the crate itself
/// is built for the baseline, e.g. SSE2 on x86-64).
#[derive(Clone, Copy)]
pub struct Kernel {
    pub kind: KernelKind,
    pub mr: usize,
    pub nr: usize,
    pub tile: TileFn,
    /// A (2 MR) x (NR / 2) tile for a last panel of at most NR / 2 columns
    /// (`a` then holds two consecutive MR panels), where the full tile would
    /// multiply mostly padding: DenseNet's 7x7 maps give 49 columns per image.
    pub tail: Option<TileFn>,
    /// `gemm::pack_bn_relu`.
    pub bn_relu: BnReluFn,
    /// `winograd::input_rows`.
    pub wino_in: WinoInFn,
    /// `winograd::output_rows`.
    pub wino_out: WinoOutFn,
    /// `stem::input`.
    pub stem_in: StemInFn,
    /// `stem::output`.
    pub stem_out: StemOutFn,
}

/// Wrappers of the packing and transform loops, compiled with the attributes
/// given (a kernel set's `#[target_feature]`), or none for the baseline target.
macro_rules! helpers {
    ($(#[$attr:meta])*) => {
        $(#[$attr])*
        #[allow(clippy::too_many_arguments)]
        pub unsafe fn bn_relu(
            src: &[f32],
            ld: usize,
            scale: &[f32],
            shift: &[f32],
            n0: usize,
            nc: usize,
            nr: usize,
            dst: &mut [f32],
        ) {
            crate::gemm::pack_bn_relu(src, ld, scale, shift, n0, nc, nr, dst)
        }
        $(#[$attr])*
        #[allow(clippy::too_many_arguments)]
        pub unsafe fn wino_in(
            mid: &[f32],
            ld: usize,
            side: usize,
            tile: usize,
            cin: usize,
            p_stride: usize,
            r0: usize,
            r1: usize,
            v: *mut f32,
            ld_v: usize,
        ) {
            crate::winograd::input_rows(mid, ld, side, tile, cin, p_stride, r0, r1, v, ld_v)
        }
        $(#[$attr])*
        #[allow(clippy::too_many_arguments)]
        pub unsafe fn wino_out(
            m: &[f32],
            side: usize,
            tile: usize,
            cout: usize,
            p_stride: usize,
            r0: usize,
            r1: usize,
            ld_m: usize,
            dst: *mut f32,
            ld: usize,
        ) {
            crate::winograd::output_rows(m, side, tile, cout, p_stride, r0, r1, ld_m, dst, ld)
        }
        $(#[$attr])*
        pub unsafe fn stem_in(image: &[f32], t0: usize, t1: usize, v: *mut f32, p_stride: usize, ld_v: usize) {
            crate::stem::input(image, t0, t1, v, p_stride, ld_v)
        }
        $(#[$attr])*
        pub unsafe fn stem_out(
            m: &[f32],
            t0: usize,
            t1: usize,
            p_stride: usize,
            ld_m: usize,
            bias: &[f32],
            dst: *mut f32,
        ) {
            crate::stem::output(m, t0, t1, p_stride, ld_m, bias, dst)
        }
    };
}
#[cfg(target_arch = "x86_64")]
pub(crate) use helpers;

/// The same loops for the baseline target.
pub mod baseline {
    helpers!();
}

impl Kernel {
    /// The columns a GEMM's last panel is rounded up to: NR / 2 with a tail
    /// tile, else NR.
    pub fn col_step(&self) -> usize {
        if self.tail.is_some() {
            self.nr / 2
        } else {
            self.nr
        }
    }
}

/// Which kernel set runs. `KernelKind::available()` lists those this machine
/// (or this wasm build) can run, best first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KernelKind {
    Portable,
    Avx2Fma,
    Avx512,
    Simd128,
    Simd128Relaxed,
    Neon,
}

impl KernelKind {
    pub fn name(self) -> &'static str {
        match self {
            KernelKind::Portable => "portable",
            KernelKind::Avx2Fma => "avx2+fma",
            KernelKind::Avx512 => "avx512",
            KernelKind::Simd128 => "wasm simd128",
            KernelKind::Simd128Relaxed => "wasm simd128+relaxed",
            KernelKind::Neon => "neon",
        }
    }

    /// The kernel sets this machine can run, best first; `Portable` is always last.
    // The pushes depend on the target: no single `vec![]` fits them all.
    #[allow(clippy::vec_init_then_push)]
    pub fn available() -> Vec<KernelKind> {
        #[allow(unused_mut)]
        let mut v = Vec::new();
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f") {
                v.push(KernelKind::Avx512);
            }
            if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
                v.push(KernelKind::Avx2Fma);
            }
        }
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128", target_feature = "relaxed-simd"))]
        v.push(KernelKind::Simd128Relaxed);
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        v.push(KernelKind::Simd128);
        #[cfg(target_arch = "aarch64")]
        v.push(KernelKind::Neon);
        v.push(KernelKind::Portable);
        v
    }

    pub fn best() -> KernelKind {
        Self::available()[0]
    }

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
