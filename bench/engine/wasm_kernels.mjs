// Micro-benchmark of the wasm GEMM kernel (crates/engine/examples/wasm_check.rs,
// gemm_bench) on DenseNet's shapes, B packed per panel as in the network:
// GFLOP/s, best of 5; then the Winograd transforms (wino_bench): time per
// layer and per image. Compare the GFLOP/s with the machine's 128-bit FMA
// peak (`cargo run --release -p densenet-edge-engine --example fma_peak`).
// The relaxed build needs --experimental-wasm-relaxed-simd in Node 20:
//   read -r SIMD RELAXED < <(scripts/build-engine-wasm.sh)
//   node --experimental-wasm-relaxed-simd bench/engine/wasm_kernels.mjs $RELAXED
import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";

const { instance } = await WebAssembly.instantiate(readFileSync(process.argv[2]), {});
const x = instance.exports;
// [what, M, K, N, B: 0 packed per panel with BN + ReLU (conv1), 1 read in
// place (Winograd)]
const shapes = [
  ["block1 conv1 (K=160)", 128, 160, 3136, 0],
  ["block2 conv1 (K=352)", 128, 352, 784, 0],
  ["  B in place", 128, 352, 784, 1],
  ["block3 conv1 (K=640)", 128, 640, 196, 0],
  ["block4 conv1 (K=992)", 128, 992, 49, 0],
  ["transition1 (pooled)", 128, 256, 784, 1],
  ["Winograd F(4x4) GEMM, block1", 32, 128, 56, 1],
  ["Winograd F(2x2) GEMM, block3", 32, 128, 56, 1],
  ["  49 tiles (a ragged panel)", 32, 128, 49, 1],
  ["Winograd F(2x2) GEMM, block4", 32, 128, 16, 1],
];
// V8 tiers a function up while it runs: the first pass warms, the second counts.
for (const [i, [what, m, k, n, src]] of [...shapes, ...shapes].entries()) {
  const flops = 2 * m * k * n;
  const reps = Math.max(3, Math.round(4e8 / flops));
  x.gemm_bench(m, k, n, src, 1);
  let best = Infinity;
  for (let i = 0; i < 5; i++) {
    const t = performance.now();
    x.gemm_bench(m, k, n, src, reps);
    best = Math.min(best, (performance.now() - t) / reps);
  }
  if (i < shapes.length) continue;
  console.log(`${what.padEnd(30)} M=${String(m).padEnd(4)} K=${String(k).padEnd(4)} N=${String(n).padEnd(5)} ${(flops / best / 1e6).toFixed(1).padStart(6)} GFLOP/s`);
}

// The Winograd transforms of one conv2 (128 channels in, 32 out), per layer
// and per image (times the block's conv2 count: 6, 12, 24, 16).
const transforms = [
  ["block1 F(4x4)", 56, 4, 6],
  ["block2 F(4x4)", 28, 4, 12],
  ["block3 F(2x2)", 14, 2, 24],
  ["block4 F(2x2)", 7, 2, 16],
];
for (const [pass, out] of [["input", 0], ["output", 1]]) {
  for (const [i, [what, side, tile, layers]] of [...transforms, ...transforms].entries()) {
    const reps = Math.max(5, Math.round(2e5 / (side * side)));
    x.wino_bench(side, tile, out, 1);
    let best = Infinity;
    for (let r = 0; r < 5; r++) {
      const t = performance.now();
      x.wino_bench(side, tile, out, reps);
      best = Math.min(best, (performance.now() - t) / reps);
    }
    if (i < transforms.length) continue;
    console.log(`Winograd ${pass.padEnd(6)} transform, ${what.padEnd(14)} ${(best * 1000).toFixed(0).padStart(5)} us/layer, ${(best * layers).toFixed(2)} ms/image`);
  }
}
// The stem's F(3x3, 4x4) transforms: 12 phase planes in, 64 channels out.
for (const [pass, out] of [["input", 0], ["output", 1]]) {
  x.stem_bench(out, 3);
  let best = Infinity;
  for (let r = 0; r < 5; r++) {
    const t = performance.now();
    x.stem_bench(out, 10);
    best = Math.min(best, (performance.now() - t) / 10);
  }
  console.log(`Winograd ${pass.padEnd(6)} transform, stem F(3x3,4x4)    ${best.toFixed(2)} ms/image`);
}
