// DenseNet-169 and -201 in the Worker at the default MAX_WEIGHT_BYTES (80
// MiB). -169's packed weights (~69 MiB) fit: it loads, answers the photos
// like onnxruntime, and the heaviest hostile images leave wasm memory under
// the isolate's budget. -201's (~94 MiB) do not: it is refused while it
// loads, before wasm memory passes the limit, and the isolate lives on.
// The graphs are bench/engine/make_variants.py's (tests/worker/run.sh makes
// them when missing), seeded into local R2 with manifests of their own.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  argmax, fetchChecked, form, health, image, manifest, root, startWorker, WASM_BUDGET_BYTES,
} from './helpers.mjs';
import { readNpyF32, softmax } from '../reference.mjs';

const refs = process.env.DENSENET_ENGINE_REFS ?? path.join(os.homedir(), '.cache/densenet-edge/engine-refs');
const mib = (b) => (b / 2 ** 20).toFixed(1);
const LIMIT = 80 * 2 ** 20;

/** Puts make_variants.py's DenseNet-<depth> and a manifest for it into local R2. */
function seedVariant(depth) {
  const name = `densenet${depth}-random`;
  const onnx = path.join(refs, `${name}.onnx`);
  const bytes = readFileSync(onnx);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'densenet-edge-'));
  const file = path.join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify({ ...manifest, name, file: `${name}.onnx`, sha256, bytes: bytes.length, seed: depth }));
  execFileSync(path.join(root, 'scripts/seed-worker-model.sh'), [file, onnx], { stdio: ['ignore', 'ignore', 'inherit'] });
  rmSync(dir, { recursive: true, force: true });
  return name;
}

async function predict(base, file, bytes) {
  const res = await fetchChecked(`${base}/predict`, { method: 'POST', body: form([['file', bytes, file]]) });
  return { status: res.status, body: await res.json() };
}

describe('DenseNet-169 (weights ~69 MiB): loads and serves within the budget', () => {
  let worker;
  after(async () => worker?.dispose());

  test('the photos like onnxruntime, the heaviest hostile images under the budget', async () => {
    let base;
    ({ worker, base } = await startWorker({ MODEL: seedVariant(169) }));
    assert.equal((await fetchChecked(`${base}/health?load=1`)).status, 200);
    const loaded = await health(base);
    console.log(`DenseNet-169: loaded in ${loaded.load.total_ms} ms, wasm ${mib(loaded.memory.wasm_bytes)} MiB`);
    assert.ok(loaded.memory.wasm_bytes <= LIMIT, `wasm ${loaded.memory.wasm_bytes} after the load`);
    // onnxruntime's logits for the 4 photos (rows 0-3 of the batch of 8).
    const logits = readNpyF32(path.join(refs, 'densenet169-random.batch8.logits.npy'));
    for (const [i, photo] of ['astronaut.png', 'chelsea.png', 'coffee.png', 'rocket.jpg'].entries()) {
      const want = softmax(logits.subarray(i * 1000, (i + 1) * 1000));
      const { status, body } = await predict(base, photo, await image(`photos/${photo}`));
      assert.equal(status, 200, JSON.stringify(body));
      assert.equal(body.class_index, argmax(want), photo);
      assert.ok(Math.abs(body.probability - want[argmax(want)]) <= 1e-3, `${photo}: ${body.probability}`);
    }
    // The inputs that took DenseNet-121's Worker to its memory peak
    // (hostile.test.mjs): the largest decodes the limits allow.
    for (const file of ['phone_12mp_exif6.jpg', 'exif6_progressive_24mp.jpg', 'interlaced_rgba_9mp.png', 'png_bomb_rgba16_36mp.png']) {
      const { status, body } = await predict(base, file, await image(`hostile/${file}`));
      assert.ok(status === 200 || status === 422, `${file}: ${status} ${JSON.stringify(body)}`);
      const h = await health(base);
      console.log(`${file}: ${status} ${body.error?.code ?? body.class_id}, wasm ${mib(h.memory.wasm_bytes)} MiB`);
      assert.equal(h.isolate.id, loaded.isolate.id, `${file}: the isolate was replaced`);
      assert.ok(h.memory.wasm_bytes <= WASM_BUDGET_BYTES, `${file}: wasm ${mib(h.memory.wasm_bytes)} MiB over the budget`);
    }
  });
});

describe('DenseNet-201 (weights ~94 MiB): refused while it loads', () => {
  let worker;
  after(async () => worker?.dispose());

  test('503 model_invalid naming the limit; wasm memory stays under it', async () => {
    let base;
    ({ worker, base } = await startWorker({ MODEL: seedVariant(201), LOAD_RETRY_MS: 60000 }));
    const before = await health(base);
    const res = await fetchChecked(`${base}/health?load=1`);
    assert.equal(res.status, 503);
    const h = await health(base);
    assert.equal(h.model_loaded, false);
    assert.equal(h.model_error.code, 'model_invalid');
    assert.match(h.model_error.message, new RegExp(`more than the ${LIMIT} bytes`));
    assert.equal(h.isolate.id, before.isolate.id, 'the isolate was replaced');
    console.log(`DenseNet-201 refused: wasm ${mib(before.memory.wasm_bytes)} -> ${mib(h.memory.wasm_bytes)} MiB`);
    // Past the limit: the load's 256 KiB buffer, one buffered initializer
    // (at most 1 MiB) and the allocator's growth steps.
    assert.ok(h.memory.wasm_bytes - before.memory.wasm_bytes <= LIMIT + (4 << 20), `wasm ${h.memory.wasm_bytes}`);
  });
});
