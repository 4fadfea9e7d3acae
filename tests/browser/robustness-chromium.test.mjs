// The package and the page in Debian's Chromium against hostile input and
// broken storage: hostile files through the package, a trapped wasm
// instance replaced on the main thread and in the page's Web Worker (with
// the test-trap build of the package, mounted as the page's pkg/), and
// Cache API failures that must not fail a model that loaded.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launch } from './chromium.mjs';
import { serve } from '../../scripts/serve-web.mjs';
import { hostileCases, TRAP_PKG } from './hostile.mjs';
import { hostileModels, manifestFor, realModel } from './models.mjs';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PHOTO = join(ROOT, 'tests/images/photos/chelsea.png');

let server;
let trapServer;
let context;
let page;

before(async () => {
  server = await serve({ mounts: { '/photos/': join(ROOT, 'tests/images/photos') } });
  trapServer = await serve({ mounts: { '/pkg/': TRAP_PKG, '/photos/': join(ROOT, 'tests/images/photos') } });
  context = await launch();
  page = await context.newPage();
  page.on('pageerror', (e) => console.log('[page error]', e.message));
});

after(async () => {
  await context?.close();
  await server?.close();
  await trapServer?.close();
});

/**
 * Runs `fn(args)` in a document of `base`'s origin, with the package
 * imported as `pkg`. Not the page itself: its Web Worker would share the
 * origin's Cache API with the code under test.
 */
async function inPage(base, fn, args) {
  await page.goto(`${base}model/densenet121-random.json`);
  return page.evaluate(
    async ([src, args]) => {
      const pkg = await import('/pkg/classifier.js');
      return (0, eval)(`(${src})`)(pkg, args);
    },
    [fn.toString(), args],
  );
}

test('Chromium: hostile inputs get their documented answer from the package, and it keeps working', { timeout: 600_000 }, async () => {
  const cases = (await hostileCases(ROOT)).map((c) => ({ ...c, bytes: Buffer.from(c.bytes).toString('base64') }));
  const out = await inPage(server.url, async (pkg, cases) => {
    const c = await pkg.Classifier.create({ model: '/model/densenet121-random.onnx', engine: 'cpu' });
    const photo = new Uint8Array(await (await fetch('/photos/chelsea.png')).arrayBuffer());
    const top5 = async () => (await c.classify(photo)).predictions.map((p) => p.classId).join();
    const expected = await top5();
    const answers = [];
    for (const { name, bytes } of cases) {
      const file = new File([Uint8Array.from(atob(bytes), (ch) => ch.charCodeAt(0))], name);
      let got;
      try {
        got = (await c.classify(file)).predictions.length === 5 ? 'prediction' : 'bad prediction';
      } catch (e) {
        got = e.code || `uncoded ${e.message}`;
      }
      answers.push({ name, got, stillWorks: (await top5()) === expected, memoryMiB: pkg.Classifier.wasmMemoryBytes() / 2 ** 20 });
    }
    return { answers, reloads: c.reloads };
  }, cases);
  console.log(JSON.stringify(out));
  for (const [i, a] of out.answers.entries()) {
    assert.ok(cases[i].expected.includes(a.got), `${a.name}: expected ${cases[i].expected.join(' or ')}, got ${a.got}`);
    assert.ok(a.stillWorks, `${a.name}: the classifier must still work`);
  }
  assert.equal(out.reloads, 0, 'no hostile input may crash the instance');
});

/** The hostile models, with matching manifests, as page.evaluate can carry them. */
async function hostileModelArgs() {
  const { bytes: real, manifest } = await realModel(ROOT);
  return hostileModels(real).map(({ name, bytes }) => ({ name, bytes: Buffer.from(bytes).toString('base64'), manifest: manifestFor(bytes, manifest, name) }));
}

