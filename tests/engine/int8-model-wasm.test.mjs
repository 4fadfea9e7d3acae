// The int8 (QDQ) DenseNet in the engine's simd128 wasm build, in Node:
// every kernel set of the build (simd128, portable) on the 8 evaluation
// images of model/int8_reference.py, held to the drift bound of
// crates/engine/tests/int8_model.rs (the relaxed build runs it in workerd:
// tests/worker/int8.test.mjs).
//
//   node --test tests/engine/int8-model-wasm.test.mjs
//
// Needs the model files (scripts/prepare-model.sh); builds the module with
// scripts/build-engine-wasm.sh unless ENGINE_WASM_SIMD128 names it.
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { readNpyF32 } from '../reference.mjs';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const IMAGES = ['astronaut', 'chelsea', 'coffee', 'rocket'].flatMap((p) => [`photos_${p}`, `photos_${p}_mirror`]);
const ref = (stem, what) => readNpyF32(path.join(root, `model/reference/${stem}.${what}.npy`));

/** Each image's logits minus their mean (its centred log-probabilities). */
function centred(logits) {
  const rows = [];
  for (let i = 0; i < logits.length; i += 1000) {
    const r = Array.from(logits.subarray(i, i + 1000));
    const m = r.reduce((a, b) => a + b, 0) / r.length;
    rows.push(r.map((x) => x - m));
  }
  return rows;
}

/** crates/engine/tests/int8_model.rs's drift ratio. */
function drift(ours, f32) {
  const [q, f] = [centred(ours), centred(f32)];
  const mean = f[0].map((_, j) => f.reduce((a, r) => a + r[j], 0) / f.length);
  let [err, spread] = [0, 0];
  q.forEach((qr, i) => qr.forEach((x, j) => {
    err += (x - f[i][j]) ** 2;
    spread += (f[i][j] - mean[j]) ** 2;
  }));
  return Math.sqrt(err / spread);
}

const top = (l, k) => Array.from(l.keys()).sort((a, b) => l[b] - l[a]).slice(0, k);

test('the int8 model in wasm drifts no more than onnxruntime int8, on every kernel set of the build', async () => {
  const wasm = process.env.ENGINE_WASM_SIMD128
    ?? execFileSync(path.join(root, 'scripts/build-engine-wasm.sh'), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim().split(/\s+/)[0];
  const build = path.join(root, 'model/build');
  const bytes = readFileSync(path.join(build, 'densenet121-random-int8.onnx'));
  const manifest = JSON.parse(readFileSync(path.join(build, 'densenet121-random-int8.json'), 'utf8'));
  const reference = JSON.parse(readFileSync(path.join(root, 'model/reference/int8.json'), 'utf8'));
  const input = new Float32Array(IMAGES.length * 3 * 224 * 224);
  IMAGES.forEach((s, i) => input.set(ref(s, 'input'), i * 3 * 224 * 224));
  const f32 = new Float32Array(IMAGES.length * 1000);
  const ort = new Float32Array(IMAGES.length * 1000);
  IMAGES.forEach((s, i) => {
    f32.set(ref(s, 'logits.densenet121-random'), i * 1000);
    ort.set(ref(s, 'logits.densenet121-random-int8'), i * 1000);
  });
  const same = manifest.sha256 === reference.int8_model.sha256;
  const ortDrift = drift(ort, f32);
  // loader_new: 1 simd128, 2 portable.
  for (const kind of [1, 2]) {
    const { instance } = await WebAssembly.instantiate(readFileSync(wasm), {});
    const x = instance.exports;
    const text = (which) => {
      const p = x.buf_alloc(256);
      return Buffer.from(x.memory.buffer, p, x.text(which, p, 256)).toString();
    };
    assert.equal(x.loader_new(kind), 0);
    const p = x.buf_alloc(bytes.length);
    new Uint8Array(x.memory.buffer, p, bytes.length).set(bytes);
    assert.equal(x.loader_push(p, bytes.length), 0, text(1));
    assert.equal(x.loader_finish(), 0, text(1));
    const device = text(0);
    assert.match(device, / \+ int8 /);
    const ip = x.buf_alloc(input.length * 4);
    const op = x.buf_alloc(IMAGES.length * 4000);
    new Float32Array(x.memory.buffer, ip, input.length).set(input);
    assert.equal(x.engine_run(ip, IMAGES.length, op), 0, text(1));
    const ours = new Float32Array(x.memory.buffer, op, IMAGES.length * 1000).slice();
    const d = drift(ours, f32);
    console.log(`${device}: drift ${d.toFixed(4)} (onnxruntime int8 ${ortDrift.toFixed(4)}, reference file ${same ? 'matches' : 'differs'})`);
    IMAGES.forEach((s, i) => {
      const [q, f] = [ours.subarray(i * 1000, (i + 1) * 1000), f32.subarray(i * 1000, (i + 1) * 1000)];
      assert.ok(top(q, 5).includes(top(f, 1)[0]), `${device}: ${s}: f32's top-1 is not in int8's top-5`);
    });
    assert.ok(same ? d <= 1.1 * ortDrift : d <= 0.2, `${device}: drift ${d}`);
  }
});
