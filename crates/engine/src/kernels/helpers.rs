//! The packing and transform loops as functions compiled with a kernel
//! set's target features: a macro, so that each set's copy is a function of
//! its own that LLVM vectorises for those features.

/// The packing and transform loops, compiled with the attributes given (a
/// kernel set's `#[target_feature]`), or none for the baseline target.
macro_rules! helpers {
    ($(#[$attr:meta])*) => {
        use $crate::kernels::qparams::Q;
        use $crate::kernels::types::{Bn, Cols, WinoInput, StemChunk, WinoChunk};
        $(#[$attr])*
        pub unsafe fn bn_relu(src: &[f32], ld: usize, bn: Bn, cols: Cols, dst: &mut [f32]) {
            $crate::kernels::packing::pack_bn_relu(src, ld, bn, cols, dst)
        }
        $(#[$attr])*
        pub unsafe fn wino_in(mid: WinoInput, ld: usize, chunk: &WinoChunk, v: *mut f32) {
            $crate::kernels::winograd::input_rows(mid, ld, chunk, v)
        }
        $(#[$attr])*
        pub unsafe fn wino_out(m: &[f32], chunk: &WinoChunk, dst: *mut f32, ld: usize) {
            $crate::kernels::winograd::output_rows(m, chunk, dst, ld)
        }
        $(#[$attr])*
        pub unsafe fn stem_in(image: &[f32], chunk: &StemChunk, v: *mut f32) {
            $crate::kernels::stem::input(image, chunk, v)
        }
        $(#[$attr])*
        pub unsafe fn stem_out(m: &[f32], chunk: &StemChunk, bias: &[f32], dst: *mut f32) {
            $crate::kernels::stem::output(m, chunk, bias, dst)
        }
        $(#[$attr])*
        pub unsafe fn q_bn_relu(src: &[u8], ld: usize, bn: Bn, cols: Cols, q: (&[Q], Q, Q), dst: &mut [u8]) {
            $crate::kernels::quant::bn_relu_q_rows(src, ld, bn, cols, q, dst)
        }
        $(#[$attr])*
        pub unsafe fn q_requant(acc: &[i32], dst: &mut [f32], mult: f32, out: Q) {
            $crate::kernels::quant::requant_row(acc, dst, mult, out)
        }
        $(#[$attr])*
        pub unsafe fn q_requant8(
            acc: $crate::kernels::Strided<*const i32>,
            mults: &[f32],
            out: Q,
            nc: usize,
            dst: $crate::kernels::Strided<*mut u8>,
        ) {
            $crate::kernels::quant::requant_rows_u8(acc, mults, out, nc, dst)
        }
        $(#[$attr])*
        pub unsafe fn q_quantize(xs: &[f32], dst: &mut [u8], q: Q) {
            $crate::kernels::quant::quantize_row(xs, dst, q)
        }
    };
}
pub(crate) use helpers;