/** In the page: each hostile model through create() on each engine, and whether a classifier made before still works. */
async function loadHostileModels(pkg, { models, engines }) {
  const c = await pkg.Classifier.create({ model: '/model/densenet121-random.onnx', engine: 'cpu' });
  const photo = new Uint8Array(await (await fetch('/photos/chelsea.png')).arrayBuffer());
  const top5 = async () => (await c.classify(photo)).predictions.map((p) => p.classId).join();
  const expected = await top5();
  const got = [];
  for (const { name, bytes, manifest } of models) {
    const model = Uint8Array.from(atob(bytes), (ch) => ch.charCodeAt(0));
    for (const engine of engines) {
      const answer = await pkg.Classifier.create({ model, manifest, engine }).then(
        (m) => (m.dispose(), `loaded on ${m.engine}`),
        (e) => `${e.code}: ${e.message}`,
      );
      got.push({ name, engine, answer, stillWorks: (await top5()) === expected });
    }
  }
  return { got, reloads: c.reloads };
}

test('Chromium: hostile models whose manifest matches them are model_invalid, and never crash the instance', { timeout: 300_000 }, async () => {
  const models = await hostileModelArgs();
  const out = await inPage(server.url, loadHostileModels, { models, engines: ['cpu', 'auto'] });
  for (const g of out.got) {
    assert.match(g.answer, /^model_invalid: /, `${g.name} on ${g.engine}`);
    assert.ok(g.stillWorks, `${g.name} on ${g.engine}: the classifier made before must still work`);
  }
  assert.equal(out.reloads, 0, 'no hostile model may crash the instance');
});

test('Chromium with WebGPU: a hostile model is refused by the CPU engine it loads first, before wonnx sees it', { timeout: 300_000, skip: process.env.BROWSER_TESTS_SKIP_WEBGPU === '1' ? 'BROWSER_TESTS_SKIP_WEBGPU=1' : false }, async () => {
  const models = await hostileModelArgs();
  const gpuContext = await launch(['--enable-unsafe-webgpu']);
  try {
    const gpuPage = await gpuContext.newPage();
    await gpuPage.goto(`${server.url}model/densenet121-random.json`);
    const out = await gpuPage.evaluate(
      async ([src, args]) => {
        const pkg = await import('/pkg/classifier.js');
        return (0, eval)(`(${src})`)(pkg, args);
      },
      [loadHostileModels.toString(), { models, engines: ['webgpu'] }],
    );
    for (const g of out.got) assert.match(g.answer, /^model_invalid: /, `${g.name} on ${g.engine}`);
    assert.equal(out.reloads, 0);
  } finally {
    await gpuContext.close();
  }
});

