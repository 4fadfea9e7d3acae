// The npm package in Node against hostile input: sizes refused before a
// byte enters wasm memory, a wasm instance that traps is replaced, and
// every hostile file gets its documented answer with the instance still
// working afterwards. The trap tests use the package built with the Cargo
// feature `test-trap` (scripts/build-web.sh --test-trap, run by run.sh).
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Classifier, defaultLimits, hasTestTraps } from 'densenet-edge';
import { png } from './png.mjs';
import { hostileCases, TRAP_PKG } from './hostile.mjs';
import { hostileModels, manifestFor, realModel } from './models.mjs';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MODEL = ROOT + 'model/build/densenet121-random.onnx';
const MANIFEST = ROOT + 'model/manifests/densenet121-random.json';
const MiB = 1 << 20;

let photo;
let expectedTop5;
before(async () => {
  photo = await readFile(ROOT + 'tests/images/photos/chelsea.png');
});

async function top5(c) {
  return (await c.classify(photo)).predictions.map((p) => p.classId);
}

test('the default limits are the documented ones', async () => {
  const c = await Classifier.create({ model: MODEL, manifestUrl: MANIFEST, engine: 'cpu' });
  const { maxJpegScans, ...rest } = defaultLimits();
  assert.deepEqual(rest, {
    maxBytes: 20 * MiB, maxPixels: 40_000_000, maxDecodeBytes: 256 * MiB,
    maxDecodePixels: 128_000_000, maxWeightBytes: 128 * MiB, maxWorkspaceBytes: 64 * MiB,
  });
  // The shared crate's default, as the Worker's MAX_JPEG_SCANS.
  assert.equal(maxJpegScans, 500);
  assert.deepEqual(c.limits, defaultLimits());
  assert.equal(hasTestTraps(), false, 'the published package has no test traps');
  expectedTop5 = await top5(c);
  c.dispose();
});

test('oversized inputs are refused before they are read or copied into wasm', async () => {
  const c = await Classifier.create({ model: MODEL, manifestUrl: MANIFEST, engine: 'cpu', limits: { maxDecodeBytes: 1 * MiB } });
  assert.equal(c.limits.maxDecodeBytes, 1 * MiB);
  const before = Classifier.wasmMemoryBytes();
  // A Blob over the limit must not even be read.
  class UnreadableBlob extends Blob {
    arrayBuffer() {
      throw new Error('the blob was read');
    }
  }
  const results = await c.classifyMany([
    new UnreadableBlob([new Uint8Array(21 * MiB)]),
    new ArrayBuffer(64 * MiB),
    new Uint8Array(256 * MiB).subarray(1),
    { data: new Uint8ClampedArray(16), width: 100_000, height: 100_000 },
    // ImageData stays in JS memory; the shared crate refuses it on its
    // dimensions. 2000 x 2000: its crop-resize needs ~1.5 MB, over 1 MiB.
    { data: new Uint8ClampedArray(16), width: 2000, height: 2000 },
    { data: new Uint8ClampedArray(16), width: 2.5, height: 2 },
    { data: new Uint8ClampedArray(16), width: 10, height: 10 },
  ]);
  assert.deepEqual(results.map((r) => r.error?.code), [
    'too_many_bytes', 'too_many_bytes', 'too_many_bytes', 'too_many_pixels', 'image_too_large', 'invalid_argument', 'invalid_argument',
  ]);
  assert.match(results[0].error.message, /22020096 bytes, more than the limit of 20971520/);
  assert.equal(Classifier.wasmMemoryBytes(), before, 'wasm memory did not grow');
  // Bad limits are refused when the model loads.
  await assert.rejects(Classifier.create({ model: MODEL, manifestUrl: MANIFEST, engine: 'cpu', limits: { maxBytes: -1 } }), { code: 'invalid_argument' });
  c.dispose();
});

