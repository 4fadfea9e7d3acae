//! A CPU classifier from a model file fed in pieces (a download, a JS
//! buffer): the file never sits whole in memory next to the packed weights,
//! which matters in wasm, whose memory never shrinks (measured in the
//! browser: ~101 MiB after a whole-file load, ~44 MiB streamed).

use sha2::{Digest, Sha256};

use crate::classifier::{Classifier, Options};
use crate::engine::cpu::{CpuEngine, CpuLoader};
use crate::engine::INPUT_SIDE;
use crate::error::{Error, Result};
use crate::labels::Labels;
use crate::manifest::Manifest;

pub struct StreamedLoad {
    manifest: Manifest,
    options: Options,
    hasher: Sha256,
    loader: Option<CpuLoader>,
    /// The parser's first error; the rest of the file is only hashed, so a
    /// file that is not the manifest's says so (checksum) whatever the parser
    /// thought of it.
    parse_error: Option<Error>,
}

impl StreamedLoad {
    /// `options.preprocess` is replaced by the manifest's.
    pub fn new(manifest: &Manifest, options: Options) -> Result<StreamedLoad> {
        let crop = manifest.preprocess.crop as usize;
        if crop != INPUT_SIDE {
            return Err(Error::ModelInvalid(format!(
                "the manifest crops {crop}x{crop}; the DenseNet engine runs {INPUT_SIDE}x{INPUT_SIDE} inputs"
            )));
        }
        Ok(StreamedLoad {
            manifest: manifest.clone(),
            options: Options { preprocess: manifest.preprocess.clone(), ..options },
            hasher: Sha256::new(),
            loader: Some(CpuEngine::loader()),
            parse_error: None,
        })
    }

    pub fn push(&mut self, chunk: &[u8]) {
        self.hasher.update(chunk);
        if let Some(loader) = self.loader.as_mut() {
            if let Err(e) = loader.push(chunk) {
                self.parse_error = Some(e);
                self.loader = None;
            }
        }
    }

    /// The sha256 check (`model_checksum_mismatch`), then the engine's plan.
    pub fn finish(self) -> Result<Classifier> {
        let digest: String = self.hasher.finalize().iter().map(|b| format!("{b:02x}")).collect();
        self.manifest.check_sha256(&digest)?;
        let engine = match (self.loader, self.parse_error) {
            (_, Some(e)) => return Err(e),
            (Some(loader), None) => loader.finish()?,
            (None, None) => unreachable!("the loader is dropped only on a parse error"),
        };
        Classifier::new(Box::new(engine), Labels::imagenet().clone(), self.options)
    }
}
