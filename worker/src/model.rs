//! The model, loaded from R2 once per isolate. The load runs in the
//! runtime's `waitUntil`, not inside the request that started it, so a client
//! that disconnects meanwhile cancels neither the load nor the requests
//! waiting for it. A failed load is retried after a backoff (LOAD_RETRY_MS,
//! doubling up to 60 s), not by every request.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use densenet_edge::{Classifier, DecodeLimits, EngineKind, ErrorBody, Manifest, ModelInfo, Options};
use serde::Serialize;
use worker::{Context, Env};

use crate::clock::now_ms;
use crate::config::Config;
use crate::errors::ApiError;
use crate::memory;
use crate::model_stream;

pub struct LoadedModel {
    pub classifier: Classifier,
    pub manifest: Manifest,
    /// What every answer says about the model.
    pub info: ModelInfo,
    pub load: LoadStats,
}

/// Where the load time went, in ms (`Date.now()`), and the wasm memory
/// right after it.
#[derive(Debug, Clone, Serialize)]
pub struct LoadStats {
    /// Until R2 answered with the manifest and the model's stream.
    pub fetch_ms: f64,
    /// Reading the model, hashing it and packing its weights (overlapped).
    pub stream_ms: f64,
    /// Of `stream_ms`, the time in the engine's loader (parsing, packing
    /// weights); the rest is mostly waiting for R2.
    pub pack_ms: f64,
    /// The digest's last step, the sha256 check and the engine's plan.
    pub finish_ms: f64,
    pub total_ms: f64,
    pub wasm_memory_bytes: u64,
}

#[derive(Default)]
struct State {
    loaded: Option<Rc<LoadedModel>>,
    loading: bool,
    /// Loads started in this isolate (1 once loaded, however many requests
    /// arrived first).
    attempts: u32,
    /// The last failed load's error, and when the next may start (ms).
    failed: Option<(ApiError, f64)>,
}

thread_local! {
    static STATE: RefCell<State> = RefCell::new(State::default());
}

/// How often a request waiting for the load looks again (on its own timer:
/// workerd cancels as hung a request that only waits on other work).
const POLL_MS: u64 = 20;
const MAX_RETRY_MS: f64 = 60_000.0;

pub fn loaded() -> Option<Rc<LoadedModel>> {
    STATE.with(|s| s.borrow().loaded.clone())
}

/// The model, starting its load if none is under way and the backoff after
/// a failed one has passed; waits at most LOAD_WAIT_MS for it.
pub async fn get(env: &Env, ctx: &Context, config: &Config) -> Result<Rc<LoadedModel>, ApiError> {
    let give_up_at = now_ms() + config.load_wait_ms as f64;
    loop {
        enum Next {
            Ready(Rc<LoadedModel>),
            Wait,
            Start,
            Failed(ApiError),
        }
        let next = STATE.with(|s| {
            let s = s.borrow();
            match (&s.loaded, s.loading, &s.failed) {
                (Some(m), _, _) => Next::Ready(m.clone()),
                (None, true, _) => Next::Wait,
                (None, false, Some((e, retry_at))) if now_ms() < *retry_at => {
                    let secs = ((retry_at - now_ms()) / 1000.0).ceil() as u32;
                    Next::Failed(e.clone().with_retry_after(secs))
                }
                (None, false, _) => Next::Start,
            }
        });
        match next {
            Next::Ready(m) => return Ok(m),
            Next::Failed(e) => return Err(e),
            Next::Start => start_load(env.clone(), ctx, config.clone()),
            Next::Wait if now_ms() > give_up_at => {
                return Err(ApiError::model_unavailable("the model is still loading").with_retry_after(5));
            }
            Next::Wait => worker::Delay::from(Duration::from_millis(POLL_MS)).await,
        }
    }
}

fn start_load(env: Env, ctx: &Context, config: Config) {
    STATE.with(|s| {
        let mut s = s.borrow_mut();
        s.loading = true;
        s.attempts += 1;
    });
    ctx.wait_until(async move {
        let guard = Loading;
        let outcome = load(env, &config).await;
        STATE.with(|s| {
            let mut s = s.borrow_mut();
            match outcome {
                Ok(m) => {
                    s.loaded = Some(Rc::new(m));
                    s.failed = None;
                }
                Err(e) => {
                    let backoff = (config.load_retry_ms as f64 * 2f64.powi(s.attempts as i32 - 1)).min(MAX_RETRY_MS);
                    worker::console_error!("densenet-edge: model load {} failed: {}", s.attempts, e.body.message);
                    s.failed = Some((e, now_ms() + backoff));
                }
            }
        });
        drop(guard);
    });
}

/// Clears the loading flag however the load ends, also if the runtime drops
/// it midway; then the next request starts another.
struct Loading;

impl Drop for Loading {
    fn drop(&mut self) {
        STATE.with(|s| s.borrow_mut().loading = false);
    }
}

