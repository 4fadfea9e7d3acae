//! `POST /predict`: validate the multipart request, then classify.

use crate::api::{json as json_response, ApiError};
use crate::batch::{self, Done};
use crate::config::Config;
use crate::model::{self, now_ms};
use densenet_edge::Classification;
use futures_util::StreamExt;
use serde_json::{json, Value};
use worker::{js_sys, Env, FormEntry, Headers, Method, Request, RequestInit, Response};

/// One uploaded image.
pub struct Upload {
    pub filename: String,
    pub bytes: Vec<u8>,
}

pub async fn handle(mut req: Request, env: &Env, config: &Config) -> Result<Response, ApiError> {
    let t0 = now_ms();
    let top_k = top_k(&req, config)?;
    let uploads = read_uploads(&mut req, config).await?;
    let single = uploads.len() == 1;

    // A single image answers at the top level (the tutorial's contract), so
    // its empty file is a request error; inside a batch it is that item's error.
    if single && uploads[0].bytes.is_empty() {
        return Err(empty_file(&uploads[0]));
    }
    let t_read = now_ms();

    let model = model::get(env, config).await?;
    let t_model = now_ms();

    // Decode, resize, crop each upload; its bytes are freed right after.
    let filenames: Vec<String> = uploads.iter().map(|u| u.filename.clone()).collect();
    let prepared: Vec<_> = uploads.into_iter().map(|u| model.classifier.prepare(&u.bytes)).collect();
    let t_prepare = now_ms();

    let done = batch::classify(&model, prepared, top_k, config).await;
    let t_classify = now_ms();

    let engine_ms = done.iter().map(|d| d.engine_ms).fold(0.0, f64::max);
    let batch_sizes: Vec<usize> = done.iter().map(|d| d.batch_size).collect();
    let timings = json!({
        "read": t_read - t0,
        "model_load": t_model - t_read,
        "prepare": t_prepare - t_model,
        // Enqueue to answer: queueing (when coalescing) plus engine runs.
        "classify": t_classify - t_prepare,
        "engine": engine_ms,
        "total": now_ms() - t0,
    });
    let mut body = if single {
        let d = done.into_iter().next().expect("one upload, one answer");
        let Done { result, batch_size, .. } = d;
        let c = result.map_err(|e| crate_error(&e, &filenames[0]))?;
        let mut body = prediction_json(&c);
        body["batch_size"] = json!(batch_size);
        body
    } else {
        let results: Vec<Value> = done
            .into_iter()
            .zip(&filenames)
            .map(|(d, name)| {
                let mut item = match d.result {
                    Ok(c) => prediction_json(&c),
                    Err(e) => crate_error(&e, name).body(),
                };
                item["filename"] = json!(name);
                item
            })
            .collect();
        json!({ "results": results, "batch_sizes": batch_sizes })
    };
    body["engine"] = json!(model.engine());
    body["model"] = model.summary();
    body["timings_ms"] = timings;
    json_response(200, &body)
}

/// The tutorial's fields first, then ours.
fn prediction_json(c: &Classification) -> Value {
    let top = &c.predictions[0];
    json!({
        "class_id": top.class_id,
        "class_name": top.class_name,
        "class_index": top.class_index,
        "probability": top.probability,
        "recognized": c.recognized,
        "predictions": c.predictions.iter().map(|p| json!({
            "class_id": p.class_id,
            "class_name": p.class_name,
            "class_index": p.class_index,
            "probability": p.probability,
        })).collect::<Vec<_>>(),
    })
}

fn crate_error(e: &densenet_edge::Error, filename: &str) -> ApiError {
    let message = if filename.is_empty() { e.to_string() } else { format!("{filename:?}: {e}") };
    ApiError::new(status_for(e.code()), e.code(), message)
}

