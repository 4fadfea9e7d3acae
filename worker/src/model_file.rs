//! `GET|HEAD /model/<file>`: the manifest's ONNX file from R2, for the page's
//! in-browser engine (32 MB, over the 25 MiB static asset limit), and
//! `/model/<MODEL>.json`, the manifest itself, from the same bucket: a page
//! then never pairs a new model with a stale manifest deployed as a static
//! asset. Only those two keys are served. The model's ETag is its sha256,
//! so a browser revalidates with `If-None-Match` and gets a 304 without the
//! 32 MB.

use worker::{Env, Method, Request, Response};

use crate::config::Config;
use crate::errors::ApiError;
use crate::model;

/// Revalidated on every use: a model updated in R2 is seen at once, and the
/// check costs one small request (a 304 when unchanged).
const CACHE_CONTROL: &str = "public, no-cache";

pub async fn handle(req: &Request, env: &Env, config: &Config, key: &str) -> Result<Response, ApiError> {
    if key == format!("{}.json", config.model) {
        return manifest_file(req, env, config).await;
    }
    let manifest = match model::loaded() {
        Some(m) => m.manifest.clone(),
        None => model::read_manifest(env, config).await?,
    };
    if key != manifest.file {
        return Err(ApiError::not_found(format!("no model file {key:?} (this Worker serves {:?})", manifest.file)));
    }
    let etag = format!("\"{}\"", manifest.sha256);
    let headers = |r: &mut Response| -> worker::Result<()> {
        let h = r.headers_mut();
        h.set("ETag", &etag)?;
        h.set("Cache-Control", CACHE_CONTROL)?;
        h.set("Content-Type", "application/octet-stream")?;
        Ok(())
    };
    let if_none_match = req.headers().get("If-None-Match")?.unwrap_or_default();
    if if_none_match.split(',').any(|t| t.trim().trim_start_matches("W/") == etag || t.trim() == "*") {
        let mut r = Response::empty()?.with_status(304);
        headers(&mut r)?;
        return Ok(r);
    }

    let r2_error = |e: worker::Error| ApiError::model_unavailable(format!("reading {key} from R2: {e}"));
    let missing =
        || ApiError::model_unavailable(format!("model file {key} named by the manifest is not in the R2 bucket"));
    let bucket = env.bucket("MODELS").map_err(r2_error)?;
    let mut r = if req.method() == Method::Head {
        let object = bucket.head(key).await.map_err(r2_error)?.ok_or_else(missing)?;
        let mut r = Response::empty()?;
        r.headers_mut().set("Content-Length", &object.size().to_string())?;
        r
    } else {
        let object = bucket.get(key).execute().await.map_err(r2_error)?.ok_or_else(missing)?;
        // R2's own stream, handed back untouched, so the runtime can still
        // send its length (the page's download progress uses it).
        let body = object.body().ok_or_else(missing)?.response_body().map_err(r2_error)?;
        Response::from_body(body)?
    };
    headers(&mut r)?;
    Ok(r)
}

/// The manifest as R2 holds it, revalidated on every use.
async fn manifest_file(req: &Request, env: &Env, config: &Config) -> Result<Response, ApiError> {
    let manifest = model::read_manifest(env, config).await?;
    // As parsed (not R2's bytes): what the Worker itself uses.
    let mut r = if req.method() == Method::Head { Response::empty()? } else { Response::from_json(&manifest)? };
    let h = r.headers_mut();
    h.set("Cache-Control", CACHE_CONTROL)?;
    h.set("Content-Type", "application/json")?;
    Ok(r)
}
