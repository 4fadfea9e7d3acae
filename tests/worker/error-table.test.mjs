// The error tables of README.md ("The edge API") and worker/README.md
// ("Errors") list the same rows, and every row is produced here, against
// workerd, with its status and code.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  assertConforms, fetchChecked, form, health, image, manifest, markdownRows, rawMultipart, root, seedModel, startWorker,
  stalledUpload, startWorkerDirect, workerDir, wranglerBin,
} from './helpers.mjs';
import { emptyScansJpeg } from './hostile-jpeg.mjs';

/** [[status, code]] of the first table with a `code` column after `heading`. */
function errorTable(file, heading) {
  const text = readFileSync(path.join(root, file), 'utf8');
  const section = text.slice(text.indexOf(heading));
  const rows = [];
  for (const cells of markdownRows(section.slice(0, section.indexOf('\n\n', section.indexOf('| status')))) ) {
    if (!/^\d{3}$/.test(cells[0])) continue;
    for (const code of cells[1].matchAll(/`([a-z_]+)`/g)) rows.push([Number(cells[0]), code[1]]);
  }
  return rows;
}

const main = errorTable('README.md', '## The edge API');
const worker = errorTable('worker/README.md', '### Errors');

// A failure of the engine or the runtime, with no request that causes it
// (that would be a bug to fix): listed, not produced.
const NOT_PRODUCIBLE = new Set(['inference_failed', 'internal']);

test('README.md and worker/README.md list the same errors', () => {
  assert.ok(worker.length >= 15, `worker/README.md table: ${JSON.stringify(worker)}`);
  assert.deepEqual([...main].sort(), [...worker].sort());
  for (const code of NOT_PRODUCIBLE) assert.ok(worker.some(([s, c]) => s === 500 && c === code), code);
});

const MAX_FILES = 2;
const MAX_BODY_BYTES = 1 << 20;
const produced = new Map();
const post = (base, body, { query = '', headers } = {}) => fetchChecked(`${base}/predict${query}`, { method: 'POST', body, headers });
const file = async (rel) => form([['file', await image(rel), path.basename(rel)]]);

async function record(res) {
  const text = await res.text();
  assert.match(res.headers.get('content-type') ?? '', /application\/json/, text.slice(0, 200));
  const body = JSON.parse(text);
  assertConforms('ErrorAnswer', body);
  produced.set(body.error.code, res.status);
  return body.error.code;
}

