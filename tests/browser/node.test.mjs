// The npm package in Node (CPU engine), imported by its name so that the
// `exports` map of package.json is what resolves it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { Classifier } from 'densenet-edge';
import { schemaErrors, snakeKeys } from '../answer-schema.mjs';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const read = (p) => readFile(ROOT + p);

test('Node: classifies a photo from a model path, on the CPU', async () => {
  const phases = new Set();
  const c = await Classifier.create({
    model: ROOT + 'model/build/densenet121-random.onnx',
    manifestUrl: ROOT + 'model/manifests/densenet121-random.json',
    engine: 'auto',
    onProgress: (p) => phases.add(p.phase),
  });
  assert.equal(c.engine, 'cpu');
  assert.match(c.engineReason, /no WebGPU/);
  assert.equal(c.model.weights, 'random');
  assert.deepEqual([...phases], ['download', 'verify', 'compile', 'ready']);
  const r = await c.classify(await read('tests/images/photos/rocket.jpg'), { topK: 3 });
  assert.equal(r.predictions.length, 3);
  assert.match(r.predictions[0].classId, /^n\d{8}$/);
  assert.equal(typeof r.recognized, 'boolean');
  assert.equal(r.engine, 'cpu');
  // V8 ships relaxed SIMD from 11.4 (Node 22; Node 20 has 11.3): the package loads the build this runtime runs.
  const [major, minor] = process.versions.v8.split('.').map(Number);
  const relaxed = major > 11 || (major === 11 && minor >= 4);
  assert.equal(r.device, relaxed ? 'densenet-edge wasm simd128+relaxed' : 'densenet-edge wasm simd128');
  // The shared crate's answer types, camelCased: the documented contract.
  assert.deepEqual(schemaErrors('PackageClassification', snakeKeys(r)), []);
  assert.deepEqual(schemaErrors('ModelInfo', snakeKeys(c.model)), []);
  assert.equal(r.classId, r.predictions[0].classId);

  // classifyMany: one answer per input, errors in place.
  const many = await c.classifyMany([await read('tests/images/photos/chelsea.png'), new Blob([await read('tests/images/bad/not_image.txt')]), 42]);
  assert.equal(many[0].predictions.length, 5);
  assert.equal(many[1].error.code, 'not_an_image');
  assert.deepEqual(schemaErrors('ErrorAnswer', many[1]), []);
  assert.equal(many[2].error.code, 'invalid_argument');

  await assert.rejects(c.classify(await read('tests/images/bad/truncated.png')), (e) => e instanceof Error && e.code === 'corrupt_image');
  c.dispose();
});

test('Node: model bytes need a manifest, and must match its sha256', async () => {
  const bytes = await read('model/build/densenet121-random.onnx');
  await assert.rejects(Classifier.create({ model: bytes }), { code: 'invalid_argument' });
  const manifest = JSON.parse(await read('model/manifests/densenet121-random.json'));
  await assert.rejects(Classifier.create({ model: bytes.subarray(1), manifest }), { code: 'model_checksum_mismatch' });
  await assert.rejects(Classifier.create({ model: '/nonexistent/x.onnx' }), { code: 'model_unavailable' });
});

test('Node: without WebCrypto the wasm hashes the model itself, and still checks it', async () => {
  const bytes = await read('model/build/densenet121-random.onnx');
  const manifest = JSON.parse(await read('model/manifests/densenet121-random.json'));
  const webCrypto = Object.getOwnPropertyDescriptor(globalThis, 'crypto');
  Object.defineProperty(globalThis, 'crypto', { value: undefined, configurable: true });
  try {
    await assert.rejects(Classifier.create({ model: bytes.subarray(1), manifest }), { code: 'model_checksum_mismatch' });
    const c = await Classifier.create({ model: bytes, manifest });
    assert.equal((await c.classify(await read('tests/images/photos/chelsea.png'))).predictions.length, 5);
    c.dispose();
  } finally {
    Object.defineProperty(globalThis, 'crypto', webCrypto);
  }
});
