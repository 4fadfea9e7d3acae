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

/// How far one model's answers move from a reference model's on the same
/// images, over how far the images move the reference's: the RMS over
/// images and classes of (ours - reference) on log-probabilities centred per
/// image, divided by the RMS of the reference's minus their mean over
/// images. (Centring the log-softmax per image leaves the logits minus their
/// mean.) With random weights the logits barely depend on the image, so
/// top-1 agreement says little; this ratio does. 0 for identical answers;
/// NaN for fewer than two images or no spread.
pub fn drift_ratio(ours: &[Vec<f32>], reference: &[Vec<f32>]) -> f64 {
    let centred = |rows: &[Vec<f32>]| -> Vec<Vec<f64>> {
        rows.iter()
            .map(|r| {
                let m = r.iter().map(|&x| f64::from(x)).sum::<f64>() / r.len().max(1) as f64;
                r.iter().map(|&x| f64::from(x) - m).collect()
            })
            .collect()
    };
    let (q, f) = (centred(ours), centred(reference));
    let classes = f.first().map_or(0, Vec::len);
    let mean: Vec<f64> = (0..classes).map(|j| f.iter().map(|r| r[j]).sum::<f64>() / f.len() as f64).collect();
    let (mut err, mut spread) = (0.0, 0.0);
    for (qr, fr) in q.iter().zip(&f) {
        for j in 0..classes {
            err += (qr[j] - fr[j]).powi(2);
            spread += (fr[j] - mean[j]).powi(2);
        }
    }
    (err / spread).sqrt()
}

#[cfg(test)]
mod drift_tests {
    use super::drift_ratio;

    #[test]
    fn drift_is_zero_for_the_same_answers_up_to_a_constant_per_image_and_scales_with_the_change() {
        let reference = vec![vec![1.0, 2.0, 3.0], vec![3.0, 1.0, 2.0]];
        assert_eq!(drift_ratio(&reference, &reference), 0.0);
        // A constant per image is not a change of the probabilities.
        let shifted: Vec<Vec<f32>> = reference.iter().map(|r| r.iter().map(|x| x + 5.0).collect()).collect();
        assert!(drift_ratio(&shifted, &reference) < 1e-12);
        let moved = vec![vec![1.1, 2.0, 3.0], vec![3.0, 1.0, 2.0]];
        let moved2 = vec![vec![1.2, 2.0, 3.0], vec![3.0, 1.0, 2.0]];
        let (d1, d2) = (drift_ratio(&moved, &reference), drift_ratio(&moved2, &reference));
        assert!(d1 > 0.0 && (d2 / d1 - 2.0).abs() < 1e-6, "{d1} {d2}");
    }
}
