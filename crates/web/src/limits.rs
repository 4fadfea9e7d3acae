//! The npm package's decode limits: its defaults, sized for a browser tab,
//! and the caller's overrides (`Classifier.create({ limits })`).

use densenet_edge::{DecodeLimits, Error};
use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

/// The package's defaults.
///
/// - `max_bytes` 20 MiB: the largest file copied into wasm memory.
/// - `max_pixels` 40 MP: as the shared crate.
/// - `max_decode_bytes` 256 MiB: what decoding and resizing one image may
///   allocate in wasm. Wasm memory never shrinks, so this is also how far
///   one hostile image can raise the tab's memory above the loaded model's
///   (a ~100 MiB high-water mark for DenseNet-121 on the CPU engine). A
///   12-megapixel phone JPEG needs well under it; a mobile browser tab is
///   killed somewhere from about 1 GiB, so 256 MiB leaves room for the page.
pub const BROWSER_LIMITS: DecodeLimits =
    DecodeLimits { max_bytes: 20 << 20, max_pixels: 40_000_000, max_decode_bytes: 256 << 20 };

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JsLimits {
    pub max_bytes: Option<f64>,
    pub max_pixels: Option<f64>,
    pub max_decode_bytes: Option<f64>,
}

fn count(name: &str, v: Option<f64>, default: u64, max: u64) -> Result<u64, Error> {
    match v {
        None => Ok(default),
        Some(v) if v.fract() == 0.0 && v >= 1.0 && v <= max as f64 => Ok(v as u64),
        Some(v) => Err(Error::InvalidArgument(format!("limits.{name} must be an integer in 1..={max}, got {v}"))),
    }
}

/// The defaults with the caller's overrides; `undefined` or `null` keeps
/// the defaults.
pub fn limits_from_js(value: &JsValue) -> Result<DecodeLimits, Error> {
    if value.is_undefined() || value.is_null() {
        return Ok(BROWSER_LIMITS);
    }
    let known = "known: maxBytes, maxPixels, maxDecodeBytes";
    if !value.is_object() {
        return Err(Error::InvalidArgument(format!("limits must be an object ({known})")));
    }
    // serde_wasm_bindgen reads only the fields it knows: a misspelt limit
    // would be silently ignored.
    for key in js_sys::Object::keys(value.unchecked_ref::<js_sys::Object>()).iter() {
        let key = key.as_string().unwrap_or_default();
        if !["maxBytes", "maxPixels", "maxDecodeBytes"].contains(&key.as_str()) {
            return Err(Error::InvalidArgument(format!("unknown limit {key:?} ({known})")));
        }
    }
    let js: JsLimits = serde_wasm_bindgen::from_value(value.clone())
        .map_err(|e| Error::InvalidArgument(format!("limits: {e} ({known})")))?;
    let d = BROWSER_LIMITS;
    // Sizes must fit wasm32's usize and JS's exact integers.
    let cap = u32::MAX as u64;
    Ok(DecodeLimits {
        max_bytes: count("maxBytes", js.max_bytes, d.max_bytes as u64, cap)? as usize,
        max_pixels: count("maxPixels", js.max_pixels, d.max_pixels, cap)?,
        max_decode_bytes: count("maxDecodeBytes", js.max_decode_bytes, d.max_decode_bytes, cap)?,
    })
}

pub fn limits_to_js(l: &DecodeLimits) -> JsLimits {
    JsLimits {
        max_bytes: Some(l.max_bytes as f64),
        max_pixels: Some(l.max_pixels as f64),
        max_decode_bytes: Some(l.max_decode_bytes as f64),
    }
}
