//! wasm-bindgen bindings of the shared crate, for the npm package
//! `densenet-edge`. These are the low-level exports; `js/classifier.js`
//! wraps them (model download, Cache API, choice of engine) into the
//! public `Classifier` API, so everything here takes bytes, not URLs.

mod input;
mod limits;
mod run_now;
#[cfg(feature = "test-trap")]
mod test_trap;

use std::rc::Rc;

use densenet_edge::{
    load_engine_with, Classifier, CpuEngine, Crop, Engine as _, EngineChoice, EngineKind, Error, ErrorAnswer,
    ImageAnswer, Labels, Manifest, ModelInfo, Options, StreamedLoad, WorkBudget, DEFAULT_TOP_K, MAX_TOP_K,
};
use js_sys::{Array, Promise, Reflect, Uint8Array};
use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use input::{input_from_js, Input};
pub use limits::{browser_limits, package_defaults, PackageLimits};
use limits::{limits_from_js, limits_to_js, unknown_key};
use run_now::promise_now_or_later;

#[wasm_bindgen]
extern "C" {
    // `performance.now()` exists in windows, workers and Node >= 16.
    #[wasm_bindgen(js_namespace = performance, js_name = now)]
    fn now() -> f64;
}

#[wasm_bindgen(start)]
pub fn start() {
    // A Rust panic shows its message in the console instead of "unreachable".
    console_error_panic_hook::set_once();
}

/// A JS `Error` whose `.code` is the shared crate's stable error code.
fn js_error(e: &Error) -> JsValue {
    coded_error(e.code(), &e.to_string())
}

fn coded_error(code: &str, message: &str) -> JsValue {
    let err = js_sys::Error::new(message);
    let _ = Reflect::set(&err, &"code".into(), &code.into());
    err.into()
}

fn to_js<T: Serialize>(value: &T) -> JsValue {
    // Plain objects (not Maps), so results print and JSON.stringify well.
    value.serialize(&serde_wasm_bindgen::Serializer::json_compatible()).expect("serialisable")
}

/// sha256 of some bytes, lowercase hex: works where `crypto.subtle` does not
/// (plain-http pages on other hosts than localhost).
#[wasm_bindgen(js_name = sha256Hex)]
pub fn sha256_hex(bytes: &[u8]) -> String {
    densenet_edge::sha256_hex(bytes)
}

/// The package's default limits, `{ maxBytes, maxPixels, maxDecodeBytes,
/// maxJpegScans, maxDecodePixels, maxWeightBytes, maxWorkspaceBytes }` (see
/// `limits.rs` for why these values).
#[wasm_bindgen(js_name = defaultLimits)]
pub fn default_limits() -> JsValue {
    to_js(&limits_to_js(&package_defaults()))
}

/// How many predictions a result lists unless the caller asks otherwise:
/// the shared crate's, as the HTTP API and the command line.
#[wasm_bindgen(js_name = defaultTopK)]
pub fn default_top_k() -> usize {
    DEFAULT_TOP_K
}

/// Bytes of wasm memory (linear memory never shrinks: this is the
/// high-water mark of this instance).
#[wasm_bindgen(js_name = wasmMemoryBytes)]
pub fn wasm_memory_bytes() -> f64 {
    let memory: js_sys::WebAssembly::Memory = wasm_bindgen::memory().unchecked_into();
    Reflect::get(&memory.buffer(), &"byteLength".into()).ok().and_then(|v| v.as_f64()).unwrap_or(0.0)
}

/// Whether this build has the test-only traps (Cargo feature `test-trap`):
/// false in the published package.
#[wasm_bindgen(js_name = hasTestTraps)]
pub fn has_test_traps() -> bool {
    cfg!(feature = "test-trap")
}

/// Parses and checks a model manifest; returns it as an object.
#[wasm_bindgen(js_name = parseManifest)]
pub fn parse_manifest(json: &str) -> Result<JsValue, JsValue> {
    Manifest::from_json(json).map(|m| to_js(&m)).map_err(|e| js_error(&e))
}

/// Where one `classify` call's time went, ms.
#[derive(Serialize)]
struct Timings {
    /// Decode, resize and crop, for the whole call.
    preprocess_ms: f64,
    /// The engine run for the whole call.
    inference_ms: f64,
    total_ms: f64,
    /// Images in the call (the times above are shared by them).
    images: usize,
}

/// One image's result: the shared crate's answer (the HTTP API's fields),
/// then what the package adds. Serialised as it is (`docs/answer.schema.json`,
/// definition `PackageClassification`); `js/answer.js` camelCases the keys.
#[derive(Serialize)]
struct PackageClassification<'a> {
    #[serde(flatten)]
    answer: ImageAnswer,
    engine: EngineKind,
    /// Why this engine runs (for "auto": why WebGPU was or was not used).
    engine_reason: &'a str,
    device: &'a str,
    timings: &'a Timings,
    model: &'a ModelInfo,
}

