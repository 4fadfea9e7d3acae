//! The network's operations on f32 activations: the GEMM driver and its
//! packed matrices, Winograd 3x3 convs, the stem, the pools. Each runs a
//! chunk of its work with a kernel set (`crate::kernels`).

pub mod bordered;
pub mod gemm;
pub mod pool;
pub mod quant;
pub mod stem;
pub mod winograd;

/// A thread's buffers for a Winograd op: the chunk's transformed matrices
/// and products (`chunks`), and the GEMM's packed panels (`panels`).
pub struct Scratch<'a> {
    pub chunks: &'a mut Vec<f32>,
    pub panels: &'a mut Vec<f32>,
}
