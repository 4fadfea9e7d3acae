//! The image the model sees before normalisation: resized and centre-cropped
//! by the preprocessor, and only by it, so a `Crop` is always the side its
//! `Preprocess` asked for.

use std::ops::Deref;

use image::RgbImage;

#[derive(Debug, Clone, PartialEq)]
pub struct Crop(RgbImage);

impl Crop {
    pub(crate) fn new(img: RgbImage) -> Crop {
        debug_assert_eq!(img.width(), img.height(), "a crop is square");
        Crop(img)
    }

    /// Width and height (the `Preprocess::crop` that made it).
    pub fn side(&self) -> u32 {
        self.0.width()
    }

    pub fn into_image(self) -> RgbImage {
        self.0
    }
}

/// Read-only: the pixels can be looked at, not changed into another size.
impl Deref for Crop {
    type Target = RgbImage;
    fn deref(&self) -> &RgbImage {
        &self.0
    }
}
