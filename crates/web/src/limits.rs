//! The npm package's limits: its defaults, sized for a browser tab, and the
//! caller's overrides (`Classifier.create({ limits })`). The decode limits
//! bound one image; `max_decode_pixels` one `classify`/`classifyMany` call;
//! the model limits what a model may make the tab allocate when it loads.

use densenet_edge::{DecodeLimits, Error, LoadLimits, Options};
use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

/// The package's decode defaults (per image).
///
/// - `max_bytes` 20 MiB: the largest file copied into wasm memory.
/// - `max_pixels` 40 MP: as the shared crate.
/// - `max_decode_bytes` 256 MiB: what decoding and resizing one image may
///   allocate in wasm. Wasm memory never shrinks, so this is also how far
///   one hostile image can raise the tab's memory above the loaded model's
///   (a ~100 MiB high-water mark for DenseNet-121 on the CPU engine). A
///   12-megapixel phone JPEG needs well under it; a mobile browser tab is
///   killed somewhere from about 1 GiB, so 256 MiB leaves room for the page.
/// - `max_jpeg_scans` 500: the shared crate's, as the Worker's. Each scan
///   of a progressive JPEG walks every block; encoders write about 10,
///   hostile files thousands of empty ones.
pub fn browser_limits() -> DecodeLimits {
    DecodeLimits { max_bytes: 20 << 20, max_pixels: 40_000_000, max_decode_bytes: 256 << 20, ..DecodeLimits::DEFAULT }
}

/// Everything `Classifier.create({ limits })` sets.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PackageLimits {
    /// Per image.
    pub decode: DecodeLimits,
    /// Pixels of decode work one `classify`/`classifyMany` call may take
    /// (the shared crate's `WorkBudget`: an image's width x height from its
    /// header, plus a progressive JPEG's scans' block loops; an ImageData's
    /// width x height): an image that would go past it is refused
    /// (`too_much_work`) instead of holding the thread (the page's Web
    /// Worker) for minutes.
    pub max_decode_pixels: u64,
    /// What the model may make the CPU engine allocate in wasm memory (its
    /// packed weights, one run's activations and scratch), checked while it
    /// loads, and the most images per engine run. The caller sets the first
    /// two (`maxWeightBytes`, `maxWorkspaceBytes`); the batch is the shared
    /// crate's default, which the package does not change.
    pub load: LoadLimits,
}

/// The package's defaults.
///
/// - `max_decode_pixels` 128 MP per call: a whole engine batch (8) of 12 MP
///   phone photos in one `classifyMany`, or any one image within
///   `max_pixels` (a 40 MP progressive JPEG's scans add ~50%): 3-4 s of
///   one core at most (a 12 MP phone JPEG decodes and crops in 0.3-0.46 s
///   in wasm in Node 20, 30-40 MP/s; a 24 MP progressive one in 1.1-1.4 s). A tab's only victim
///   is its own user, who chose the images, so it is looser than the
///   Worker's 64 MP per request (a server shared by strangers); a Node
///   server built on the package may want the Worker's.
/// - `max_weight_bytes` 128 MiB: DenseNet-121's packed weights take ~44 MiB,
///   -169 ~69 MiB; the Worker's 80 MiB is set by a 128 MB isolate, a tab
///   has more. Weights + workspace + one image's decode budget (256 MiB)
///   stay under ~450 MiB, well below where mobile browsers kill a tab.
/// - `max_workspace_bytes` 64 MiB at `max_batch` (8) images:
///   DenseNet-121 needs 12.5 MiB for one image, 19.8 MiB for 8; a wider
///   model whose activations would take more is refused at its load rather
///   than taking the tab's memory up on its first image.
pub fn package_defaults() -> PackageLimits {
    PackageLimits {
        decode: browser_limits(),
        max_decode_pixels: 128_000_000,
        load: LoadLimits {
            max_weight_bytes: 128 << 20,
            max_workspace_bytes: 64 << 20,
            max_batch: Options::default().max_batch,
        },
    }
}

const KNOWN: [&str; 7] = [
    "maxBytes",
    "maxPixels",
    "maxDecodeBytes",
    "maxJpegScans",
    "maxDecodePixels",
    "maxWeightBytes",
    "maxWorkspaceBytes",
];

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JsLimits {
    pub max_bytes: Option<f64>,
    pub max_pixels: Option<f64>,
    pub max_decode_bytes: Option<f64>,
    pub max_jpeg_scans: Option<f64>,
    pub max_decode_pixels: Option<f64>,
    pub max_weight_bytes: Option<f64>,
    pub max_workspace_bytes: Option<f64>,
}

/// The first key of the object `value` not in `known`: serde_wasm_bindgen
/// reads only the fields it knows, so a misspelt one would be silently
/// ignored.
pub(crate) fn unknown_key(value: &JsValue, known: &[&str]) -> Option<String> {
    js_sys::Object::keys(value.unchecked_ref::<js_sys::Object>())
        .iter()
        .map(|key| key.as_string().unwrap_or_default())
        .find(|key| !known.contains(&key.as_str()))
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
pub fn limits_from_js(value: &JsValue) -> Result<PackageLimits, Error> {
    if value.is_undefined() || value.is_null() {
        return Ok(package_defaults());
    }
    let known = format!("known: {}", KNOWN.join(", "));
    if !value.is_object() {
        return Err(Error::InvalidArgument(format!("limits must be an object ({known})")));
    }
    if let Some(key) = unknown_key(value, &KNOWN) {
        return Err(Error::InvalidArgument(format!("unknown limit {key:?} ({known})")));
    }
    let js: JsLimits = serde_wasm_bindgen::from_value(value.clone())
        .map_err(|e| Error::InvalidArgument(format!("limits: {e} ({known})")))?;
    let d = package_defaults();
    // Sizes must fit wasm32's usize and JS's exact integers; a count of
    // pixels only the latter.
    let cap = u32::MAX as u64;
    let exact = (1u64 << 53) - 1;
    let size = |name, v, default: usize| count(name, v, default as u64, cap).map(|n| n as usize);
    Ok(PackageLimits {
        decode: DecodeLimits {
            max_bytes: size("maxBytes", js.max_bytes, d.decode.max_bytes)?,
            max_pixels: count("maxPixels", js.max_pixels, d.decode.max_pixels, cap)?,
            max_decode_bytes: count("maxDecodeBytes", js.max_decode_bytes, d.decode.max_decode_bytes, cap)?,
            max_jpeg_scans: count("maxJpegScans", js.max_jpeg_scans, d.decode.max_jpeg_scans as u64, cap)? as u32,
        },
        max_decode_pixels: count("maxDecodePixels", js.max_decode_pixels, d.max_decode_pixels, exact)?,
        load: LoadLimits {
            max_weight_bytes: size("maxWeightBytes", js.max_weight_bytes, d.load.max_weight_bytes)?,
            max_workspace_bytes: size("maxWorkspaceBytes", js.max_workspace_bytes, d.load.max_workspace_bytes)?,
            ..d.load
        },
    })
}

pub fn limits_to_js(l: &PackageLimits) -> JsLimits {
    JsLimits {
        max_bytes: Some(l.decode.max_bytes as f64),
        max_pixels: Some(l.decode.max_pixels as f64),
        max_decode_bytes: Some(l.decode.max_decode_bytes as f64),
        max_jpeg_scans: Some(l.decode.max_jpeg_scans as f64),
        max_decode_pixels: Some(l.max_decode_pixels as f64),
        max_weight_bytes: Some(l.load.max_weight_bytes as f64),
        max_workspace_bytes: Some(l.load.max_workspace_bytes as f64),
    }
}