test('a model over maxWeightBytes or maxWorkspaceBytes is refused while it loads, naming the limit', async () => {
  for (const [limit, value] of [['maxWeightBytes', 8 * MiB], ['maxWorkspaceBytes', 8 * MiB]]) {
    await assert.rejects(Classifier.create({ model: MODEL, manifestUrl: MANIFEST, engine: 'cpu', limits: { [limit]: value } }), (e) => {
      assert.equal(e.code, 'model_invalid');
      assert.match(e.message, new RegExp(`limits\\.${limit}`));
      assert.match(e.message, /8388608 bytes/);
      return true;
    });
  }
  // What DenseNet-121 needs, from the refusals: both well under the defaults.
  const need = async (limits) =>
    Classifier.create({ model: MODEL, manifestUrl: MANIFEST, engine: 'cpu', limits }).then(
      (c) => (c.dispose(), 'loaded'),
      (e) => e.message,
    );
  console.log('workspace at the batch of 8:', await need({ maxWorkspaceBytes: 1 }));
  // Just enough of each loads.
  const c = await Classifier.create({ model: MODEL, manifestUrl: MANIFEST, engine: 'cpu', limits: { maxWeightBytes: 60 * MiB, maxWorkspaceBytes: 24 * MiB } });
  assert.equal(c.limits.maxWeightBytes, 60 * MiB);
  assert.equal(c.limits.maxWorkspaceBytes, 24 * MiB);
  assert.deepEqual(await top5(c), expectedTop5);
  c.dispose();
  await assert.rejects(Classifier.create({ model: MODEL, manifestUrl: MANIFEST, engine: 'cpu', limits: { maxWeightBytes: 0 } }), { code: 'invalid_argument' });
  await assert.rejects(Classifier.create({ model: MODEL, manifestUrl: MANIFEST, engine: 'cpu', limits: { maxWeights: 1 } }), { code: 'invalid_argument' });
});

test('one call decodes at most maxDecodePixels: the images past it get too_much_work, each in its place', async () => {
  // chelsea.png is 451 x 300 = 135 300 pixels: two fit in 300 000, a third does not.
  const c = await Classifier.create({ model: MODEL, manifestUrl: MANIFEST, engine: 'cpu', limits: { maxDecodePixels: 300_000 } });
  const results = await c.classifyMany([photo, photo, new Uint8Array(0), photo, photo]);
  assert.deepEqual(results.map((r) => r.error?.code ?? 'prediction'), ['prediction', 'prediction', 'empty_input', 'too_much_work', 'too_much_work']);
  assert.match(results[3].error.message, /300000/);
  // The budget is per call: the next one starts afresh.
  assert.deepEqual(await top5(c), expectedTop5);
  // ImageData costs its width x height: 135 300 + 90 000 fit, 90 000 more do not.
  const pixels = { data: new Uint8ClampedArray(300 * 300 * 4), width: 300, height: 300 };
  const mixed = await c.classifyMany([photo, pixels, pixels]);
  assert.deepEqual(mixed.map((r) => r.error?.code ?? 'prediction'), ['prediction', 'prediction', 'too_much_work']);
  c.dispose();
  const one = await Classifier.create({ model: MODEL, manifestUrl: MANIFEST, engine: 'cpu', limits: { maxDecodePixels: 100_000 } });
  await assert.rejects(one.classify(photo), { code: 'too_much_work' });
  one.dispose();
});

test('a JPEG with more scans than maxJpegScans is too_much_work', async () => {
  const progressive = await readFile(ROOT + 'tests/images/hostile/progressive444_9_7mp.jpg');
  const c = await Classifier.create({ model: MODEL, manifestUrl: MANIFEST, engine: 'cpu', limits: { maxJpegScans: 2 } });
  const [tooMany, fine] = await c.classifyMany([progressive, photo]);
  assert.equal(tooMany.error?.code, 'too_much_work', JSON.stringify(tooMany.error));
  assert.equal(fine.predictions.length, 5);
  c.dispose();
});

test('hostile models whose manifest matches them are model_invalid, and never crash the instance', async () => {
  const { bytes: real, manifest } = await realModel(ROOT);
  const c = await Classifier.create({ model: MODEL, manifestUrl: MANIFEST, engine: 'cpu' });
  for (const { name, bytes } of hostileModels(real)) {
    for (const engine of ['cpu', 'auto']) {
      const got = await Classifier.create({ model: bytes, manifest: manifestFor(bytes, manifest, name), engine }).then(
        (m) => (m.dispose(), 'loaded'),
        (e) => `${e.code}: ${e.message}`,
      );
      assert.match(got, /^model_invalid: /, `${name} on ${engine}: ${got}`);
    }
    // The instance did not trap: a classifier made before still answers without a reload.
    assert.deepEqual(await top5(c), expectedTop5);
    assert.equal(c.reloads, 0, `${name} replaced the wasm instance`);
  }
  c.dispose();
});

test('dispose() is idempotent, and a disposed classifier rejects with code disposed', async () => {
  const c = await Classifier.create({ model: MODEL, manifestUrl: MANIFEST, engine: 'cpu' });
  c.dispose();
  c.dispose();
  await assert.rejects(c.classify(photo), (e) => e instanceof Error && e.code === 'disposed' && /disposed/.test(e.message));
  await assert.rejects(c.classifyMany([photo, photo]), { code: 'disposed' });
  // Other classifiers are unaffected.
  const d = await Classifier.create({ model: MODEL, manifestUrl: MANIFEST, engine: 'cpu' });
  assert.deepEqual(await top5(d), expectedTop5);
  d.dispose();
});

