// HTTP tests of the Worker on the real runtime: wrangler's unstable_startWorker
// runs worker/build/ (built beforehand by scripts/build-worker.sh) in workerd,
// with the static assets and a local R2 emulation, on 127.0.0.1.
// Run through tests/worker/run.sh, which builds first and sets the env.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import {
  argmax, assertConforms, classIndex, fetchChecked, form, image, manifest, MODEL_NAME, reference, seedModel, startWorker,
} from './helpers.mjs';

// Small limit so the size tests send little data; the largest photo
// (astronaut.png, 4 in one request) fits.
const MAX_BODY_BYTES = 2 * 1024 * 1024;
const MAX_FILES = 4;
const THRESHOLD = 0.2;
// Softmax probabilities must match onnxruntime's on the same graph.
const TOL = 1e-3;

let worker;
let base;

before(async () => {
  seedModel();
  ({ worker, base } = await startWorker({ MAX_BODY_BYTES, MAX_FILES, THRESHOLD }));
});

after(async () => {
  await worker?.dispose();
});

async function post(body, { query = '', headers } = {}) {
  return fetchChecked(`${base}/predict${query}`, { method: 'POST', body, headers });
}

async function expectError(res, status, code) {
  const text = await res.text();
  assert.equal(res.status, status, `status for ${code}: ${text}`);
  assert.match(res.headers.get('content-type') ?? '', /application\/json/, text);
  const body = JSON.parse(text);
  assert.equal(body.error?.code, code, text);
  assert.equal(typeof body.error.message, 'string');
  assert.ok(body.error.message.length > 0);
  assert.equal(res.headers.get('access-control-allow-origin'), '*');
  assertConforms('ErrorAnswer', body);
  return body;
}

/** Raw HTTP/1.1 request, for what fetch will not send (chunked, no length). */
function rawRequest({ method = 'POST', urlPath = '/predict', headers, chunks }) {
  return new Promise((resolve, reject) => {
    const u = new URL(base);
    const req = http.request(
      { host: u.hostname, port: u.port, method, path: urlPath, headers },
      (res) => {
        let data = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (data += d));
        res.on('end', () => {
          req.destroy();
          resolve({ status: res.statusCode, headers: res.headers, body: data });
        });
      },
    );
    req.on('error', reject);
    for (const c of chunks) req.write(c);
    req.end();
  });
}

describe('static page and health', () => {
  test('GET / serves the page from www/', async () => {
    const res = await fetchChecked(`${base}/`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/html/);
    const html = await res.text();
    assert.match(html, /densenet-edge/);
    assert.match(html, /\/predict/);
  });

  test('GET /health reports status, version and limits, with CORS', async () => {
    const res = await fetchChecked(`${base}/health`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('access-control-allow-origin'), '*');
    const body = await res.json();
    assert.equal(body.status, 'ok');
    assert.equal(typeof body.version, 'string');
    assert.equal(typeof body.model_loaded, 'boolean');
    assert.equal(body.limits.max_body_bytes, MAX_BODY_BYTES);
    assert.equal(body.limits.max_files, MAX_FILES);
    assert.match(body.isolate.id, /^[0-9a-f]{16}$/);
    assert.ok(Date.parse(body.isolate.started_at) <= Date.now());
    assert.equal(body.admission.inflight, 0);
    assert.equal(typeof body.memory.heap_peak_bytes, 'number');
  });
});

