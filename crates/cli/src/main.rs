//! `densenet-edge`: classify images, write preprocessed tensors, benchmark
//! engines and print parity figures against the Python references.

mod args;
mod bench;
mod classify;
mod model;
mod parity;

use args::Args;

const USAGE: &str = "\
usage:
  densenet-edge classify [--engine cpu|webgpu] [--model FILE] [--top-k N] [--threshold P] [--json] IMAGE...
  densenet-edge preprocess --out FILE.npy [--resize N] [--crop N] IMAGE
  densenet-edge bench [--engine cpu|webgpu] [--model FILE] [--batch N] [--runs N] [--image FILE]
  densenet-edge parity [--engine cpu|webgpu]... [--model FILE] [--reference DIR]

The model defaults to model/build/densenet121-imagenet.onnx when it exists,
else model/build/densenet121-random.onnx ($DENSENET_EDGE_MODEL overrides).";

fn main() {
    let mut raw = std::env::args().skip(1);
    let command = raw.next().unwrap_or_default();
    let result = match command.as_str() {
        "classify" => Args::parse(raw, &["json"]).and_then(|a| classify::run(&a)),
        "preprocess" => Args::parse(raw, &[]).and_then(|a| classify::preprocess(&a)),
        "bench" => Args::parse(raw, &[]).and_then(|a| bench::run(&a)),
        "parity" => Args::parse(raw, &[]).and_then(|a| parity::run(&a)),
        "-h" | "--help" | "help" => {
            println!("{USAGE}");
            Ok(0)
        }
        _ => Err(format!("unknown command {command:?}\n{USAGE}")),
    };
    match result {
        Ok(code) => std::process::exit(code),
        Err(message) => {
            eprintln!("error: {message}");
            std::process::exit(2);
        }
    }
}
