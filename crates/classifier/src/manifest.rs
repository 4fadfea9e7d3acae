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
    /// `"f32"`, or `"int8"` for a quantized (QDQ) file; f32 when absent.
    #[serde(default = "f32_precision")]
    pub precision: String,
    /// The manifest's other preprocessing keys (e.g. `interpolation`) only
    /// document what [`Preprocess`] always does.
    pub preprocess: Preprocess,
}

fn f32_precision() -> String {
    "f32".into()
}

impl Manifest {
    pub fn from_json(json: &str) -> Result<Manifest> {
        let m: Manifest =
            serde_json::from_str(json).map_err(|e| Error::ModelInvalid(format!("invalid model manifest: {e}")))?;
        if m.precision != "f32" && m.precision != "int8" {
            return Err(Error::ModelInvalid(format!("manifest precision {:?}: \"f32\" or \"int8\"", m.precision)));
        }
        Ok(m)
    }

    /// The engine must run the file at the precision the manifest says.
    pub fn check_precision(&self, engine_precision: &str) -> Result<()> {
        if self.precision != engine_precision {
            return Err(Error::ModelInvalid(format!(
                "the manifest says {} but the file is an {engine_precision} model",
                self.precision
            )));
        }
        Ok(())
    }

    pub fn pretrained(&self) -> bool {
        self.weights == "pretrained"
    }

    /// The model bytes must be the file this manifest describes.
    pub fn verify(&self, model: &[u8]) -> Result<()> {
        self.check_sha256(&sha256_hex(model))
    }

    /// Check a SHA-256 digest (32 bytes) computed elsewhere (e.g. by the
    /// runtime while the file streamed, or WebCrypto).
    pub fn check_digest(&self, sha256: &[u8]) -> Result<()> {
        self.check_sha256(&hex(sha256))
    }

    /// Check a digest computed elsewhere, as lowercase hex.
    pub fn check_sha256(&self, actual: &str) -> Result<()> {
        if actual != self.sha256 {
            return Err(Error::ModelChecksum {
                model: self.name.clone(),
                expected: self.sha256.clone(),
                actual: actual.to_string(),
            });
        }
        Ok(())
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Lowercase hex, as manifests write digests.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Fault;

    #[test]
    fn other_bytes_are_a_checksum_mismatch_with_both_digests() {
        let manifest = Manifest {
            name: "m".into(),
            file: "m.onnx".into(),
            sha256: sha256_hex(b"the model"),
            bytes: 9,
            weights: "random".into(),
            precision: "f32".into(),
            preprocess: Preprocess::default(),
        };
        manifest.verify(b"the model").unwrap();
        let e = manifest.verify(b"another model").unwrap_err();
        assert_eq!(e.code(), "model_checksum_mismatch");
        assert_eq!(e.fault(), Fault::Model);
        assert_eq!(
            e,
            Error::ModelChecksum {
                model: "m".into(),
                expected: manifest.sha256.clone(),
                actual: sha256_hex(b"another model")
            }
        );
    }

    #[test]
    fn precision_is_f32_unless_said_and_must_match_the_file() {
        let json = r#"{"name":"m","file":"m.onnx","sha256":"00","bytes":1,"weights":"random",
            "preprocess":{"resize":255,"crop":224,"mean":[0.485,0.456,0.406],"std":[0.229,0.224,0.225]}}"#;
        let m = Manifest::from_json(json).unwrap();
        assert_eq!(m.precision, "f32");
        m.check_precision("f32").unwrap();
        assert_eq!(m.check_precision("int8").unwrap_err().code(), "model_invalid");
        let e = Manifest::from_json(&json.replace("\"bytes\":1", "\"bytes\":1,\"precision\":\"int4\"")).unwrap_err();
        assert_eq!(e.code(), "model_invalid");
    }
}
