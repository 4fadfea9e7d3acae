//! The model file streamed from R2 into the CPU engine's loader and, at the
//! same time, into workerd's native SHA-256 (`crypto.DigestStream`). The file
//! never sits whole in wasm memory, which never shrinks: only the packed
//! weights stay. Hashing 32 MB with the `sha2` crate in wasm took 1.1-1.2 s
//! of a 1.5 s load; the runtime's hash costs the Worker nothing. The Worker
//! runs the CPU engine only (workerd has no WebGPU), so it streams into the
//! CPU loader itself rather than through `densenet_edge::load_engine`, which
//! takes the whole file.

use densenet_edge::{CpuEngine, Manifest};
use futures_util::StreamExt;
use worker::crypto::{DigestStream, DigestStreamAlgorithm};
use worker::js_sys::Uint8Array;
use worker::wasm_bindgen::JsValue;
use worker::wasm_bindgen_futures::JsFuture;
use worker::ByteStream;

use crate::clock::now_ms;
use crate::errors::ApiError;

/// The engine of a verified model file, and how long the two phases took.
pub struct Streamed {
    pub engine: CpuEngine,
    /// Reading R2, hashing and packing weights, which overlap (ms).
    pub stream_ms: f64,
    /// Waiting for the digest after the last chunk, and the engine's plan (ms).
    pub finish_ms: f64,
}

pub async fn load(mut stream: ByteStream, manifest: &Manifest) -> Result<Streamed, ApiError> {
    let t0 = now_ms();
    let file = &manifest.file;
    let read_error = |e: worker::Error| ApiError::model_unavailable(format!("reading {file}: {e}"));
    let hash_error = |e: JsValue| ApiError::model_unavailable(format!("hashing {file}: {e:?}"));
    let digest = DigestStream::new(DigestStreamAlgorithm::Sha256);
    let writer = digest.raw().get_writer().map_err(hash_error)?;
    let mut loader = Some(CpuEngine::loader());
    // A file that is not the manifest's says so (checksum), whatever the
    // parser thinks of it: after a parse error the rest is only hashed.
    let mut parse_error = None;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(read_error)?;
        JsFuture::from(writer.write_with_chunk(&Uint8Array::from(chunk.as_slice()))).await.map_err(hash_error)?;
        if let Some(l) = loader.as_mut() {
            if let Err(e) = l.push(&chunk) {
                parse_error = Some(e);
                loader = None;
            }
        }
    }
    JsFuture::from(writer.close()).await.map_err(hash_error)?;
    let t_stream = now_ms();
    let sum: String = digest.digest().await.map_err(read_error)?.to_vec().iter().map(|b| format!("{b:02x}")).collect();
    manifest.check_sha256(&sum)?;
    let engine = match (loader, parse_error) {
        (Some(l), None) => l.finish()?,
        (_, Some(e)) => return Err(e.into()),
        (None, None) => unreachable!("the loader is dropped only on a parse error"),
    };
    Ok(Streamed { engine, stream_ms: t_stream - t0, finish_ms: now_ms() - t_stream })
}
