// The model load belongs to the isolate, not to the request that started it:
// a client that disconnects during the cold load cancels neither the load nor
// the requests that arrive after it.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { fetchChecked, form, health, image, seedModel, startWorker } from './helpers.mjs';

let worker;
let base;

before(async () => {
  seedModel();
  ({ worker, base } = await startWorker());
});

after(async () => worker?.dispose());

test('the first client disconnects during the cold load; later requests are answered', async () => {
  const bytes = await image('photos/chelsea.png');
  const abort = new AbortController();
  const first = fetchChecked(`${base}/predict`, { method: 'POST', body: form([['file', bytes, 'c.png']]), signal: abort.signal });
  // The load takes 0.3-0.5 s here (R2 stream, sha256, weight packing): leave
  // early in it. (No /health poll here: it would wait behind the load's
  // synchronous parts.)
  await new Promise((r) => setTimeout(r, 100));
  abort.abort();
  await assert.rejects(first);

  const t0 = performance.now();
  const res = await fetchChecked(`${base}/predict`, { method: 'POST', body: form([['file', bytes, 'c.png']]) });
  const text = await res.text();
  assert.equal(res.status, 200, text);
  const h = await health(base);
  console.log(`second request answered after ${(performance.now() - t0).toFixed(0)} ms; load ${JSON.stringify(h.load)}`);
  assert.equal(h.model_loaded, true);
  assert.equal(h.load_attempts, 1, 'the abandoned load was started again');
});
