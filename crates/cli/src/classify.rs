//! `classify` and `preprocess`.

use std::time::Instant;

use densenet_edge::tensor::npy_bytes;
use densenet_edge::{decode, Classifier, DecodeLimits, EngineKind, Labels, Options, Preprocess};
use serde_json::json;

use crate::args::Args;
use crate::model;

pub fn run(args: &Args) -> Result<i32, String> {
    args.only(&["engine", "model", "top-k", "threshold", "json"])?;
    if args.positional.is_empty() {
        return Err("classify needs at least one IMAGE".into());
    }
    let kind: EngineKind = args.get("engine").unwrap_or("cpu").parse().map_err(|e: densenet_edge::Error| e.to_string())?;
    let top_k: usize = args.parsed("top-k", 5)?;
    let loaded = model::load(args.get("model"))?;
    let options = Options {
        preprocess: loaded.preprocess(),
        threshold: args.parsed("threshold", densenet_edge::DEFAULT_THRESHOLD)?,
        ..Options::default()
    };
    let started = Instant::now();
    let engine = loaded.engine(kind)?;
    let load_ms = ms(started);
    let classifier = Classifier::new(engine, Labels::imagenet().clone(), options).map_err(|e| e.to_string())?;

    let mut results = Vec::new();
    let mut failures = 0;
    for path in &args.positional {
        let started = Instant::now();
        let answer = std::fs::read(path)
            .map_err(|e| densenet_edge::Error::InvalidArgument(format!("cannot read {path}: {e}")))
            .and_then(|bytes| classifier.prepare(&bytes));
        let prepare_ms = ms(started);
        let started = Instant::now();
        let answer = pollster::block_on(classifier.classify_prepared(vec![answer], top_k)).remove(0);
        let infer_ms = ms(started);
        results.push(match answer {
            Ok(c) => json!({
                "file": path,
                "recognized": c.recognized,
                "predictions": c.predictions,
                "timings_ms": {"preprocess": prepare_ms, "inference": infer_ms},
            }),
            Err(e) => {
                failures += 1;
                json!({"file": path, "error": {"code": e.code(), "message": e.to_string()}})
            }
        });
    }

    let engine = classifier.engine();
    if args.has("json") {
        let out = json!({
            "engine": engine.kind(),
            "device": engine.device(),
            "model": {"name": loaded.name(), "weights": loaded.weights(), "path": loaded.path},
            "load_ms": load_ms,
            "results": results,
        });
        println!("{}", serde_json::to_string_pretty(&out).unwrap());
    } else {
        println!("engine {} on {} (loaded in {load_ms:.0} ms), model {} ({} weights)", engine.kind(), engine.device(), loaded.name(), loaded.weights());
        for r in &results {
            print_text(r);
        }
    }
    Ok(if failures > 0 { 1 } else { 0 })
}

fn print_text(r: &serde_json::Value) {
    let file = r["file"].as_str().unwrap_or_default();
    if let Some(err) = r.get("error") {
        println!("{file}: error {}: {}", err["code"].as_str().unwrap_or(""), err["message"].as_str().unwrap_or(""));
        return;
    }
    let t = &r["timings_ms"];
    println!(
        "{file}: {} (preprocess {:.1} ms, inference {:.1} ms)",
        if r["recognized"].as_bool() == Some(true) { "recognized" } else { "NOT recognized" },
        t["preprocess"].as_f64().unwrap_or(0.0),
        t["inference"].as_f64().unwrap_or(0.0)
    );
    for p in r["predictions"].as_array().into_iter().flatten() {
        println!(
            "  {:>4} {} {:<30} {:.4}",
            p["class_index"],
            p["class_id"].as_str().unwrap_or(""),
            p["class_name"].as_str().unwrap_or(""),
            p["probability"].as_f64().unwrap_or(0.0)
        );
    }
}

pub fn preprocess(args: &Args) -> Result<i32, String> {
    args.only(&["out", "resize", "crop"])?;
    let [image] = args.positional.as_slice() else {
        return Err("preprocess needs exactly one IMAGE".into());
    };
    let out = args.get("out").ok_or("preprocess needs --out FILE.npy")?;
    let defaults = Preprocess::default();
    let pre = Preprocess { resize: args.parsed("resize", defaults.resize)?, crop: args.parsed("crop", defaults.crop)?, ..defaults };
    pre.validate().map_err(|e| e.to_string())?;
    let bytes = std::fs::read(image).map_err(|e| format!("cannot read {image}: {e}"))?;
    let img = decode(&bytes, &DecodeLimits::default()).map_err(|e| format!("{image}: {} ({})", e, e.code()))?;
    let t = pre.tensor(&[img]);
    std::fs::write(out, npy_bytes(&t.shape, &t.data)).map_err(|e| format!("cannot write {out}: {e}"))?;
    println!("wrote {out}: f32 {:?}", t.shape);
    Ok(0)
}

pub fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}
