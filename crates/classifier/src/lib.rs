//! densenet-edge: ImageNet classification with DenseNet-121 ONNX, from
//! encoded image bytes to labelled predictions, with the exact
//! preprocessing of the PyTorch tutorial (PIL + torchvision).
//!
//! bytes -> [`decode`] (or RGBA pixels -> [`rgba_crop`]) -> [`Preprocess`]
//! (resize, crop, normalise) -> [`Engine`] (our DenseNet engine on the CPU,
//! wonnx on WebGPU) -> [`classify_logits`] (softmax, top-k, labels,
//! `recognized`). [`Classifier`] runs it all for a
//! batch of images. [`DecodeLimits`] bound one image's bytes, pixels,
//! memory and JPEG scans before it is decoded; a [`WorkBudget`] bounds the
//! decode CPU of a whole request ([`Classifier::prepare_within`]). Nothing
//! here knows about HTTP, JS or Workers.

mod answer;
mod budget;
mod classifier;
mod crop;
mod crop_resize;
mod decode;
mod engine;
mod error;
mod jpeg;
mod labels;
mod manifest;
mod png_rows;
mod postprocess;
mod preprocess;
mod resize;
mod rgba;
mod rows;
#[cfg(feature = "cpu")]
mod streamed_load;
mod tensor;
mod whole_rows;
mod work_budget;

pub use answer::{ErrorAnswer, ErrorBody, ImageAnswer, ItemOutcome, ModelInfo, DEFAULT_TOP_K, MAX_TOP_K};
pub use classifier::{Batched, Classifier, Options};
pub use crop::Crop;
pub use decode::{
    decode, decode_crop, decode_crop_cost, decode_crop_within, decode_work, DecodeLimits, SUPPORTED_FORMATS,
};
#[cfg(feature = "cpu")]
pub use engine::{load_engine, load_engine_with};
pub use engine::{probe_input, Engine, EngineChoice, EngineKind, LoadedEngine};
pub use error::{Error, Fault, Result};
pub use labels::Labels;
pub use manifest::{sha256_hex, Manifest};
pub use postprocess::{classify_logits, drift_ratio, softmax, top_k, Classification, Prediction, DEFAULT_THRESHOLD};
pub use preprocess::Preprocess;
pub use rgba::{rgba_crop, rgba_crop_cost, rgba_crop_within, RgbaPixels};
#[cfg(feature = "cpu")]
pub use streamed_load::StreamedLoad;
pub use tensor::Tensor;
pub use work_budget::WorkBudget;

#[cfg(feature = "cpu")]
pub use engine::cpu::{CpuEngine, LoadLimits};
#[cfg(feature = "webgpu")]
pub use engine::webgpu::{adapter_info, WebGpuEngine, SELF_CHECK_TOLERANCE};
pub use engine::{LocalBoxFuture, INPUT_SIDE};

pub use image::RgbImage;

/// The JPEG decoder on its own, row by row, for tests/jpeg.rs and
/// tests/jpeg_bench.rs: they count the heap with their own global
/// allocator, so they are test binaries of their own rather than unit
/// tests. Not part of the API.
#[doc(hidden)]
pub mod jpeg_rows {
    pub use crate::jpeg::{decode_rgb, decode_rgb_with, JpegRows};
    pub use crate::rows::RowSource;
}
