//! torchvision's `Compose([Resize(r), CenterCrop(c), ToTensor(), Normalize(mean, std)])`
//! on a PIL image, with torchvision's size arithmetic and rounding.

use image::RgbImage;
use serde::{Deserialize, Serialize};

use crate::crop_resize::{ImageRows, Plan};
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

    /// Resize and centre crop: the uint8 image the model sees before
    /// normalisation, `crop` x `crop`.
    ///
    /// Computed without the resized image (see `crop_resize`), so any
    /// aspect ratio costs about the crop's memory. An empty image or invalid
    /// settings give a black crop; [`crate::decode_crop`] reports them.
    pub fn resize_crop(&self, img: &RgbImage) -> RgbImage {
        let side = self.crop.max(1);
        Plan::new(img.width(), img.height(), 1, self)
            .and_then(|plan| plan.run(&mut ImageRows::new(img)))
            .unwrap_or_else(|_| RgbImage::new(side, side))
    }

    /// Normalised CHW values of one cropped image into `out`
    /// (`3 * crop * crop` floats), computed in f32 as torch does.
    pub fn normalize_into(&self, img: &RgbImage, out: &mut [f32]) {
        let plane = (img.width() * img.height()) as usize;
        assert_eq!(out.len(), 3 * plane, "output slice has the wrong size");
        for (i, px) in img.pixels().enumerate() {
            for c in 0..3 {
                out[c * plane + i] = (px.0[c] as f32 / 255.0 - self.mean[c]) / self.std[c];
            }
        }
    }

    /// A batch `[N, 3, crop, crop]` from decoded images.
    pub fn tensor(&self, images: &[RgbImage]) -> Tensor {
        let cropped: Vec<RgbImage> = images.iter().map(|img| self.resize_crop(img)).collect();
        self.normalized(&cropped.iter().collect::<Vec<_>>())
    }

    /// A batch `[N, 3, crop, crop]` from images already resized and cropped.
    pub fn normalized(&self, cropped: &[&RgbImage]) -> Tensor {
        let side = self.crop as usize;
        let mut t = Tensor::zeros([cropped.len(), 3, side, side]);
        for (img, out) in cropped.iter().zip(t.data.chunks_exact_mut(3 * side * side)) {
            self.normalize_into(img, out);
        }
        t
    }
}

/// torchvision's `_compute_resized_output_size` for an int size: the
/// shorter side becomes `size`, the longer `int(size * long / short)`.
pub fn resized_size(width: u32, height: u32, size: u32) -> (u32, u32) {
    let (short, long) = if width <= height { (width, height) } else { (height, width) };
    let new_long = (size as u64 * long as u64) as f64 / short as f64;
    let new_long = new_long as u32;
    if width <= height {
        (size, new_long)
    } else {
        (new_long, size)
    }
}

/// torchvision's `center_crop`: zero-pad when the image is smaller than the
/// crop, then cut at `int(round((side - crop) / 2.0))` (Python rounds half
/// to even).
pub fn center_crop(img: &RgbImage, crop: u32) -> RgbImage {
    let (w, h) = (img.width(), img.height());
    let pad_left = crop.saturating_sub(w) / 2;
    let pad_top = crop.saturating_sub(h) / 2;
    let (pw, ph) = (w.max(crop), h.max(crop));
    let left = ((pw - crop) as f64 / 2.0).round_ties_even() as u32;
    let top = ((ph - crop) as f64 / 2.0).round_ties_even() as u32;
    RgbImage::from_fn(crop, crop, |x, y| {
        // Coordinates in the padded image, then in the original one.
        let (px, py) = (x + left, y + top);
        match (px.checked_sub(pad_left), py.checked_sub(pad_top)) {
            (Some(sx), Some(sy)) if sx < w && sy < h => *img.get_pixel(sx, sy),
            _ => image::Rgb([0, 0, 0]),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resized_size_matches_torchvision() {
        assert_eq!(resized_size(451, 300, 255), (383, 255));
        assert_eq!(resized_size(300, 451, 255), (255, 383));
        assert_eq!(resized_size(10, 7, 255), (364, 255));
        assert_eq!(resized_size(512, 512, 256), (256, 256));
    }

    #[test]
    fn crop_rounds_half_to_even() {
        // 255 - 224 = 31: round(15.5) = 16; 227 - 224 = 3: round(1.5) = 2.
        let img = RgbImage::from_fn(255, 227, |x, y| image::Rgb([x as u8, y as u8, 0]));
        let c = center_crop(&img, 224);
        assert_eq!(c.get_pixel(0, 0).0, [16, 2, 0]);
        // 226 - 224 = 2: round(1.0) = 1; 229 - 224 = 5: round(2.5) = 2.
        let img = RgbImage::from_fn(226, 229, |x, y| image::Rgb([x as u8, y as u8, 0]));
        assert_eq!(center_crop(&img, 224).get_pixel(0, 0).0, [1, 2, 0]);
    }

    #[test]
    fn crop_pads_small_images_with_zeros() {
        // torchvision pads (crop - w) // 2 on the left, the rest on the right.
        let img = RgbImage::from_pixel(3, 224, image::Rgb([9, 9, 9]));
        let c = center_crop(&img, 6);
        let row: Vec<u8> = (0..6).map(|x| c.get_pixel(x, 0).0[0]).collect();
        assert_eq!(row, [0, 9, 9, 9, 0, 0]);
    }
}