/// A model loaded on an engine, and what every result says about it.
struct Loaded {
    classifier: Classifier,
    engine: EngineKind,
    engine_reason: String,
    device: String,
    manifest: Manifest,
    info: ModelInfo,
    limits: PackageLimits,
}

impl Loaded {
    fn prepare(&self, input: Result<Input, Error>, budget: &mut WorkBudget) -> Result<Crop, Error> {
        match input? {
            Input::Encoded(bytes) => {
                #[cfg(feature = "test-trap")]
                test_trap::trap_if_asked(&bytes);
                self.classifier.prepare_within(&bytes, budget)
            }
            Input::Pixels { data, width, height } => self.classifier.prepare_rgba_within(&data, width, height, budget),
        }
    }

    /// Every input gets a result object or `{ error: { code, message } }`.
    /// The call's inputs share one decode budget (`maxDecodePixels`; an
    /// ImageData costs its width x height): an image that would go past it
    /// is `too_much_work`, and the ones after it still get what is left.
    async fn classify(&self, inputs: Vec<Result<Input, Error>>, top_k: usize) -> Array {
        let t0 = now();
        let n = inputs.len();
        let mut budget = WorkBudget::new(self.limits.max_decode_pixels);
        let prepared: Vec<_> = inputs.into_iter().map(|i| self.prepare(i, &mut budget)).collect();
        let t1 = now();
        let results = self.classifier.classify_prepared(prepared, top_k).await;
        let t2 = now();
        let timings = Timings { preprocess_ms: t1 - t0, inference_ms: t2 - t1, total_ms: t2 - t0, images: n };
        results
            .into_iter()
            .map(|r| match r {
                Ok(c) => to_js(&PackageClassification {
                    answer: c.into(),
                    engine: self.engine,
                    engine_reason: &self.engine_reason,
                    device: &self.device,
                    timings: &timings,
                    model: &self.info,
                }),
                Err(e) => to_js(&ErrorAnswer::from(&e)),
            })
            .collect()
    }
}

/// What `WasmClassifier.load` takes, one object (`js/classifier.js` makes it).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LoadOptions {
    /// The ONNX file, left in JS memory: the CPU engine copies it into wasm
    /// one chunk at a time.
    #[serde(with = "serde_wasm_bindgen::preserve")]
    model: Uint8Array,
    /// The manifest's JSON text.
    manifest: String,
    /// "cpu" or "webgpu".
    engine: String,
    /// With "webgpu": the CPU engine when WebGPU fails to load or fails its
    /// self-check (the shared crate's `auto`).
    #[serde(default)]
    fallback: bool,
    /// The caller's reason for the engine choice (e.g. "no WebGPU adapter").
    #[serde(default)]
    reason: String,
    /// `Classifier.create`'s `limits`, parsed by `limits_from_js`.
    #[serde(default, with = "serde_wasm_bindgen::preserve")]
    limits: JsValue,
    /// The file's SHA-256 (a `Uint8Array` of 32 bytes), or null.
    #[serde(default, with = "serde_wasm_bindgen::preserve")]
    sha256: JsValue,
}