/// HTTP status for an error code of the shared crate (`densenet_edge::Error::code()`).
/// 415: the bytes are not an image format we decode (sniffed from content).
/// 422: it is a supported format, but this image cannot be used.
/// 5xx: the model or the engine failed, not the client.
pub fn status_for(code: &str) -> u16 {
    match code {
        "empty_input" | "invalid_argument" => 400,
        "not_an_image" | "unsupported_format" => 415,
        "corrupt_image" | "too_many_pixels" | "image_too_large" | "too_many_bytes" => 422,
        "model_invalid" | "engine_unavailable" | "engine_mismatch" => 503,
        _ => 500, // inference_failed and anything new
    }
}

fn empty_file(u: &Upload) -> ApiError {
    ApiError::new(400, "empty_input", format!("file {:?} is empty", u.filename))
}

fn top_k(req: &Request, config: &Config) -> Result<usize, ApiError> {
    let url = req.url()?;
    let Some((_, v)) = url.query_pairs().find(|(k, _)| k == "top_k") else {
        return Ok(config.top_k);
    };
    match v.parse::<usize>() {
        Ok(k) if (1..=1000).contains(&k) => Ok(k),
        _ => Err(ApiError::new(400, "bad_top_k", format!("top_k must be 1..=1000, got {v:?}"))),
    }
}

/// Checks the declared size, the content type and the real size, then parses
/// the multipart body and returns the `file` fields in order.
async fn read_uploads(req: &mut Request, config: &Config) -> Result<Vec<Upload>, ApiError> {
    let max = config.max_body_bytes;
    let too_large = |what: String| {
        ApiError::new(413, "body_too_large", format!("{what} is over the limit of {max} bytes"))
    };
    let headers = req.headers();
    // Refuse before reading a byte when the client tells us the size.
    if let Some(len) = headers.get("Content-Length")? {
        if len.trim().parse::<u64>().map_or(false, |n| n > max as u64) {
            return Err(too_large(format!("Content-Length {}", len.trim())));
        }
    }
    let content_type = headers.get("Content-Type")?.unwrap_or_default();
    if !content_type.to_ascii_lowercase().starts_with("multipart/form-data") {
        return Err(ApiError::new(
            400,
            "not_multipart",
            "send the image as multipart/form-data with a field named \"file\"",
        ));
    }

    // Content-Length can be absent (chunked) or wrong: count what arrives and
    // stop at the limit instead of buffering an unbounded body.
    let mut body = Vec::new();
    if req.inner().body().is_some() {
        let mut stream = req.stream()?;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            if body.len() + chunk.len() > max {
                return Err(too_large("the request body".into()));
            }
            body.extend_from_slice(&chunk);
        }
    }

    // Let the runtime's own multipart parser read the bytes we counted.
    let parse_headers = Headers::new();
    parse_headers.set("Content-Type", &content_type)?;
    let array = js_sys::Uint8Array::from(body.as_slice());
    drop(body);
    let mut init = RequestInit::new();
    init.with_method(Method::Post).with_headers(parse_headers).with_body(Some(array.into()));
    let mut parsed = Request::new_with_init("http://parse.invalid/", &init)?;
    let form = parsed.form_data().await.map_err(|e| {
        ApiError::new(400, "bad_multipart", format!("malformed multipart body: {e}"))
    })?;

    let entries = form.get_all("file").unwrap_or_default();
    if entries.is_empty() {
        return Err(ApiError::new(400, "missing_file", "no field named \"file\" in the form"));
    }
    if entries.len() > config.max_files {
        return Err(ApiError::new(
            413,
            "too_many_files",
            format!("{} files sent, at most {} per request", entries.len(), config.max_files),
        ));
    }
    let mut uploads = Vec::with_capacity(entries.len());
    for entry in entries {
        match entry {
            FormEntry::File(f) => uploads.push(Upload { filename: f.name(), bytes: f.bytes().await? }),
            // `-F file=text` instead of `-F file=@path`: a text field, not an upload.
            FormEntry::Field(_) => {
                return Err(ApiError::new(
                    400,
                    "missing_file",
                    "field \"file\" must be a file upload, not a text value",
                ))
            }
        }
    }
    Ok(uploads)
}
