// The int8 (QDQ) twin that scripts/prepare-model.sh makes, served by the
// Worker as DENSENET_EDGE_PRECISION=int8 scripts/run-worker.sh serves it:
// /health and every answer say int8, /health's device names the int8 kernel
// set, and the photo gets onnxruntime's int8 answer (model/int8_reference.py's
// logits, when the file is the one they were made from: calibration runs
// float kernels, so another CPU may write other bytes).
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { argmax, fetchChecked, form, health, image, root, seedModel, startWorker, WASM_BUDGET_BYTES } from './helpers.mjs';
import { readNpyF32, softmax } from '../reference.mjs';

const NAME = 'densenet121-random-int8';
const build = path.join(root, 'model/build');
const manifest = JSON.parse(readFileSync(path.join(build, `${NAME}.json`), 'utf8'));
const reference = JSON.parse(readFileSync(path.join(root, 'model/reference/int8.json'), 'utf8'));
const mib = (b) => (b / 2 ** 20).toFixed(1);

describe('the int8 model in the Worker', () => {
  let worker;
  after(async () => worker?.dispose());

  test('loads, says int8, and answers the photo as onnxruntime int8 does', async () => {
    execFileSync(path.join(root, 'scripts/seed-worker-model.sh'), [path.join(build, `${NAME}.json`), path.join(build, `${NAME}.onnx`)], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    let base;
    ({ worker, base } = await startWorker({ MODEL: NAME }));
    assert.equal((await fetchChecked(`${base}/health?load=1`)).status, 200);
    const h = await health(base);
    console.log(`int8: loaded in ${h.load.total_ms} ms, wasm ${mib(h.memory.wasm_bytes)} MiB`);
    assert.equal(h.model.precision, 'int8');
    assert.match(h.device, /\+ int8 wasm/);
    assert.ok(h.memory.wasm_bytes <= WASM_BUDGET_BYTES, `wasm ${mib(h.memory.wasm_bytes)} MiB`);
    // A quarter of f32's download should not cost f32's memory: the int8
    // weights and the loader's peak (each file weight dropped once packed)
    // keep the isolate under 32 MiB after loading (24.8 measured; f32 46).
    assert.ok(h.memory.wasm_bytes <= 32 * 2 ** 20, `int8 wasm memory after load ${mib(h.memory.wasm_bytes)} MiB > 32`);
    const res = await fetchChecked(`${base}/predict`, { method: 'POST', body: form([['file', await image('photos/chelsea.png'), 'chelsea.png']]) });
    const body = await res.json();
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.equal(body.model.precision, 'int8');
    assert.equal(body.model.name, NAME);
    const f32 = argmax(readNpyF32(path.join(root, 'model/reference/photos_chelsea.logits.densenet121-random.npy')));
    assert.ok(body.predictions.some((p) => p.class_index === f32), `f32's top-1 ${f32} is not in int8's top-5`);
    if (manifest.sha256 === reference.int8_model.sha256) {
      const want = softmax(readNpyF32(path.join(root, 'model/reference/photos_chelsea.logits.densenet121-random-int8.npy')));
      assert.equal(body.class_index, argmax(want));
      assert.ok(Math.abs(body.probability - want[argmax(want)]) <= 0.01, `${body.probability} vs ${want[argmax(want)]}`);
    } else {
      console.log('int8: this machine calibrated another file than the reference logits; compared with f32 only');
    }
  });

  test('the page may load either precision: the model and its twin are served under /model/', async () => {
    seedModel();
    const base = (await worker.url).toString().replace(/\/$/, '');
    for (const name of [NAME, 'densenet121-random']) {
      const res = await fetch(`${base}/model/${name}.json`);
      assert.equal(res.status, 200, name);
      const m = await res.json();
      assert.equal(m.precision, name.endsWith('-int8') ? 'int8' : 'f32');
      const file = await fetchChecked(`${base}/model/${m.file}`, { method: 'HEAD' });
      assert.equal(file.status, 200, m.file);
      assert.equal(file.headers.get('etag'), `"${m.sha256}"`);
    }
    assert.equal((await fetchChecked(`${base}/model/densenet169-random.json`)).status, 404);
  });
});
