//! The model file streamed from R2 into the core's `StreamedLoad` (the CPU
//! engine's chunked loader) and, at the same time, into workerd's native
//! SHA-256 (`crypto.DigestStream`). The file never sits whole in wasm
//! memory, which never shrinks: only the packed weights stay. Hashing 32 MB
//! with the `sha2` crate in wasm took 1.1-1.2 s of a 1.5 s load; the
//! runtime's hash costs the Worker nothing. The Worker runs the CPU engine
//! only (workerd has no WebGPU), so it needs neither `load_engine` nor the
//! whole file.

use densenet_edge::{Classifier, Manifest, Options, StreamedLoad};
use futures_util::StreamExt;
use worker::crypto::{DigestStream, DigestStreamAlgorithm};
use worker::js_sys::Uint8Array;
use worker::wasm_bindgen::JsValue;
use worker::wasm_bindgen_futures::JsFuture;
use worker::ByteStream;

use crate::clock::now_ms;
use crate::errors::ApiError;

/// The classifier of a verified model file, and how long the two phases took.
pub struct Streamed {
    pub classifier: Classifier,
    /// Reading R2, hashing and packing weights, which overlap (ms).
    pub stream_ms: f64,
    /// Waiting for the digest after the last chunk, and the engine's plan (ms).
    pub finish_ms: f64,
}

pub async fn load(mut stream: ByteStream, manifest: &Manifest, options: Options) -> Result<Streamed, ApiError> {
    let t0 = now_ms();
    let file = &manifest.file;
    let read_error = |e: worker::Error| ApiError::model_unavailable(format!("reading {file}: {e}"));
    let hash_error = |e: JsValue| ApiError::model_unavailable(format!("hashing {file}: {e:?}"));
    let digest = DigestStream::new(DigestStreamAlgorithm::Sha256);
    let writer = digest.raw().get_writer().map_err(hash_error)?;
    let mut load = StreamedLoad::hashed_by_caller(manifest, options)?;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(read_error)?;
        JsFuture::from(writer.write_with_chunk(&Uint8Array::from(chunk.as_slice()))).await.map_err(hash_error)?;
        load.push(&chunk);
    }
    JsFuture::from(writer.close()).await.map_err(hash_error)?;
    let t_stream = now_ms();
    let sha256 = digest.digest().await.map_err(read_error)?.to_vec();
    let classifier = load.finish_with_digest(&sha256)?;
    Ok(Streamed { classifier, stream_ms: t_stream - t0, finish_ms: now_ms() - t_stream })
}
