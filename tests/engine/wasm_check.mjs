// Runs the engine's wasm build (crates/engine/examples/wasm_check.rs) in Node:
// the kernel checks, the whole network against onnxruntime's logits
// (model/reference), then ms per image and wasm memory. Node 20 rejects
// relaxed SIMD, so give it the simd128 build:
//
//   RUSTFLAGS="-C target-feature=+simd128" cargo build --release -p densenet-edge-engine \
//     --target wasm32-unknown-unknown --example wasm_check
//   node tests/engine/wasm_check.mjs $CARGO_TARGET_DIR/wasm32-unknown-unknown/release/examples/wasm_check.wasm [reps]
//
// Exits non-zero on any mismatch; the timings never fail it
// (tests/browser/engine-wasm.test.mjs runs it with 1 rep, a benchmark with more).
import { readFileSync, openSync, readSync, closeSync, statSync } from "node:fs";
import { performance } from "node:perf_hooks";

const [wasmPath, repsArg, kindArg] = process.argv.slice(2);
const reps = Number(repsArg ?? 5);
const root = new URL("../../", import.meta.url).pathname;
const model = `${root}model/build/densenet121-random.onnx`;
const MiB = 1 << 20;

const { instance } = await WebAssembly.instantiate(readFileSync(wasmPath), {});
const x = instance.exports;
const mem = () => x.memory.buffer;
const text = (which) => {
  const p = x.buf_alloc(256);
  const n = x.text(which, p, 256);
  return Buffer.from(mem(), p, n).toString();
};
let failed = false;
const check = (ok, what) => {
  console.log(`${ok ? "ok  " : "FAIL"} ${what}`);
  if (!ok) failed = true;
};

check(x.kernel_check() === 0, `kernels ${x.kernels()} (bits: 1 portable, 2 simd128, 4 relaxed) against float64`);

function readNpy(path) {
  const b = readFileSync(path);
  const hlen = b.readUInt16LE(8);
  const header = b.subarray(10, 10 + hlen).toString();
  if (!header.includes("'<f4'")) throw new Error(`${path}: not float32`);
  const data = b.subarray(10 + hlen);
  return new Float32Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.length));
}

// Load in 1 MiB pieces: the file never sits whole in wasm memory.
const t0 = performance.now();
const memBefore = mem().byteLength;
if (x.loader_new(Number(kindArg ?? 0)) !== 0) throw new Error(text(1));
const CHUNK = MiB;
const chunk = x.buf_alloc(CHUNK);
const fd = openSync(model, "r");
const host = Buffer.alloc(CHUNK);
for (let off = 0, size = statSync(model).size; off < size; ) {
  const n = readSync(fd, host, 0, CHUNK, off);
  new Uint8Array(mem(), chunk, n).set(host.subarray(0, n));
  if (x.loader_push(chunk, n) !== 0) throw new Error(text(1));
  off += n;
}
closeSync(fd);
x.buf_free(chunk, CHUNK);
if (x.loader_finish() !== 0) throw new Error(text(1));
const loadMs = performance.now() - t0;
console.log(`${text(0)}: loaded in ${loadMs.toFixed(0)} ms; wasm memory ${(memBefore / MiB).toFixed(1)} MiB before, ${(mem().byteLength / MiB).toFixed(1)} MiB after load`);

const photos = ["astronaut", "chelsea", "coffee", "rocket"];
const inputs = photos.map((p) => readNpy(`${root}model/reference/photos_${p}.input.npy`));
const IMG = 3 * 224 * 224;
function run(images) {
  const batch = images.length;
  const inp = x.buf_alloc(batch * IMG * 4);
  const out = x.buf_alloc(batch * 1000 * 4);
  images.forEach((im, i) => new Float32Array(mem(), inp, batch * IMG).set(im, i * IMG));
  const t = performance.now();
  if (x.engine_run(inp, batch, out) !== 0) throw new Error(text(1));
  const ms = performance.now() - t;
  const logits = new Float32Array(mem(), out, batch * 1000).slice();
  x.buf_free(inp, batch * IMG * 4);
  x.buf_free(out, batch * 1000 * 4);
  return { logits, ms };
}
const maxDiff = (a, b) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
photos.forEach((p, i) => {
  const { logits } = run([inputs[i]]);
  const d = maxDiff(logits, readNpy(`${root}model/reference/photos_${p}.logits.densenet121-random.npy`));
  check(d <= 1e-4, `${p} batch 1: max |diff| ${d.toExponential(2)} vs onnxruntime`);
});
console.log(`wasm memory after single-image runs: ${(mem().byteLength / MiB).toFixed(1)} MiB`);
{
  const { logits } = run(inputs);
  const d = maxDiff(logits, readNpy(`${root}model/reference/batch4.logits.densenet121-random.npy`));
  check(d <= 1e-4, `batch 4: max |diff| ${d.toExponential(2)} vs onnxruntime`);
}
const median = (a) => a.sort((p, q) => p - q)[a.length >> 1];
const t1 = [], t8 = [];
for (let r = 0; r < reps; r++) t1.push(run([inputs[r % 4]]).ms);
const eight = [...inputs, ...inputs];
for (let r = 0; r < Math.max(1, reps >> 2); r++) t8.push(run(eight).ms / 8);
console.log(`${text(0)} in Node ${process.version}: batch 1 median ${median(t1).toFixed(1)} ms/image, batch 8 ${median(t8).toFixed(1)} ms/image`);
console.log(`wasm memory after a batch of 8: ${(mem().byteLength / MiB).toFixed(1)} MiB`);
process.exit(failed ? 1 : 0);
