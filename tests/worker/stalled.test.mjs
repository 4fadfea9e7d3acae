// Stalled and trickling uploads cannot refuse everyone: while a body
// arrives its request holds only the bytes it has received, not one of the
// MAX_INFLIGHT places, and a body idle for BODY_IDLE_MS or unfinished after
// BODY_DEADLINE_MS gets 408 body_timeout and gives its bytes back.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  checkAnswer, health, image, postOnNewConnection, rawMultipart, seedModel, stalledUpload, startWorkerDirect,
  until,
} from './helpers.mjs';

const STALLED = 40;

async function photo(base, rel) {
  const { body, contentType } = rawMultipart([['file', rel, await image(rel)]]);
  const t0 = Date.now();
  const res = await postOnNewConnection(`${base}/predict`, body, { 'Content-Type': contentType });
  checkAnswer(`${base}/predict`, res.headers['content-type'], res.text);
  return { ...res, ms: Date.now() - t0 };
}

describe(`${STALLED} stalled uploads, production limits`, () => {
  let worker;
  let base;
  before(async () => {
    seedModel();
    ({ worker, base } = await startWorkerDirect());
    await fetch(`${base}/health?load=1`);
  });
  after(async () => worker?.dispose());

  test('photos are answered 200 within 2 s while they stall', async () => {
    const stalled = Array.from({ length: STALLED }, () => stalledUpload(base));
    await until(base, (h) => h.admission.reading === STALLED, `${STALLED} bodies being read`);
    const h = await health(base);
    console.log(`${STALLED} stalled: ${h.admission.inflight_bytes} bytes held of ${h.limits.inflight_bytes}`);
    assert.equal(h.admission.inflight, 0, 'a stalled body took a place meant for the CPU work');
    for (const rel of ['photos/chelsea.png', 'photos/rocket.jpg', 'photos/coffee.png', 'photos/astronaut.png']) {
      const res = await photo(base, rel);
      console.log(`${rel}: ${res.status} in ${res.ms} ms`);
      assert.equal(res.status, 200, res.text);
      assert.ok(res.ms < 2000, `${rel} took ${res.ms} ms while ${STALLED} uploads stalled`);
    }
    for (const s of stalled) s.close();
    await until(base, (x) => x.admission.reading === 0 && x.admission.inflight_bytes === 0, 'their bytes given back');
  });
});

describe('body deadlines (BODY_IDLE_MS 2000, BODY_DEADLINE_MS 5000)', () => {
  let worker;
  let base;
  before(async () => {
    seedModel();
    ({ worker, base } = await startWorkerDirect({ BODY_IDLE_MS: 2000, BODY_DEADLINE_MS: 5000 }));
    await fetch(`${base}/health?load=1`);
  });
  after(async () => worker?.dispose());

  test('idle bodies get 408 body_timeout at BODY_IDLE_MS, a trickle at BODY_DEADLINE_MS; their bytes come back', async () => {
    const before = (await health(base)).admission.body_timeouts;
    const stalled = Array.from({ length: STALLED }, () => stalledUpload(base));
    const trickle = stalledUpload(base, { dripEveryMs: 500 });
    // A photo meanwhile is answered as usual.
    assert.equal((await photo(base, 'photos/rocket.jpg')).status, 200);
    for (const { status, body, ms } of await Promise.all(stalled.map((s) => s.answered))) {
      assert.equal(status, 408, JSON.stringify(body));
      assert.equal(body.error.code, 'body_timeout');
      assert.match(body.error.message, /BODY_IDLE_MS/);
      assert.ok(ms >= 1900 && ms < 5000, `idle body answered after ${ms} ms`);
    }
    const t = await trickle.answered;
    assert.equal(t.status, 408, JSON.stringify(t.body));
    assert.match(t.body.error.message, /BODY_DEADLINE_MS/);
    assert.ok(t.ms >= 4900, `trickling body answered after ${t.ms} ms`);
    const h = await health(base);
    assert.equal(h.admission.body_timeouts - before, STALLED + 1);
    assert.equal(h.admission.reading, 0);
    assert.equal(h.admission.inflight_bytes, 0);
    assert.equal(h.limits.body_idle_ms, 2000);
    assert.equal(h.limits.body_deadline_ms, 5000);
    assert.equal((await photo(base, 'photos/chelsea.png')).status, 200);
  });
});
