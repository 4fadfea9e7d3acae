//! JS inputs into the shared crate's types, with every size checked on the
//! JS object before a byte is copied into wasm memory: an oversized input
//! must cost nothing here, not a copy that grows (and never shrinks) the
//! wasm memory of the page.

use densenet_edge::{DecodeLimits, Error, RgbImage};
use js_sys::{Reflect, Uint8Array, Uint8ClampedArray};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

/// One input after conversion from JS: encoded bytes, or pixels already
/// converted to RGB (from `ImageData`).
pub enum Input {
    Encoded(Vec<u8>),
    Rgb(RgbImage),
}

/// RGBA rows copied into wasm per step: bounds the transient copy to a few
/// hundred KiB whatever the image's size.
const ROW_BYTES_PER_STEP: u64 = 256 << 10;

pub fn input_from_js(value: &JsValue, limits: &DecodeLimits) -> Result<Input, Error> {
    if let Some(bytes) = value.dyn_ref::<Uint8Array>() {
        let len = bytes.length() as usize;
        if len > limits.max_bytes {
            return Err(Error::TooManyBytes { bytes: len, max_bytes: limits.max_bytes });
        }
        return Ok(Input::Encoded(bytes.to_vec()));
    }
    rgb_from_image_data(value, limits).map(Input::Rgb)
}

/// Bytes that converting `width x height` RGBA pixels to RGB allocates in
/// wasm: the RGB image and one step of rows.
pub fn image_data_cost(width: u32, height: u32) -> u64 {
    let (width, height) = (width as u64, height as u64);
    let step_rows = (ROW_BYTES_PER_STEP / (4 * width).max(1)).max(1);
    3 * width * height + 4 * width * step_rows.min(height)
}

/// `ImageData`, or anything shaped like it (`{ data, width, height }`).
/// Alpha is dropped, as PIL's `convert("RGB")` does for encoded images.
fn rgb_from_image_data(value: &JsValue, limits: &DecodeLimits) -> Result<RgbImage, Error> {
    let bad = || Error::InvalidArgument("input must be encoded image bytes or ImageData".into());
    if !value.is_object() {
        return Err(bad());
    }
    let get = |k: &str| Reflect::get(value, &k.into()).unwrap_or(JsValue::UNDEFINED);
    let dimension = |v: JsValue| -> Result<u32, Error> {
        let d = v.as_f64().ok_or_else(bad)?;
        if d.fract() != 0.0 || !(1.0..=u32::MAX as f64).contains(&d) {
            return Err(Error::InvalidArgument(format!("ImageData width and height must be positive integers, got {d}")));
        }
        Ok(d as u32)
    };
    let (width, height) = (dimension(get("width"))?, dimension(get("height"))?);
    if width as u64 * height as u64 > limits.max_pixels {
        return Err(Error::TooManyPixels { width, height, max_pixels: limits.max_pixels });
    }
    let needed = image_data_cost(width, height);
    if needed > limits.max_decode_bytes {
        return Err(Error::ImageTooLarge { width, height, needed_bytes: needed, budget_bytes: limits.max_decode_bytes });
    }
    let data = get("data");
    let data: Uint8Array = if let Some(d) = data.dyn_ref::<Uint8ClampedArray>() {
        // The same memory seen as Uint8Array: no copy.
        Uint8Array::new_with_byte_offset_and_length(&d.buffer(), d.byte_offset(), d.length())
    } else if let Some(d) = data.dyn_ref::<Uint8Array>() {
        d.clone()
    } else {
        return Err(bad());
    };
    if data.length() as u64 != 4 * width as u64 * height as u64 {
        return Err(Error::InvalidArgument(format!("{} RGBA bytes for {width}x{height} pixels", data.length())));
    }
    // From here 4 * width * height fits the u32 length of a typed array.
    let row = 4 * width as usize;
    let mut rgb = Vec::with_capacity(3 * width as usize * height as usize);
    let step_rows = (ROW_BYTES_PER_STEP as usize / row).max(1);
    let mut chunk = vec![0u8; row * step_rows.min(height as usize)];
    let mut y = 0usize;
    while y < height as usize {
        let rows = step_rows.min(height as usize - y);
        let part = &mut chunk[..rows * row];
        data.subarray((y * row) as u32, ((y + rows) * row) as u32).copy_to(part);
        rgb.extend(part.chunks_exact(4).flat_map(|p| [p[0], p[1], p[2]]));
        y += rows;
    }
    RgbImage::from_raw(width, height, rgb).ok_or_else(bad)
}
