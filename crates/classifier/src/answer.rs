//! The answer contract: the types every surface serialises as they are,
//! so the HTTP API (`POST /predict`), the CLI (`classify --json`) and the
//! npm package agree on one shape and one set of field names. Documented in
//! `docs/answer.schema.json`.

use serde::Serialize;

use crate::error::Error;
use crate::manifest::Manifest;
use crate::postprocess::{Classification, Prediction};

/// How many predictions an answer lists unless the caller asks otherwise.
pub const DEFAULT_TOP_K: usize = 5;

/// Most predictions an answer can list: every ImageNet class.
pub const MAX_TOP_K: usize = 1000;

/// One image's classification: the tutorial's `class_id` and `class_name`
/// (of the most probable class) first, then ours.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImageAnswer {
    pub class_id: String,
    pub class_name: String,
    pub class_index: usize,
    pub probability: f32,
    /// False when the top probability is under the threshold.
    pub recognized: bool,
    /// Most probable first; the first one is the one above.
    pub predictions: Vec<Prediction>,
}

impl From<Classification> for ImageAnswer {
    fn from(c: Classification) -> ImageAnswer {
        let top = c.predictions[0].clone();
        ImageAnswer {
            class_id: top.class_id,
            class_name: top.class_name,
            class_index: top.class_index,
            probability: top.probability,
            recognized: c.recognized,
            predictions: c.predictions,
        }
    }
}

/// Which model answered. Random weights make every label meaningless, so
/// every answer says which kind it had.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelInfo {
    pub name: String,
    /// `"pretrained"` or `"random"`.
    pub weights: String,
    pub pretrained: bool,
    pub sha256: String,
    pub bytes: u64,
    /// `"f32"` or `"int8"`: the precision the engine runs the file at.
    pub precision: String,
}

impl From<&Manifest> for ModelInfo {
    fn from(m: &Manifest) -> ModelInfo {
        ModelInfo {
            name: m.name.clone(),
            weights: m.weights.clone(),
            pretrained: m.pretrained(),
            sha256: m.sha256.clone(),
            bytes: m.bytes,
            precision: m.precision.clone(),
        }
    }
}

/// `{"code", "message"}`: `code` is stable (branch on it), `message` is for
/// people.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ErrorBody {
    pub code: &'static str,
    pub message: String,
}

impl ErrorBody {
    pub fn new(code: &'static str, message: impl Into<String>) -> ErrorBody {
        ErrorBody { code, message: message.into() }
    }
}

impl From<&Error> for ErrorBody {
    fn from(e: &Error) -> ErrorBody {
        ErrorBody { code: e.code(), message: e.to_string() }
    }
}

/// The error envelope `{"error": {"code", "message"}}` of every surface.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ErrorAnswer {
    pub error: ErrorBody,
}

impl<T: Into<ErrorBody>> From<T> for ErrorAnswer {
    fn from(e: T) -> ErrorAnswer {
        ErrorAnswer { error: e.into() }
    }
}

/// One image's outcome in a list of several: its answer or its error,
/// never both.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum ItemOutcome {
    Answer(ImageAnswer),
    Error(ErrorAnswer),
}

impl From<&crate::Result<Classification>> for ItemOutcome {
    fn from(r: &crate::Result<Classification>) -> ItemOutcome {
        match r {
            Ok(c) => ItemOutcome::Answer(c.clone().into()),
            Err(e) => ItemOutcome::Error(e.into()),
        }
    }
}
