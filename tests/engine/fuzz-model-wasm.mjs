// The model loader's fuzz cases (crates/engine/tests/support/fuzz_model.rs)
// inside a wasm32 instance (crates/engine/examples/fuzz_model_wasm.rs), where
// usize is 32 bits and a panic traps. Fails on a trap, a panic, an error other
// than model_invalid, or a case whose heap passes its bound. Build and run
// through tests/engine/fuzz-model-wasm.sh, or:
//
//   node tests/engine/fuzz-model-wasm.mjs WASM [CASES=600] [SEED=1592593889] [MODEL]
//
// MODEL: the real DenseNet-121 file (default model/build/densenet121-random.onnx;
// "none", or a missing file, fuzzes a generated stand-in). FUZZ_MODEL_CASE=i
// replays one case.
import { readFileSync, existsSync } from "node:fs";
import { performance } from "node:perf_hooks";

const [wasmPath, casesArg, seedArg, modelArg] = process.argv.slice(2);
if (!wasmPath) {
  console.error("usage: node tests/engine/fuzz-model-wasm.mjs WASM [CASES] [SEED] [MODEL]");
  process.exit(2);
}
const cases = Number(casesArg ?? 600);
const seed = BigInt(seedArg ?? 1592593889);
const only = process.env.FUZZ_MODEL_CASE === undefined ? null : Number(process.env.FUZZ_MODEL_CASE);
const root = new URL("../../", import.meta.url).pathname;
const modelPath = modelArg ?? `${root}model/build/densenet121-random.onnx`;
const MiB = 1 << 20;

const { instance } = await WebAssembly.instantiate(readFileSync(wasmPath), {});
const x = instance.exports;
const mem = () => x.memory.buffer;
const text = (which) => {
  const cap = 4096;
  const p = x.buf_alloc(cap);
  const n = x.fuzz_text(which, p, cap);
  const s = Buffer.from(mem(), p, n).toString();
  x.buf_free(p, cap);
  return s;
};

let real = null;
if (modelPath !== "none" && existsSync(modelPath)) real = readFileSync(modelPath);
else console.log(`${modelPath}: not found; fuzzing a generated DenseNet-shaped model instead`);
let ptr = 0;
if (real) {
  ptr = x.buf_alloc(real.length);
  new Uint8Array(mem(), ptr, real.length).set(real);
}
const corpusLen = x.fuzz_init(ptr, real ? real.length : 0);
console.log(`corpus model: ${real ? "real" : "generated"}, ${corpusLen} bytes; wasm memory ${(mem().byteLength / MiB).toFixed(1)} MiB`);

const failures = [];
const answers = { loaded: 0, model_invalid: 0 };
let worst = 0;
let worstCase = "";
let peakMax = 0;
const t0 = performance.now();
let ran = 0;
for (let i = 0; i < cases; i++) {
  if (only !== null && only !== i) continue;
  const replay = `FUZZ_MODEL_SEED=${seed} FUZZ_MODEL_CASE=${i}`;
  let code;
  try {
    code = x.fuzz_case(seed, BigInt(i));
  } catch (e) {
    // A trap: the instance's state is no longer to be trusted; stop here.
    console.log(`FAIL case ${i} (${replay}) trapped: ${e.message}\n  panic: ${text(1) || "(none: not a Rust panic)"}\n  case: ${text(0)}`);
    process.exit(1);
  }
  ran++;
  const peak = x.fuzz_peak(0);
  const bound = x.fuzz_peak(1);
  peakMax = Math.max(peakMax, peak);
  if (peak / bound > worst) [worst, worstCase] = [peak / bound, `case ${i}: ${text(0).slice(0, 160)}`];
  if (code === 0) answers.loaded++;
  else if (code === 1) answers.model_invalid++;
  else failures.push(`case ${i} (${replay}): ${code === 3 ? `heap peak ${peak} over the bound ${bound}` : "wrong outcome"}: ${text(0)}`);
}
const secs = (performance.now() - t0) / 1000;
console.log(
  `${ran} cases (seed ${seed}) in ${secs.toFixed(1)} s, ${(ran / secs).toFixed(0)} cases/s: ${JSON.stringify(answers)}; ` +
    `heap peak ${(peakMax / MiB).toFixed(2)} MiB at most, worst peak / bound ${worst.toFixed(3)} (${worstCase}); ` +
    `wasm memory ${(mem().byteLength / MiB).toFixed(1)} MiB`,
);

if (only === null) {
  // Sizes past 2^32 with no limits set: refused by checked arithmetic, not wrapped.
  let code;
  try {
    code = x.fuzz_wide();
  } catch (e) {
    console.log(`FAIL the 1.4 M-channel transition trapped: ${e.message}\n  panic: ${text(1)}`);
    process.exit(1);
  }
  const msg = text(0);
  const ok = code === 1 && msg.includes("32-bit target");
  console.log(`${ok ? "ok  " : "FAIL"} a transition too wide for 32 bits, no limits: ${msg}`);
  if (!ok) failures.push(`the 1.4 M-channel transition: code ${code}: ${msg}`);
}

if (failures.length) {
  console.log(`FAIL ${failures.length} failures:\n${failures.join("\n")}`);
  process.exit(1);
}
console.log("ok   no trap, no panic, every refusal model_invalid, every heap peak within its bound");
