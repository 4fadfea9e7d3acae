//! The densenet-edge Cloudflare Worker: `POST /predict`, `GET /health`,
//! `GET /model/<file>`. One module per job; none imports one that imports it.

mod admission;
mod answer;
mod batch;
mod body;
mod clock;
mod config;
mod errors;
mod health;
mod memory;
mod model;
mod model_file;
mod model_stream;
mod multipart;
mod predict;
mod routes;

use worker::{event, Context, Env, Request, Response, Result};

#[event(fetch)]
async fn fetch(req: Request, env: Env, ctx: Context) -> Result<Response> {
    routes::dispatch(req, env, ctx).await
}
