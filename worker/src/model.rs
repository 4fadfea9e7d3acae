//! The model, loaded from R2 once per isolate. Requests that arrive during
//! the load wait for it and share its outcome; a failed load is forgotten,
//! so a later request tries again.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use densenet_edge::{Classifier, CpuEngine, DecodeLimits, Labels, Manifest, Options};
use futures_util::StreamExt;
use serde::Serialize;
use serde_json::json;
use worker::Env;

use crate::api::ApiError;
use crate::config::Config;

pub struct Model {
    pub classifier: Classifier,
    pub manifest: Manifest,
    pub load: LoadStats,
}

/// Where the load time went, in ms (`Date.now()`), and the wasm memory
/// right after it.
#[derive(Debug, Clone, Serialize)]
pub struct LoadStats {
    pub fetch_ms: f64,
    pub verify_ms: f64,
    pub engine_ms: f64,
    pub total_ms: f64,
    pub wasm_memory_bytes: u64,
}

thread_local! {
    static LOADED: RefCell<Option<Rc<Model>>> = const { RefCell::new(None) };
    /// A load is under way (in some request).
    static LOADING: Cell<bool> = const { Cell::new(false) };
    /// Loads started in this isolate (1 once loaded, however many requests
    /// arrived first), and the error of the last failed one with its number.
    static LOAD_ATTEMPTS: Cell<u32> = const { Cell::new(0) };
    static LAST_ERROR: RefCell<Option<(u32, ApiError)>> = const { RefCell::new(None) };
    /// wasm memory after the most recent engine batch, and its size.
    static LAST_BATCH: Cell<Option<(u64, usize)>> = const { Cell::new(None) };
    static BATCHES: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
}

/// How often a request waiting for another request's load looks again.
const POLL_MS: u64 = 20;

pub fn now_ms() -> f64 {
    worker::js_sys::Date::now()
}

/// Current wasm linear memory in bytes (it only grows).
pub fn wasm_memory_bytes() -> u64 {
    #[cfg(target_arch = "wasm32")]
    {
        core::arch::wasm32::memory_size(0) as u64 * 65536
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        0
    }
}

pub fn loaded() -> Option<Rc<Model>> {
    LOADED.with(|l| l.borrow().clone())
}

/// The model, loading it first if this isolate has not yet. Requests that
/// arrive during a load wait for that load and share its outcome.
pub async fn get(env: &Env, config: &Config) -> Result<Rc<Model>, ApiError> {
    loop {
        if let Some(m) = loaded() {
            return Ok(m);
        }
        if !LOADING.get() {
            LOADING.set(true);
            let _guard = Loading;
            let attempt = LOAD_ATTEMPTS.get() + 1;
            LOAD_ATTEMPTS.set(attempt);
            return match load(env.clone(), config.clone()).await {
                Ok(m) => {
                    LOADED.with(|l| *l.borrow_mut() = Some(m.clone()));
                    LAST_ERROR.with(|l| *l.borrow_mut() = None);
                    Ok(m)
                }
                Err(e) => {
                    LAST_ERROR.with(|l| *l.borrow_mut() = Some((attempt, e.clone())));
                    Err(e)
                }
            };
        }
        // Another request is loading. Wait on a timer of our own rather than
        // on a future that request completes: its wake-up would run our code
        // in its request context, and workerd cancels a request with nothing
        // of its own pending as hung.
        let attempt = LOAD_ATTEMPTS.get();
        while LOADING.get() {
            worker::Delay::from(Duration::from_millis(POLL_MS)).await;
        }
        if let Some((n, e)) = LAST_ERROR.with(|l| l.borrow().clone()) {
            if n == attempt {
                return Err(e); // the load we waited for failed
            }
        }
        // Loaded, or the loading request went away midway: look again.
    }
}

/// Clears the loading flag, also when the loading request is dropped.
struct Loading;

impl Drop for Loading {
    fn drop(&mut self) {
        LOADING.set(false);
    }
}

fn unavailable(message: impl Into<String>) -> ApiError {
    ApiError::new(503, "model_unavailable", message)
}

fn crate_error(e: densenet_edge::Error) -> ApiError {
    ApiError::new(crate::predict::status_for(e.code()), e.code(), e.to_string())
}

