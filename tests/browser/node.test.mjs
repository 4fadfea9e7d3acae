// The npm package in Node (CPU engine), imported by its name so that the
// `exports` map of package.json is what resolves it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { Classifier } from 'densenet-edge';
import { schemaErrors, snakeKeys } from '../answer-schema.mjs';
import { manifestFor, realModel, sha256, updatedModel } from './models.mjs';

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

test('Node: the manifest and the model are fetched revalidated, and a stale pair is fetched again once', async () => {
  const { bytes: modelA, manifest: base } = await realModel(ROOT);
  const modelB = updatedModel(modelA);
  const manifestA = JSON.stringify(base);
  const manifestB = JSON.stringify(manifestFor(modelB, base));
  // A server (and whatever caches stand before it) as a list of answers per
  // path; the last one repeats.
  const serve = (answers) => {
    const log = [];
    const fetch = async (url, init) => {
      const path = new URL(url).pathname;
      log.push(`${path.split('/').pop()} ${init?.cache}`);
      const list = answers[path];
      const body = list.length > 1 ? list.shift() : list[0];
      return new Response(body);
    };
    return { fetch, log };
  };
  const model = 'https://models.example/m/densenet121-random.onnx';
  const create = (fetch, onProgress) => Classifier.create({ model, fetch, engine: 'cpu', onProgress });

  // Fresh: one revalidated request each.
  let s = serve({ '/m/densenet121-random.json': [manifestB], '/m/densenet121-random.onnx': [modelB] });
  let c = await create(s.fetch);
  assert.equal(c.model.sha256, sha256(modelB));
  assert.deepEqual(s.log, ['densenet121-random.json no-cache', 'densenet121-random.onnx no-cache']);
  c.dispose();

  // A stale manifest (an old copy in a cache on the way) with the new model:
  // the mismatch makes create() ask for both again past every cache.
  s = serve({ '/m/densenet121-random.json': [manifestA, manifestB], '/m/densenet121-random.onnx': [modelB] });
  const warnings = [];
  c = await create(s.fetch, (p) => p.phase === 'warning' && warnings.push(p.code));
  assert.equal(c.model.sha256, sha256(modelB));
  assert.deepEqual(warnings, ['model_stale']);
  assert.deepEqual(s.log, ['densenet121-random.json no-cache', 'densenet121-random.onnx no-cache', 'densenet121-random.json reload', 'densenet121-random.onnx reload']);
  c.dispose();

  // The new manifest with a stale model file.
  s = serve({ '/m/densenet121-random.json': [manifestB], '/m/densenet121-random.onnx': [modelA, modelB] });
  c = await create(s.fetch);
  assert.equal(c.model.sha256, sha256(modelB));
  c.dispose();

  // A pair that never matches: one retry, then model_checksum_mismatch.
  s = serve({ '/m/densenet121-random.json': [manifestA], '/m/densenet121-random.onnx': [modelB] });
  await assert.rejects(create(s.fetch), { code: 'model_checksum_mismatch' });
  assert.equal(s.log.length, 4);

  // A file larger than its manifest says is not read past that size.
  s = serve({ '/m/densenet121-random.json': [JSON.stringify({ ...base, bytes: 1000 })], '/m/densenet121-random.onnx': [modelA] });
  await assert.rejects(create(s.fetch), (e) => e.code === 'model_checksum_mismatch' && /1000/.test(e.message));
});
