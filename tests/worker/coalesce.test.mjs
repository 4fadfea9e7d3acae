// Request coalescing (COALESCE=true): concurrent requests in one isolate share
// engine batches and still get exactly their own answers.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { argmax, fetchChecked, form, image, reference, seedModel, startWorker } from './helpers.mjs';

let worker;
let base;

before(async () => {
  seedModel();
  ({ worker, base } = await startWorker({ COALESCE: 'true', MAX_BATCH: 2, BATCH_WAIT_MS: 50 }));
});

after(async () => {
  await worker?.dispose();
});

test('warm-up: GET /health?load=1 loads the model', async () => {
  const body = await (await fetchChecked(`${base}/health?load=1`)).json();
  assert.equal(body.model_loaded, true);
  assert.equal(body.limits.coalesce, true);
  console.log(`model load: ${JSON.stringify(body.load)}`);
});

test('concurrent requests are coalesced into batches, each answer its own', async () => {
  const photos = [
    ['astronaut', 'photos/astronaut.png'],
    ['chelsea', 'photos/chelsea.png'],
    ['coffee', 'photos/coffee.png'],
    ['rocket', 'photos/rocket.jpg'],
  ];
  const files = await Promise.all(photos.map(([, f]) => image(f)));
  const answers = await Promise.all(
    photos.map(([, f], i) => fetchChecked(`${base}/predict?top_k=${i + 1}`, { method: 'POST', body: form([['file', files[i], f]]) })),
  );
  const sizes = [];
  for (const [i, res] of answers.entries()) {
    const text = await res.text();
    assert.equal(res.status, 200, text);
    const body = JSON.parse(text);
    const probs = reference(photos[i][0]);
    assert.equal(body.class_index, argmax(probs), photos[i][0]);
    assert.ok(Math.abs(body.probability - probs[body.class_index]) < 1e-3);
    // Each request keeps its own top_k inside a shared batch.
    assert.equal(body.predictions.length, i + 1);
    sizes.push(body.batch_size);
  }
  console.log(`engine batch sizes seen by the 4 requests: ${sizes}`);
  assert.ok(Math.max(...sizes) > 1, `no request shared a batch: ${sizes}`);
  const health = await (await fetchChecked(`${base}/health`)).json();
  assert.equal(health.batches.images, 4);
  assert.equal(health.batches.runs, 2);
});

test('each image reports the engine run it was in; a failed one none', async () => {
  // One request alone: its two good images fill one run of MAX_BATCH 2.
  const fd = form([
    ['file', await image('photos/astronaut.png'), 'astronaut.png'],
    ['file', await image('bad/not_image.txt'), 'notes.txt'],
    ['file', await image('photos/rocket.jpg'), 'rocket.jpg'],
  ]);
  const res = await fetchChecked(`${base}/predict`, { method: 'POST', body: fd });
  const body = await res.json();
  assert.equal(res.status, 200, JSON.stringify(body));
  assert.deepEqual(body.batch_sizes, [2, 0, 2]);
  assert.equal(body.results[1].error.code, 'not_an_image');
});
