//! The package's wasm API, run by wasm-bindgen-test in Node and in headless
//! Chromium (scripts/test-web-wasm.sh): manifest checks, error codes, the
//! RGBA (ImageData) path, and one real classification on the CPU engine.
#![cfg(target_arch = "wasm32")]

use densenet_edge_web::{
    default_limits, default_top_k, has_test_traps, package_defaults, parse_manifest, sha256_hex, WasmClassifier,
};
use js_sys::{Array, Object, Reflect, Uint8Array, Uint8ClampedArray};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::wasm_bindgen_test;

const MODEL: &[u8] = include_bytes!("../../../model/build/densenet121-random.onnx");
const MANIFEST: &str = include_str!("../../../model/manifests/densenet121-random.json");
const CHELSEA: &[u8] = include_bytes!("../../../tests/images/photos/chelsea.png");
const NOT_IMAGE: &[u8] = include_bytes!("../../../tests/images/bad/not_image.txt");
const TRUNCATED: &[u8] = include_bytes!("../../../tests/images/bad/truncated.png");

fn get(v: &JsValue, key: &str) -> JsValue {
    Reflect::get(v, &key.into()).unwrap()
}

fn code_of(err: &JsValue) -> String {
    assert!(err.is_instance_of::<js_sys::Error>(), "a JS Error, got {err:?}");
    get(err, "code").as_string().unwrap()
}

async fn load_cpu() -> WasmClassifier {
    load_with_limits(JsValue::UNDEFINED).await.unwrap()
}

async fn load_with_limits(limits: JsValue) -> Result<WasmClassifier, JsValue> {
    load(MODEL, "cpu", limits).await
}

async fn load(onnx: &[u8], engine: &str, limits: JsValue) -> Result<WasmClassifier, JsValue> {
    load_hashed(onnx, engine, limits, None).await
}

async fn load_hashed(
    onnx: &[u8],
    engine: &str,
    limits: JsValue,
    sha256: Option<Vec<u8>>,
) -> Result<WasmClassifier, JsValue> {
    let sha256 = sha256.map_or(JsValue::NULL, |d| Uint8Array::from(d.as_slice()).into());
    let options = object(&[
        ("model", Uint8Array::from(onnx).into()),
        ("manifest", MANIFEST.into()),
        ("engine", engine.into()),
        ("fallback", false.into()),
        ("reason", "test".into()),
        ("limits", limits),
        ("sha256", sha256),
    ]);
    WasmClassifier::load_model(options).await
}

async fn classify(model: &WasmClassifier, inputs: &[JsValue]) -> Vec<JsValue> {
    let array: Array = inputs.iter().collect();
    let out = JsFuture::from(model.classify(array, 5)).await.unwrap();
    out.dyn_into::<Array>().unwrap().iter().collect()
}

fn top_ids(result: &JsValue) -> Vec<String> {
    let preds: Array = get(result, "predictions").dyn_into().unwrap();
    preds.iter().map(|p| get(&p, "class_id").as_string().unwrap()).collect()
}

#[wasm_bindgen_test]
fn sha256_is_the_manifests() {
    let m = parse_manifest(MANIFEST).unwrap();
    assert_eq!(sha256_hex(MODEL), get(&m, "sha256").as_string().unwrap());
    assert_eq!(get(&m, "weights").as_string().unwrap(), "random");
}

#[wasm_bindgen_test]
fn bad_manifest_is_model_invalid() {
    assert_eq!(code_of(&parse_manifest("{}").unwrap_err()), "model_invalid");
}

#[wasm_bindgen_test]
async fn wrong_bytes_are_rejected_before_loading() {
    let err = load(b"not a model", "cpu", JsValue::UNDEFINED).await.err().unwrap();
    assert_eq!(code_of(&err), "model_checksum_mismatch");
    assert!(err.unchecked_ref::<js_sys::Error>().message().as_string().unwrap().contains("sha256"));
}

/// The caller's digest (the package's WebCrypto one) stands in for hashing
/// in wasm, and is held to the manifest's just the same.
#[wasm_bindgen_test]
async fn a_callers_digest_is_checked_against_the_manifest() {
    let digest = |hex: &str| (0..32).map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap()).collect();
    let right = digest(&sha256_hex(MODEL));
    let model = load_hashed(MODEL, "cpu", JsValue::UNDEFINED, Some(right)).await.unwrap();
    assert_eq!(top_ids(&classify(&model, &[Uint8Array::from(CHELSEA).into()]).await[0]).len(), 5);
    let wrong = digest(&sha256_hex(b"another file"));
    let err = load_hashed(MODEL, "cpu", JsValue::UNDEFINED, Some(wrong)).await.err().unwrap();
    assert_eq!(code_of(&err), "model_checksum_mismatch");
    let err = load_hashed(MODEL, "cpu", JsValue::UNDEFINED, Some(vec![0; 3])).await.err().unwrap();
    assert_eq!(code_of(&err), "model_checksum_mismatch");
}

