//! `GET /health`: which isolate answers, its model, memory and load.

use std::cell::Cell;

use densenet_edge::{EngineKind, ErrorBody, ModelInfo};
use serde::Serialize;
use worker::{Context, Env, Request, Response};

use crate::admission;
use crate::batch;
use crate::clock::now_ms;
use crate::config::Config;
use crate::errors::ApiError;
use crate::memory;
use crate::model::{self, LoadStats};

thread_local! {
    /// This wasm instance's id and first request time (ms): a new id means
    /// the isolate was replaced, or its wasm state reset after a crash.
    static ISOLATE: Cell<Option<(u64, f64)>> = const { Cell::new(None) };
    static REQUESTS: Cell<u64> = const { Cell::new(0) };
}

/// Called once per request, first.
pub fn count_request() {
    if ISOLATE.get().is_none() {
        let mut id = [0u8; 8];
        // Only a label: a clock-derived one does if randomness fails.
        let id = match getrandom::fill(&mut id) {
            Ok(()) => u64::from_le_bytes(id),
            Err(_) => now_ms() as u64,
        };
        ISOLATE.set(Some((id, now_ms())));
    }
    REQUESTS.set(REQUESTS.get() + 1);
}

/// Never loads the model, unless `?load=1` asks to (a warm-up; a failed
/// load then answers with its error).
pub async fn handle(req: &Request, env: &Env, ctx: &Context, config: &Config) -> Result<Response, ApiError> {
    if req.url()?.query_pairs().any(|(k, v)| k == "load" && v != "0") {
        model::get(env, ctx, config).await?;
    }
    let (id, started) = ISOLATE.get().unwrap_or((0, now_ms()));
    let m = model::loaded();
    let status = model::status();
    let batches = batch::stats();
    let health = Health {
        status: "ok",
        version: env!("CARGO_PKG_VERSION"),
        isolate: Isolate {
            id: format!("{id:016x}"),
            started_at: worker::js_sys::Date::new(&started.into()).to_iso_string().as_string(),
            uptime_s: (now_ms() - started) / 1000.0,
            requests: REQUESTS.get(),
        },
        model_loaded: status.loaded,
        model_loading: status.loading,
        load_attempts: status.attempts,
        model_error: status.error,
        load_retry_in_s: status.retry_in_s,
        engine: m.as_ref().map(|m| m.engine()),
        device: m.as_ref().map(|m| m.classifier.engine().device()),
        model: m.as_ref().map(|m| &m.info),
        load: m.as_ref().map(|m| &m.load),
        memory: Memory {
            wasm_bytes: memory::wasm_bytes(),
            wasm_bytes_after_load: m.as_ref().map(|m| m.load.wasm_memory_bytes),
            wasm_bytes_after_last_batch: batches.wasm_bytes_after_last,
            last_batch_size: batches.last_size,
            heap_in_use_bytes: memory::heap_in_use(),
            heap_peak_bytes: memory::heap_peak(),
        },
        batches: Batches { runs: batches.runs, images: batches.images },
        admission: admission::stats(),
        limits: config,
    };
    Ok(Response::from_json(&health)?)
}

/// `GET /health` (`docs/answer.schema.json`, definition `Health`).
#[derive(Serialize)]
struct Health<'a> {
    status: &'static str,
    version: &'static str,
    isolate: Isolate,
    model_loaded: bool,
    model_loading: bool,
    load_attempts: u32,
    /// The last failed load's error.
    model_error: Option<ErrorBody>,
    /// Seconds until a failed load may be retried.
    load_retry_in_s: Option<f64>,
    engine: Option<EngineKind>,
    device: Option<String>,
    model: Option<&'a ModelInfo>,
    load: Option<&'a LoadStats>,
    memory: Memory,
    batches: Batches,
    admission: admission::Stats,
    limits: &'a Config,
}

/// A new id means the isolate was replaced, or its wasm state reset.
#[derive(Serialize)]
struct Isolate {
    id: String,
    started_at: Option<String>,
    uptime_s: f64,
    requests: u64,
}

#[derive(Serialize)]
struct Memory {
    /// Linear memory never shrinks: now is also its peak.
    wasm_bytes: u64,
    wasm_bytes_after_load: Option<u64>,
    wasm_bytes_after_last_batch: Option<u64>,
    last_batch_size: Option<usize>,
    heap_in_use_bytes: u64,
    heap_peak_bytes: u64,
}

#[derive(Serialize)]
struct Batches {
    runs: u64,
    images: u64,
}
