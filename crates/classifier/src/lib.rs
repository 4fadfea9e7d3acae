//! densenet-edge: ImageNet classification with DenseNet-121 ONNX, from
//! encoded image bytes to labelled predictions, with the exact
//! preprocessing of the PyTorch tutorial (PIL + torchvision).
//!
//! bytes -> [`decode`] (or RGBA pixels -> [`rgba_crop`]) -> [`Preprocess`]
//! (resize, crop, normalise) -> [`Engine`] (our DenseNet engine on the CPU,
//! wonnx on WebGPU) -> [`classify_logits`] (softmax, top-k, labels,
//! `recognized`). [`Classifier`] runs it all for a
//! batch of images. Nothing here knows about HTTP, JS or Workers.

pub mod answer;
mod budget;
pub mod classifier;
mod crop_resize;
pub mod decode;
pub mod engine;
pub mod error;
mod jpeg;
pub mod labels;
pub mod manifest;
mod png_rows;
pub mod postprocess;
pub mod preprocess;
pub mod resize;
mod rgba;
mod rows;
pub mod tensor;
mod whole_rows;

pub use answer::{ErrorAnswer, ErrorBody, ImageAnswer, ItemOutcome, ModelInfo, DEFAULT_TOP_K, MAX_TOP_K};
pub use classifier::{Batched, Classifier, Options};
pub use decode::{decode, decode_crop, decode_crop_cost, DecodeLimits, SUPPORTED_FORMATS};
#[cfg(feature = "cpu")]
pub use engine::load_engine;
pub use engine::{probe_input, Engine, EngineChoice, EngineKind, LoadedEngine};
pub use error::{Error, Fault, Result};
pub use labels::Labels;
pub use manifest::{sha256_hex, Manifest};
pub use postprocess::{classify_logits, softmax, top_k, Classification, Prediction, DEFAULT_THRESHOLD};
pub use preprocess::Preprocess;
pub use rgba::{rgba_crop, rgba_crop_cost, RgbaPixels};
pub use tensor::Tensor;

#[cfg(feature = "cpu")]
pub use engine::cpu::CpuEngine;
#[cfg(feature = "webgpu")]
pub use engine::webgpu::WebGpuEngine;

pub use image::RgbImage;
