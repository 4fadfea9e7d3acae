//! The densenet-edge Cloudflare Worker: `POST /predict`, `GET /health`.
//! `GET /` and other static files are served by Workers static assets
//! (`../www`, see wrangler.toml) before this code runs.

mod api;
mod batch;
mod config;
mod model;
mod predict;

use api::{cors, json, ApiError};
use config::Config;
use serde_json::json;
use worker::{event, Context, Env, Method, Request, Response, Result};

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    let config = Config::from_env(&env);
    let path = req.path();
    let response = match (path.as_str(), req.method()) {
        ("/predict", Method::Post) => predict::handle(req, &env, &config).await,
        ("/health", Method::Get | Method::Head) => health(&req, &env, &config).await,
        ("/predict" | "/health", Method::Options) => Ok(preflight()?),
        (p, Method::Get | Method::Head) if p.starts_with("/model/") => model_file(&env, &p["/model/".len()..]).await,
        ("/predict", _) => Err(ApiError::method_not_allowed("POST, OPTIONS")),
        ("/health", _) => Err(ApiError::method_not_allowed("GET, HEAD, OPTIONS")),
        _ => Err(ApiError::new(404, "not_found", format!("no route for {path}"))),
    };
    // Every answer of ours, errors included, carries CORS headers so a page on
    // another origin can read the JSON error too.
    let response = match response {
        Ok(r) => r,
        Err(e) => e.into_response()?,
    };
    cors(response)
}

/// `GET /health`: never loads the model, unless `?load=1` asks to (a
/// warm-up; a failed load then answers with its error).
async fn health(req: &Request, env: &Env, config: &Config) -> std::result::Result<Response, ApiError> {
    let load = req.url()?.query_pairs().any(|(k, v)| k == "load" && v != "0");
    if load {
        model::get(env, config).await?;
    }
    let mut body = json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "limits": config,
    });
    if let (Some(b), serde_json::Value::Object(m)) = (body.as_object_mut(), model::health()) {
        b.extend(m);
    }
    json(200, &body)
}

/// `GET /model/<file>`: the ONNX file from R2 for the page's in-browser
/// engine (32 MB, over the 25 MiB static asset limit). Manifests are static
/// assets (`www/model/*.json`) and never reach this.
async fn model_file(env: &Env, key: &str) -> std::result::Result<Response, ApiError> {
    let not_found = || ApiError::new(404, "not_found", format!("no model file {key}"));
    if !key.ends_with(".onnx") || key.contains('/') {
        return Err(not_found());
    }
    let bucket = env.bucket("MODELS")?;
    let object = bucket.get(key).execute().await?.ok_or_else(not_found)?;
    // R2's own stream, handed back untouched, so the runtime can still
    // send its length (the page's download progress uses it).
    let body = object.body().ok_or_else(not_found)?.response_body()?;
    let mut r = Response::from_body(body)?;
    r.headers_mut().set("Content-Type", "application/octet-stream")?;
    Ok(r)
}

fn preflight() -> Result<Response> {
    let mut r = Response::empty()?.with_status(204);
    let h = r.headers_mut();
    h.set("Access-Control-Allow-Methods", "GET, HEAD, POST, OPTIONS")?;
    h.set("Access-Control-Allow-Headers", "Content-Type")?;
    h.set("Access-Control-Max-Age", "86400")?;
    Ok(r)
}
