// End-to-end tests of the page (www/) in Debian's Chromium, driven by
// playwright-core. Run by tests/browser/run.sh after the package is built.
// Screenshots go to tests/artifacts/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launch } from './chromium.mjs';
import { serve } from '../../scripts/serve-web.mjs';
import { Classifier } from 'densenet-edge'; // the Node build, through the package's exports
import { snakeKeys } from '../answer-schema.mjs';
import { reference } from '../reference.mjs';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const ARTIFACTS = join(ROOT, 'tests/artifacts');
const PHOTO = join(ROOT, 'tests/images/photos/chelsea.png');
const NOT_IMAGE = join(ROOT, 'tests/images/bad/not_image.txt');
const MODEL = join(ROOT, 'model/build/densenet121-random.onnx');
const MANIFEST = join(ROOT, 'model/manifests/densenet121-random.json');

/** A stand-in for the Worker's POST /predict, with the same JSON shape, run by the Node build of the package. */
function fakePredict(classifierPromise) {
  return async (req, res) => {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const form = await new Response(Buffer.concat(chunks), { headers: { 'content-type': req.headers['content-type'] } }).formData();
    const file = form.get('file');
    const send = (status, body) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (!file) return send(400, { error: { code: 'missing_file', message: 'no multipart field "file"' } });
    try {
      // The package's answer is the API's, camelCased, plus its own fields.
      const { engineReason, device, timings, ...answer } = await (await classifierPromise).classify(file);
      send(200, { ...snakeKeys(answer), batch_size: 1 });
    } catch (e) {
      send(415, { error: { code: e.code, message: e.message } });
    }
  };
}

let server;
let context;
let page;
let cpuTop5;
const nodeClassifier = Classifier.create({ model: MODEL, manifestUrl: MANIFEST, engine: 'cpu' });

