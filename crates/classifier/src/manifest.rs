//! What a model file is: the manifest written next to it by the scripts in
//! `model/`, and the check that the bytes are that file.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::preprocess::Preprocess;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub name: String,
    pub file: String,
    pub sha256: String,
    pub bytes: u64,
    /// `"pretrained"` or `"random"`.
    pub weights: String,
    /// The manifest's other preprocessing keys (e.g. `interpolation`) only
    /// document what [`Preprocess`] always does.
    pub preprocess: Preprocess,
}

impl Manifest {
    pub fn from_json(json: &str) -> Result<Manifest> {
        serde_json::from_str(json).map_err(|e| Error::ModelInvalid(format!("invalid model manifest: {e}")))
    }

    pub fn pretrained(&self) -> bool {
        self.weights == "pretrained"
    }

    /// The model bytes must be the file this manifest describes.
    pub fn verify(&self, model: &[u8]) -> Result<()> {
        self.check_sha256(&sha256_hex(model))
    }

    /// Check a digest computed elsewhere (e.g. by the runtime while the file
    /// streamed), as lowercase hex.
    pub fn check_sha256(&self, digest: &str) -> Result<()> {
        if digest != self.sha256 {
            return Err(Error::ModelInvalid(format!(
                "sha256 of the model is {digest}, the manifest of {} says {}",
                self.name, self.sha256
            )));
        }
        Ok(())
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}
