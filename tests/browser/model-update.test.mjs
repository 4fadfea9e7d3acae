// The page in Debian's Chromium when the model changes under it: a new
// model file and manifest on the server must be what the next load uses,
// whatever the HTTP cache, the service worker and the package's Cache API
// kept of the old ones. The server sends /model/ files as the Worker sends
// its model file (a day's max-age, the sha256 as ETag), manifests included.
// Also: the page takes `?model=` only from its own origin.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Classifier } from 'densenet-edge';
import { launch } from './chromium.mjs';
import { serve } from '../../scripts/serve-web.mjs';
import { manifestFor, realModel, sha256, updatedModel } from './models.mjs';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const NAME = 'densenet121-random';

let dir;
let server;
let context;
let A;
let B;

before(async () => {
  const { bytes, manifest } = await realModel(ROOT);
  A = { bytes, manifest };
  const updated = updatedModel(bytes);
  B = { bytes: updated, manifest: manifestFor(updated, manifest) };
  // The update must be a model that loads (Node, CPU engine).
  const c = await Classifier.create({ model: B.bytes, manifest: B.manifest, engine: 'cpu' });
  assert.equal(c.model.sha256, sha256(B.bytes));
  c.dispose();
  dir = await mkdtemp(join(tmpdir(), 'densenet-edge-models-'));
  await install(A);
  server = await serve({ mounts: { '/model/': dir }, workerCaching: true });
  context = await launch();
});

after(async () => {
  await context?.close();
  await server?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Puts a model and its manifest on the server, as a deployment would. */
async function install({ bytes, manifest }) {
  await writeFile(join(dir, `${NAME}.onnx`), bytes);
  await writeFile(join(dir, `${NAME}.json`), JSON.stringify(manifest));
}

async function ready(page) {
  await page.waitForFunction(() => document.body.dataset.ready, null, { timeout: 120_000 });
  return page.evaluate(() => ({
    ready: document.body.dataset.ready,
    sha256: document.body.dataset.modelSha256,
    status: document.getElementById('status').textContent,
    error: document.getElementById('error').hidden ? null : document.getElementById('error').textContent,
    warning: document.getElementById('warning').hidden ? null : document.getElementById('warning').textContent,
  }));
}

test('the page loads the new model after an update, past the HTTP cache, the service worker and the Cache API', { timeout: 300_000 }, async () => {
  const page = await context.newPage();
  page.on('pageerror', (e) => console.log('[page error]', e.message));
  await page.goto(server.url);
  let s = await ready(page);
  assert.deepEqual([s.ready, s.sha256, s.error], ['cpu', A.manifest.sha256, null]);
  await page.evaluate(() => navigator.serviceWorker.ready);

  // A second visit: under the service worker, the model from the Cache API,
  // the manifest and the model in the HTTP cache for a day.
  await page.reload();
  s = await ready(page);
  assert.deepEqual([s.ready, s.sha256, s.error], ['cpu', A.manifest.sha256, null]);
  assert.match(s.status, /from the cache/);
  assert.equal(await page.evaluate(() => !!navigator.serviceWorker.controller), true);

  await install(B);
  await page.reload();
  s = await ready(page);
  assert.deepEqual([s.ready, s.sha256, s.error, s.warning], ['cpu', B.manifest.sha256, null, null], JSON.stringify(s));
  assert.match(s.status, /downloaded/);

  // A Classifier made on the page now finds the new model in the Cache API,
  // which holds that one version only.
  const out = await page.evaluate(async () => {
    const { Classifier, CACHE_NAME } = await import('./pkg/classifier.js');
    const c = await Classifier.create({ model: 'model/densenet121-random.onnx', engine: 'cpu' });
    c.dispose();
    const keys = (await (await caches.open(CACHE_NAME)).keys()).map((r) => r.url);
    return { sha256: c.model.sha256, cached: c.load.cached, models: keys.filter((k) => k.includes('.onnx')) };
  });
  assert.equal(out.sha256, B.manifest.sha256);
  assert.equal(out.cached, true);
  assert.deepEqual(out.models, [`${server.url}model/${NAME}.onnx?sha256=${B.manifest.sha256}`]);

  // A rollback is an update too.
  await install(A);
  await page.reload();
  s = await ready(page);
  assert.deepEqual([s.ready, s.sha256, s.error], ['cpu', A.manifest.sha256, null]);
  await page.close();
});

test('?model= from another origin is refused with a clear message, and nothing is loaded', async () => {
  const page = await context.newPage();
  const requests = [];
  page.on('request', (r) => requests.push(r.url()));
  const port = new URL(server.url).port;
  // localhost is another origin than 127.0.0.1 (the same server, even).
  for (const model of [`http://localhost:${port}/model/${NAME}.onnx`, '//localhost/x.onnx', 'data:application/octet-stream,abc']) {
    requests.length = 0;
    await page.goto(`${server.url}?nosw&model=${encodeURIComponent(model)}`);
    const s = await ready(page);
    assert.equal(s.ready, 'error', model);
    assert.equal(await page.getAttribute('#error', 'data-code'), 'model_refused');
    assert.match(s.error, /only from its own origin|not a URL/);
    assert.deepEqual(requests.filter((u) => !u.startsWith(server.url)), [], `nothing is fetched from elsewhere for ${model}`);
    assert.deepEqual(requests.filter((u) => /\.(onnx|json)$/.test(new URL(u).pathname)), [], 'no model is loaded');
  }
  // A model of this origin is loaded.
  await page.goto(`${server.url}?nosw&model=${encodeURIComponent(`/model/${NAME}.onnx`)}`);
  const s = await ready(page);
  assert.deepEqual([s.ready, s.error], ['cpu', null]);
  await page.close();
});
