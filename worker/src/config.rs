//! Limits and knobs from wrangler.toml `[vars]` (strings), with defaults so a
//! missing or malformed var never takes the Worker down. The memory figures
//! behind each default are in worker/README.md ("Memory budget").

use densenet_edge::{DecodeLimits, LoadLimits, DEFAULT_TOP_K, MAX_TOP_K};
use serde::Serialize;
use worker::Env;

#[derive(Debug, Clone, Serialize)]
pub struct Config {
    /// Model to load from the R2 bucket MODELS: `<model>.json` is its
    /// manifest (name, file, sha256, weights), the manifest's `file` the ONNX.
    pub model: String,
    /// What the model may make the engine allocate, checked while it loads
    /// (MAX_WEIGHT_BYTES: its packed weights; MAX_WORKSPACE_BYTES: one run
    /// of MAX_BATCH images, activations and scratch), and MAX_BATCH, the most
    /// images per engine run (one request's files, or coalesced ones). The
    /// engine's loader gets this value as it is; `/health` shows its three
    /// fields flat, next to the other limits.
    #[serde(flatten, with = "LoadLimitsJson")]
    pub load_limits: LoadLimits,
    /// Largest request body accepted, checked on Content-Length and on the
    /// bytes actually read. Also the largest single encoded image.
    pub max_body_bytes: usize,
    /// Most `file` fields in one request.
    pub max_files: usize,
    /// Largest `width * height` decoded (checked on the header, before any
    /// pixel is allocated).
    pub max_pixels: u64,
    /// Largest number of bytes decoding and preprocessing one image may
    /// allocate, estimated by the shared crate from the header.
    pub max_decode_bytes: u64,
    /// Most requests with a complete body admitted at once (waiting for or
    /// doing the CPU work); one more is answered 503 `overloaded`.
    pub max_inflight: usize,
    /// Bytes all requests may hold at once: the bytes of their bodies
    /// received so far and 4 KiB per request. Never under
    /// `max_body_bytes`, or a large request could never be admitted.
    pub inflight_bytes: usize,
    /// A body with no new byte for this long, or not complete this long
    /// after its request arrived, is answered 408 `body_timeout` and gives
    /// its bytes back.
    pub body_idle_ms: u32,
    pub body_deadline_ms: u32,
    /// The most decode work one request may cause, in pixels, all its files
    /// together (width x height from each header, plus a progressive JPEG's
    /// scans, before decoding):
    /// a file past it gets 422 `too_much_work`. Bounds the CPU a request can
    /// cost whatever its byte size.
    pub max_decode_pixels: u64,
    /// The most scans one JPEG may have (422 `too_much_work` past it).
    pub max_jpeg_scans: u32,
    /// First wait after a failed model load; it doubles up to 60 s.
    pub load_retry_ms: u32,
    /// How long a request waits for a model load under way before a 503.
    pub load_wait_ms: u32,
    pub top_k: usize,
    /// Top probability under this: `recognized: false`.
    pub threshold: f32,
    /// Coalescing of concurrent requests into one engine batch: on or off,
    /// and how long the first request waits for others to join.
    pub coalesce: bool,
    pub batch_wait_ms: u32,
    /// Test hook, off unless the var is exactly "enabled": `POST /__panic`
    /// panics, so tests can check what a crash costs. Never set in
    /// wrangler.toml.
    #[serde(skip)]
    pub panic_route: bool,
}

impl Config {
    pub fn from_env(env: &Env) -> Self {
        let max_body_bytes = var(env, "MAX_BODY_BYTES", 12 << 20);
        Config {
            model: var(env, "MODEL", "densenet121-random".to_string()),
            load_limits: LoadLimits {
                max_weight_bytes: var(env, "MAX_WEIGHT_BYTES", 80 << 20),
                max_workspace_bytes: var(env, "MAX_WORKSPACE_BYTES", 24 << 20),
                max_batch: var::<usize>(env, "MAX_BATCH", 1).max(1),
            },
            max_body_bytes,
            max_files: var::<usize>(env, "MAX_FILES", 16).max(1),
            max_pixels: var(env, "MAX_PIXELS", 40_000_000),
            max_decode_bytes: var(env, "MAX_DECODE_BYTES", 16 << 20),
            max_inflight: var::<usize>(env, "MAX_INFLIGHT", 32).max(1),
            inflight_bytes: var::<usize>(env, "INFLIGHT_BYTES", 16 << 20).max(max_body_bytes),
            body_idle_ms: var(env, "BODY_IDLE_MS", 10_000),
            body_deadline_ms: var(env, "BODY_DEADLINE_MS", 120_000),
            max_decode_pixels: var(env, "MAX_DECODE_PIXELS", 64_000_000),
            max_jpeg_scans: var(env, "MAX_JPEG_SCANS", DecodeLimits::default().max_jpeg_scans),
            load_retry_ms: var(env, "LOAD_RETRY_MS", 1000),
            load_wait_ms: var(env, "LOAD_WAIT_MS", 60_000),
            top_k: var(env, "TOP_K", DEFAULT_TOP_K).clamp(1, MAX_TOP_K),
            threshold: var(env, "THRESHOLD", 0.2),
            coalesce: var(env, "COALESCE", false),
            batch_wait_ms: var(env, "BATCH_WAIT_MS", 10),
            panic_route: var(env, "PANIC_ROUTE", String::new()) == "enabled",
        }
    }
}

/// `LoadLimits` is the engine's (no serde there): its fields as `/health`
/// shows them.
#[derive(Serialize)]
#[serde(remote = "LoadLimits")]
struct LoadLimitsJson {
    max_weight_bytes: usize,
    max_workspace_bytes: usize,
    max_batch: usize,
}

fn var<T: std::str::FromStr>(env: &Env, name: &str, default: T) -> T {
    env.var(name).ok().and_then(|v| v.to_string().trim().parse().ok()).unwrap_or(default)
}
