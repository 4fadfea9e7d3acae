// The model missing from R2, or not the file its manifest describes: 503 with
// a code, never a made-up prediction, and /health says why.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { form, image, manifest, seedModel, startWorker, workerDir, wranglerBin } from './helpers.mjs';

async function predict(base) {
  return fetch(`${base}/predict`, { method: 'POST', body: form([['file', await image('photos/chelsea.png'), 'c.png']]) });
}

describe('model not in R2', () => {
  let worker;
  after(async () => worker?.dispose());

  test('/predict is 503 model_unavailable, /health says why', async () => {
    let base;
    ({ worker, base } = await startWorker({ MODEL: 'no-such-model' }));
    const res = await predict(base);
    const body = await res.json();
    assert.equal(res.status, 503);
    assert.equal(body.error.code, 'model_unavailable');
    assert.match(body.error.message, /no-such-model\.json/);
    const health = await (await fetch(`${base}/health`)).json();
    assert.equal(health.model_loaded, false);
    assert.equal(health.model_error.code, 'model_unavailable');
    // The load is retried, not cached as failed.
    const again = await fetch(`${base}/health?load=1`);
    assert.equal(again.status, 503);
    assert.equal((await fetch(`${base}/health`).then((r) => r.json())).load_attempts, 2);
  });
});

describe('model bytes that are not what the manifest says', () => {
  let worker;
  after(async () => worker?.dispose());

  test('sha256 mismatch is 503 model_invalid', async () => {
    seedModel();
    // A manifest naming the real file with another sha256.
    const dir = mkdtempSync(path.join(os.tmpdir(), 'densenet-edge-'));
    const tampered = path.join(dir, 'tampered.json');
    writeFileSync(tampered, JSON.stringify({ ...manifest, name: 'densenet121-tampered', sha256: '0'.repeat(64) }));
    execFileSync(wranglerBin, ['r2', 'object', 'put', '--local', 'densenet-edge-models/densenet121-tampered.json', '--file', tampered], {
      cwd: workerDir, stdio: ['ignore', 'ignore', 'inherit'],
    });
    let base;
    ({ worker, base } = await startWorker({ MODEL: 'densenet121-tampered' }));
    const res = await predict(base);
    const body = await res.json();
    assert.equal(res.status, 503);
    assert.equal(body.error.code, 'model_invalid');
    assert.match(body.error.message, /sha256/);
  });
});