impl LoadOptions {
    const KNOWN: [&'static str; 7] = ["model", "manifest", "engine", "fallback", "reason", "limits", "sha256"];

    fn from_js(value: JsValue) -> Result<LoadOptions, Error> {
        let known = || format!("known: {}", LoadOptions::KNOWN.join(", "));
        if !value.is_object() {
            return Err(Error::InvalidArgument(format!("load options must be an object ({})", known())));
        }
        if let Some(key) = unknown_key(&value, &LoadOptions::KNOWN) {
            return Err(Error::InvalidArgument(format!("unknown load option {key:?} ({})", known())));
        }
        serde_wasm_bindgen::from_value(value).map_err(|e| Error::InvalidArgument(format!("load options: {e}")))
    }

    fn sha256(&self) -> Result<Option<Vec<u8>>, Error> {
        if self.sha256.is_undefined() || self.sha256.is_null() {
            return Ok(None);
        }
        match self.sha256.dyn_ref::<Uint8Array>() {
            Some(digest) => Ok(Some(digest.to_vec())),
            None => Err(Error::InvalidArgument("load option sha256 must be a Uint8Array or null".into())),
        }
    }
}

/// A loaded model on one engine. Made by [`WasmClassifier::load`].
#[wasm_bindgen]
pub struct WasmClassifier {
    inner: Rc<Loaded>,
}

#[wasm_bindgen]
impl WasmClassifier {
    /// Verify `model` against `manifest` (sha256: `model_checksum_mismatch`),
    /// then load it on `engine` ("cpu" or "webgpu") through the shared
    /// crate's `load_engine`. Takes one object, `{ model, manifest, engine,
    /// fallback, reason, limits, sha256 }`:
    /// - `model`: the ONNX file (`Uint8Array`); `manifest`: its manifest's
    ///   JSON text.
    /// - `fallback`: a WebGPU engine that fails to load or fails its
    ///   self-check against the CPU engine gives way to the CPU engine, and
    ///   `engineReason` says why. `reason`: the caller's reason for the
    ///   engine choice (e.g. "no WebGPU adapter").
    /// - `limits`: `{ maxBytes, maxPixels, maxDecodeBytes, maxJpegScans,
    ///   maxDecodePixels, maxWeightBytes, maxWorkspaceBytes }`, each optional
    ///   (see `defaultLimits`); a model whose weights or workspace are over
    ///   theirs is refused (`model_invalid`), on every engine (WebGPU loads
    ///   the CPU engine too, as its reference).
    /// - `sha256`: the file's SHA-256 (32 bytes) when the caller computed it
    ///   (WebCrypto is native code, several times faster than `sha2` in
    ///   wasm); the CPU engine's load then only compares it with the
    ///   manifest's, other engines hash in wasm anyway.
    ///
    /// Resolves to a `WasmClassifier`; a trap while loading on the CPU is
    /// thrown synchronously (see run_now.rs).
    pub fn load(options: JsValue) -> Promise {
        promise_now_or_later(async move { WasmClassifier::load_model(options).await.map(JsValue::from) })
    }

