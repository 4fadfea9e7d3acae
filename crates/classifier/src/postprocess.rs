//! Logits to an answer: softmax, top-k, labels, and whether the model
//! recognised the image at all.

use serde::{Deserialize, Serialize};

use crate::labels::Labels;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    pub class_index: usize,
    /// WordNet id, e.g. `n02124075`.
    pub class_id: String,
    /// Short name, e.g. `Egyptian_cat`.
    pub class_name: String,
    pub probability: f32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Classification {
    /// Most probable first.
    pub predictions: Vec<Prediction>,
    /// False when the top probability is under the threshold: the image
    /// most likely shows none of the model's classes.
    pub recognized: bool,
}

/// Default probability under which an image counts as not recognised.
pub const DEFAULT_THRESHOLD: f32 = 0.2;

/// Numerically stable softmax.
pub fn softmax(logits: &[f32]) -> Vec<f32> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exp: Vec<f32> = logits.iter().map(|&l| (l - max).exp()).collect();
    let sum: f32 = exp.iter().sum();
    exp.into_iter().map(|e| e / sum).collect()
}

/// Indices of the `k` largest values, largest first; ties keep the lower
/// index first, as `torch.topk` on CPU does for distinct values.
pub fn top_k(values: &[f32], k: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..values.len()).collect();
    idx.sort_by(|&a, &b| values[b].total_cmp(&values[a]).then(a.cmp(&b)));
    idx.truncate(k);
    idx
}

/// The answer for one image's logits.
pub fn classify_logits(logits: &[f32], labels: &Labels, k: usize, threshold: f32) -> Classification {
    let probs = softmax(logits);
    let predictions: Vec<Prediction> = top_k(&probs, k.max(1))
        .into_iter()
        .map(|i| {
            let (id, name) = labels.get(i).unwrap_or(("", ""));
            Prediction { class_index: i, class_id: id.to_string(), class_name: name.to_string(), probability: probs[i] }
        })
        .collect();
    let recognized = predictions[0].probability >= threshold;
    Classification { predictions, recognized }
}
