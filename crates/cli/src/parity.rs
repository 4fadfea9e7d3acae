//! `parity`: how far our preprocessing is from PIL's and our engines' logits
//! from onnxruntime's, on the reference files of `model/reference/`.

use std::path::{Path, PathBuf};

use densenet_edge::tensor::parse_npy;
use densenet_edge::{decode, DecodeLimits, EngineKind, Preprocess, Tensor};

use crate::args::Args;
use crate::model;

pub fn run(args: &Args) -> Result<i32, String> {
    args.only(&["engines", "model", "reference"])?;
    let dir = args
        .get("reference")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../model/reference"));
    let repo = dir.join("../..");
    let index: serde_json::Value = serde_json::from_str(&read_text(&dir.join("index.json"))?).map_err(|e| e.to_string())?;
    let index = index.as_object().ok_or("index.json is not an object")?;

    println!("preprocessing: decode + Resize(255) + CenterCrop(224), uint8, ours vs PIL");
    let pre = Preprocess::default();
    let mut names: Vec<&String> = index.keys().collect();
    names.sort();
    for name in &names {
        let file = index[*name]["image"].as_str().ok_or("index entry without image")?;
        let img = decode(&read(&repo.join(file))?, &DecodeLimits::default()).map_err(|e| format!("{file}: {e}"))?;
        let ours = pre.resize_crop(&img);
        for (suffix, note) in [("crop", ""), ("highbyte.crop", " (16-bit read by high byte)")] {
            let path = dir.join(format!("{name}.{suffix}.npy"));
            if !path.exists() {
                continue;
            }
            let (_, theirs) = parse_npy::<u8>(&read(&path)?).map_err(|e| e.to_string())?;
            let diffs: Vec<u8> = ours.as_raw().iter().zip(&theirs).map(|(a, b)| a.abs_diff(*b)).collect();
            let max = diffs.iter().max().copied().unwrap_or(0);
            let exact = diffs.iter().filter(|d| **d == 0).count() as f64 / diffs.len() as f64;
            println!("  {file:<40} max {max:>3}  exact {:>7.3}%{note}", exact * 100.0);
        }
    }

    let loaded = model::load(args.get("model"))?;
    let logits_suffix = format!("logits.{}.npy", loaded.name());
    for kind in args.get("engines").unwrap_or("cpu,webgpu").split(',') {
        let kind: EngineKind = kind.parse().map_err(|e: densenet_edge::Error| e.to_string())?;
        let engine = match loaded.engine(kind) {
            Ok(e) => e,
            Err(e) => {
                println!("{kind}: unavailable: {e}");
                continue;
            }
        };
        println!("logits: {} on {} vs onnxruntime, same input tensor, model {}", kind, engine.device(), loaded.name());
        for name in &names {
            let logits_path = dir.join(format!("{name}.{logits_suffix}"));
            if !logits_path.exists() {
                continue;
            }
            let (shape, input) = parse_npy::<f32>(&read(&dir.join(format!("{name}.input.npy")))?).map_err(|e| e.to_string())?;
            let shape: [usize; 4] = shape.try_into().map_err(|_| "input is not 4-D")?;
            let (_, want) = parse_npy::<f32>(&read(&logits_path)?).map_err(|e| e.to_string())?;
            let got = pollster::block_on(engine.run(&Tensor { shape, data: input })).map_err(|e| e.to_string())?;
            let max = got[0].iter().zip(&want).fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
            let scale = want.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            println!("  {name:<24} max |logit diff| {max:.2e} (largest |logit| {scale:.2})");
        }
    }
    Ok(0)
}

fn read(p: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()))
}

fn read_text(p: &Path) -> Result<String, String> {
    std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))
}
