//! torchvision's `Compose([Resize(r), CenterCrop(c), ToTensor(), Normalize(mean, std)])`
//! on a PIL image, with torchvision's size arithmetic and rounding: the
//! settings and the normalisation. The resize and crop that read an image
//! (`Preprocess::resize_crop`, `Preprocess::tensor`) are in `crop_resize`,
//! which builds on these settings, so that the imports go one way.

use serde::{Deserialize, Serialize};

use crate::crop::Crop;
use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// Largest `resize` or `crop` accepted.
pub const MAX_SIDE: u32 = 8192;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Preprocess {
    /// The shorter side is resized to this (the tutorial's `Resize(255)`;
    /// torchvision's reference recipes use 256).
    pub resize: u32,
    /// Side of the centre crop fed to the model.
    pub crop: u32,
    pub mean: [f32; 3],
    pub std: [f32; 3],
}

impl Default for Preprocess {
    fn default() -> Self {
        Preprocess { resize: 255, crop: 224, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] }
    }
}

impl Preprocess {
    pub fn validate(&self) -> Result<()> {
        if self.resize == 0 || self.crop == 0 {
            return Err(Error::InvalidArgument("resize and crop must be positive".into()));
        }
        // Buffers are sized by the crop before any budget applies.
        if self.resize > MAX_SIDE || self.crop > MAX_SIDE {
            return Err(Error::InvalidArgument(format!("resize and crop must be at most {MAX_SIDE}")));
        }
        if self.std.iter().any(|&s| s <= 0.0) {
            return Err(Error::InvalidArgument("std must be positive".into()));
        }
        Ok(())
    }

    /// Normalised CHW values of one cropped image into `out`
    /// (`3 * crop * crop` floats), computed in f32 as torch does.
    pub fn normalize_into(&self, img: &Crop, out: &mut [f32]) {
        let plane = (img.width() * img.height()) as usize;
        assert_eq!(out.len(), 3 * plane, "output slice has the wrong size");
        for (i, px) in img.pixels().enumerate() {
            for c in 0..3 {
                out[c * plane + i] = (px.0[c] as f32 / 255.0 - self.mean[c]) / self.std[c];
            }
        }
    }

    /// A batch `[N, 3, crop, crop]` from images already resized and cropped.
    pub fn normalized(&self, cropped: &[&Crop]) -> Tensor {
        let side = self.crop as usize;
        let mut t = Tensor::zeros([cropped.len(), 3, side, side]);
        for (img, out) in cropped.iter().zip(t.data.chunks_exact_mut(3 * side * side)) {
            self.normalize_into(img, out);
        }
        t
    }
}