async fn load(env: Env, config: Config) -> Result<Rc<Model>, ApiError> {
    let t0 = now_ms();
    let bucket = env.bucket("MODELS").map_err(|e| unavailable(format!("no R2 binding MODELS: {e}")))?;
    let seed_hint = "seed it with scripts/seed-worker-model.sh (locally) or `wrangler r2 object put` (see README)";

    let manifest_key = format!("{}.json", config.model);
    let object = bucket
        .get(&manifest_key)
        .execute()
        .await
        .map_err(|e| unavailable(format!("reading {manifest_key} from R2: {e}")))?
        .ok_or_else(|| unavailable(format!("model manifest {manifest_key} is not in the R2 bucket: {seed_hint}")))?;
    let text = object
        .body()
        .ok_or_else(|| unavailable(format!("{manifest_key} has no body")))?
        .text()
        .await
        .map_err(|e| unavailable(format!("reading {manifest_key}: {e}")))?;
    let manifest = Manifest::from_json(&text).map_err(crate_error)?;

    let object = bucket
        .get(&manifest.file)
        .execute()
        .await
        .map_err(|e| unavailable(format!("reading {} from R2: {e}", manifest.file)))?
        .ok_or_else(|| unavailable(format!("model file {} is not in the R2 bucket: {seed_hint}", manifest.file)))?;
    if object.size() != manifest.bytes {
        return Err(crate_error(densenet_edge::Error::ModelInvalid(format!(
            "{} has {} bytes in R2, its manifest says {}",
            manifest.file,
            object.size(),
            manifest.bytes
        ))));
    }
    // Streamed straight into wasm memory: no 32 MB ArrayBuffer on the JS heap.
    let mut bytes = Vec::with_capacity(object.size() as usize);
    let mut stream = object
        .body()
        .ok_or_else(|| unavailable(format!("{} has no body", manifest.file)))?
        .stream()
        .map_err(|e| unavailable(format!("reading {}: {e}", manifest.file)))?;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| unavailable(format!("reading {}: {e}", manifest.file)))?;
        bytes.extend_from_slice(&chunk);
    }
    let t_fetch = now_ms();

    manifest.verify(&bytes).map_err(crate_error)?;
    let t_verify = now_ms();

    let engine = CpuEngine::load(&bytes).map_err(crate_error)?;
    drop(bytes);
    let t_engine = now_ms();

    let options = Options {
        limits: DecodeLimits { max_bytes: config.max_body_bytes, max_pixels: config.max_pixels, ..DecodeLimits::default() },
        preprocess: manifest.preprocess.clone(),
        threshold: config.threshold,
        max_batch: config.max_batch,
    };
    let classifier =
        Classifier::new(Box::new(engine), Labels::imagenet().clone(), options).map_err(crate_error)?;
    let load = LoadStats {
        fetch_ms: t_fetch - t0,
        verify_ms: t_verify - t_fetch,
        engine_ms: t_engine - t_verify,
        total_ms: now_ms() - t0,
        wasm_memory_bytes: wasm_memory_bytes(),
    };
    worker::console_log!(
        "densenet-edge: loaded {} ({} weights, {} bytes) in {:.0} ms (fetch {:.0}, sha256 {:.0}, engine {:.0}); wasm memory {} bytes",
        manifest.name,
        manifest.weights,
        manifest.bytes,
        load.total_ms,
        load.fetch_ms,
        load.verify_ms,
        load.engine_ms,
        load.wasm_memory_bytes
    );
    Ok(Rc::new(Model { classifier, manifest, load }))
}

/// Called after every engine batch.
pub fn record_batch(size: usize) {
    LAST_BATCH.set(Some((wasm_memory_bytes(), size)));
    let (b, i) = BATCHES.get();
    BATCHES.set((b + 1, i + size as u64));
}

impl Model {
    /// `{"name", "weights", "sha256"}` for every answer.
    pub fn summary(&self) -> serde_json::Value {
        json!({
            "name": self.manifest.name,
            "weights": self.manifest.weights,
            "pretrained": self.manifest.pretrained(),
            "sha256": self.manifest.sha256,
        })
    }

    pub fn engine(&self) -> &'static str {
        self.classifier.engine().kind().as_str()
    }
}

/// The `/health` fields about the model and memory.
pub fn health() -> serde_json::Value {
    let model = loaded();
    let (batches, images) = BATCHES.get();
    json!({
        "model_loaded": model.is_some(),
        "model_loading": LOADING.get(),
        "load_attempts": LOAD_ATTEMPTS.get(),
        "model_error": LAST_ERROR.with(|l| l.borrow().as_ref().map(|(_, e)| e.body()["error"].clone())),
        "engine": model.as_ref().map(|m| m.engine()),
        "device": model.as_ref().map(|m| m.classifier.engine().device()),
        "model": model.as_ref().map(|m| {
            let mut s = m.summary();
            s["bytes"] = json!(m.manifest.bytes);
            s
        }),
        "load": model.as_ref().map(|m| m.load.clone()),
        "memory": {
            "wasm_bytes": wasm_memory_bytes(),
            "wasm_bytes_after_load": model.as_ref().map(|m| m.load.wasm_memory_bytes),
            "wasm_bytes_after_last_batch": LAST_BATCH.get().map(|(m, _)| m),
            "last_batch_size": LAST_BATCH.get().map(|(_, n)| n),
        },
        "batches": { "runs": batches, "images": images },
    })
}