    /// The limits this model was loaded with and applies (as `defaultLimits`).
    #[wasm_bindgen(getter)]
    pub fn limits(&self) -> JsValue {
        to_js(&limits_to_js(&self.inner.limits))
    }
}

/// The engine's refusals name its own limits; say which of the package's
/// they are, so that a caller knows what to raise.
fn name_limit(e: impl Into<Error>, limits: &PackageLimits) -> Error {
    match e.into() {
        Error::ModelInvalid(m) if m.contains("this engine may allocate") => {
            let limit = if m.contains("activations and scratch") {
                format!("limits.maxWorkspaceBytes, checked for a run of {} images", limits.load.max_batch)
            } else {
                "limits.maxWeightBytes".to_string()
            };
            Error::ModelInvalid(format!("{m} ({limit})"))
        }
        e => e,
    }
}

/// Bytes copied from the JS buffer into wasm at a time.
const LOAD_CHUNK: usize = 1 << 20;

/// The CPU engine from the model in JS memory, copied into wasm one chunk
/// at a time: the file never sits whole in wasm memory, which never shrinks
/// (53-55 MiB with a photo classified, instead of 97-128). Hashed here unless
/// the caller gives the file's `sha256`. Weights and workspace are held to
/// `limits` as they load.
fn cpu_classifier(
    onnx: &Uint8Array,
    manifest: &Manifest,
    options: Options,
    limits: &PackageLimits,
    sha256: Option<&[u8]>,
) -> Result<Classifier, Error> {
    let mut load = match sha256 {
        Some(_) => StreamedLoad::hashed_by_caller(manifest, options, limits.load)?,
        None => StreamedLoad::new(manifest, options, limits.load)?,
    };
    let len = onnx.length() as usize;
    let mut chunk = vec![0u8; LOAD_CHUNK.min(len)];
    for start in (0..len).step_by(LOAD_CHUNK) {
        let end = (start + LOAD_CHUNK).min(len);
        let part = &mut chunk[..end - start];
        onnx.subarray(start as u32, end as u32).copy_to(part);
        load.push(part);
    }
    match sha256 {
        Some(digest) => load.finish_with_digest(digest),
        None => load.finish(),
    }
    .map_err(|e| name_limit(e, limits))
}

/// WebGPU (through wonnx), checked against the CPU engine on a probe input;
/// with `auto`, the CPU engine when WebGPU fails. The CPU engine (wonnx's
/// reference and the source of its value shapes) is loaded under `limits`,
/// as on the CPU path, so a model refused there never reaches wonnx.
async fn webgpu_classifier(
    onnx: &Uint8Array,
    manifest: &Manifest,
    choice: EngineChoice,
    options: Options,
    limits: &PackageLimits,
    sha256: Option<&[u8]>,
) -> Result<(Classifier, String), Error> {
    // wonnx parses the whole file.
    let onnx = onnx.to_vec();
    match sha256 {
        Some(digest) => manifest.check_digest(digest)?,
        None => manifest.verify(&onnx)?,
    }
    let mut loader = CpuEngine::loader(limits.load);
    loader.push(&onnx).map_err(|e| name_limit(e, limits))?;
    let cpu = CpuEngine::new(loader.finish().map_err(|e| name_limit(e, limits))?)?;
    manifest.check_precision(cpu.precision())?;
    let loaded = load_engine_with(&onnx, manifest.preprocess.crop as usize, choice, cpu).await?;
    let options = Options { preprocess: manifest.preprocess.clone(), ..options };
    Ok((Classifier::new(loaded.engine, Labels::imagenet().clone(), options)?, loaded.reason))
}

impl WasmClassifier {
    /// [`WasmClassifier::load`] for Rust callers (the wasm tests), with the
    /// same options object.
    pub async fn load_model(options: JsValue) -> Result<WasmClassifier, JsValue> {
        let options = LoadOptions::from_js(options).map_err(|e| js_error(&e))?;
        let sha256 = options.sha256().map_err(|e| js_error(&e))?;
        let LoadOptions { model: onnx, manifest, engine, fallback, reason, limits, .. } = options;
        let manifest = Manifest::from_json(&manifest).map_err(|e| js_error(&e))?;
        let limits = limits_from_js(&limits).map_err(|e| js_error(&e))?;
        // JS has already looked at the adapter: "webgpu" with `fallback` is
        // the shared crate's `auto`.
        let choice = match engine.parse::<EngineChoice>().map_err(|e| js_error(&e))? {
            EngineChoice::Webgpu if fallback => EngineChoice::Auto,
            choice => choice,
        };
        let options = Options { limits: limits.decode, max_batch: limits.load.max_batch, ..Options::default() };
        let (classifier, loaded_reason) = if choice == EngineChoice::Cpu {
            (
                cpu_classifier(&onnx, &manifest, options, &limits, sha256.as_deref()).map_err(|e| js_error(&e))?,
                String::new(),
            )
        } else {
            webgpu_classifier(&onnx, &manifest, choice, options, &limits, sha256.as_deref())
                .await
                .map_err(|e| js_error(&e))?
        };
        let (kind, device) = (classifier.engine().kind(), classifier.engine().device());
        let engine_reason = match (choice, kind) {
            (EngineChoice::Cpu, _) => reason,
            (_, EngineKind::Webgpu) => format!("{reason}; {loaded_reason}"),
            // WebGPU was tried and failed: the shared crate says why.
            (_, EngineKind::Cpu) => loaded_reason,
        };
        let info = ModelInfo::from(&manifest);
        Ok(WasmClassifier {
            inner: Rc::new(Loaded { classifier, engine: kind, engine_reason, device, manifest, info, limits }),
        })
    }
}

#[wasm_bindgen]
impl WasmClassifier {
    /// "cpu" or "webgpu".
    #[wasm_bindgen(getter)]
    pub fn engine(&self) -> String {
        self.inner.engine.to_string()
    }

    #[wasm_bindgen(getter, js_name = engineReason)]
    pub fn engine_reason(&self) -> String {
        self.inner.engine_reason.clone()
    }

    #[wasm_bindgen(getter)]
    pub fn device(&self) -> String {
        self.inner.device.clone()
    }

    #[wasm_bindgen(getter)]
    pub fn manifest(&self) -> JsValue {
        to_js(&self.inner.manifest)
    }

    /// What every result says about the model (`ModelInfo`, snake_case keys).
    #[wasm_bindgen(getter, js_name = modelInfo)]
    pub fn model_info(&self) -> JsValue {
        to_js(&self.inner.info)
    }

    /// Classify an array of inputs (`Uint8Array` of an encoded image, or
    /// `ImageData`-like `{ data, width, height }`). Resolves to an array with
    /// one result or one `{ error: { code, message } }` per input, keys as
    /// the shared crate names them (snake_case; `js/answer.js` camelCases
    /// them for the public API). Sizes
    /// are checked before an input is copied into wasm memory. On the CPU
    /// engine all the work happens before this returns, so a trap is thrown
    /// here rather than lost in a microtask (see run_now.rs).
    pub fn classify(&self, inputs: Array, top_k: usize) -> Promise {
        let limits = self.inner.limits.decode;
        let inputs: Vec<_> = inputs.iter().map(|v| input_from_js(&v, &limits)).collect();
        let inner = Rc::clone(&self.inner);
        promise_now_or_later(async move { Ok(inner.classify(inputs, top_k.clamp(1, MAX_TOP_K)).await.into()) })
    }
}
