//! JS inputs into the shared crate's types, without copying pixels: an
//! oversized input must cost nothing here, not a copy that grows (and never
//! shrinks) the wasm memory of the page. Encoded bytes are checked against
//! `max_bytes` before they are copied; ImageData stays in JS memory and the
//! shared crate (`rgba_crop`) checks its size and budget before it reads a
//! row of it.

use densenet_edge::{DecodeLimits, Error, RgbaPixels};
use js_sys::{Reflect, Uint8Array, Uint8ClampedArray};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

/// One input after conversion from JS.
pub enum Input {
    Encoded(Vec<u8>),
    /// `ImageData`'s RGBA bytes, still in JS memory.
    Pixels {
        data: JsPixels,
        width: u32,
        height: u32,
    },
}

/// RGBA bytes in a JS typed array, copied into wasm as the shared crate
/// asks for them (a few rows at a time).
pub struct JsPixels(Uint8Array);

impl RgbaPixels for JsPixels {
    fn len(&self) -> usize {
        self.0.length() as usize
    }
    fn read(&self, offset: usize, out: &mut [u8]) {
        self.0.subarray(offset as u32, (offset + out.len()) as u32).copy_to(out);
    }
}

pub fn input_from_js(value: &JsValue, limits: &DecodeLimits) -> Result<Input, Error> {
    if let Some(bytes) = value.dyn_ref::<Uint8Array>() {
        let len = bytes.length() as usize;
        if len > limits.max_bytes {
            return Err(Error::TooManyBytes { bytes: len, max_bytes: limits.max_bytes });
        }
        return Ok(Input::Encoded(bytes.to_vec()));
    }
    image_data(value)
}

/// `ImageData`, or anything shaped like it (`{ data, width, height }`): only
/// its JS shape is checked here.
fn image_data(value: &JsValue) -> Result<Input, Error> {
    let bad = || Error::InvalidArgument("input must be encoded image bytes or ImageData".into());
    if !value.is_object() {
        return Err(bad());
    }
    let get = |k: &str| Reflect::get(value, &k.into()).unwrap_or(JsValue::UNDEFINED);
    let dimension = |v: JsValue| -> Result<u32, Error> {
        let d = v.as_f64().ok_or_else(bad)?;
        if d.fract() != 0.0 || !(1.0..=u32::MAX as f64).contains(&d) {
            return Err(Error::InvalidArgument(format!(
                "ImageData width and height must be positive integers, got {d}"
            )));
        }
        Ok(d as u32)
    };
    let (width, height) = (dimension(get("width"))?, dimension(get("height"))?);
    let data = get("data");
    let data = if let Some(d) = data.dyn_ref::<Uint8ClampedArray>() {
        // The same memory seen as Uint8Array: no copy.
        Uint8Array::new_with_byte_offset_and_length(&d.buffer(), d.byte_offset(), d.length())
    } else if let Some(d) = data.dyn_ref::<Uint8Array>() {
        d.clone()
    } else {
        return Err(bad());
    };
    Ok(Input::Pixels { data: JsPixels(data), width, height })
}
