//! Limits and knobs from wrangler.toml `[vars]` (strings), with defaults so a
//! missing or malformed var never takes the Worker down.

use serde::Serialize;
use worker::Env;

#[derive(Debug, Clone, Serialize)]
pub struct Config {
    /// Model to load from the R2 bucket MODELS: `<model>.json` is its
    /// manifest (name, file, sha256, weights), the manifest's `file` the ONNX.
    pub model: String,
    /// Largest request body accepted, checked on Content-Length and on the
    /// bytes actually read. Also the largest single encoded image.
    pub max_body_bytes: usize,
    /// Most `file` fields in one request.
    pub max_files: usize,
    /// Largest `width * height` decoded (checked on the header, before any
    /// pixel is allocated). Sized for the 128 MB isolate: see README.
    pub max_pixels: u64,
    pub top_k: usize,
    /// Top probability under this: `recognized: false`.
    pub threshold: f32,
    /// Most images per engine run (one request's files, or coalesced ones).
    pub max_batch: usize,
    /// Coalescing of concurrent requests into one engine batch: on or off,
    /// and how long the first request waits for others to join.
    pub coalesce: bool,
    pub batch_wait_ms: u32,
}

impl Config {
    pub fn from_env(env: &Env) -> Self {
        Config {
            model: var(env, "MODEL", "densenet121-random".to_string()),
            max_body_bytes: var(env, "MAX_BODY_BYTES", 20 * 1024 * 1024),
            max_files: var(env, "MAX_FILES", 16),
            max_pixels: var(env, "MAX_PIXELS", 10_000_000),
            top_k: var(env, "TOP_K", 5),
            threshold: var(env, "THRESHOLD", 0.2),
            max_batch: var::<usize>(env, "MAX_BATCH", 1).max(1),
            coalesce: var(env, "COALESCE", false),
            batch_wait_ms: var(env, "BATCH_WAIT_MS", 10),
        }
    }
}

fn var<T: std::str::FromStr>(env: &Env, name: &str, default: T) -> T {
    env.var(name)
        .ok()
        .and_then(|v| v.to_string().trim().parse().ok())
        .unwrap_or(default)
}