describe('routing, methods and CORS', () => {
  test('OPTIONS /predict is a CORS preflight', async () => {
    const res = await fetchChecked(`${base}/predict`, {
      method: 'OPTIONS',
      headers: {
        Origin: 'https://elsewhere.example',
        'Access-Control-Request-Method': 'POST',
        'Access-Control-Request-Headers': 'content-type',
      },
    });
    assert.equal(res.status, 204);
    assert.equal(res.headers.get('access-control-allow-origin'), '*');
    assert.match(res.headers.get('access-control-allow-methods') ?? '', /POST/);
    assert.match(res.headers.get('access-control-allow-headers') ?? '', /content-type/i);
  });

  test('GET /predict is 405 with Allow', async () => {
    const res = await fetchChecked(`${base}/predict`);
    await expectError(res, 405, 'method_not_allowed');
    assert.equal(res.headers.get('allow'), 'POST, OPTIONS');
  });

  test('POST /health is 405 with Allow', async () => {
    const res = await fetchChecked(`${base}/health`, { method: 'POST', body: 'x' });
    await expectError(res, 405, 'method_not_allowed');
    assert.match(res.headers.get('allow') ?? '', /GET/);
  });

  test('unknown route is a JSON 404', async () => {
    await expectError(await fetchChecked(`${base}/no/such/route`), 404, 'not_found');
  });

  test('the model file for the page comes from R2, whole and unaltered, with its sha256 as ETag', async () => {
    const res = await fetchChecked(`${base}/model/${manifest.file}`);
    assert.equal(res.status, 200);
    const etag = `"${manifest.sha256}"`;
    assert.equal(res.headers.get('etag'), etag);
    // Revalidated on every use, so a model updated in R2 is seen at once.
    assert.match(res.headers.get('cache-control') ?? '', /no-cache/);
    const bytes = Buffer.from(await res.arrayBuffer());
    assert.equal(bytes.length, manifest.bytes);
    const { createHash } = await import('node:crypto');
    assert.equal(createHash('sha256').update(bytes).digest('hex'), manifest.sha256);

    const head = await fetchChecked(`${base}/model/${manifest.file}`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('etag'), etag);
    assert.equal(Number(head.headers.get('content-length')), manifest.bytes);
    assert.equal((await head.arrayBuffer()).byteLength, 0);

    const cached = await fetchChecked(`${base}/model/${manifest.file}`, { headers: { 'If-None-Match': etag } });
    assert.equal(cached.status, 304);
    assert.equal(cached.headers.get('etag'), etag);
    assert.equal((await cached.arrayBuffer()).byteLength, 0);
    const stale = await fetchChecked(`${base}/model/${manifest.file}`, { method: 'HEAD', headers: { 'If-None-Match': '"0000"' } });
    assert.equal(stale.status, 200);
  });

  test('the manifest comes from R2 too (never a stale static copy), revalidated on every use', async () => {
    const res = await fetch(`${base}/model/${manifest.name}.json`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /application\/json/);
    assert.match(res.headers.get('cache-control') ?? '', /no-cache/);
    const served = await res.json();
    for (const k of ['name', 'file', 'sha256', 'bytes', 'weights']) assert.deepEqual(served[k], manifest[k], k);
  });

  test('/model serves no other key of the bucket', async () => {
    for (const key of ['nothing.onnx', 'other-model.json', `..%2F${manifest.file}`, `${manifest.file}.bak`]) {
      await expectError(await fetchChecked(`${base}/model/${key}`), 404, 'not_found');
    }
  });
});

describe('POST /predict: request errors', () => {
  test('not multipart', async () => {
    const res = await post(JSON.stringify({ file: 'x' }), {
      headers: { 'Content-Type': 'application/json' },
    });
    await expectError(res, 400, 'not_multipart');
  });

  test('no body at all', async () => {
    await expectError(await post(undefined), 400, 'not_multipart');
    // Declared multipart, but nothing sent.
    const headers = { 'Content-Type': 'multipart/form-data; boundary=abc' };
    await expectError(await post(undefined, { headers }), 400, 'not_multipart');
  });

  test('multipart without a "file" field', async () => {
    const fd = form([['image', await image('variants/baseline.jpg'), 'cat.jpg', 'image/jpeg']]);
    await expectError(await post(fd), 400, 'missing_file');
  });

  test('"file" sent as a text field, not an upload', async () => {
    const fd = new FormData();
    fd.append('file', 'just some text');
    await expectError(await post(fd), 400, 'missing_file');
  });

  test('malformed multipart body', async () => {
    const res = await post('--nope\r\ngarbage', {
      headers: { 'Content-Type': 'multipart/form-data; boundary=abc' },
    });
    await expectError(res, 400, 'bad_multipart');
  });

  test('empty file', async () => {
    const fd = form([['file', await image('bad/empty.bin'), 'empty.jpg', 'image/jpeg']]);
    await expectError(await post(fd), 400, 'empty_input');
  });

  test('top_k out of range', async () => {
    const fd = form([['file', await image('variants/baseline.jpg'), 'a.jpg', 'image/jpeg']]);
    await expectError(await post(fd, { query: '?top_k=0' }), 400, 'bad_top_k');
    const fd2 = form([['file', await image('variants/baseline.jpg'), 'a.jpg', 'image/jpeg']]);
    await expectError(await post(fd2, { query: '?top_k=1001' }), 400, 'bad_top_k');
  });

  test('too many files', async () => {
    const bytes = await image('variants/baseline.jpg');
    const fd = form(Array.from({ length: MAX_FILES + 1 }, (_, i) => ['file', bytes, `${i}.jpg`]));
    await expectError(await post(fd), 413, 'too_many_files');
  });

  test('body over the limit, refused on its Content-Length', async () => {
    // The local runtime buffers the whole body before the Worker runs, so
    // "refused before reading" shows only in which check answered.
    const fd = form([['file', Buffer.alloc(MAX_BODY_BYTES + 1, 1), 'big.jpg', 'image/jpeg']]);
    const body = await expectError(await post(fd), 413, 'body_too_large');
    assert.match(body.error.message, /Content-Length/);
  });

});

