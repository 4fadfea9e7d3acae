//! A CPU classifier from a model file fed in pieces (a download, a JS
//! buffer, an R2 stream): the file never sits whole in memory next to the
//! packed weights, which matters in wasm, whose memory never shrinks
//! (measured in Chromium and Node with a photo classified: 97-128 MiB after
//! a whole-file load, 53-55 MiB streamed; the Worker: 43 MiB after its load).

use densenet_edge_engine as engine;
use sha2::{Digest, Sha256};

use crate::classifier::{Classifier, Options};
use crate::engine::cpu::{CpuEngine, LoadLimits};
use crate::engine::{check_input_side, Engine as _};
use crate::error::{Error, Result};
use crate::labels::Labels;
use crate::manifest::Manifest;

/// The bytes go straight to the engine's loader; this adds what makes a
/// file a manifest's model rather than any file the engine can parse. It
/// hashes the bytes as they pass (or takes the caller's digest) and checks
/// the manifest's sha256 before the engine is planned; it keeps hashing
/// past a parse error, so that a file that is not the manifest's says
/// `model_checksum_mismatch` whatever the parser thought of it; and it makes
/// the classifier with the manifest's preprocessing and ImageNet's labels.
pub struct StreamedLoad {
    manifest: Manifest,
    options: Options,
    /// None when the caller hashes the file itself.
    hasher: Option<Sha256>,
    loader: Option<engine::Loader>,
    /// The parser's first error; the rest of the file is only hashed, so a
    /// file that is not the manifest's says so (checksum) whatever the parser
    /// thought of it.
    parse_error: Option<Error>,
}

impl StreamedLoad {
    /// Hashes what it is fed; end with [`StreamedLoad::finish`].
    /// `options.preprocess` is replaced by the manifest's and
    /// `options.max_batch` by `limits.max_batch`, the batch the engine's
    /// workspace is checked at, so the classifier never runs a larger one;
    /// the model is refused (`model_invalid`) as soon as it passes `limits`.
    pub fn new(manifest: &Manifest, options: Options, limits: LoadLimits) -> Result<StreamedLoad> {
        let mut load = StreamedLoad::hashed_by_caller(manifest, options, limits)?;
        load.hasher = Some(Sha256::new());
        Ok(load)
    }

    /// For a caller that hashes the file itself (e.g. with the runtime's
    /// native SHA-256, much faster than `sha2` in wasm); end with
    /// [`StreamedLoad::finish_with_digest`].
    pub fn hashed_by_caller(manifest: &Manifest, options: Options, limits: LoadLimits) -> Result<StreamedLoad> {
        check_input_side(manifest.preprocess.crop as usize)?;
        Ok(StreamedLoad {
            manifest: manifest.clone(),
            options: Options { preprocess: manifest.preprocess.clone(), max_batch: limits.max_batch, ..options },
            hasher: None,
            loader: Some(CpuEngine::loader(limits)),
            parse_error: None,
        })
    }

    pub fn push(&mut self, chunk: &[u8]) {
        if let Some(hasher) = self.hasher.as_mut() {
            hasher.update(chunk);
        }
        if let Some(loader) = self.loader.as_mut() {
            if let Err(e) = loader.push(chunk) {
                self.parse_error = Some(e.into());
                self.loader = None;
            }
        }
    }

    /// The sha256 check (`model_checksum_mismatch`), then the engine's plan.
    pub fn finish(mut self) -> Result<Classifier> {
        let Some(hasher) = self.hasher.take() else {
            return Err(Error::InvalidArgument("this load is hashed by its caller: use finish_with_digest".into()));
        };
        self.finish_with_digest(&hasher.finalize())
    }

    /// [`StreamedLoad::finish`] with the file's SHA-256 (32 bytes) computed
    /// by the caller.
    pub fn finish_with_digest(self, sha256: &[u8]) -> Result<Classifier> {
        self.manifest.check_digest(sha256)?;
        let engine = match (self.loader, self.parse_error) {
            (_, Some(e)) => return Err(e),
            (Some(loader), None) => CpuEngine::new(loader.finish()?)?,
            (None, None) => unreachable!("the loader is dropped only on a parse error"),
        };
        self.manifest.check_precision(engine.precision())?;
        Classifier::new(Box::new(engine), Labels::imagenet().clone(), self.options)
    }
}