/// `WasmClassifier.load` takes one object; a missing, misspelt or
/// mistyped option is the caller's error, not a default.
#[wasm_bindgen_test]
async fn bad_load_options_are_invalid_argument() {
    let model = || -> JsValue { Uint8Array::from(MODEL).into() };
    for options in [
        JsValue::from("cpu"),
        object(&[("manifest", MANIFEST.into()), ("engine", "cpu".into())]),
        object(&[
            ("model", model()),
            ("manifest", MANIFEST.into()),
            ("engine", "cpu".into()),
            ("limit", JsValue::NULL),
        ]),
        object(&[("model", JsValue::from("bytes")), ("manifest", MANIFEST.into()), ("engine", "cpu".into())]),
        object(&[("model", model()), ("manifest", MANIFEST.into()), ("engine", "cpu".into()), ("sha256", "ab".into())]),
    ] {
        let err = WasmClassifier::load_model(options).await.err().unwrap();
        assert_eq!(code_of(&err), "invalid_argument");
    }
    // Only the three it cannot do without.
    let options = object(&[("model", model()), ("manifest", MANIFEST.into()), ("engine", "cpu".into())]);
    assert_eq!(WasmClassifier::load_model(options).await.unwrap().engine(), "cpu");
}

#[wasm_bindgen_test]
async fn unknown_engine_is_invalid_argument() {
    let err = load(MODEL, "tpu", JsValue::UNDEFINED).await.err().unwrap();
    assert_eq!(code_of(&err), "invalid_argument");
}

#[wasm_bindgen_test]
async fn classifies_bytes_and_imagedata_and_reports_errors_per_image() {
    let model = load_cpu().await;
    assert_eq!(model.engine(), "cpu");

    // The RGBA path: the decoded photo as ImageData-like pixels must give
    // the same answer as the encoded bytes.
    let img = image::load_from_memory(CHELSEA).unwrap().to_rgba8();
    let pixels = Object::new();
    Reflect::set(&pixels, &"data".into(), &Uint8ClampedArray::from(img.as_raw().as_slice())).unwrap();
    Reflect::set(&pixels, &"width".into(), &img.width().into()).unwrap();
    Reflect::set(&pixels, &"height".into(), &img.height().into()).unwrap();

    let results = classify(
        &model,
        &[
            Uint8Array::from(CHELSEA).into(),
            pixels.into(),
            Uint8Array::from(NOT_IMAGE).into(),
            Uint8Array::from(TRUNCATED).into(),
            Uint8Array::new_with_length(0).into(),
            JsValue::from_str("nope"),
        ],
    )
    .await;
    assert_eq!(results.len(), 6);

    let bytes = &results[0];
    assert_eq!(top_ids(bytes).len(), 5);
    assert_eq!(top_ids(bytes), top_ids(&results[1]));
    assert_eq!(get(bytes, "engine").as_string().unwrap(), "cpu");
    assert_eq!(get(&get(bytes, "model"), "weights").as_string().unwrap(), "random");
    assert!(get(&get(bytes, "timings"), "inference_ms").as_f64().unwrap() > 0.0);
    // The shared crate's answer: the top class at the top level too.
    assert_eq!(get(bytes, "class_id").as_string().unwrap(), top_ids(bytes)[0]);
    assert_eq!(get(&get(bytes, "model"), "pretrained").as_bool(), Some(false));
    let p: f64 = get(&get(&get(bytes, "predictions"), "0"), "probability").as_f64().unwrap();
    assert!(p > 0.0 && p <= 1.0);

    let code = |r: &JsValue| get(&get(r, "error"), "code").as_string().unwrap();
    assert_eq!(code(&results[2]), "not_an_image");
    assert_eq!(code(&results[3]), "corrupt_image");
    assert_eq!(code(&results[4]), "empty_input");
    assert_eq!(code(&results[5]), "invalid_argument");
}

fn object(pairs: &[(&str, JsValue)]) -> JsValue {
    let o = Object::new();
    for (k, v) in pairs {
        Reflect::set(&o, &(*k).into(), v).unwrap();
    }
    o.into()
}

fn wasm_memory_bytes() -> f64 {
    let memory: js_sys::WebAssembly::Memory = wasm_bindgen::memory().dyn_into().unwrap();
    get(&memory.buffer(), "byteLength").as_f64().unwrap()
}

#[wasm_bindgen_test]
fn default_limits_are_the_packages() {
    let d = default_limits();
    let p = package_defaults();
    assert_eq!(get(&d, "maxBytes").as_f64().unwrap(), p.decode.max_bytes as f64);
    assert_eq!(get(&d, "maxPixels").as_f64().unwrap(), p.decode.max_pixels as f64);
    assert_eq!(get(&d, "maxDecodeBytes").as_f64().unwrap(), (256u64 << 20) as f64);
    assert_eq!(get(&d, "maxJpegScans").as_f64().unwrap(), densenet_edge::DecodeLimits::default().max_jpeg_scans as f64);
    assert_eq!(get(&d, "maxDecodePixels").as_f64().unwrap(), 128e6);
    assert_eq!(get(&d, "maxWeightBytes").as_f64().unwrap(), (128u64 << 20) as f64);
    assert_eq!(get(&d, "maxWorkspaceBytes").as_f64().unwrap(), (64u64 << 20) as f64);
    assert_eq!(default_top_k(), densenet_edge::DEFAULT_TOP_K);
    // The tests build without the test-only traps, as the published package does.
    assert!(!has_test_traps());
}