test('hostile inputs get their documented answer, and the instance keeps working', async () => {
  const c = await Classifier.create({ model: MODEL, manifestUrl: MANIFEST, engine: 'cpu' });
  const cases = await hostileCases(ROOT);
  assert.ok(cases.length > 0);
  await top5(c);
  // Wasm memory never shrinks: after any input it stays within the loaded
  // model's plus one image's decode budget (and a little for the allocator).
  const ceiling = Classifier.wasmMemoryBytes() + c.limits.maxDecodeBytes + 16 * MiB;
  const answers = [];
  for (const { name, bytes, expected } of cases) {
    let got;
    try {
      const r = await c.classify(bytes);
      got = r.predictions.length === 5 ? 'prediction' : 'bad prediction';
    } catch (e) {
      got = e.code || `uncoded ${e.message}`;
    }
    answers.push({ name, got, memoryMiB: Math.round(Classifier.wasmMemoryBytes() / MiB) });
    assert.ok(expected.includes(got), `${name}: expected ${expected.join(' or ')}, got ${got}`);
    assert.deepEqual(await top5(c), expectedTop5, `${name}: the classifier must still work`);
    assert.ok(Classifier.wasmMemoryBytes() <= ceiling, `${name}: wasm memory ${Classifier.wasmMemoryBytes()} over ${ceiling}`);
  }
  console.log(JSON.stringify(answers));
  assert.equal(c.reloads, 0, 'no hostile input may crash the instance');
  c.dispose();
});

test('a trapped instance is replaced: the failed call gets instance_crashed, the next one works', async () => {
  const trap = await import(pathToFileURL(`${TRAP_PKG}/node.js`).href).catch((e) => {
    throw new Error(`no test-trap package (${e.message}): scripts/build-web.sh --test-trap builds it`);
  });
  const phases = [];
  const c = await trap.Classifier.create({ model: MODEL, manifestUrl: MANIFEST, engine: 'cpu', onProgress: (p) => phases.push(p.phase) });
  assert.equal(trap.hasTestTraps(), true);
  const expected = await top5(c);
  const loaded = trap.Classifier.wasmMemoryBytes();

  for (const kind of ['panic', 'oom']) {
    phases.length = 0;
    const poison = new TextEncoder().encode(`DENSENET-EDGE-TEST-TRAP:${kind}`);
    await assert.rejects(c.classify(poison), (e) => {
      assert.equal(e.code, 'instance_crashed');
      assert.match(e.message, /RuntimeError: unreachable/);
      return true;
    });
    // The next call loads the model into a fresh instance and answers as before.
    assert.deepEqual(await top5(c), expected);
    assert.deepEqual(phases, ['reload', 'download', 'verify', 'compile', 'ready']);
    // A fresh instance: its memory is back near a loaded model's, not the 4 GiB the oom trap reached.
    assert.ok(trap.Classifier.wasmMemoryBytes() < loaded + 64 * MiB, `${trap.Classifier.wasmMemoryBytes()} bytes after ${kind}`);
  }
  assert.equal(c.reloads, 2);
  // Other inputs in a call that traps fail with it; later calls are fine.
  const many = await c.classifyMany([photo, new Uint8Array(0)]);
  assert.equal(many[0].predictions.length, 5);
  assert.equal(many[1].error.code, 'empty_input');
  c.dispose();

  // A classifier whose instance trapped, disposed before its reload: twice is fine, no reload follows.
  const d = await trap.Classifier.create({ model: MODEL, manifestUrl: MANIFEST, engine: 'cpu' });
  await assert.rejects(d.classify(new TextEncoder().encode('DENSENET-EDGE-TEST-TRAP:panic')), { code: 'instance_crashed' });
  d.dispose();
  d.dispose();
  await assert.rejects(d.classify(photo), { code: 'disposed' });
  assert.equal(d.reloads, 0);
});

test('the published package treats the trap input as any other bytes', async () => {
  const c = await Classifier.create({ model: MODEL, manifestUrl: MANIFEST, engine: 'cpu' });
  await assert.rejects(c.classify(new TextEncoder().encode('DENSENET-EDGE-TEST-TRAP:panic')), { code: 'not_an_image' });
  // (The magic prefix itself compiles to integer compares; the panic message is a string.)
  const wasm = await readFile(ROOT + 'crates/web/pkg/densenet_edge_web_bg.wasm');
  assert.equal(wasm.includes('test-trap: a deliberate panic'), false);
  c.dispose();
});
