use thiserror::Error;

/// Everything that can go wrong between bytes and a prediction.
///
/// Each variant has a stable [`Error::code`] that the HTTP API and the npm
/// package pass on unchanged, so clients can branch on it without parsing
/// messages.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum Error {
    #[error("the input is empty (0 bytes)")]
    EmptyInput,
    #[error("the input is not an image (no known image signature)")]
    NotAnImage,
    #[error("unsupported image format {0}: use JPEG, PNG, WebP, GIF or BMP")]
    UnsupportedFormat(String),
    #[error("the image is corrupt or truncated: {0}")]
    CorruptImage(String),
    #[error("the image has {width}x{height} pixels, more than the limit of {max_pixels}")]
    TooManyPixels { width: u32, height: u32, max_pixels: u64 },
    #[error("decoding this {width}x{height} image needs about {needed_bytes} bytes of memory, more than the budget of {budget_bytes}")]
    ImageTooLarge { width: u32, height: u32, needed_bytes: u64, budget_bytes: u64 },
    #[error("the input has {bytes} bytes, more than the limit of {max_bytes}")]
    TooManyBytes { bytes: usize, max_bytes: usize },
    /// Decoding would cost more CPU than allowed: a JPEG with more scans
    /// than [`crate::DecodeLimits::max_jpeg_scans`], or an image whose
    /// decode work (from its header) is over what is left of the request's
    /// [`crate::WorkBudget`]. Refused before the work is done.
    #[error("decoding this image is too much work: {0}")]
    TooMuchWork(String),
    #[error("the model is invalid: {0}")]
    ModelInvalid(String),
    /// The bytes are not the file the manifest names: a cached or stored copy
    /// that is stale or corrupt, which a caller may fetch again.
    #[error("the sha256 of the model is {actual}, its manifest ({model}) says {expected}")]
    ModelChecksum { model: String, expected: String, actual: String },
    #[error("the {engine} engine is unavailable: {reason}")]
    EngineUnavailable { engine: &'static str, reason: String },
    #[error("the {engine} engine disagrees with the CPU engine by {max_diff} (tolerance {tolerance}) on the self-check input")]
    EngineMismatch { engine: &'static str, max_diff: f32, tolerance: f32 },
    #[error("inference failed: {0}")]
    Inference(String),
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
}

impl Error {
    pub fn code(&self) -> &'static str {
        match self {
            Error::EmptyInput => "empty_input",
            Error::NotAnImage => "not_an_image",
            Error::UnsupportedFormat(_) => "unsupported_format",
            Error::CorruptImage(_) => "corrupt_image",
            Error::TooManyPixels { .. } => "too_many_pixels",
            Error::ImageTooLarge { .. } => "image_too_large",
            Error::TooManyBytes { .. } => "too_many_bytes",
            Error::TooMuchWork(_) => "too_much_work",
            Error::ModelInvalid(_) => "model_invalid",
            Error::ModelChecksum { .. } => "model_checksum_mismatch",
            Error::EngineUnavailable { .. } => "engine_unavailable",
            Error::EngineMismatch { .. } => "engine_mismatch",
            Error::Inference(_) => "inference_failed",
            Error::InvalidArgument(_) => "invalid_argument",
        }
    }

    /// Whose fault this was: what an HTTP API turns into a 4xx or a 5xx,
    /// a command line into its exit code.
    pub fn fault(&self) -> Fault {
        match self {
            Error::EmptyInput
            | Error::NotAnImage
            | Error::UnsupportedFormat(_)
            | Error::CorruptImage(_)
            | Error::TooManyPixels { .. }
            | Error::ImageTooLarge { .. }
            | Error::TooManyBytes { .. }
            | Error::TooMuchWork(_)
            | Error::InvalidArgument(_) => Fault::Input,
            Error::ModelInvalid(_) | Error::ModelChecksum { .. } => Fault::Model,
            Error::EngineUnavailable { .. } | Error::EngineMismatch { .. } | Error::Inference(_) => Fault::Engine,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The image or an argument.
    Input,
    /// The model file: missing, corrupt, or not the file its manifest names.
    Model,
    /// The engine failed to load or to run.
    Engine,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