test("the page: a hostile model of its own origin (?model=) shows model_invalid, and its Web Worker survives", async () => {
  const dir = await mkdtemp(join(tmpdir(), 'densenet-edge-hostile-model-'));
  const [{ bytes, manifest }] = await hostileModelArgs();
  await writeFile(join(dir, 'bad.onnx'), Buffer.from(bytes, 'base64'));
  await writeFile(join(dir, 'bad.json'), JSON.stringify(manifest));
  const hostileServer = await serve({ mounts: { '/hostile/': dir } });
  try {
    await page.goto(`${hostileServer.url}?nosw&model=/hostile/bad.onnx`);
    await page.waitForFunction(() => document.body.dataset.ready, null, { timeout: 120_000 });
    assert.equal(await page.evaluate(() => document.body.dataset.ready), 'error');
    assert.equal(await page.getAttribute('#error', 'data-code'), 'model_invalid', await page.textContent('#error'));
    assert.equal(await page.evaluate(() => document.body.dataset.workerRestarts), undefined);
  } finally {
    await hostileServer.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('Chromium: limits reach the package: model limits, the per-call decode budget, dispose', async () => {
  const out = await inPage(server.url, async (pkg) => {
    const model = '/model/densenet121-random.onnx';
    const refused = [];
    for (const limits of [{ maxWeightBytes: 8 << 20 }, { maxWorkspaceBytes: 8 << 20 }]) {
      refused.push(await pkg.Classifier.create({ model, engine: 'cpu', limits }).then(() => 'loaded', (e) => `${e.code}: ${e.message}`));
    }
    const c = await pkg.Classifier.create({ model, engine: 'cpu', limits: { maxDecodePixels: 300_000 } });
    const photo = new Uint8Array(await (await fetch('/photos/chelsea.png')).arrayBuffer());
    const codes = (await c.classifyMany([photo, photo, photo])).map((r) => r.error?.code ?? 'prediction');
    c.dispose();
    c.dispose();
    const afterDispose = await c.classify(photo).then(() => 'prediction', (e) => e.code);
    return { refused, codes, afterDispose, limits: c.limits };
  });
  assert.match(out.refused[0], /^model_invalid: .*limits\.maxWeightBytes/);
  assert.match(out.refused[1], /^model_invalid: .*limits\.maxWorkspaceBytes/);
  assert.deepEqual(out.codes, ['prediction', 'prediction', 'too_much_work']);
  assert.equal(out.afterDispose, 'disposed');
  assert.equal(out.limits.maxDecodePixels, 300_000);
});

test('Chromium: a File over the limit is refused without being read into wasm', async () => {
  const out = await inPage(server.url, async (pkg) => {
    const c = await pkg.Classifier.create({ model: '/model/densenet121-random.onnx', engine: 'cpu' });
    const before = pkg.Classifier.wasmMemoryBytes();
    const big = new File([new Uint8Array(100 * 2 ** 20)], 'big.jpg');
    const codes = [];
    for (const input of [big, await big.arrayBuffer(), { data: new Uint8ClampedArray(4), width: 50000, height: 50000 }]) {
      codes.push(await c.classify(input).then(() => 'prediction', (e) => e.code));
    }
    return { codes, grown: pkg.Classifier.wasmMemoryBytes() - before };
  });
  assert.deepEqual(out.codes, ['too_many_bytes', 'too_many_bytes', 'too_many_pixels']);
  assert.equal(out.grown, 0);
});

test('Chromium: a full Cache API quota does not fail a loaded model; the next load downloads again', async () => {
  const out = await inPage(server.url, async (pkg) => {
    await caches.delete(pkg.CACHE_NAME);
    const put = Cache.prototype.put;
    Cache.prototype.put = () => Promise.reject(new DOMException('the quota has been exceeded', 'QuotaExceededError'));
    const warnings = [];
    const onProgress = (p) => p.phase === 'warning' && warnings.push(p.code);
    const model = '/model/densenet121-random.onnx';
    const first = await pkg.Classifier.create({ model, engine: 'cpu', onProgress });
    const photo = new Uint8Array(await (await fetch('/photos/chelsea.png')).arrayBuffer());
    const works = (await first.classify(photo)).predictions.length === 5;
    const second = await pkg.Classifier.create({ model, engine: 'cpu', onProgress });
    Cache.prototype.put = put;
    const third = await pkg.Classifier.create({ model, engine: 'cpu' });
    const fourth = await pkg.Classifier.create({ model, engine: 'cpu' });
    // No Cache API at all (e.g. plain http on another host): a warning, and the model works.
    Object.defineProperty(globalThis, 'caches', { value: undefined, configurable: true });
    const noCacheWarnings = [];
    const fifth = await pkg.Classifier.create({ model, engine: 'cpu', onProgress: (p) => p.phase === 'warning' && noCacheWarnings.push(p.code) });
    const fifthWorks = (await fifth.classify(photo)).predictions.length === 5;
    return { works, warnings, cached: [first, second, third, fourth, fifth].map((c) => c.load.cached), noCacheWarnings, fifthWorks };
  });
  assert.equal(out.works, true);
  // Manifest and model refused by the quota, twice.
  assert.deepEqual(out.warnings, ['cache_failed', 'cache_failed', 'cache_failed', 'cache_failed']);
  assert.deepEqual(out.cached, [false, false, false, true, false]);
  assert.deepEqual(out.noCacheWarnings, ['cache_unavailable']);
  assert.equal(out.fifthWorks, true);
});

test('Chromium main thread: a trapped instance is replaced and the model reloaded from the Cache API', async () => {
  const out = await inPage(trapServer.url, async (pkg) => {
    const phases = [];
    const c = await pkg.Classifier.create({ model: '/model/densenet121-random.onnx', engine: 'cpu', onProgress: (p) => phases.push(p.cached === undefined ? p.phase : `${p.phase}:${p.cached ? 'cache' : 'network'}`) });
    const photo = new Uint8Array(await (await fetch('/photos/chelsea.png')).arrayBuffer());
    const top5 = async () => (await c.classify(photo)).predictions.map((p) => p.classId).join();
    const expected = await top5();
    const out = { hasTestTraps: pkg.hasTestTraps(), errors: [], same: [] };
    for (const kind of ['panic', 'oom']) {
      phases.length = 0;
      await c.classify(new TextEncoder().encode(`DENSENET-EDGE-TEST-TRAP:${kind}`)).catch((e) => out.errors.push(`${e.code}: ${e.message}`));
      out.same.push((await top5()) === expected);
      out.phases = [...phases];
    }
    out.reloads = c.reloads;
    out.lastReload = c.lastReload;
    return out;
  });
  assert.equal(out.hasTestTraps, true);
  assert.equal(out.errors.length, 2);
  for (const e of out.errors) assert.match(e, /^instance_crashed: .*RuntimeError: unreachable/);
  assert.deepEqual(out.same, [true, true]);
  assert.equal(out.reloads, 2);
  assert.equal(out.lastReload.cached, true);
  assert.deepEqual(out.phases, ['reload', 'verify:cache', 'compile', 'ready']);
});

test("the page's Web Worker: an image that traps the wasm gets a clear error, the next one works", { timeout: 300_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'densenet-edge-trap-'));
  const poison = join(dir, 'poison.png');
  await writeFile(poison, 'DENSENET-EDGE-TEST-TRAP:oom');
  const onnxRequests = [];
  const onRequest = (r) => r.url().endsWith('.onnx') && onnxRequests.push(r.url());
  context.on('request', onRequest);
  try {
    await page.goto(`${trapServer.url}?nosw`);
    await page.waitForFunction(() => document.body.dataset.ready, null, { timeout: 120_000 });
    assert.equal(await page.evaluate(() => document.body.dataset.ready), 'cpu');
    const classify = async (path) => {
      await page.evaluate(() => delete document.body.dataset.state);
      await page.setInputFiles('#file', path);
      await page.waitForFunction(() => ['done', 'error'].includes(document.body.dataset.state), null, { timeout: 120_000 });
      return page.evaluate(() => document.body.dataset.state);
    };
    assert.equal(await classify(PHOTO), 'done');
    const expected = await page.$$eval('#predictions li', (lis) => lis.map((li) => li.dataset.classId));
    const requestsBefore = onnxRequests.length;

    assert.equal(await classify(poison), 'error');
    assert.equal(await page.getAttribute('#error', 'data-code'), 'instance_crashed');
    assert.match(await page.textContent('#error'), /crashed on this image and was restarted/);

    assert.equal(await classify(PHOTO), 'done');
    assert.deepEqual(await page.$$eval('#predictions li', (lis) => lis.map((li) => li.dataset.classId)), expected);
    assert.equal(await page.evaluate(() => document.body.dataset.reloads), '1');
    assert.equal(await page.evaluate(() => document.body.dataset.workerRestarts), undefined, 'the Web Worker itself survived');
    assert.equal(onnxRequests.length, requestsBefore, 'the model was reloaded from the Cache API, not downloaded');
  } finally {
    context.off('request', onRequest);
    await rm(dir, { recursive: true, force: true });
  }
});
