//! `parity`: how far our preprocessing is from PIL's and our engines' logits
//! from onnxruntime's, on the reference files of `model/reference/`.

use std::path::{Path, PathBuf};

use clap::Args;
use densenet_edge::{decode_crop, DecodeLimits, EngineChoice, Preprocess, Tensor};
use densenet_edge_npy::{parse_npy, NpyElement};

use crate::error::{read, CliError};
use crate::model::{engine_parser, ModelArgs};

/// Print parity figures: per test image, the largest uint8 difference from
/// PIL after resize + crop, and the largest logit difference from
/// onnxruntime for each engine.
#[derive(Args, Debug)]
pub struct ParityArgs {
    /// Engines to compare (repeat the flag) [default: cpu and webgpu]
    #[arg(long = "engine", value_parser = engine_parser())]
    pub engines: Vec<EngineChoice>,
    #[command(flatten)]
    pub model: ModelArgs,
    /// The reference directory [default: model/reference]
    #[arg(long, value_name = "DIR")]
    pub reference: Option<PathBuf>,
}

pub fn run(args: &ParityArgs) -> crate::Result<i32> {
    let dir = args.reference.clone().unwrap_or_else(|| Path::new("model/reference").to_path_buf());
    let repo = dir.join("../..");
    let index_path = dir.join("index.json");
    let bad_reference = |path: &Path, message: String| CliError::Reference { path: path.to_path_buf(), message };
    let index: serde_json::Value =
        serde_json::from_slice(&read(&index_path)?).map_err(|e| bad_reference(&index_path, e.to_string()))?;
    let index = index.as_object().ok_or_else(|| bad_reference(&index_path, "not an object".into()))?;

    println!("preprocessing: decode + Resize(255) + CenterCrop(224), uint8, ours vs PIL");
    let pre = Preprocess::default();
    let mut names: Vec<&String> = index.keys().collect();
    names.sort();
    for name in &names {
        let file = index[*name]["image"]
            .as_str()
            .ok_or_else(|| bad_reference(&index_path, format!("entry {name} has no image")))?;
        let ours = decode_crop(&read(&repo.join(file))?, &DecodeLimits::default(), &pre)?;
        for (suffix, note) in [("crop", ""), ("highbyte.crop", " (16-bit read by high byte)")] {
            let path = dir.join(format!("{name}.{suffix}.npy"));
            if !path.exists() {
                continue;
            }
            let (_, theirs) = npy::<u8>(&path)?;
            let diffs: Vec<u8> = ours.as_raw().iter().zip(&theirs).map(|(a, b)| a.abs_diff(*b)).collect();
            let max = diffs.iter().max().copied().unwrap_or(0);
            let exact = diffs.iter().filter(|d| **d == 0).count() as f64 / diffs.len() as f64;
            println!("  {file:<40} max {max:>3}  exact {:>7.3}%{note}", exact * 100.0);
        }
    }

    let model = args.model.load()?;
    let logits_suffix = format!("logits.{}.npy", model.info().name);
    let engines =
        if args.engines.is_empty() { vec![EngineChoice::Cpu, EngineChoice::Webgpu] } else { args.engines.clone() };
    for choice in engines {
        let engine = match model.engine(choice) {
            Ok(loaded) => loaded.engine,
            Err(e) => {
                println!("{choice:?}: unavailable: {e}");
                continue;
            }
        };
        println!(
            "logits: {} on {} vs onnxruntime, same input tensor, model {}",
            engine.kind(),
            engine.device(),
            model.info().name
        );
        for name in &names {
            let logits_path = dir.join(format!("{name}.{logits_suffix}"));
            if !logits_path.exists() {
                continue;
            }
            let input_path = dir.join(format!("{name}.input.npy"));
            let (shape, input) = npy::<f32>(&input_path)?;
            let shape: [usize; 4] = shape.try_into().map_err(|_| bad_reference(&input_path, "not 4-D".into()))?;
            let (_, want) = npy::<f32>(&logits_path)?;
            let got = pollster::block_on(engine.run(&Tensor { shape, data: input }))?;
            let max = got[0].iter().zip(&want).fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
            let scale = want.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            println!("  {name:<24} max |logit diff| {max:.2e} (largest |logit| {scale:.2})");
        }
    }
    Ok(0)
}

fn npy<T: NpyElement>(path: &Path) -> crate::Result<(Vec<usize>, Vec<T>)> {
    parse_npy(&read(path)?).map_err(|e| CliError::Reference { path: path.to_path_buf(), message: e.to_string() })
}