/** Checks one answer (top level or a batch item) against onnxruntime's. */
function checkPrediction(body, name, { topK = 5 } = {}) {
  const probs = reference(name);
  const best = argmax(probs);
  const [wnid, short] = classIndex[String(best)];
  // The tutorial's contract, at the top level.
  assert.equal(body.class_id, wnid, `${name}: class_id`);
  assert.equal(body.class_name, short, `${name}: class_name`);
  assert.equal(body.class_index, best);
  assert.ok(Math.abs(body.probability - probs[best]) < TOL, `${name}: p ${body.probability} vs ${probs[best]}`);
  assert.equal(body.recognized, body.probability >= THRESHOLD);
  assert.equal(body.predictions.length, topK);
  assert.deepEqual(body.predictions[0], {
    class_id: wnid, class_name: short, class_index: best, probability: body.probability,
  });
  let last = Infinity;
  for (const p of body.predictions) {
    assert.deepEqual(classIndex[String(p.class_index)], [p.class_id, p.class_name]);
    assert.ok(Math.abs(p.probability - probs[p.class_index]) < TOL, `${name}: class ${p.class_index}`);
    assert.ok(p.probability <= last);
    last = p.probability;
  }
}

function checkEnvelope(body) {
  assert.equal(body.engine, 'cpu');
  assert.deepEqual(body.model, {
    name: MODEL_NAME, weights: 'random', pretrained: false, sha256: manifest.sha256, bytes: manifest.bytes, precision: 'f32',
  });
  for (const k of ['read', 'model_load', 'queue', 'prepare', 'classify', 'engine', 'total']) {
    assert.equal(typeof body.timings_ms[k], 'number', `timings_ms.${k}`);
  }
  assertConforms(body.results ? 'PredictManyAnswer' : 'PredictAnswer', body);
}

describe('the model: loaded once per isolate', () => {
  test('before any prediction, /health says not loaded', async () => {
    const body = await (await fetchChecked(`${base}/health`)).json();
    assert.equal(body.model_loaded, false);
    assert.equal(body.model, null);
    assert.equal(body.load_attempts, 0);
  });

  test('concurrent first requests share one load', async () => {
    const bytes = await image('photos/chelsea.png');
    const answers = await Promise.all(
      [0, 1, 2].map(() => post(form([['file', bytes, 'chelsea.png', 'image/png']]))),
    );
    for (const res of answers) {
      const text = await res.text();
      assert.equal(res.status, 200, text);
      checkPrediction(JSON.parse(text), 'chelsea');
    }
    const health = await (await fetchChecked(`${base}/health`)).json();
    assert.equal(health.model_loaded, true);
    assert.equal(health.load_attempts, 1);
  });

  test('/health reports the model, engine and memory', async () => {
    const res = await fetchChecked(`${base}/health`);
    assert.equal(res.status, 200);
    const body = await res.json();
    assert.equal(body.engine, 'cpu');
    // The kernel set that runs: the Worker is built with simd128 and relaxed SIMD (worker/.cargo/config.toml).
    assert.equal(body.device, 'densenet-edge wasm simd128+relaxed');
    assert.deepEqual(body.model, {
      name: MODEL_NAME, weights: 'random', pretrained: false, sha256: manifest.sha256, bytes: manifest.bytes, precision: 'f32',
    });
    assert.equal(body.model_error, null);
    for (const k of ['fetch_ms', 'stream_ms', 'pack_ms', 'finish_ms', 'total_ms']) assert.equal(typeof body.load[k], 'number');
    const mib = (b) => b / 2 ** 20;
    const m = body.memory;
    console.log(`wasm memory: after load ${mib(m.wasm_bytes_after_load)} MiB, after the last batch`
      + ` (${m.last_batch_size} images) ${mib(m.wasm_bytes_after_last_batch)} MiB; load ${JSON.stringify(body.load)}`);
    assert.ok(m.wasm_bytes_after_load > manifest.bytes);
    assert.ok(m.wasm_bytes_after_last_batch >= m.wasm_bytes_after_load);
    // The isolate's limit is 128 MB, JS heap included.
    assert.ok(m.wasm_bytes < 128 * 2 ** 20, `wasm memory ${m.wasm_bytes}`);
    assert.ok(body.batches.runs >= 1);
  });
});

