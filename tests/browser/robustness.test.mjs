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
  assert.deepEqual(defaultLimits(), { maxBytes: 20 * MiB, maxPixels: 40_000_000, maxDecodeBytes: 256 * MiB });
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
});

test('the published package treats the trap input as any other bytes', async () => {
  const c = await Classifier.create({ model: MODEL, manifestUrl: MANIFEST, engine: 'cpu' });
  await assert.rejects(c.classify(new TextEncoder().encode('DENSENET-EDGE-TEST-TRAP:panic')), { code: 'not_an_image' });
  // (The magic prefix itself compiles to integer compares; the panic message is a string.)
  const wasm = await readFile(ROOT + 'crates/web/pkg/densenet_edge_web_bg.wasm');
  assert.equal(wasm.includes('test-trap: a deliberate panic'), false);
  c.dispose();
});
