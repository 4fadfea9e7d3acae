//! `bench`: latency of an engine on the real model, min and median over
//! repeated runs, per batch and per image.

use std::path::PathBuf;
use std::time::Instant;

use clap::builder::TypedValueParser;
use clap::Args;
use densenet_edge::{decode_crop, probe_input, DecodeLimits, EngineChoice};

use crate::classify::ms;
use crate::error::{read, CliError};
use crate::model::{engine_parser, ModelArgs};

/// Time decode + preprocess of an image and inference on a probe batch.
#[derive(Args, Debug)]
pub struct BenchArgs {
    #[arg(long, default_value = "cpu", value_parser = engine_parser())]
    pub engine: EngineChoice,
    #[command(flatten)]
    pub model: ModelArgs,
    /// Images per engine run.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=64).map(|v| v as usize))]
    pub batch: usize,
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..).map(|v| v as usize))]
    pub runs: usize,
    /// Also time decode + preprocess of this image.
    #[arg(long)]
    pub image: Option<PathBuf>,
}

pub fn run(args: &BenchArgs) -> crate::Result<i32> {
    let model = args.model.load()?;
    let pre = model.preprocess();

    if let Some(path) = &args.image {
        let bytes = read(path)?;
        let times = repeat(args.runs, || {
            let crop = decode_crop(&bytes, &DecodeLimits::default(), &pre)?;
            pre.normalized(&[&crop]);
            Ok(())
        })?;
        report(&format!("decode+preprocess {}", path.display()), &times, 1);
    }

    let started = Instant::now();
    let engine = model.engine(args.engine)?.engine;
    println!("engine {} on {}: loaded in {:.0} ms", engine.kind(), engine.device(), ms(started));
    let input = probe_input(args.batch, pre.crop as usize);
    pollster::block_on(engine.run(&input))?; // warm-up
    let times = repeat(args.runs, || Ok(pollster::block_on(engine.run(&input)).map(drop)?))?;
    let what = format!("{} inference, model {}, batch {}", engine.kind(), model.info().name, args.batch);
    report(&what, &times, args.batch);
    Ok(0)
}

fn repeat(runs: usize, mut f: impl FnMut() -> Result<(), CliError>) -> crate::Result<Vec<f64>> {
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
