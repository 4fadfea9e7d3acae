// What a crash costs. The Worker has no panic reachable from a request (the
// hostile tests are the evidence); this starts it with its test hook
// PANIC_ROUTE=enabled, whose `POST /__panic` panics, to check that the
// panicking request and those in flight beside it get our JSON 500, and that
// the next request gets a working instance (a fresh wasm state: the model is
// loaded again).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { fetchChecked, form, health, image, seedModel, startWorker } from './helpers.mjs';

let worker;
let base;

before(async () => {
  seedModel();
  ({ worker, base } = await startWorker({ PANIC_ROUTE: 'enabled' }));
});

after(async () => worker?.dispose());

async function json(res) {
  const text = await res.text();
  assert.match(res.headers.get('content-type') ?? '', /application\/json/, `${res.status}: ${text.slice(0, 300)}`);
  return JSON.parse(text);
}

test('a panic: JSON 500 for it and for the request in flight, then a working instance', async () => {
  const before = await (await fetchChecked(`${base}/health?load=1`)).json();
  assert.equal(before.model_loaded, true);
  const bytes = await image('photos/astronaut.png');

  // One request in flight (waiting for its turn behind another).
  const inflight = [0, 1].map(() => fetchChecked(`${base}/predict`, { method: 'POST', body: form([['file', bytes, 'a.png']]) }));
  const crash = await fetchChecked(`${base}/__panic`, { method: 'POST' });
  assert.equal(crash.status, 500);
  assert.equal((await json(crash)).error.code, 'internal');
  const statuses = [];
  for (const res of await Promise.all(inflight)) {
    const body = await json(res);
    statuses.push(`${res.status} ${body.error?.code ?? 'ok'}`);
    assert.ok(res.status === 200 || body.error.code === 'internal', JSON.stringify(body));
  }

  const t0 = performance.now();
  const res = await fetchChecked(`${base}/predict`, { method: 'POST', body: form([['file', bytes, 'a.png']]) });
  assert.equal(res.status, 200, await res.clone().text());
  const ms = performance.now() - t0;
  const after = await health(base);
  console.log(`in flight during the panic: ${statuses.join(', ')}; next request ${ms.toFixed(0)} ms (model reload ${after.load?.total_ms} ms); isolate ${before.isolate.id} -> ${after.isolate.id}`);
  assert.notEqual(after.isolate.id, before.isolate.id, 'the wasm state was not reset');
  assert.equal(after.model_loaded, true);
});
