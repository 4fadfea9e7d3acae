//! `bench`: latency of an engine on the real model, min and median over
//! repeated runs, per batch and per image.

use std::time::Instant;

use densenet_edge::{decode, probe_input, DecodeLimits, EngineKind};

use crate::args::Args;
use crate::classify::ms;
use crate::model;

pub fn run(args: &Args) -> Result<i32, String> {
    args.only(&["engine", "model", "batch", "runs", "image"])?;
    let kind: EngineKind = args.get("engine").unwrap_or("cpu").parse().map_err(|e: densenet_edge::Error| e.to_string())?;
    let batch: usize = args.parsed("batch", 1)?;
    let runs: usize = args.parsed("runs", 10)?;
    if batch == 0 || runs == 0 {
        return Err("--batch and --runs must be at least 1".into());
    }
    let loaded = model::load(args.get("model"))?;
    let pre = loaded.preprocess();

    if let Some(path) = args.get("image") {
        let bytes = std::fs::read(path).map_err(|e| format!("cannot read {path}: {e}"))?;
        let times = repeat(runs, || {
            let img = decode(&bytes, &DecodeLimits::default()).map_err(|e| e.to_string())?;
            pre.tensor(&[img]);
            Ok(())
        })?;
        report(&format!("decode+preprocess {path}"), &times, 1);
    }

    let started = Instant::now();
    let engine = loaded.engine(kind)?;
    println!("engine {} on {}: loaded in {:.0} ms", engine.kind(), engine.device(), ms(started));
    let input = probe_input(batch, pre.crop as usize);
    pollster::block_on(engine.run(&input)).map_err(|e| e.to_string())?; // warm-up
    let times = repeat(runs, || pollster::block_on(engine.run(&input)).map(drop).map_err(|e| e.to_string()))?;
    report(&format!("{} inference, model {}, batch {batch}", engine.kind(), loaded.name()), &times, batch);
    Ok(0)
}

fn repeat(runs: usize, mut f: impl FnMut() -> Result<(), String>) -> Result<Vec<f64>, String> {
    (0..runs)
        .map(|_| {
            let started = Instant::now();
            f().map(|_| ms(started))
        })
        .collect()
}

fn report(what: &str, times: &[f64], batch: usize) {
    let mut sorted = times.to_vec();
    sorted.sort_by(f64::total_cmp);
    let (min, median) = (sorted[0], sorted[sorted.len() / 2]);
    println!(
        "{what}: {} runs, min {min:.1} ms, median {median:.1} ms per batch; min {:.1} ms, median {:.1} ms per image",
        times.len(),
        min / batch as f64,
        median / batch as f64
    );
}
