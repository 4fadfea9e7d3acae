//! `classify` and `preprocess`.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use clap::builder::TypedValueParser;
use clap::Args;
use densenet_edge::{
    decode_crop, Classifier, DecodeLimits, EngineChoice, EngineKind, ErrorBody, ItemOutcome, Labels, ModelInfo,
    Options, Preprocess, DEFAULT_THRESHOLD, DEFAULT_TOP_K, MAX_TOP_K,
};
use densenet_edge_npy::npy_bytes;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use crate::error::{read, CliError};
use crate::inputs;
use crate::model::{engine_parser, ModelArgs};

/// Classify images: files (any name, the format is sniffed from the
/// content), or directories (their .jpg, .jpeg, .png, .webp, .gif and .bmp
/// files, recursively).
#[derive(Args, Debug)]
pub struct ClassifyArgs {
    /// Where to run the model: `auto` is WebGPU when it loads and passes its
    /// self-check against the CPU, else the CPU.
    #[arg(long, default_value = "cpu", value_parser = engine_parser())]
    pub engine: EngineChoice,
    #[command(flatten)]
    pub model: ModelArgs,
    /// How many predictions to list per image.
    #[arg(long, default_value_t = DEFAULT_TOP_K, value_parser = top_k_parser())]
    pub top_k: usize,
    /// Top probability under which an image is reported as not recognised.
    #[arg(long, default_value_t = DEFAULT_THRESHOLD)]
    pub threshold: f32,
    /// Print JSON Lines: one object per image, as soon as it is classified.
    #[arg(long)]
    pub json: bool,
    /// Image files or directories.
    #[arg(required = true, value_name = "IMAGE")]
    pub inputs: Vec<PathBuf>,
}

fn top_k_parser() -> impl clap::builder::TypedValueParser<Value = usize> {
    clap::value_parser!(u64).range(1..=MAX_TOP_K as u64).map(|k| k as usize)
}

/// One line of `classify --json`: the fields of the HTTP API's answer for
/// one image (`docs/answer.schema.json`), plus the file it is about.
#[derive(Serialize)]
struct ClassifyLine<'a> {
    file: &'a str,
    #[serde(flatten)]
    outcome: ItemOutcome,
    engine: EngineKind,
    device: &'a str,
    model: &'a ModelInfo,
    timings_ms: Timings,
}

#[derive(Serialize)]
struct Timings {
    /// Read, decode, resize and crop.
    preprocess: f64,
    /// Normalise, run the engine, label.
    inference: f64,
}

pub fn run(args: &ClassifyArgs) -> crate::Result<i32> {
    let files = inputs::expand(&args.inputs)?;
    if !(0.0..=1.0).contains(&args.threshold) {
        return Err(CliError::Usage(format!("--threshold must be in 0..=1, got {}", args.threshold)));
    }
    let model = args.model.load()?;
    let options = Options { preprocess: model.preprocess(), threshold: args.threshold, ..Options::default() };
    let started = Instant::now();
    let loaded = model.engine(args.engine)?;
    let load_ms = ms(started);
    let classifier = Classifier::new(loaded.engine, Labels::imagenet().clone(), options)?;
    let (kind, device, mut info) = (classifier.engine().kind(), classifier.engine().device(), model.info());
    info.precision = classifier.engine().precision().to_string();
    if !args.json {
        println!(
            "engine {kind} on {device} (loaded in {load_ms:.0} ms: {}), model {} ({} weights)",
            loaded.reason, info.name, info.weights
        );
    }

    let progress = if files.len() > 1 { ProgressBar::new(files.len() as u64) } else { ProgressBar::hidden() };
    progress.set_style(ProgressStyle::with_template("{bar:40} {pos}/{len} {wide_msg}").expect("a valid template"));
    let mut failures = 0;
    let mut stdout = std::io::stdout().lock();
    for path in &files {
        let file = path.display().to_string();
        progress.set_message(file.clone());
        let started = Instant::now();
        // The user's own files: no work budget (`prepare` charges an
        // unlimited one); DecodeLimits' JPEG scan cap (500) stays on, as no
        // encoder comes near it.
        let prepared = std::fs::read(path)
            .map_err(|e| ErrorBody::new("unreadable_file", format!("cannot read {file}: {e}")))
            .and_then(|bytes| classifier.prepare(&bytes).map_err(|e| ErrorBody::from(&e)));
        let preprocess_ms = ms(started);
        let started = Instant::now();
        let outcome = match prepared {
            Ok(img) => {
                ItemOutcome::from(&pollster::block_on(classifier.classify_prepared(vec![Ok(img)], args.top_k))[0])
            }
            Err(body) => ItemOutcome::Error(body.into()),
        };
        failures += matches!(outcome, ItemOutcome::Error(_)) as usize;
        let line = ClassifyLine {
            file: &file,
            outcome,
            engine: kind,
            device: &device,
            model: &info,
            timings_ms: Timings { preprocess: preprocess_ms, inference: ms(started) },
        };
        progress.suspend(|| {
            if args.json {
                serde_json::to_writer(&mut stdout, &line).expect("serialisable");
                writeln!(stdout)
            } else {
                print_text(&mut stdout, &line)
            }
            .and_then(|_| stdout.flush())
            .map_err(|source| CliError::Write { path: "standard output".into(), source })
        })?;
        progress.inc(1);
    }
    progress.finish_and_clear();
    Ok(if failures > 0 { 1 } else { 0 })
}

fn print_text(out: &mut impl Write, line: &ClassifyLine) -> std::io::Result<()> {
    let a = match &line.outcome {
        ItemOutcome::Error(e) => return writeln!(out, "{}: error {}: {}", line.file, e.error.code, e.error.message),
        ItemOutcome::Answer(a) => a,
    };
    let t = &line.timings_ms;
    let recognized = if a.recognized { "recognized" } else { "NOT recognized" };
    writeln!(out, "{}: {recognized} (preprocess {:.1} ms, inference {:.1} ms)", line.file, t.preprocess, t.inference)?;
    for p in &a.predictions {
        writeln!(out, "  {:>4} {} {:<30} {:.4}", p.class_index, p.class_id, p.class_name, p.probability)?;
    }
    Ok(())
}

/// Write the normalised NCHW tensor of one image as `.npy`, to compare with
/// torchvision's.
#[derive(Args, Debug)]
pub struct PreprocessArgs {
    #[arg(long, value_name = "FILE.npy")]
    pub out: PathBuf,
    /// The shorter side is resized to this.
    #[arg(long, default_value_t = Preprocess::default().resize)]
    pub resize: u32,
    /// Side of the centre crop.
    #[arg(long, default_value_t = Preprocess::default().crop)]
    pub crop: u32,
    pub image: PathBuf,
}

pub fn preprocess(args: &PreprocessArgs) -> crate::Result<i32> {
    let pre = Preprocess { resize: args.resize, crop: args.crop, ..Preprocess::default() };
    pre.validate()?;
    let crop = decode_crop(&read(&args.image)?, &DecodeLimits::default(), &pre)?;
    let t = pre.normalized(&[&crop]);
    std::fs::write(&args.out, npy_bytes(&t.shape, &t.data))
        .map_err(|source| CliError::Write { path: args.out.clone(), source })?;
    println!("wrote {}: f32 {:?}", args.out.display(), t.shape);
    Ok(0)
}

pub fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}
