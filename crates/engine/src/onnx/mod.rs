//! Reading a DenseNet ONNX file: the protobuf wire format (`proto`), the
//! DenseNet walk that names each initializer's role (`topology`), and the
//! streaming loader that packs each weight as it arrives (`loader`); an
//! int8 model's Q/DQ nodes (`qdq`) and quantization (`quantized`).

mod loader;
pub(crate) mod proto;
mod qdq;
mod quantized;
pub(crate) mod topology;

pub use loader::{LoadLimits, Loader};
