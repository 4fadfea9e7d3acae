//! What the kernel sets are made of: the tile and transform signatures and
//! the small geometry values they take. A leaf: every kernel file and every
//! op imports it, it imports none of them (but `qparams::Q`, a leaf too).

use super::qparams::Q;

/// A matrix in memory: a pointer to its first element and the distance
/// between its rows, in elements. (Two words: passed in two registers, as
/// the pointer and the stride were.)
#[derive(Clone, Copy)]
pub struct Strided<P> {
    pub ptr: P,
    pub ld: usize,
}

/// A BatchNormalization folded to `x * scale + shift` per channel.
#[derive(Clone, Copy)]
pub struct Bn<'a> {
    pub scale: &'a [f32],
    pub shift: &'a [f32],
}

/// Columns `n0..n0 + nc` of a matrix packed into a panel `nr` wide (zeros
/// past `nc`).
#[derive(Clone, Copy)]
pub struct Cols {
    pub n0: usize,
    pub nc: usize,
    pub nr: usize,
}

/// A Winograd conv's input maps ([C][images][side][side]): floats, or a
/// quantized model's codes with their zero point, which the input
/// transform reads as `code - zero` (exact in f32, and so is the
/// transform of such integers): the conv then runs in units of the codes'
/// scale, which the caller applies to its output (`Plan::layer_int8`).
/// Codes are a quarter of the bytes: block 1's 128 channels of 56 x 56 fit
/// the L2 cache as codes (0.4 MB), not as floats.
#[derive(Clone, Copy)]
pub enum WinoInput<'a> {
    Floats(&'a [f32]),
    Codes(&'a [u8], u8),
}

/// One chunk of a Winograd conv's transforms: tile rows `r0..r1` of maps of
/// `side` x `side` cut into output tiles of `tile`, over `channels`
/// channels; the (tile + 2)^2 transformed matrices lie `p_stride` floats
/// apart, and each channel's row of one of them `cols` floats apart.
#[derive(Clone, Copy)]
pub struct WinoChunk {
    pub side: usize,
    pub tile: usize,
    pub channels: usize,
    pub p_stride: usize,
    pub r0: usize,
    pub r1: usize,
    pub cols: usize,
}

/// One chunk of the stem's transforms: tiles `t0..t1`; the 36 transformed
/// matrices lie `p_stride` floats apart, each channel's row `cols` apart.
#[derive(Clone, Copy)]
pub struct StemChunk {
    pub t0: usize,
    pub t1: usize,
    pub p_stride: usize,
    pub cols: usize,
}

/// `tile(k, a, b, c, bias, relu)`; `a` holds k*MR floats, `b` k rows of NR
/// floats (NR apart when packed), `bias` MR, `c` MR rows of NR writable floats.
pub type TileFn = unsafe fn(usize, *const f32, Strided<*const f32>, Strided<*mut f32>, *const f32, bool);

/// `bn_relu(src, ld, bn, cols, dst)`: see `packing::pack_bn_relu`.
pub type BnReluFn = unsafe fn(&[f32], usize, Bn, Cols, &mut [f32]);
/// `wino_in(mid, ld, chunk, v)`: see `winograd::input_rows`.
pub type WinoInFn = unsafe fn(WinoInput, usize, &WinoChunk, *mut f32);
/// `wino_out(m, chunk, dst, ld)`: see `winograd::output_rows`.
pub type WinoOutFn = unsafe fn(&[f32], &WinoChunk, *mut f32, usize);
/// `stem_in(image, chunk, v)`: see `stem::input`.
pub type StemInFn = unsafe fn(&[f32], &StemChunk, *mut f32);
/// `stem_out(m, chunk, bias, dst)`: see `stem::output`.
pub type StemOutFn = unsafe fn(&[f32], &StemChunk, &[f32], *mut f32);

/// `q_bn_relu(src, ld, bn, cols, (codes, cat, relu), dst)`: see `quant::bn_relu_q_rows`.
pub type QBnReluFn = unsafe fn(&[u8], usize, Bn, Cols, (&[Q], Q, Q), &mut [u8]);
/// `q_quantize(xs, dst, q)`: see `quant::quantize_row`.
pub type QQuantizeFn = unsafe fn(&[f32], &mut [u8], Q);
/// `q_requant(acc, dst, mult, out)`: see `quant::requant_row`.
pub type QRequantFn = unsafe fn(&[i32], &mut [f32], f32, Q);
/// `q_requant8(acc, mults, out, nc, dst)`: see `quant::requant_rows_u8`.
pub type QRequant8Fn = unsafe fn(Strided<*const i32>, &[f32], Q, usize, Strided<*mut u8>);

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
    pub bn_relu: BnReluFn,
    pub wino_in: WinoInFn,
    pub wino_out: WinoOutFn,
    pub stem_in: StemInFn,
    pub stem_out: StemOutFn,
    pub q_bn_relu: QBnReluFn,
    pub q_requant: QRequantFn,
    pub q_requant8: QRequant8Fn,
    pub q_quantize: QQuantizeFn,
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
}
