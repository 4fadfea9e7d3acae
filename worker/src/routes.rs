//! Which handler answers which method and path, and what every answer of
//! ours carries (CORS). `GET /` and other static files are served by Workers
//! static assets (`../www`, see wrangler.toml) before this code runs.

use worker::{Context, Env, Method, Request, Response};

use crate::config::Config;
use crate::errors::ApiError;
use crate::{health, model_file, predict};

pub async fn dispatch(req: Request, env: Env, ctx: Context) -> worker::Result<Response> {
    health::count_request();
    let config = Config::from_env(&env);
    let path = req.path();
    let answer = match (path.as_str(), req.method()) {
        ("/predict", Method::Post) => predict::handle(req, &env, &ctx, &config).await,
        ("/health", Method::Get | Method::Head) => health::handle(&req, &env, &ctx, &config).await,
        ("/predict" | "/health", Method::Options) => preflight(),
        (p, Method::Get | Method::Head) if p.starts_with("/model/") => {
            model_file::handle(&req, &env, &config, &p["/model/".len()..]).await
        }
        ("/__panic", Method::Post) if config.panic_route => panic!("PANIC_ROUTE test hook"),
        ("/predict", _) => Err(ApiError::method_not_allowed("POST, OPTIONS")),
        ("/health", _) => Err(ApiError::method_not_allowed("GET, HEAD, OPTIONS")),
        _ => Err(ApiError::not_found(format!("no route for {path}"))),
    };
    // Every answer of ours, errors included, carries CORS headers so a page on
    // another origin can read the JSON error too.
    let mut response = match answer {
        Ok(r) => r,
        Err(e) => e.into_response()?,
    };
    let h = response.headers_mut();
    h.set("Access-Control-Allow-Origin", "*")?;
    h.set("Access-Control-Expose-Headers", "Content-Length, ETag, Retry-After")?;
    Ok(response)
}

fn preflight() -> Result<Response, ApiError> {
    let mut r = Response::empty()?.with_status(204);
    let h = r.headers_mut();
    h.set("Access-Control-Allow-Methods", "GET, HEAD, POST, OPTIONS")?;
    h.set("Access-Control-Allow-Headers", "Content-Type, If-None-Match")?;
    h.set("Access-Control-Max-Age", "86400")?;
    Ok(r)
}
