// Overload is an answer of ours: beyond MAX_INFLIGHT requests with complete
// bodies, or beyond INFLIGHT_BYTES of bodies held at once, a JSON 503
// `overloaded` with Retry-After; the admitted requests are all answered.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  checkAnswer, health, image, postOnNewConnection, rawMultipart, seedModel, startWorkerDirect,
  until,
} from './helpers.mjs';

// Straight to workerd, one connection per request (helpers.mjs says why);
// with `hold`, the body's second half waits for it.
// Every JSON answer is checked against docs/answer.schema.json.
async function post(base, parts, hold = null) {
  const { body, contentType } = rawMultipart(parts);
  const url = `${base}/predict`;
  const res = await postOnNewConnection(url, body, { 'Content-Type': contentType }, hold);
  checkAnswer(url, res.headers['content-type'], res.text);
  return res;
}

function expectOverloaded({ status, headers, text }) {
  assert.equal(status, 503, text);
  assert.match(headers['content-type'] ?? '', /application\/json/);
  assert.equal(JSON.parse(text).error.code, 'overloaded');
  assert.ok(Number(headers['retry-after']) >= 1, `Retry-After: ${headers['retry-after']}`);
}

describe('admission by bytes while bodies arrive', () => {
  let worker;
  let base;
  before(async () => {
    seedModel();
    ({ worker, base } = await startWorkerDirect({ MAX_BODY_BYTES: 1 << 20, INFLIGHT_BYTES: 1 << 20 }));
  });
  after(async () => worker?.dispose());

  // A body held back halfway holds the bytes it has received, not what its
  // Content-Length claims, and no place for the CPU work: no timing
  // assumptions.
  test('a body that would pass INFLIGHT_BYTES is refused; the held one is answered', async () => {
    let release;
    const hold = new Promise((r) => { release = r; });
    const chelsea = await image('photos/chelsea.png'); // 240 KB
    const pad = Buffer.alloc(700 * 1024, 32);
    const a = post(base, [['pad', null, pad], ['file', 'a.png', chelsea]], hold); // ~940 KB, half sent
    await until(base, (h) => h.admission.reading === 1 && h.admission.inflight_bytes > 400 << 10, 'half of A read');
    const h = await health(base);
    assert.equal(h.admission.inflight, 0, 'a body still arriving took a place for the CPU work');
    assert.ok(h.admission.inflight_bytes < 600 << 10, `A holds ${h.admission.inflight_bytes} bytes for ~470 KB received`);
    expectOverloaded(await post(base, [['pad', null, pad], ['file', 'b.png', chelsea]]));
    const rocket = await image('photos/rocket.jpg'); // 112 KB: fits beside A
    assert.equal((await post(base, [['file', 'c.jpg', rocket]])).status, 200);
    release();
    assert.equal((await a).status, 200);
    const after = await health(base);
    assert.equal(after.admission.reading, 0);
    assert.equal(after.admission.inflight, 0);
    assert.equal(after.admission.inflight_bytes, 0);
    assert.equal(after.admission.rejected, 1);
    assert.equal(after.admission.admitted, 2);
  });
});

describe('admission by count once bodies are complete', () => {
  let worker;
  let base;
  before(async () => {
    seedModel();
    // Coalescing with a long wait keeps the admitted requests in flight
    // (waiting for a batch of 4 to fill) as long as the test needs.
    ({ worker, base } = await startWorkerDirect({
      MAX_INFLIGHT: 2, MAX_FILES: 1, COALESCE: true, MAX_BATCH: 4, BATCH_WAIT_MS: 5000,
    }));
    await fetch(`${base}/health?load=1`);
  });
  after(async () => worker?.dispose());

  test('past MAX_INFLIGHT: 503 overloaded; the admitted ones are answered', async () => {
    const rocket = await image('photos/rocket.jpg');
    const a = post(base, [['file', 'a.jpg', rocket]]);
    const b = post(base, [['file', 'b.jpg', rocket]]);
    await until(base, (h) => h.admission.inflight === 2, 'A and B admitted');
    expectOverloaded(await post(base, [['file', 'c.jpg', rocket]]));
    for (const res of await Promise.all([a, b])) assert.equal(res.status, 200, res.text);
    const h = await health(base);
    assert.equal(h.admission.inflight, 0);
    assert.equal(h.admission.inflight_bytes, 0);
    assert.equal(h.admission.rejected, 1);
    assert.equal(h.admission.admitted, 2);
  });
});

describe('32 clients back to back (the issue\'s load), production limits', () => {
  let worker;
  let base;
  before(async () => {
    seedModel();
    ({ worker, base } = await startWorkerDirect());
    await fetch(`${base}/health?load=1`);
  });
  after(async () => worker?.dispose());

  // Straight to workerd: through wrangler dev's proxy some answers are its
  // own text 503 "Your worker restarted mid-request" (helpers.mjs,
  // startWorkerDirect), which says nothing about this Worker.
  test('every answer is a prediction or our JSON 503, never the runtime\'s', async () => {
    const bytes = await image('photos/rocket.jpg');
    const statuses = {};
    const isolate = (await health(base)).isolate.id;
    await Promise.all(Array.from({ length: 32 }, async () => {
      for (let i = 0; i < 2; i++) {
        const res = await post(base, [['file', 'rocket.jpg', bytes]]);
        const text = res.text;
        statuses[res.status] = (statuses[res.status] ?? 0) + 1;
        assert.match(res.headers['content-type'] ?? '', /application\/json/, `${res.status}: ${text.slice(0, 200)}`);
        const body = JSON.parse(text);
        if (res.status === 503) assert.equal(body.error.code, 'overloaded');
        else assert.equal(res.status, 200, text);
      }
    }));
    const h = await health(base);
    console.log(`statuses ${JSON.stringify(statuses)}; admission ${JSON.stringify(h.admission)}; wasm ${h.memory.wasm_bytes}`);
    assert.equal(h.isolate.id, isolate);
  });
});
