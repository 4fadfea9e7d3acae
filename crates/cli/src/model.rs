//! Finding the model file and its manifest, and loading an engine on it.

use std::path::{Path, PathBuf};

use densenet_edge::{CpuEngine, Engine, EngineKind, Manifest, WebGpuEngine};

pub struct LoadedModel {
    pub path: PathBuf,
    pub bytes: Vec<u8>,
    pub manifest: Option<Manifest>,
}

/// `--model`, else `$DENSENET_EDGE_MODEL`, else the pretrained export in
/// `model/build/` when it exists, else the random-weight model there.
pub fn resolve(arg: Option<&str>) -> PathBuf {
    if let Some(p) = arg.map(String::from).or_else(|| std::env::var("DENSENET_EDGE_MODEL").ok()) {
        return PathBuf::from(p);
    }
    let build = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../model/build");
    let pretrained = build.join("densenet121-imagenet.onnx");
    if pretrained.exists() {
        pretrained
    } else {
        build.join("densenet121-random.onnx")
    }
}

/// Read the model and, when `model/manifests/<stem>.json` exists, check the
/// bytes against it. Says loudly on stderr when the weights are random.
pub fn load(arg: Option<&str>) -> Result<LoadedModel, String> {
    let path = resolve(arg);
    let bytes = std::fs::read(&path).map_err(|e| {
        format!("cannot read model {}: {e} (run scripts/prepare-model.sh to make it)", path.display())
    })?;
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
    let manifest_path = path.parent().unwrap_or(Path::new(".")).join("../manifests").join(format!("{stem}.json"));
    let manifest = match std::fs::read_to_string(&manifest_path) {
        Ok(json) => {
            let m = Manifest::from_json(&json).map_err(|e| e.to_string())?;
            m.verify(&bytes).map_err(|e| e.to_string())?;
            Some(m)
        }
        Err(_) => None,
    };
    match &manifest {
        Some(m) if !m.pretrained() => eprintln!(
            "warning: model {} has RANDOM weights ({}): its predictions are meaningless; \
             export the pretrained model with model/export_torchvision.py",
            m.name,
            path.display()
        ),
        None => eprintln!("warning: no manifest for {}: whether its weights are pretrained is unknown", path.display()),
        _ => {}
    }
    Ok(LoadedModel { path, bytes, manifest })
}

impl LoadedModel {
    pub fn name(&self) -> String {
        self.manifest.as_ref().map_or_else(|| self.path.display().to_string(), |m| m.name.clone())
    }

    pub fn weights(&self) -> &str {
        self.manifest.as_ref().map_or("unknown", |m| m.weights.as_str())
    }

    pub fn preprocess(&self) -> densenet_edge::Preprocess {
        self.manifest.as_ref().map(|m| m.preprocess.clone()).unwrap_or_default()
    }

    pub fn engine(&self, kind: EngineKind) -> Result<Box<dyn Engine>, String> {
        let side = self.preprocess().crop as usize;
        let cpu = CpuEngine::load(&self.bytes).map_err(|e| e.to_string())?;
        match kind {
            EngineKind::Cpu => Ok(Box::new(cpu)),
            EngineKind::Webgpu => {
                let gpu = pollster::block_on(WebGpuEngine::load(&self.bytes, side, &cpu)).map_err(|e| e.to_string())?;
                Ok(Box::new(gpu))
            }
        }
    }
}
