//! What `POST /predict` answers: the shared crate's answer types as they are
//! (`docs/answer.schema.json`, definitions `PredictAnswer` and
//! `PredictManyAnswer`), plus what only the Worker knows: which engine run
//! each image was in, and where the request's time went.

use densenet_edge::{EngineKind, ImageAnswer, ItemOutcome, ModelInfo};
use serde::Serialize;

/// One file: its answer at the top level (the tutorial's `class_id` and
/// `class_name` first), so the tutorial's client reads it unchanged.
#[derive(Serialize)]
pub struct OneImage<'a> {
    #[serde(flatten)]
    pub answer: ImageAnswer,
    /// Images in the engine run that answered this one.
    pub batch_size: usize,
    #[serde(flatten)]
    pub about: About<'a>,
}

/// Several files: one item per file, in order, each its answer or its error.
#[derive(Serialize)]
pub struct ManyImages<'a> {
    pub results: Vec<Item<'a>>,
    /// Per item: images in the engine run that answered it, 0 for an error.
    pub batch_sizes: Vec<usize>,
    #[serde(flatten)]
    pub about: About<'a>,
}

#[derive(Serialize)]
pub struct Item<'a> {
    pub filename: &'a str,
    #[serde(flatten)]
    pub outcome: ItemOutcome,
}

/// What every answer of `/predict` says about how it was made.
#[derive(Serialize)]
pub struct About<'a> {
    pub engine: EngineKind,
    pub model: &'a ModelInfo,
    pub timings_ms: Timings,
}

/// Where one request's time went, ms.
#[derive(Serialize)]
pub struct Timings {
    /// The body and its multipart parts.
    pub read: f64,
    /// Waiting for the model: non-zero only on an isolate's first requests.
    pub model_load: f64,
    /// Waiting for the requests admitted before this one.
    pub queue: f64,
    /// Decode, resize, crop.
    pub prepare: f64,
    /// Decode to answer: decoding, queueing when coalescing, engine runs.
    pub classify: f64,
    /// The engine run(s) that answered this request.
    pub engine: f64,
    pub total: f64,
}