#[wasm_bindgen_test]
async fn bad_limits_are_invalid_argument() {
    for limits in [
        object(&[("maxBytes", JsValue::from(0))]),
        object(&[("maxPixels", JsValue::from(1.5))]),
        object(&[("maxDecodeBytes", JsValue::from(f64::INFINITY))]),
        object(&[("maxMegapixels", JsValue::from(3))]),
        object(&[("maxWeightBytes", JsValue::from(0))]),
        object(&[("maxJpegScans", JsValue::from(-1))]),
        object(&[("maxDecodePixels", JsValue::from(0.5))]),
    ] {
        let err = load_with_limits(limits).await.err().unwrap();
        assert_eq!(code_of(&err), "invalid_argument");
    }
}

#[wasm_bindgen_test]
async fn oversized_inputs_are_refused_before_they_are_copied_into_wasm() {
    let model = load_with_limits(object(&[("maxDecodeBytes", JsValue::from(1 << 20))])).await.unwrap();
    assert_eq!(get(&model.limits(), "maxDecodeBytes").as_f64().unwrap(), (1 << 20) as f64);
    let before = wasm_memory_bytes();
    // 512 MiB of encoded bytes: a copy could not fit in what wasm memory
    // has free, so it would have to grow by hundreds of MiB.
    let huge = Uint8Array::new_with_length(512 << 20);
    // ImageData of 100000 x 100000 pixels whose data is tiny: refused on
    // its dimensions, before its data is looked at.
    let wide = object(&[
        ("data", Uint8ClampedArray::new_with_length(16).into()),
        ("width", JsValue::from(100_000)),
        ("height", JsValue::from(100_000)),
    ]);
    // 2000 x 2000 RGBA: within the pixel limit; its crop-resize needs
    // about 1.5 MB, over this model's 1 MiB decode budget.
    let over_budget = object(&[
        ("data", Uint8ClampedArray::new_with_length(16_000_000).into()),
        ("width", JsValue::from(2000)),
        ("height", JsValue::from(2000)),
    ]);
    let fractional = object(&[
        ("data", Uint8ClampedArray::new_with_length(16).into()),
        ("width", JsValue::from(1.5)),
        ("height", JsValue::from(2)),
    ]);
    let short = object(&[
        ("data", Uint8ClampedArray::new_with_length(16).into()),
        ("width", JsValue::from(100)),
        ("height", JsValue::from(100)),
    ]);
    let results = classify(&model, &[huge.into(), wide, over_budget, fractional, short]).await;
    let code = |r: &JsValue| get(&get(r, "error"), "code").as_string().unwrap();
    assert_eq!(code(&results[0]), "too_many_bytes");
    assert_eq!(code(&results[1]), "too_many_pixels");
    assert_eq!(code(&results[2]), "image_too_large");
    assert_eq!(code(&results[3]), "invalid_argument");
    assert_eq!(code(&results[4]), "invalid_argument");
    let grown = wasm_memory_bytes() - before;
    assert!(grown < (16 << 20) as f64, "wasm memory grew by {grown} bytes");
}

/// A model over the weight or workspace limit is refused while it loads,
/// with the limit named.
#[wasm_bindgen_test]
async fn model_limits_refuse_the_model() {
    for (limit, named) in
        [("maxWeightBytes", "limits.maxWeightBytes"), ("maxWorkspaceBytes", "limits.maxWorkspaceBytes")]
    {
        let err = load_with_limits(object(&[(limit, JsValue::from(1 << 20))])).await.err().unwrap();
        assert_eq!(code_of(&err), "model_invalid");
        let message = err.unchecked_ref::<js_sys::Error>().message().as_string().unwrap();
        assert!(message.contains(named), "{message}");
    }
}

/// One call's images share its decode budget: past it, each is too_much_work.
#[wasm_bindgen_test]
async fn a_calls_decode_budget_refuses_the_images_past_it() {
    // chelsea.png is 451x300 = 135 300 pixels: two fit 300 000, the third does not.
    let model = load_with_limits(object(&[("maxDecodePixels", JsValue::from(300_000))])).await.unwrap();
    let photo = || -> JsValue { Uint8Array::from(CHELSEA).into() };
    let results = classify(&model, &[photo(), photo(), photo()]).await;
    assert_eq!(top_ids(&results[0]).len(), 5);
    assert_eq!(top_ids(&results[1]).len(), 5);
    assert_eq!(get(&get(&results[2], "error"), "code").as_string().unwrap(), "too_much_work");
    // The budget is per call.
    assert_eq!(top_ids(&classify(&model, &[photo()]).await[0]).len(), 5);
}
