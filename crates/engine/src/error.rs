use std::fmt;

/// Everything the engine can refuse. The split matches what a caller maps to
/// its own errors: a bad model file, a failure while running, or bad input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The bytes are not a torchvision DenseNet ONNX export this engine can
    /// run. The message names the first node or tensor that does not fit.
    ModelInvalid(String),
    /// Running the network failed (e.g. a worker thread panicked).
    Inference(String),
    /// The caller's arguments are wrong (input length, batch size, threads).
    InvalidArgument(String),
}

pub type Result<T> = std::result::Result<T, Error>;

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::ModelInvalid(m) => write!(f, "model_invalid: {m}"),
            Error::Inference(m) => write!(f, "inference: {m}"),
            Error::InvalidArgument(m) => write!(f, "invalid_argument: {m}"),
        }
    }
}

impl std::error::Error for Error {}

pub(crate) fn invalid<T>(msg: impl Into<String>) -> Result<T> {
    Err(Error::ModelInvalid(msg.into()))
}
