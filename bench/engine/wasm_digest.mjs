// Digests of the logits of the engine's wasm build, to compare two builds bit for bit:
//   node [--experimental-wasm-relaxed-simd] bench/engine/wasm_digest.mjs WASM MODEL
// WASM is crates/engine/examples/wasm_check.rs built for wasm32 (see wasm_check.mjs);
// prints an FNV-1a of the logits' bytes per kernel (0 best, 1 simd128, 2 portable), batch 1 and 4.
import { readFileSync } from "node:fs";
const [wasmPath, model] = process.argv.slice(2);
const { instance } = await WebAssembly.instantiate(readFileSync(wasmPath), {});
const x = instance.exports;
const bytes = readFileSync(model);
for (const kind of [0, 1, 2]) {
  if (x.loader_new(kind) !== 0) throw new Error("loader_new");
  const p = x.buf_alloc(bytes.length);
  new Uint8Array(x.memory.buffer, p, bytes.length).set(bytes);
  if (x.loader_push(p, bytes.length) !== 0 || x.loader_finish() !== 0) throw new Error("load");
  x.buf_free(p, bytes.length);
  for (const batch of [1, 4]) {
    const n = batch * 3 * 224 * 224;
    const ip = x.buf_alloc(n * 4), op = x.buf_alloc(batch * 1000 * 4);
    const inp = new Float32Array(x.memory.buffer, ip, n);
    for (let i = 0; i < n; i++) inp[i] = ((i * 7919) % 1000) / 500 - 1;
    if (x.engine_run(ip, batch, op) !== 0) throw new Error("run");
    const out = new Uint8Array(x.memory.buffer, op, batch * 4000);
    let h = 0xcbf29ce484222325n;
    for (const b of out) h = BigInt.asUintN(64, (h ^ BigInt(b)) * 0x100000001b3n);
    console.log(`kind=${kind} batch=${batch} ${h.toString(16)}`);
    x.buf_free(ip, n * 4); x.buf_free(op, batch * 4000);
  }
}
