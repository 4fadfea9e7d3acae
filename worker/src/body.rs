//! Reading a request body into wasm memory exactly once, within a limit.

use futures_util::StreamExt;
use worker::js_sys::Uint8Array;
use worker::wasm_bindgen::{JsCast, JsValue};
use worker::wasm_bindgen_futures::JsFuture;
use worker::Request;

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

/// Bodies declared at most this long are read with one `arrayBuffer()`:
/// chunk by chunk, a 240 kB photo cost the isolate about 1 ms more (a promise
/// turn and a copy per chunk; `bench/worker/bench.sh`-style A/B at concurrency
/// 16: 2.7% more requests per second). The runtime then holds the body once
/// more until it is copied, which the admission's INFLIGHT_BYTES bounds.
const ONE_READ_BYTES: usize = 1 << 20;

/// The whole body. With a Content-Length of at most ONE_READ_BYTES, one read
/// and one copy into wasm; otherwise each chunk the runtime hands over is
/// copied once, straight into the buffer: with a Content-Length the buffer is
/// allocated once at its final size, without one it grows and reading stops
/// at `max`.
pub async fn read(req: &Request, declared: Option<usize>, max: usize) -> Result<Vec<u8>, ApiError> {
    let failed = |e: JsValue| ApiError::new(400, "bad_multipart", format!("reading the request body failed: {e:?}"));
    if let Some(n) = declared.filter(|&n| n <= ONE_READ_BYTES.min(max)) {
        let bytes = JsFuture::from(req.inner().array_buffer().map_err(failed)?).await.map_err(failed)?;
        let bytes = Uint8Array::new(&bytes);
        // More bytes than declared would break the admission's accounting.
        if bytes.length() as usize > n {
            return Err(too_large("the request body".into(), n));
        }
        return Ok(bytes.to_vec());
    }
    let Some(stream) = req.inner().body() else {
        return Ok(Vec::new());
    };
    // More bytes than declared would break the admission's accounting.
    let max = declared.unwrap_or(max).min(max);
    let mut body = Vec::with_capacity(declared.unwrap_or(0));
    let mut chunks = wasm_streams::ReadableStream::from_raw(stream.unchecked_into()).into_stream();
    while let Some(chunk) = chunks.next().await {
        let chunk: Uint8Array = chunk.map_err(failed)?.unchecked_into();
        let n = chunk.length() as usize;
        let len = body.len();
        if len + n > max {
            return Err(too_large("the request body".into(), max));
        }
        if len + n > body.capacity() {
            // Grow by doubling, never past the limit.
            body.reserve_exact((len + n).max(len * 2).min(max) - len);
        }
        body.resize(len + n, 0);
        chunk.copy_to(&mut body[len..]);
    }
    Ok(body)
}

fn too_large(what: String, max: usize) -> ApiError {
    ApiError::new(413, "body_too_large", format!("{what} is over the limit of {max} bytes"))
}
