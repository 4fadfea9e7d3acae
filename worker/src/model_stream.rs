//! The model file streamed from R2 into the shared crate's `StreamedLoad`
//! (which feeds the CPU engine's chunked loader, held to the Config's
//! `LoadLimits`) and, at the same time, into workerd's native SHA-256
//! (`crypto.DigestStream`). The file never sits whole in wasm
//! memory, which never shrinks: only the packed weights stay. Hashing 32 MB
//! with the `sha2` crate in wasm took 1.1-1.2 s of a 1.5 s load; the
//! runtime's hash costs the Worker nothing. The Worker runs the CPU engine
//! only (workerd has no WebGPU), so it needs neither `load_engine` nor the
//! whole file.

use densenet_edge::{Classifier, LoadLimits, Manifest, Options, StreamedLoad};
use futures_util::StreamExt;
use worker::crypto::{DigestStream, DigestStreamAlgorithm};
use worker::js_sys::Uint8Array;
use worker::wasm_bindgen::{JsCast, JsValue};
use worker::wasm_bindgen_futures::JsFuture;

use crate::clock::now_ms;
use crate::errors::ApiError;

/// The buffer the stream's chunks are gathered in, in wasm memory for the
/// whole load: 1 MiB left 47.8 MiB of wasm memory after the load (the
/// Worker's budget is 48), 256 KiB 46.0.
const PIECE: u32 = 1 << 18;

/// The classifier of a verified model file, and how long the two phases took.
pub struct Streamed {
    pub classifier: Classifier,
    /// Reading R2, hashing and packing weights, which overlap (ms).
    pub stream_ms: f64,
    /// Of `stream_ms`, the time in the engine's loader: parsing and packing
    /// weights (ms). The rest is mostly waiting for R2.
    pub pack_ms: f64,
    /// Waiting for the digest after the last chunk, and the engine's plan (ms).
    pub finish_ms: f64,
}

/// Each chunk of `body` (R2's stream) is copied once into wasm, into one
/// buffer of `PIECE` bytes; a full buffer goes to the loader and, copied out
/// as one new JS array, to the digest, whose write runs while the next
/// buffer fills. Local R2 streams 32 MB in ~7,900 chunks of ~4 KB: a loader
/// push and a digest write per chunk were ~80 ms of per-chunk overhead
/// (`bench/worker/memory.mjs`). (Through `ByteStream`, each chunk was copied
/// into a new `Vec`, then back out for the digest, and the digest awaited
/// before the next chunk: load 313-356 ms vs 281-304 with a write per chunk.)
pub async fn load(
    body: worker::web_sys::ReadableStream,
    manifest: &Manifest,
    options: Options,
    limits: LoadLimits,
) -> Result<Streamed, ApiError> {
    let t0 = now_ms();
    let file = &manifest.file;
    let read_error = |e: JsValue| ApiError::model_unavailable(format!("reading {file}: {e:?}"));
    let hash_error = |e: JsValue| ApiError::model_unavailable(format!("hashing {file}: {e:?}"));
    let digest = DigestStream::new(DigestStreamAlgorithm::Sha256);
    let writer = digest.raw().get_writer().map_err(hash_error)?;
    let mut load = StreamedLoad::hashed_by_caller(manifest, options, limits)?;
    let mut chunks = wasm_streams::ReadableStream::from_raw(body.unchecked_into()).into_stream();
    let mut buf = vec![0u8; PIECE as usize];
    let mut fill = 0;
    let mut hashing: Option<JsFuture> = None;
    let mut pack_ms = 0.0;
    // A full buffer (or the last, partial one) to the loader and the digest;
    // gives back the previous digest write, awaited so that one write at a
    // time is in flight.
    let mut flush = |buf: &[u8], hashing: &mut Option<JsFuture>, pack_ms: &mut f64| {
        let t = now_ms();
        load.push(buf);
        *pack_ms += now_ms() - t;
        // A new JS array, not a view of wasm memory: a stream may take
        // (detach) the buffer it is given.
        hashing.replace(JsFuture::from(writer.write_with_chunk(&Uint8Array::from(buf))))
    };
    while let Some(chunk) = chunks.next().await {
        let chunk: Uint8Array = chunk.map_err(read_error)?.unchecked_into();
        let (len, mut start) = (chunk.length(), 0);
        while start < len {
            let n = (len - start).min(PIECE - fill as u32);
            chunk.subarray(start, start + n).copy_to(&mut buf[fill..fill + n as usize]);
            (start, fill) = (start + n, fill + n as usize);
            if fill == buf.len() {
                if let Some(previous) = flush(&buf, &mut hashing, &mut pack_ms) {
                    previous.await.map_err(hash_error)?;
                }
                fill = 0;
            }
        }
    }
    if fill > 0 {
        if let Some(previous) = flush(&buf[..fill], &mut hashing, &mut pack_ms) {
            previous.await.map_err(hash_error)?;
        }
    }
    if let Some(last) = hashing {
        last.await.map_err(hash_error)?;
    }
    JsFuture::from(writer.close()).await.map_err(hash_error)?;
    let t_stream = now_ms();
    let sha256 =
        digest.digest().await.map_err(|e| ApiError::model_unavailable(format!("hashing {file}: {e}")))?.to_vec();
    let classifier = load.finish_with_digest(&sha256)?;
    Ok(Streamed { classifier, stream_ms: t_stream - t0, pack_ms, finish_ms: now_ms() - t_stream })
}
