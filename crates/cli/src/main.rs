//! `densenet-edge`: classify images, write preprocessed tensors, benchmark
//! engines and print parity figures against the Python references.

mod bench;
mod classify;
mod error;
mod inputs;
mod model;
mod parity;

use clap::{Parser, Subcommand};

use error::CliError;

/// DenseNet-121 ImageNet classification, preprocessed exactly like the
/// PyTorch tutorial (PIL + torchvision).
///
/// The model defaults to model/build/densenet121-imagenet.onnx when it
/// exists, else model/build/densenet121-random.onnx.
///
/// Exit codes: 0 success; 1 an image could not be used; 2 bad usage; 3 the
/// model or the engine failed; 4 a file could not be read or written.
#[derive(Parser)]
#[command(name = "densenet-edge", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Classify(classify::ClassifyArgs),
    Preprocess(classify::PreprocessArgs),
    Bench(bench::BenchArgs),
    Parity(parity::ParityArgs),
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Classify(args) => classify::run(&args),
        Command::Preprocess(args) => classify::preprocess(&args),
        Command::Bench(args) => bench::run(&args),
        Command::Parity(args) => parity::run(&args),
    };
    match result {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(e.exit_code());
        }
    }
}

/// Keeps `CliError` reachable from every command module as `crate::Result`.
pub type Result<T> = std::result::Result<T, CliError>;