describe('POST /predict: valid requests', () => {
  test("the tutorial's exact request (Python requests, files={'file': ...})", async () => {
    // What requests 2.x sends for requests.post(url, files={"file": open("chelsea.png", "rb")}):
    // one part, no Content-Type of its own, a 32-hex-digit boundary.
    const bytes = await image('photos/chelsea.png');
    const boundary = '3c5a1d0a1b6e4f7c9d2e8f1a0b3c4d5e';
    const body = Buffer.concat([
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="chelsea.png"\r\n\r\n`),
      bytes,
      Buffer.from(`\r\n--${boundary}--\r\n`),
    ]);
    const res = await fetchChecked(`${base}/predict`, {
      method: 'POST',
      body,
      headers: {
        'User-Agent': 'python-requests/2.32.3',
        'Accept-Encoding': 'gzip, deflate',
        Accept: '*/*',
        'Content-Type': `multipart/form-data; boundary=${boundary}`,
      },
    });
    const text = await res.text();
    assert.equal(res.status, 200, text);
    assert.match(res.headers.get('content-type') ?? '', /application\/json/);
    assert.equal(res.headers.get('access-control-allow-origin'), '*');
    const json = JSON.parse(text);
    // The tutorial's client reads exactly these two.
    assert.equal(typeof json.class_id, 'string');
    assert.equal(typeof json.class_name, 'string');
    checkPrediction(json, 'chelsea');
    checkEnvelope(json);
    assert.equal(json.recognized, false, 'chelsea is under the threshold on the random model');
  });

  for (const [name, file, type] of [
    ['coffee', 'photos/coffee.png', 'image/png'],
    ['astronaut', 'photos/astronaut.png', 'image/png'],
    ['rocket', 'photos/rocket.jpg', 'image/jpeg'],
  ]) {
    test(`${name}: top-5 matches onnxruntime within ${TOL}`, async () => {
      const res = await post(form([['file', await image(file), file, type]]));
      const text = await res.text();
      assert.equal(res.status, 200, text);
      const body = JSON.parse(text);
      checkPrediction(body, name);
      checkEnvelope(body);
    });
  }

  test('a file name or type that lies does not matter (content is sniffed)', async () => {
    const res = await post(form([['file', await image('photos/rocket.jpg'), 'rocket.png', 'image/png']]));
    checkPrediction(await res.json(), 'rocket');
  });

  test('top_k=1 and top_k=1000', async () => {
    const bytes = await image('photos/coffee.png');
    const one = await (await post(form([['file', bytes, 'c.png']]), { query: '?top_k=1' })).json();
    checkPrediction(one, 'coffee', { topK: 1 });
    const all = await (await post(form([['file', bytes, 'c.png']]), { query: '?top_k=1000' })).json();
    checkPrediction(all, 'coffee', { topK: 1000 });
    assert.equal(new Set(all.predictions.map((p) => p.class_index)).size, 1000);
    const sum = all.predictions.reduce((a, p) => a + p.probability, 0);
    assert.ok(Math.abs(sum - 1) < 1e-3, `sum ${sum}`);
  });

  test('several files, one bad: answers in order, the bad one its own error', async () => {
    const fd = form([
      ['file', await image('photos/astronaut.png'), 'astronaut.png', 'image/png'],
      ['file', await image('bad/not_image.txt'), 'notes.txt', 'text/plain'],
      ['file', await image('photos/rocket.jpg'), 'rocket.jpg', 'image/jpeg'],
      ['file', await image('bad/truncated.jpg'), 'cut.jpg', 'image/jpeg'],
    ]);
    const res = await post(fd);
    const text = await res.text();
    assert.equal(res.status, 200, text);
    const body = JSON.parse(text);
    checkEnvelope(body);
    assert.equal(body.results.length, 4);
    assert.deepEqual(body.results.map((r) => r.filename), ['astronaut.png', 'notes.txt', 'rocket.jpg', 'cut.jpg']);
    checkPrediction(body.results[0], 'astronaut');
    assert.equal(body.results[1].error.code, 'not_an_image');
    checkPrediction(body.results[2], 'rocket');
    assert.equal(body.results[3].error.code, 'corrupt_image');
    // MAX_BATCH 1 (wrangler.toml): each good image its own engine run.
    assert.deepEqual(body.batch_sizes, [1, 0, 1, 0]);
  });

  test('several files, one empty: that item is empty_input, not the request', async () => {
    const fd = form([
      ['file', await image('bad/empty.bin'), 'empty.jpg', 'image/jpeg'],
      ['file', await image('photos/coffee.png'), 'coffee.png', 'image/png'],
    ]);
    const body = await (await post(fd)).json();
    assert.equal(body.results[0].error.code, 'empty_input');
    checkPrediction(body.results[1], 'coffee');
  });

  test('the same image alone and in a batch gives the same answer', async () => {
    const bytes = await image('photos/rocket.jpg');
    const alone = await (await post(form([['file', bytes, 'r.jpg']]))).json();
    const batch = await (await post(form([['file', bytes, 'a.jpg'], ['file', bytes, 'b.jpg']]))).json();
    for (const r of batch.results) {
      for (const [i, p] of r.predictions.entries()) {
        assert.equal(p.class_index, alone.predictions[i].class_index);
        assert.ok(Math.abs(p.probability - alone.predictions[i].probability) < 1e-5);
      }
    }
  });

  test('every decodable variant answers 200 (formats, colour types, EXIF)', async () => {
    const variants = [
      'animated.gif', 'baseline.jpg', 'cmyk.jpg', 'exif_rotate6.jpg', 'grey.jpg', 'grey16.png',
      'grey8.png', 'grey_alpha.png', 'image.bmp', 'interlaced.png', 'lossless.webp', 'lossy.webp',
      'palette.png', 'palette_trns.png', 'progressive.jpg', 'rgb16.png', 'rgba.png', 'tiny.png', 'wide.png',
    ];
    for (let i = 0; i < variants.length; i += MAX_FILES) {
      const group = variants.slice(i, i + MAX_FILES);
      const fd = form(await Promise.all(group.map(async (v) => ['file', await image(`variants/${v}`), v])));
      const body = await (await post(fd)).json();
      for (const [j, r] of (body.results ?? [body]).entries()) {
        assert.equal(r.error, undefined, `${group[j]}: ${JSON.stringify(r.error)}`);
        assert.equal(r.predictions.length, 5);
      }
    }
  });
});

describe('POST /predict: image errors (single file)', () => {
  for (const [file, status, code] of [
    ['bad/not_image.txt', 415, 'not_an_image'],
    ['bad/unsupported.tiff', 415, 'unsupported_format'],
    ['bad/corrupt.jpg', 422, 'corrupt_image'],
    ['bad/truncated.jpg', 422, 'corrupt_image'],
    ['bad/truncated.png', 422, 'corrupt_image'],
    ['bad/bomb.png', 422, 'too_many_pixels'],
  ]) {
    test(`${file}: ${status} ${code}`, async () => {
      const body = await expectError(await post(form([['file', await image(file), file.split('/')[1]]])), status, code);
      assert.match(body.error.message, new RegExp(file.split('/')[1].replace('.', '\\.')));
    });
  }
});

// Last on purpose: the Worker answers 413 without draining the body, and the
// local dev proxy in front of workerd then reports the next POST on its pooled
// connection as "Your worker restarted mid-request" (a wrangler dev artifact).
describe('POST /predict: body cut short', () => {
  test('body over the limit without Content-Length (chunked)', async () => {
    const chunk = Buffer.alloc(64 * 1024, 66);
    const res = await rawRequest({
      headers: {
        'Content-Type': 'multipart/form-data; boundary=x',
        'Transfer-Encoding': 'chunked',
      },
      chunks: Array.from({ length: MAX_BODY_BYTES / chunk.length + 2 }, () => chunk),
    });
    assert.equal(res.status, 413);
    const body = JSON.parse(res.body);
    assertConforms('ErrorAnswer', body);
    assert.equal(body.error.code, 'body_too_large');
    assert.match(body.error.message, /request body/);
  });
});