async function shot(name) {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

async function top5() {
  return page.$$eval('#predictions li', (lis) => lis.map((li) => li.dataset.classId));
}

async function classifyFile(path, timeout = 60_000) {
  await page.evaluate(() => delete document.body.dataset.state);
  await page.setInputFiles('#file', path);
  await page.waitForFunction(() => ['done', 'error'].includes(document.body.dataset.state), null, { timeout });
  return page.evaluate(() => document.body.dataset.state);
}

before(async () => {
  await mkdir(ARTIFACTS, { recursive: true });
  server = await serve({ predict: fakePredict(nodeClassifier), mounts: { '/photos/': join(ROOT, 'tests/images/photos') } });
  context = await launch();
  page = await context.newPage();
  page.on('console', (m) => m.type() === 'error' && console.log('[page]', m.text()));
  page.on('pageerror', (e) => console.log('[page error]', e.message));
});

after(async () => {
  await context?.close();
  await server?.close();
});

test('the page loads the model, says the weights are random and picks the CPU without WebGPU', async () => {
  await page.goto(server.url);
  await page.waitForFunction(() => document.body.dataset.ready, null, { timeout: 120_000 });
  assert.equal(await page.evaluate(() => document.body.dataset.ready), 'cpu');
  assert.match(await page.textContent('#banner'), /RANDOM weights/);
  assert.equal(await page.isVisible('#banner'), true);
});

test('uploading a photo shows its top-5 with bars, the engine and the time', async () => {
  assert.equal(await classifyFile(PHOTO), 'done');
  cpuTop5 = await top5();
  assert.equal(cpuTop5.length, 5);
  assert.equal(await page.locator('.bar').count(), 5);
  assert.match(await page.textContent('#engine'), /Engine: cpu/);
  assert.match(await page.textContent('#time'), /ms/);
  assert.match(await page.textContent('#verdict'), /ecognised/);
  // The same as the Node build of the package on the same file.
  const expected = await (await nodeClassifier).classify(await readFile(PHOTO));
  assert.deepEqual(cpuTop5, expected.predictions.map((p) => p.classId));
  await shot('page-photo-cpu');
});

test('the package works from a plain module script on the page, with ImageData from a canvas, on its relaxed-SIMD build', async () => {
  const r = await page.evaluate(async () => {
    const { Classifier } = await import('./pkg/classifier.js');
    const c = await Classifier.create({ model: 'model/densenet121-random.onnx', engine: 'cpu' });
    const img = new Image();
    img.src = URL.createObjectURL(await (await fetch('/photos/chelsea.png')).blob());
    await img.decode();
    const canvas = Object.assign(document.createElement('canvas'), { width: img.naturalWidth, height: img.naturalHeight });
    const ctx = canvas.getContext('2d');
    ctx.drawImage(img, 0, 0);
    const r = await c.classify(ctx.getImageData(0, 0, canvas.width, canvas.height));
    c.dispose();
    return r;
  });
  assert.deepEqual(r.predictions.map((p) => p.classId), cpuTop5);
  // Chromium validates relaxed SIMD, so the package loads that build; its
  // probabilities are onnxruntime's on the same file.
  assert.equal(r.device, 'densenet-edge wasm simd128+relaxed');
  const probs = reference('chelsea');
  for (const p of r.predictions) {
    assert.ok(Math.abs(p.probability - probs[p.classIndex]) < 1e-4, `class ${p.classIndex}: ${p.probability} vs ${probs[p.classIndex]}`);
  }
});

test('a non-image shows a clear error'
, async () => {
  assert.equal(await classifyFile(NOT_IMAGE), 'error');
  assert.equal(await page.getAttribute('#error', 'data-code'), 'not_an_image');
  assert.match(await page.textContent('#error'), /not an image/);
  assert.equal(await page.isVisible('#result'), false);
  await shot('page-not-an-image');
});

test('the switch sends the image to /predict and shows the same result', async () => {
  await page.check('#remote');
  assert.equal(await classifyFile(PHOTO), 'done');
  assert.deepEqual(await top5(), cpuTop5);
  assert.match(await page.textContent('#engine'), /server/);
  await shot('page-photo-remote');
  await page.uncheck('#remote');
});

test('a corrupt cached model is dropped and downloaded again (sha256 check)', async () => {
  await page.evaluate(async () => {
    const cache = await caches.open('densenet-edge-models-v1');
    const key = (await cache.keys()).find((r) => r.url.includes('.onnx'));
    await cache.put(key, new Response('not the model'));
  });
  await page.reload();
  await page.waitForFunction(() => document.body.dataset.ready, null, { timeout: 120_000 });
  assert.equal(await page.evaluate(() => document.body.dataset.ready), 'cpu');
  assert.match(await page.textContent('#status'), /downloaded/);
});

test('after one visit the page classifies with the network off'
, async () => {
  await page.evaluate(() => navigator.serviceWorker.ready);
  // Stop the server and cut the network: everything must come from caches.
  server.server.closeAllConnections();
  await server.close();
  await context.setOffline(true);
  await page.reload();
  await page.waitForFunction(() => document.body.dataset.ready, null, { timeout: 120_000 });
  assert.equal(await page.evaluate(() => document.body.dataset.ready), 'cpu');
  assert.match(await page.textContent('#status'), /from the cache/);
  assert.equal(await classifyFile(PHOTO), 'done');
  assert.deepEqual(await top5(), cpuTop5);
  await shot('page-offline');
  await context.setOffline(false);
});

test('the precision menu loads the int8 twin, says so, and its top-5 holds the f32 top-1', async () => {
  // A context of its own: the int8 model must not enter the other tests' caches.
  const ownServer = await serve();
  const ownContext = await launch();
  try {
    const p = await ownContext.newPage();
    await p.goto(`${ownServer.url}?nosw`);
    await p.waitForFunction(() => document.body.dataset.ready, null, { timeout: 120_000 });
    assert.equal(await p.evaluate(() => document.body.dataset.precision), 'f32');
    assert.equal(await p.inputValue('#precision'), 'f32');
    // Choosing "small (int8)" reloads the page on the twin.
    await Promise.all([p.waitForURL(/model=.*-int8\.onnx/), p.selectOption('#precision', 'int8')]);
    await p.waitForFunction(() => document.body.dataset.ready, null, { timeout: 120_000 });
    assert.equal(await p.evaluate(() => document.body.dataset.ready), 'cpu');
    assert.equal(await p.evaluate(() => document.body.dataset.precision), 'int8');
    assert.equal(await p.inputValue('#precision'), 'int8');
    assert.match(await p.textContent('#status'), /int8 model/);
    assert.match(await p.textContent('#precision option[value=int8]'), /int8, about 9 MB/);
    page = p;
    assert.equal(await classifyFile(PHOTO), 'done');
    const int8Top5 = await top5();
    assert.ok(int8Top5.includes(cpuTop5[0]), `f32's top-1 ${cpuTop5[0]} is not in int8's top-5 ${int8Top5}`);
    await shot('page-photo-int8');
    // And back to f32.
    await Promise.all([p.waitForURL((u) => !u.search.includes('model=')), p.selectOption('#precision', 'f32')]);
    await p.waitForFunction(() => document.body.dataset.ready, null, { timeout: 120_000 });
    assert.equal(await p.evaluate(() => document.body.dataset.precision), 'f32');
  } finally {
    await ownContext.close();
    await ownServer.close();
  }
});

test('WebGPU (SwiftShader) gives the same top-5 as the CPU engine', { timeout: 600_000, skip: process.env.BROWSER_TESTS_SKIP_WEBGPU === '1' ? 'BROWSER_TESTS_SKIP_WEBGPU=1' : false }, async () => {
  const gpuServer = await serve();
  const gpuContext = await launch(['--enable-unsafe-webgpu']);
  try {
    const gpuPage = await gpuContext.newPage();
    gpuPage.on('console', (m) => m.type() === 'error' && console.log('[webgpu page]', m.text()));
    // auto must prefer the CPU on a fallback adapter, and say so.
    await gpuPage.goto(`${gpuServer.url}?nosw&engine=auto`);
    await gpuPage.waitForFunction(() => document.body.dataset.ready, null, { timeout: 120_000 });
    assert.equal(await gpuPage.evaluate(() => document.body.dataset.ready), 'cpu');

    const hasAdapter = await gpuPage.evaluate(async () => !!(await navigator.gpu?.requestAdapter()));
    assert.ok(hasAdapter, 'Chromium with --enable-unsafe-webgpu must offer a (SwiftShader) adapter');
    await gpuPage.goto(`${gpuServer.url}?nosw&engine=webgpu`);
    // Loading runs the self-check against the CPU engine: one SwiftShader inference.
    await gpuPage.waitForFunction(() => document.body.dataset.ready, null, { timeout: 300_000 });
    assert.equal(await gpuPage.evaluate(() => document.body.dataset.ready), 'webgpu', await gpuPage.textContent('#error'));
    page = gpuPage;
    assert.equal(await classifyFile(PHOTO, 300_000), 'done');
    assert.match(await page.textContent('#engine'), /Engine: webgpu/);
    assert.deepEqual(await top5(), cpuTop5);
    await shot('page-photo-webgpu');
  } finally {
    await gpuContext.close();
    await gpuServer.close();
  }
});
