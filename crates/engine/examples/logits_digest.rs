//! Prints, for every kernel set this machine runs, a digest of the logits'
//! bits for a fixed input at batch 1 and 4: `logits_digest MODEL [KERNEL]`
//! (KERNEL as `KernelKind::name` prints it: only that set). Two builds of
//! the engine that print the same lines compute the same bits.

use densenet_edge_engine::{Engine, KernelKind, INPUT_LEN};

fn main() {
    let path = std::env::args().nth(1).expect("usage: logits_digest MODEL");
    let only = std::env::args().nth(2);
    let bytes = std::fs::read(path).expect("model file");
    for kind in KernelKind::available() {
        if only.as_deref().is_some_and(|k| k != kind.name()) {
            continue;
        }
        for winograd in [true, false] {
            let mut l = Engine::loader_with(kind).expect("kernel");
            l.set_winograd(winograd);
            l.push(&bytes).expect("load");
            let engine = l.finish().expect("load");
            for batch in [1, 4] {
                let input: Vec<f32> =
                    (0..batch * INPUT_LEN).map(|i| ((i * 7919) % 1000) as f32 / 500.0 - 1.0).collect();
                let logits = engine.run(&input, batch).expect("run");
                // FNV-1a over the bits.
                let mut h: u64 = 0xcbf29ce484222325;
                for v in &logits {
                    for b in v.to_bits().to_le_bytes() {
                        h = (h ^ b as u64).wrapping_mul(0x100000001b3);
                    }
                }
                println!("{} winograd={winograd} batch={batch} {h:016x} first={}", kind.name(), logits[0]);
            }
        }
    }
}
