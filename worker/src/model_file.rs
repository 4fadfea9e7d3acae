//! `GET|HEAD /model/<file>`: the manifest's ONNX file from R2, for the page's
//! in-browser engine (32 MB, over the 25 MiB static asset limit), and
//! `/model/<MODEL>.json`, the manifest itself, from the same bucket: a page
//! then never pairs a new model with a stale manifest deployed as a static
//! asset. Only those keys are served, for MODEL and its twin of the other
//! precision (`<name>-int8`), which the page offers. The model's ETag is its sha256,
//! so a browser revalidates with `If-None-Match` and gets a 304 without the
//! 32 MB.

use worker::{Env, Method, Request, Response};

use crate::config::Config;
use crate::errors::ApiError;
use crate::model;

/// Revalidated on every use: a model updated in R2 is seen at once, and the
/// check costs one small request (a 304 when unchanged).
const CACHE_CONTROL: &str = "public, no-cache";

/// The models the page may load: the Worker's and its twin of the other
/// precision (`<name>-int8` beside `<name>`), when R2 holds it.
fn page_models(config: &Config) -> [String; 2] {
    let base = config.model.strip_suffix("-int8").unwrap_or(&config.model);
    [base.to_string(), format!("{base}-int8")]
}

pub async fn handle(req: &Request, env: &Env, config: &Config, key: &str) -> Result<Response, ApiError> {
    let names = page_models(config);
    if let Some(name) = names.iter().find(|n| key == format!("{n}.json")) {
        return manifest_file(req, env, name).await;
    }
    let mut manifest = model::loaded().map(|m| m.manifest.clone()).filter(|m| m.file == key);
    let mut files = Vec::new();
    for name in &names {
        if manifest.is_some() {
            break;
        }
        // The Worker's own manifest must be there; a twin may not be.
        match model::read_manifest_of(env, name).await {
            Ok(m) if m.file == key => manifest = Some(m),
            Ok(m) => files.push(m.file),
            Err(e) if *name == config.model => return Err(e),
            Err(_) => {}
        }
    }
    let Some(manifest) = manifest else {
        return Err(ApiError::not_found(format!("no model file {key:?} (this Worker serves {files:?})")));
    };
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
async fn manifest_file(req: &Request, env: &Env, name: &str) -> Result<Response, ApiError> {
    let manifest = model::read_manifest_of(env, name).await?;
    // As parsed (not R2's bytes): what the Worker itself uses.
    let mut r = if req.method() == Method::Head { Response::empty()? } else { Response::from_json(&manifest)? };
    let h = r.headers_mut();
    h.set("Cache-Control", CACHE_CONTROL)?;
    h.set("Content-Type", "application/json")?;
    Ok(r)
}
