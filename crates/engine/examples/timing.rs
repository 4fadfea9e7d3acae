//! Prints ms per image for the engine: `timing MODEL BATCH THREADS REPS [KERNEL]`.
//! Used by bench/engine/bench.sh, which interleaves it with onnxruntime. With
//! `--features stages`, also ms per image for the stem and each dense block.

use densenet_edge_engine::int8::Int8Kind;
use densenet_edge_engine::{Engine, KernelKind, INPUT_LEN};
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 5 {
        eprintln!("usage: [INT8=SET] timing MODEL BATCH THREADS REPS [portable|avx2|avx512]");
        std::process::exit(2);
    }
    let bytes = std::fs::read(&args[1]).expect("model file");
    let batch: usize = args[2].parse().expect("batch");
    let threads: usize = args[3].parse().expect("threads");
    let reps: usize = args[4].parse().expect("reps");
    let kind = match args.get(5).map(String::as_str) {
        None => KernelKind::best(),
        Some("portable") => KernelKind::Portable,
        Some("avx2") => KernelKind::Avx2Fma,
        Some("avx512") => KernelKind::Avx512,
        Some(k) => panic!("unknown kernel {k}"),
    };
    let t0 = Instant::now();
    let mut l = Engine::loader_with(kind).expect("kernel");
    // INT8=<set> (e.g. avx2, avx-vnni): an int8 model on that int8 set.
    if let Ok(name) = std::env::var("INT8") {
        let int8 = Int8Kind::from_name(&name).unwrap_or_else(|| panic!("unknown int8 set {name}"));
        l = l.with_int8(int8).expect("int8 set");
    }
    if std::env::var("IM2COL").is_ok() {
        l.set_winograd(false);
    }
    l.push(&bytes).expect("load");
    let mut engine = l.finish().expect("load");
    let load_ms = t0.elapsed().as_secs_f64() * 1e3;
    engine.set_threads(threads).unwrap();
    if let Ok(f) = std::env::var("FOLD_BELOW") {
        engine.set_fold_below(f.parse().expect("FOLD_BELOW"));
    }
    // A deterministic, image-like input.
    let input: Vec<f32> = (0..batch * INPUT_LEN).map(|i| ((i * 7919) % 1000) as f32 / 500.0 - 1.0).collect();
    engine.run(&input, batch).unwrap();
    #[cfg(feature = "stages")]
    densenet_edge_engine::bench_api::stages::take();
    let (mut times, mut cpu) = (Vec::new(), Vec::new());
    for _ in 0..reps {
        let (t, c) = (Instant::now(), cpu_ms());
        engine.run(&input, batch).unwrap();
        times.push(t.elapsed().as_secs_f64() * 1e3 / batch as f64);
        cpu.push((cpu_ms() - c) / batch as f64);
    }
    #[cfg(feature = "stages")]
    {
        let ms = densenet_edge_engine::bench_api::stages::take().map(|s| s * 1e3 / (reps * batch) as f64);
        let blocks: Vec<String> = ms[1..].iter().take_while(|&&t| t > 0.0).map(|t| format!("{t:.2}")).collect();
        println!("ms/image by stage (thread 0): stem {:.2}, blocks with their transitions {}", ms[0], blocks.join(" "));
    }
    times.sort_by(|a, b| a.partial_cmp(b).unwrap());
    cpu.sort_by(|a, b| a.partial_cmp(b).unwrap());
    println!(
        "{} batch {batch} threads {threads}: median {:.2} ms/image, best {:.2}, cpu median {:.2} (load {load_ms:.0} ms, weights {:.1} MiB, a run's workspace {:.1} MiB)",
        engine.device(),
        times[times.len() / 2],
        times[0],
        cpu[cpu.len() / 2],
        engine.weight_bytes() as f64 / (1 << 20) as f64,
        engine.workspace_bytes(batch) as f64 / (1 << 20) as f64
    );
}

/// CPU time of the whole process, in ms.
fn cpu_ms() -> f64 {
    #[cfg(unix)]
    unsafe {
        let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
        libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts);
        ts.tv_sec as f64 * 1e3 + ts.tv_nsec as f64 / 1e6
    }
    #[cfg(not(unix))]
    0.0
}
