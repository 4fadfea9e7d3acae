//! `POST /predict`: admit, read the multipart body, classify each `file`.

use densenet_edge::{ErrorAnswer, ErrorBody, ItemOutcome, MAX_TOP_K};
use worker::{Context, Env, Request, Response};

use crate::admission;
use crate::answer::{About, Item, ManyImages, OneImage, Timings};
use crate::batch::{self, Classified};
use crate::body;
use crate::clock::now_ms;
use crate::config::Config;
use crate::errors::{about_file, ApiError};
use crate::model;
use crate::multipart;

pub async fn handle(req: Request, env: &Env, ctx: &Context, config: &Config) -> Result<Response, ApiError> {
    let t0 = now_ms();
    let top_k = top_k(&req, config)?;
    let content_type = req.headers().get("Content-Type")?.unwrap_or_default();
    let boundary = multipart::boundary(&content_type).ok_or_else(not_multipart)?;
    let declared = body::declared_length(&req, config.max_body_bytes)?;

    // While the body arrives the request holds only the bytes it has
    // received; with the whole body it takes a place for the CPU work. When
    // coalescing, it also holds room for its crops in the shared queue.
    // Decoding and the engine run one request at a time (see admission), so
    // their memory is not per request.
    let mut reading = admission::start_reading(config)?;
    let body = body::read(&req, declared, &mut reading, t0, config).await?;
    let queued = batch::queued_bytes(config);
    if queued > 0 {
        reading.charge(body.len() + queued, config)?;
    }
    let permit = reading.admit(config)?;
    if body.is_empty() {
        return Err(not_multipart());
    }
    let files = multipart::file_parts(&body, &boundary, config.max_files)?;
    let single = files.len() == 1;
    // A single image answers at the top level (the tutorial's contract), so
    // its empty file is a request error; inside a batch it is that item's error.
    if single && files[0].bytes.is_empty() {
        return Err(ApiError::new(400, "empty_input", format!("file {:?} is empty", files[0].filename)));
    }
    let t_read = now_ms();

    let model = model::get(env, ctx, config).await?;
    let t_model = now_ms();

    let batch::Done { classified: done, prepare_ms, turn_started_ms: t_turn } =
        batch::classify(&model, &files, top_k, &permit, config).await;
    let t_classify = now_ms();

    let about = About {
        engine: model.engine(),
        model: &model.info,
        timings_ms: Timings {
            read: t_read - t0,
            model_load: t_model - t_read,
            queue: t_turn - t_model,
            prepare: prepare_ms,
            classify: t_classify - t_turn,
            engine: done.iter().map(|d| d.engine_ms).fold(0.0, f64::max),
            total: now_ms() - t0,
        },
    };
    if single {
        let Some(Classified { result, batch_size, .. }) = done.into_iter().next() else {
            return Err(ApiError::new(500, "internal", "no answer for the image"));
        };
        let c = result.map_err(|e| ApiError::from(e).about_file(&files[0].filename))?;
        return Ok(Response::from_json(&OneImage { answer: c.into(), batch_size, about })?);
    }
    let batch_sizes = done.iter().map(|d| d.batch_size).collect();
    let results = done
        .into_iter()
        .zip(&files)
        .map(|(d, f)| Item {
            filename: &f.filename,
            outcome: match d.result {
                Ok(c) => ItemOutcome::Answer(c.into()),
                Err(e) => ItemOutcome::Error(ErrorAnswer { error: about_file(ErrorBody::from(&e), &f.filename) }),
            },
        })
        .collect();
    Ok(Response::from_json(&ManyImages { results, batch_sizes, about })?)
}

fn not_multipart() -> ApiError {
    ApiError::new(400, "not_multipart", "send the image as multipart/form-data with a field named \"file\"")
}

fn top_k(req: &Request, config: &Config) -> Result<usize, ApiError> {
    let url = req.url()?;
    let Some((_, v)) = url.query_pairs().find(|(k, _)| k == "top_k") else {
        return Ok(config.top_k);
    };
    match v.parse::<usize>() {
        Ok(k) if (1..=MAX_TOP_K).contains(&k) => Ok(k),
        _ => Err(ApiError::new(400, "bad_top_k", format!("top_k must be 1..={MAX_TOP_K}, got {v:?}"))),
    }
}