describe('every row, produced', () => {
  const workers = [];
  after(async () => Promise.all(workers.map((w) => w.dispose())));

  test('request and image errors, and overload', async () => {
    seedModel();
    const { worker: w, base } = await startWorker({ MAX_FILES, MAX_BODY_BYTES, MAX_INFLIGHT: 1 });
    workers.push(w);
    // overloaded: one request holds the only place while the model loads.
    // (No /health poll: on this shared machine each answer can take seconds,
    // longer than the load itself.)
    const first = post(base, await file('photos/rocket.jpg'));
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(await record(await post(base, await file('photos/rocket.jpg'))), 'overloaded');
    assert.equal((await first).status, 200);

    const multipart = { 'Content-Type': 'multipart/form-data; boundary=abc' };
    const cases = [
      ['not_multipart', () => post(base, '{"file": 1}', { headers: { 'Content-Type': 'application/json' } })],
      ['not_multipart', () => post(base, undefined, { headers: multipart })],
      ['bad_multipart', () => post(base, '--nope\r\ngarbage', { headers: multipart })],
      ['missing_file', async () => post(base, form([['image', await image('photos/rocket.jpg'), 'r.jpg']]))],
      ['missing_file', () => { const fd = new FormData(); fd.append('file', 'text'); return post(base, fd); }],
      ['empty_input', async () => post(base, await file('bad/empty.bin'))],
      ['bad_top_k', async () => post(base, await file('photos/rocket.jpg'), { query: '?top_k=0' })],
      ['not_found', () => fetchChecked(`${base}/no/such/route`)],
      ['not_found', () => fetchChecked(`${base}/model/not-the-model.onnx`)],
      ['method_not_allowed', () => fetchChecked(`${base}/predict`)],
      ['body_too_large', () => post(base, form([['file', Buffer.alloc(MAX_BODY_BYTES + 1), 'big.jpg']]))],
      ['too_many_files', async () => {
        const { body, contentType } = rawMultipart(Array.from({ length: MAX_FILES + 1 }, (_, i) => ['file', `${i}.png`, 'x']));
        return post(base, body, { headers: { 'Content-Type': contentType } });
      }],
      ['not_an_image', async () => post(base, await file('bad/not_image.txt'))],
      ['unsupported_format', async () => post(base, await file('bad/unsupported.tiff'))],
      ['corrupt_image', async () => post(base, await file('bad/truncated.jpg'))],
      ['too_many_pixels', async () => post(base, await file('bad/bomb.png'))],
      // 9.7 MP progressive 4:4:4 JPEG: every coefficient held, over MAX_DECODE_BYTES.
      ['image_too_large', async () => post(base, await file('hostile/progressive444_9_7mp.jpg'))],
      ['too_much_work', async () => {
        const scans = (await health(base)).limits.max_jpeg_scans;
        return post(base, form([['file', emptyScansJpeg(scans + 1, 64, 64), 'scans.jpg']]));
      }],
    ];
    for (const [code, request] of cases) assert.equal(await record(await request()), code, code);
  });

  // Straight to workerd: wrangler dev's proxy waits for a whole body before
  // it passes the request on, so a stalled one never reaches the Worker.
  test('body_timeout', async () => {
    const { worker: w, base } = await startWorkerDirect({ BODY_IDLE_MS: 1000 });
    workers.push(w);
    // Headers and 6 bytes of a 100,000-byte body, then nothing.
    const { status, body } = await stalledUpload(base).answered;
    assertConforms('ErrorAnswer', body);
    assert.equal(body.error.code, 'body_timeout');
    produced.set(body.error.code, status);
  });

  test('model errors', async () => {
    const { worker: w1, base: b1 } = await startWorker({ MODEL: 'no-such-model' });
    workers.push(w1);
    assert.equal(await record(await post(b1, await file('photos/rocket.jpg'))), 'model_unavailable');

    // Manifests naming the real file with another sha256, or another size.
    const dir = mkdtempSync(path.join(os.tmpdir(), 'densenet-edge-'));
    for (const [name, change, code] of [
      ['densenet121-tampered', { sha256: '0'.repeat(64) }, 'model_checksum_mismatch'],
      ['densenet121-resized', { bytes: manifest.bytes + 1 }, 'model_invalid'],
    ]) {
      const json = path.join(dir, `${name}.json`);
      writeFileSync(json, JSON.stringify({ ...manifest, name, ...change }));
      execFileSync(wranglerBin, ['r2', 'object', 'put', '--local', `densenet-edge-models/${name}.json`, '--file', json], {
        cwd: workerDir, stdio: ['ignore', 'ignore', 'inherit'],
      });
      const { worker: w, base: b } = await startWorker({ MODEL: name });
      workers.push(w);
      assert.equal(await record(await post(b, await file('photos/rocket.jpg'))), code);
    }
    rmSync(dir, { recursive: true, force: true });
  });

  test('each row produced with its status', () => {
    for (const [status, code] of worker) {
      if (NOT_PRODUCIBLE.has(code)) continue;
      assert.equal(produced.get(code), status, `${status} ${code}: produced ${produced.get(code)}`);
    }
  });
});

// worker/README.md's configuration table gives every var with the value
// wrangler.toml sets, which /health reports under `limits`.
test('the configuration table lists every limit with its production value', async () => {
  const text = readFileSync(path.join(root, 'worker/README.md'), 'utf8');
  const section = text.slice(text.indexOf('### Configuration'));
  const rows = markdownRows(section.slice(0, section.indexOf('\n\n', section.indexOf('| var'))), /^`[A-Z_]+`$/);
  seedModel();
  const { worker: w, base } = await startWorker();
  try {
    const { limits } = await health(base);
    const listed = new Set();
    for (const [name, value] of rows) {
      const key = name.replaceAll('`', '').toLowerCase();
      listed.add(key);
      assert.ok(key in limits, `${name} is not a limit the Worker reports`);
      assert.equal(String(limits[key]), value.split(' ')[0].replaceAll('`', ''), `${name}: README says ${value}, /health ${limits[key]}`);
    }
    assert.deepEqual(Object.keys(limits).filter((k) => !listed.has(k)), [], 'limits missing from the table');
  } finally {
    await w.dispose();
  }
});
