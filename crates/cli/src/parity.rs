//! `parity`: how far our preprocessing is from PIL's and our engines' logits
//! from onnxruntime's, on the reference files of `model/reference/`.

use std::path::{Path, PathBuf};

use clap::Args;
use densenet_edge::{decode_crop, drift_ratio, top_k, DecodeLimits, EngineChoice, Preprocess, Tensor};
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
        if engine.precision() == "int8" {
            drift(&dir, &*engine, &model.info().sha256)?;
        }
    }
    Ok(0)
}

/// An int8 model's drift from onnxruntime's f32 run of its f32 twin, on the
/// evaluation images of `model/int8_reference.py` (`int8.json`), beside
/// onnxruntime's own int8 run's (whose logits hold for the file they were
/// made from).
fn drift(dir: &Path, engine: &dyn densenet_edge::Engine, sha256: &str) -> crate::Result<()> {
    let path = dir.join("int8.json");
    let bad = |message: String| CliError::Reference { path: path.clone(), message };
    let meta: serde_json::Value = serde_json::from_slice(&read(&path)?).map_err(|e| bad(e.to_string()))?;
    let field =
        |v: &serde_json::Value, k: &str| v[k].as_str().map(str::to_string).ok_or_else(|| bad(format!("no {k}")));
    let images: Vec<String> =
        meta["images"].as_array().into_iter().flatten().filter_map(|v| v.as_str().map(String::from)).collect();
    let (f32_name, int8_name) = (field(&meta["f32_model"], "name")?, field(&meta["int8_model"], "name")?);
    let same_file = field(&meta["int8_model"], "sha256")? == sha256;
    let (mut ours, mut f32s, mut theirs) = (Vec::new(), Vec::new(), Vec::new());
    for name in &images {
        let (shape, input) = npy::<f32>(&dir.join(format!("{name}.input.npy")))?;
        let shape: [usize; 4] = shape.try_into().map_err(|_| bad(format!("{name}: input not 4-D")))?;
        ours.push(pollster::block_on(engine.run(&Tensor { shape, data: input }))?.remove(0));
        f32s.push(npy::<f32>(&dir.join(format!("{name}.logits.{f32_name}.npy")))?.1);
        theirs.push(npy::<f32>(&dir.join(format!("{name}.logits.{int8_name}.npy")))?.1);
    }
    let agree = |q: &[Vec<f32>]| {
        let top1 = q.iter().zip(&f32s).filter(|(a, b)| top_k(a, 1) == top_k(b, 1)).count();
        let inside = q.iter().zip(&f32s).filter(|(a, b)| top_k(a, 5).contains(&top_k(b, 1)[0])).count();
        format!("top-1 agreement {top1}/{n}, f32's top-1 inside int8's top-5 {inside}/{n}", n = q.len())
    };
    println!(
        "int8 drift vs onnxruntime f32 ({f32_name}), {} evaluation images (disjoint from calibration):",
        images.len()
    );
    println!("  ours        drift ratio {:.4}, {}", drift_ratio(&ours, &f32s), agree(&ours));
    let note = if same_file { "" } else { " (made from another int8 file: another CPU calibrated it)" };
    println!("  onnxruntime drift ratio {:.4}, {}{note}", drift_ratio(&theirs, &f32s), agree(&theirs));
    Ok(())
}

fn npy<T: NpyElement>(path: &Path) -> crate::Result<(Vec<usize>, Vec<T>)> {
    parse_npy(&read(path)?).map_err(|e| CliError::Reference { path: path.to_path_buf(), message: e.to_string() })
}
