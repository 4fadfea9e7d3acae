// The int8 (QDQ) DenseNet in the engine's wasm builds on the 8 evaluation
// images of model/int8_reference.py, held to the drift bound of
// crates/engine/tests/int8_model.rs: in Node, every kernel set of the
// simd128 build (simd128, portable); in Chromium, the relaxed build on both
// of its relaxed int8 sets, whichever the probe would choose on this CPU
// (`int8::dot_add_is_fused`: dot-add runs blocks 1-2 in int8 too). workerd
// runs the relaxed build's choice (tests/worker/int8.test.mjs).
//
//   node --test tests/engine/int8-model-wasm.test.mjs
//
// Needs the model files (scripts/prepare-model.sh); builds the modules with
// scripts/build-engine-wasm.sh unless ENGINE_WASM_SIMD128 and
// ENGINE_WASM_RELAXED name them. Chromium: $CHROMIUM or /usr/bin/chromium
// (that test is skipped without one).
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { readNpyF32 } from '../reference.mjs';
import { chromiumPath, runInChromium } from '../../bench/engine/wasm_int8_kernels.mjs';

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

/** The builds' .wasm paths: [simd128, relaxed]. */
function modules() {
  const { ENGINE_WASM_SIMD128: simd, ENGINE_WASM_RELAXED: relaxed } = process.env;
  if (simd && relaxed) return [simd, relaxed];
  return execFileSync(path.join(root, 'scripts/build-engine-wasm.sh'), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim().split(/\s+/);
}

/** The int8 file, the 8 images and the reference logits, with the drift bound's check. */
function evaluation() {
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
  const check = (device, ours) => {
    const d = drift(ours, f32);
    console.log(`${device}: drift ${d.toFixed(4)} (onnxruntime int8 ${ortDrift.toFixed(4)}, reference file ${same ? 'matches' : 'differs'})`);
    IMAGES.forEach((s, i) => {
      const [q, f] = [ours.subarray(i * 1000, (i + 1) * 1000), f32.subarray(i * 1000, (i + 1) * 1000)];
      assert.ok(top(q, 5).includes(top(f, 1)[0]), `${device}: ${s}: f32's top-1 is not in int8's top-5`);
    });
    assert.ok(same ? d <= 1.1 * ortDrift : d <= 0.2, `${device}: drift ${d}`);
  };
  return { bytes, input, check };
}

/** Loads the int8 file into instance exports `x` with loader kind `kind`,
 *  runs the 8 images as one batch: [device, logits]. Also runs in a page. */
function runInt8(x, kind, bytes, input) {
  const text = (which) => {
    const p = x.buf_alloc(256);
    return new TextDecoder().decode(new Uint8Array(x.memory.buffer, p, x.text(which, p, 256)));
  };
  const must = (rc, what) => {
    if (rc !== 0) throw new Error(`${what}: ${text(1)}`);
  };
  must(x.loader_new(kind), 'loader_new');
  const p = x.buf_alloc(bytes.length);
  new Uint8Array(x.memory.buffer, p, bytes.length).set(bytes);
  must(x.loader_push(p, bytes.length), 'loader_push');
  must(x.loader_finish(), 'loader_finish');
  const ip = x.buf_alloc(input.length * 4);
  const images = input.length / (3 * 224 * 224);
  const op = x.buf_alloc(images * 4000);
  new Float32Array(x.memory.buffer, ip, input.length).set(input);
  must(x.engine_run(ip, images, op), 'engine_run');
  return [text(0), new Float32Array(x.memory.buffer, op, images * 1000).slice()];
}

test('Node, simd128 build: the int8 model drifts no more than onnxruntime int8, on every kernel set of the build', async () => {
  const [wasm] = modules();
  const { bytes, input, check } = evaluation();
  // loader_new: 1 simd128, 2 portable.
  for (const kind of [1, 2]) {
    const { instance } = await WebAssembly.instantiate(readFileSync(wasm), {});
    const [device, ours] = runInt8(instance.exports, kind, bytes, input);
    assert.match(device, / \+ int8 /);
    check(device, ours);
  }
});

test('Chromium, relaxed build: the int8 model on both relaxed int8 sets drifts no more than onnxruntime int8', { skip: !chromiumPath() && 'no Chromium' }, async () => {
  const [, wasm] = modules();
  const { bytes, input, check } = evaluation();
  const b64 = (b) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64');
  // loader_new: 0 the probe's choice, 3 simd128+relaxed, 4 relaxed dot-add.
  const script = `const dec = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
${runInt8.toString()}
const [module, bytes, input] = ["${b64(readFileSync(wasm))}", "${b64(bytes)}", "${b64(input)}"].map(dec);
for (const kind of [0, 3, 4]) {
  const { instance } = await WebAssembly.instantiate(module, {});
  const [device, logits] = runInt8(instance.exports, kind, bytes, new Float32Array(input.buffer));
  let bin = "";
  new Uint8Array(logits.buffer).forEach((c) => { bin += String.fromCharCode(c); });
  log(JSON.stringify({ kind, device, logits: btoa(bin) }));
}`;
  const lines = [];
  await runInChromium(script, (l) => lines.push(l), 300_000);
  const errors = lines.filter((l) => l.startsWith('error'));
  assert.deepEqual(errors, [], errors.join('\n'));
  const runs = lines.map((l) => JSON.parse(l));
  assert.deepEqual(runs.map((r) => r.kind), [0, 3, 4]);
  const logits = (r) => new Float32Array(new Uint8Array(Buffer.from(r.logits, 'base64')).buffer);
  const [chosen, relaxed, dotAdd] = runs;
  assert.match(relaxed.device, / \+ int8 wasm simd128\+relaxed$/);
  assert.match(dotAdd.device, / \+ int8 wasm relaxed dot-add$/);
  console.log(`Chromium's choice on this CPU: ${chosen.device}`);
  assert.ok([relaxed.device, dotAdd.device].includes(chosen.device), chosen.device);
  for (const r of [relaxed, dotAdd]) check(`Chromium, ${r.device}`, logits(r));
  // The choice changes the speed, never the answer.
  const same = chosen.device === relaxed.device ? relaxed : dotAdd;
  assert.deepEqual(logits(chosen), logits(same));
});
