//! Finding the model file and its manifest, and loading an engine on it.

use std::path::{Path, PathBuf};

use clap::builder::TypedValueParser;
use clap::Args;
use densenet_edge::{load_engine, sha256_hex, EngineChoice, LoadedEngine, Manifest, ModelInfo, Preprocess};

use crate::error::read;

#[derive(Args, Debug, Clone)]
pub struct ModelArgs {
    /// The ONNX model [default: model/build/densenet121-imagenet.onnx when it
    /// exists, else model/build/densenet121-random.onnx, from the current directory]
    #[arg(long, env = "DENSENET_EDGE_MODEL", value_name = "FILE")]
    pub model: Option<PathBuf>,
}

/// A model file read from disk, and its manifest when there is one.
pub struct ModelFile {
    pub path: PathBuf,
    pub bytes: Vec<u8>,
    pub manifest: Option<Manifest>,
}

/// `--model` (or `$DENSENET_EDGE_MODEL`), else the pretrained export in
/// `model/build/` when it exists, else the random-weight model there. Relative
/// to the current directory, not to where the binary was built: the target
/// dir lives outside the clone and is shared between checkouts.
fn resolve(arg: Option<&Path>) -> PathBuf {
    if let Some(p) = arg {
        return p.to_path_buf();
    }
    let build = Path::new("model/build");
    let pretrained = build.join("densenet121-imagenet.onnx");
    if pretrained.exists() {
        pretrained
    } else {
        build.join("densenet121-random.onnx")
    }
}

impl ModelArgs {
    /// Read the model and, when `model/manifests/<stem>.json` or
    /// `<stem>.json` beside it exists, check the bytes against it. Says loudly on stderr when the weights are random.
    pub fn load(&self) -> crate::Result<ModelFile> {
        let path = resolve(self.model.as_deref());
        let bytes = read(&path)?;
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
        // The committed manifests, else one beside the file (an int8 file's:
        // its bytes depend on the CPU that calibrated it).
        let dir = path.parent().unwrap_or(Path::new("."));
        let json = [dir.join("../manifests"), dir.to_path_buf()]
            .iter()
            .find_map(|d| std::fs::read_to_string(d.join(format!("{stem}.json"))).ok());
        let manifest = match json {
            Some(json) => {
                let m = Manifest::from_json(&json)?;
                m.verify(&bytes)?;
                Some(m)
            }
            None => None,
        };
        match &manifest {
            Some(m) if !m.pretrained() => eprintln!(
                "warning: model {} has RANDOM weights ({}): its predictions are meaningless; \
                 export the pretrained model with model/export_torchvision.py",
                m.name,
                path.display()
            ),
            None => {
                eprintln!("warning: no manifest for {}: whether its weights are pretrained is unknown", path.display())
            }
            _ => {}
        }
        Ok(ModelFile { path, bytes, manifest })
    }
}

impl ModelFile {
    pub fn info(&self) -> ModelInfo {
        match &self.manifest {
            Some(m) => ModelInfo::from(m),
            None => ModelInfo {
                name: self.path.display().to_string(),
                weights: "unknown".into(),
                pretrained: false,
                sha256: sha256_hex(&self.bytes),
                bytes: self.bytes.len() as u64,
                // What the engine runs it at: `classify` sets it once loaded.
                precision: "f32".into(),
            },
        }
    }

    pub fn preprocess(&self) -> Preprocess {
        self.manifest.as_ref().map(|m| m.preprocess.clone()).unwrap_or_default()
    }

    pub fn engine(&self, choice: EngineChoice) -> crate::Result<LoadedEngine> {
        let side = self.preprocess().crop as usize;
        let loaded = pollster::block_on(load_engine(&self.bytes, side, choice))?;
        if let Some(m) = &self.manifest {
            m.check_precision(loaded.engine.precision())?;
        }
        Ok(loaded)
    }
}

/// `--engine`, checked by clap against the names the core parses.
pub fn engine_parser() -> impl clap::builder::TypedValueParser<Value = EngineChoice> {
    clap::builder::PossibleValuesParser::new(["cpu", "webgpu", "auto"])
        .map(|s| s.parse::<EngineChoice>().expect("a possible value"))
}
