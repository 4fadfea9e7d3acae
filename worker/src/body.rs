//! Reading a request body into wasm memory exactly once, within a size
//! limit, a byte budget and two deadlines.

use std::pin::pin;
use std::time::Duration;

use futures_util::future::{select, Either};
use futures_util::StreamExt;
use worker::js_sys::Uint8Array;
use worker::wasm_bindgen::{JsCast, JsValue};
use worker::Request;

use crate::admission::Reading;
use crate::clock::now_ms;
use crate::config::Config;
use crate::errors::ApiError;

/// The body's declared size (Content-Length), refusing one over `max` before
/// a byte is read.
pub fn declared_length(req: &Request, max: usize) -> Result<Option<usize>, ApiError> {
    let Some(text) = req.headers().get("Content-Length")? else {
        return Ok(None);
    };
    // The runtime checks the header's syntax; anything else counts as absent.
    let Ok(n) = text.trim().parse::<u64>() else {
        return Ok(None);
    };
    if n > max as u64 {
        return Err(too_large(format!("Content-Length {n}"), max));
    }
    Ok(Some(n as usize))
}

/// The whole body, streamed. Its chunks stay the JS arrays the runtime
/// hands over until the last one has arrived, then are copied once into one
/// buffer of the exact size: wasm memory, which never shrinks, sees one
/// allocation per body, as many concurrent uploads growing buffers side by
/// side would leave holes in it (a soak measured 13 MiB more that way). Each
/// chunk is charged to `reading` as it arrives, so what counts against
/// INFLIGHT_BYTES is what has really been received, not what a header
/// claims. A body idle for BODY_IDLE_MS, or unfinished BODY_DEADLINE_MS
/// after the request arrived, ends with 408 `body_timeout`; dropping the
/// stream cancels it, and dropping `reading` gives its bytes back.
///
/// One `arrayBuffer()` read was ~1 ms faster for a 240 kB photo, but it
/// cannot tell a stalled body from a slow one, nor count received bytes.
pub async fn read(
    req: &Request,
    declared: Option<usize>,
    reading: &mut Reading,
    started_ms: f64,
    config: &Config,
) -> Result<Vec<u8>, ApiError> {
    let failed = |e: JsValue| ApiError::new(400, "bad_multipart", format!("reading the request body failed: {e:?}"));
    let Some(stream) = req.inner().body() else {
        return Ok(Vec::new());
    };
    // More bytes than declared would break the accounting.
    let max = declared.unwrap_or(config.max_body_bytes).min(config.max_body_bytes);
    let deadline_ms = started_ms + config.body_deadline_ms as f64;
    let mut received: Vec<Uint8Array> = Vec::new();
    let mut len = 0;
    let mut chunks = wasm_streams::ReadableStream::from_raw(stream.unchecked_into()).into_stream();
    loop {
        let left_ms = deadline_ms - now_ms();
        let (wait_ms, why) = if left_ms < config.body_idle_ms as f64 {
            (left_ms.max(0.0), Timeout::Deadline)
        } else {
            (config.body_idle_ms as f64, Timeout::Idle)
        };
        let timer = pin!(worker::Delay::from(Duration::from_millis(wait_ms as u64)));
        let chunk = match select(chunks.next(), timer).await {
            Either::Left((Some(chunk), _)) => chunk,
            Either::Left((None, _)) => break,
            Either::Right(_) => return Err(why.error(len, declared, config)),
        };
        let chunk: Uint8Array = chunk.map_err(failed)?.unchecked_into();
        let n = chunk.length() as usize;
        if len + n > max {
            return Err(too_large("the request body".into(), max));
        }
        reading.charge(len + n, config)?;
        len += n;
        received.push(chunk);
    }
    let mut body = vec![0; len];
    let mut at = 0;
    for chunk in received {
        let n = chunk.length() as usize;
        chunk.copy_to(&mut body[at..at + n]);
        at += n;
    }
    Ok(body)
}

#[derive(Clone, Copy)]
enum Timeout {
    Idle,
    Deadline,
}

impl Timeout {
    fn error(self, received: usize, declared: Option<usize>, config: &Config) -> ApiError {
        crate::admission::count_body_timeout();
        let of = declared.map_or(String::new(), |n| format!(" of {n}"));
        let message = match self {
            Timeout::Idle => format!(
                "no byte of the request body arrived for {} ms (BODY_IDLE_MS) after {received}{of} bytes",
                config.body_idle_ms
            ),
            Timeout::Deadline => format!(
                "the request body was not complete {} ms (BODY_DEADLINE_MS) after the request arrived: {received}{of} bytes",
                config.body_deadline_ms
            ),
        };
        ApiError::new(408, "body_timeout", message)
    }
}

fn too_large(what: String, max: usize) -> ApiError {
    ApiError::new(413, "body_too_large", format!("{what} is over the limit of {max} bytes"))
}