async fn load(env: Env, config: &Config) -> Result<LoadedModel, ApiError> {
    let t0 = now_ms();
    let manifest = read_manifest(&env, config).await?;
    let bucket = bucket(&env)?;
    let object = bucket
        .get(&manifest.file)
        .execute()
        .await
        .map_err(|e| ApiError::model_unavailable(format!("reading {} from R2: {e}", manifest.file)))?
        .ok_or_else(|| {
            ApiError::model_unavailable(format!("model file {} is not in the R2 bucket: {SEED_HINT}", manifest.file))
        })?;
    if object.size() != manifest.bytes {
        return Err(densenet_edge::Error::ModelInvalid(format!(
            "{} has {} bytes in R2, its manifest says {}",
            manifest.file,
            object.size(),
            manifest.bytes
        ))
        .into());
    }
    let read_error = |e: worker::Error| ApiError::model_unavailable(format!("reading {}: {e}", manifest.file));
    let body = object
        .body()
        .ok_or_else(|| ApiError::model_unavailable(format!("{} has no body", manifest.file)))?
        .response_body()
        .map_err(read_error)?;
    let worker::ResponseBody::Stream(stream) = body else {
        return Err(ApiError::model_unavailable(format!("{} has no body stream", manifest.file)));
    };
    let t_fetch = now_ms();
    // The manifest's preprocessing replaces the default, and MAX_BATCH
    // becomes the classifier's (StreamedLoad).
    let options = Options {
        limits: DecodeLimits {
            max_bytes: config.max_body_bytes,
            max_pixels: config.max_pixels,
            max_decode_bytes: config.max_decode_bytes,
            max_jpeg_scans: config.max_jpeg_scans,
        },
        threshold: config.threshold,
        ..Options::default()
    };
    let streamed = model_stream::load(stream, &manifest, options, config.load_limits).await?;
    let classifier = streamed.classifier;
    let load = LoadStats {
        fetch_ms: t_fetch - t0,
        stream_ms: streamed.stream_ms,
        pack_ms: streamed.pack_ms,
        finish_ms: streamed.finish_ms,
        total_ms: now_ms() - t0,
        wasm_memory_bytes: memory::wasm_bytes(),
    };
    worker::console_log!(
        "densenet-edge: loaded {} ({} weights, {} bytes) in {:.0} ms (fetch {:.0}, stream + sha256 + weights {:.0} of which the loader {:.0}, finish {:.0}); wasm memory {} bytes",
        manifest.name,
        manifest.weights,
        manifest.bytes,
        load.total_ms,
        load.fetch_ms,
        load.stream_ms,
        load.pack_ms,
        load.finish_ms,
        load.wasm_memory_bytes
    );
    let info = ModelInfo::from(&manifest);
    Ok(LoadedModel { classifier, manifest, info, load })
}

const SEED_HINT: &str =
    "seed it with scripts/seed-worker-model.sh (locally) or `wrangler r2 object put` (see worker/README.md)";

fn bucket(env: &Env) -> Result<worker::Bucket, ApiError> {
    env.bucket("MODELS").map_err(|e| ApiError::model_unavailable(format!("no R2 binding MODELS: {e}")))
}

/// `<MODEL>.json` from R2: which file the model is, its size and sha256.
pub async fn read_manifest(env: &Env, config: &Config) -> Result<Manifest, ApiError> {
    read_manifest_of(env, &config.model).await
}

/// The manifest `<name>.json` from R2.
pub async fn read_manifest_of(env: &Env, name: &str) -> Result<Manifest, ApiError> {
    let key = format!("{name}.json");
    let object = bucket(env)?
        .get(&key)
        .execute()
        .await
        .map_err(|e| ApiError::model_unavailable(format!("reading {key} from R2: {e}")))?
        .ok_or_else(|| {
            ApiError::model_unavailable(format!("model manifest {key} is not in the R2 bucket: {SEED_HINT}"))
        })?;
    let text = object
        .body()
        .ok_or_else(|| ApiError::model_unavailable(format!("{key} has no body")))?
        .text()
        .await
        .map_err(|e| ApiError::model_unavailable(format!("reading {key}: {e}")))?;
    Ok(Manifest::from_json(&text)?)
}

impl LoadedModel {
    pub fn engine(&self) -> EngineKind {
        self.classifier.engine().kind()
    }
}

/// What `/health` says about the model and its load.
#[derive(Serialize)]
pub struct Status {
    pub loaded: bool,
    pub loading: bool,
    pub attempts: u32,
    /// `{code, message}` of the last failed load.
    pub error: Option<ErrorBody>,
    /// Seconds until a failed load may be retried.
    pub retry_in_s: Option<f64>,
}

pub fn status() -> Status {
    STATE.with(|s| {
        let s = s.borrow();
        Status {
            loaded: s.loaded.is_some(),
            loading: s.loading,
            attempts: s.attempts,
            error: s.failed.as_ref().map(|(e, _)| e.body.clone()),
            retry_in_s: s.failed.as_ref().map(|(_, at)| ((at - now_ms()) / 1000.0).max(0.0)),
        }
    })
}
