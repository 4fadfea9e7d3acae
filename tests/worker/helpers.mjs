// Shared by the Worker's HTTP tests: start the built Worker in workerd
// (wrangler's unstable_startWorker), seed the local R2, read references.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { schemaErrors } from '../answer-schema.mjs';
import { MODEL_NAME } from '../reference.mjs';
export { argmax, classIndex, MODEL_NAME, reference } from '../reference.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
export const root = path.resolve(here, '../..');
export const workerDir = path.join(root, 'worker');
export const images = path.join(root, 'tests/images');
// wrangler lives in worker/node_modules, not next to this file.
const workerRequire = createRequire(path.join(workerDir, 'package.json'));
const { unstable_startWorker, unstable_getMiniflareWorkerOptions } = workerRequire('wrangler');
const { Miniflare } = workerRequire('miniflare');
export const wranglerBin = path.join(workerDir, 'node_modules/.bin/wrangler');

export const manifest = JSON.parse(
  readFileSync(path.join(root, `model/manifests/${MODEL_NAME}.json`), 'utf8'),
);

/** Puts the random-weight model into worker/.wrangler/state (idempotent). */
export function seedModel() {
  execFileSync(path.join(root, 'scripts/seed-worker-model.sh'), { stdio: ['ignore', 'inherit', 'inherit'] });
}

/** Starts worker/build/ (built by scripts/build-worker.sh) on 127.0.0.1 with
 * extra string vars; returns { worker, base }. */
export async function startWorker(vars = {}) {
  // Built already, where a build failure is readable; see the [build]
  // command in wrangler.toml. Paths in wrangler.toml resolve from cwd.
  process.env.WORKER_PREBUILT = '1';
  process.chdir(workerDir);
  const bindings = Object.fromEntries(
    Object.entries(vars).map(([k, v]) => [k, { type: 'plain_text', value: String(v) }]),
  );
  const worker = await unstable_startWorker({
    config: path.join(workerDir, 'wrangler.toml'),
    bindings,
    dev: {
      server: { hostname: '127.0.0.1', port: 0 },
      inspector: false,
      watch: false,
      logLevel: 'warn',
    },
  });
  await worker.ready;
  const base = (await worker.url).toString().replace(/\/$/, '');
  return { worker, base };
}

export const image = (rel) => readFile(path.join(images, rel));

/** multipart form; `files` is [[field, bytes, filename, type?], ...] */
export function form(files) {
  const fd = new FormData();
  for (const [field, bytes, name, type] of files) {
    fd.append(field, new Blob([bytes], { type: type ?? 'application/octet-stream' }), name);
  }
  return fd;
}

/** Starts worker/build/ like startWorker, from the same wrangler.toml and
 * local R2, but in workerd through Miniflare directly, without wrangler
 * dev's proxy in front. Measured: 32 clients x 6 requests on fresh
 * connections, 27 of 192 came back as the proxy's text 503 "Your worker
 * restarted mid-request" through the proxy (the isolate did not restart and
 * never saw them: `admitted` counted only the 165 answered), 0 of 192
 * directly. For tests that load the Worker with concurrent requests, where
 * that proxy, which production does not have, would decide the answer.
 * Returns { worker, base }; `worker.dispose()` stops it. */
export async function startWorkerDirect(vars = {}) {
  process.chdir(workerDir);
  const config = path.join(workerDir, 'wrangler.toml');
  const { workerOptions, main } = unstable_getMiniflareWorkerOptions(config);
  const stringVars = Object.fromEntries(Object.entries(vars).map(([k, v]) => [k, String(v)]));
  const worker = new Miniflare({
    ...workerOptions,
    bindings: { ...workerOptions.bindings, ...stringVars },
    scriptPath: path.resolve(workerDir, main ?? 'entry.mjs'),
    modules: true,
    // worker-build's build/index.js is an ES module (wrangler's bundler knows; Miniflare must be told).
    modulesRules: [{ type: 'ESModule', include: ['**/*.js', '**/*.mjs'] }, ...(workerOptions.modulesRules ?? [])],
    modulesRoot: workerDir,
    // Where `wrangler dev` keeps local R2, which seedModel() fills.
    r2Persist: path.join(workerDir, '.wrangler/state/v3/r2'),
    host: '127.0.0.1',
    port: 0,
  });
  const base = (await worker.ready).href.replace(/\/$/, '');
  return { worker, base };
}

/** POST on a connection of its own (Connection: close): Node's fetch reuses
 * keep-alive connections, and workerd resets a few of those under
 * concurrency before any Worker code runs (2 of 192 in the measurement
 * above, none with a connection per request). With `hold` (a promise), the
 * second half of the body is sent only once it settles, so the request stays
 * in flight as long as a test needs. Resolves { status, headers, text }. */
export function postOnNewConnection(url, body, headers = {}, hold = null) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, {
      method: 'POST',
      agent: false,
      headers: { ...headers, 'Content-Length': body.length, Connection: 'close' },
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, text: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (!hold) {
      req.end(body);
      return;
    }
    const half = body.length >> 1;
    req.write(body.subarray(0, half));
    hold.then(() => req.end(body.subarray(half)));
  });
}


/** Opens a POST /predict that declares `declared` bytes and sends `sent`
 * of them, then whatever `drip` sends; resolves with { status, body, ms }
 * once the Worker answers (or the connection closes). */
export function stalledUpload(base, { declared = 100_000, sent = 6, dripEveryMs = 0 } = {}) {
  const { hostname, port } = new URL(base);
  const t0 = Date.now();
  const socket = net.connect({ host: hostname, port: Number(port) });
  let timer = null;
  const answered = new Promise((resolve) => {
    let text = '';
    socket.on('data', (d) => { text += d.toString('latin1'); });
    const done = () => {
      clearInterval(timer);
      const status = Number(text.match(/^HTTP\/1\.1 (\d{3})/)?.[1] ?? 0);
      const json = text.slice(text.indexOf('\r\n\r\n') + 4);
      let body = null;
      try { body = JSON.parse(json.slice(json.indexOf('{'), json.lastIndexOf('}') + 1)); } catch {}
      resolve({ status, body, ms: Date.now() - t0 });
    };
    socket.on('end', done);
    socket.on('close', done);
    socket.on('error', () => {});
  });
  socket.on('connect', () => {
    socket.write(`POST /predict HTTP/1.1\r\nHost: ${hostname}\r\nContent-Type: multipart/form-data; boundary=B\r\n`
      + `Content-Length: ${declared}\r\nConnection: close\r\n\r\n`);
    socket.write(Buffer.alloc(sent, 45));
    if (dripEveryMs) timer = setInterval(() => socket.write('-'), dripEveryMs);
  });
  // The answer may arrive before the socket ends: stop waiting for more.
  return { answered, close: () => { clearInterval(timer); socket.destroy(); } };
}

/** The wasm linear memory the Worker must stay under (worker/README.md,
 * "Memory budget"): the isolate's 128 MB less room for the JS heap. */
export const WASM_BUDGET_BYTES = 112 * 2 ** 20;

/** Asserts that `body` is the documented answer `$defs/<def>` of docs/answer.schema.json. */
export function assertConforms(def, body) {
  assert.deepEqual(schemaErrors(def, body), [], `${def}: ${JSON.stringify(body).slice(0, 500)}`);
}

/** The schema definition a JSON answer of the Worker must follow, from its path and shape. */
export function answerDef(path, body) {
  if (body.error) return 'ErrorAnswer';
  if (path === '/health') return 'Health';
  return body.results ? 'PredictManyAnswer' : 'PredictAnswer';
}

/** Checks an answer from `url` against docs/answer.schema.json when it is JSON. */
export function checkAnswer(url, contentType, text) {
  if (/application\/json/.test(contentType ?? '')) {
    const body = JSON.parse(text);
    assertConforms(answerDef(new URL(url).pathname, body), body);
  }
}

/** fetch, with every JSON answer checked against docs/answer.schema.json; the body stays readable. */
export async function fetchChecked(url, init) {
  const res = await fetch(url, init);
  checkAnswer(url, res.headers.get('content-type'), await res.clone().text());
  return res;
}

export const health = async (base) => (await fetchChecked(`${base}/health`)).json();

/** Polls /health until `ok(health)`, at most 30 s. */
export async function until(base, ok, what) {
  for (const t0 = Date.now(); Date.now() - t0 < 30_000; await new Promise((r) => setTimeout(r, 50))) {
    if (ok(await health(base))) return;
  }
  throw new Error(`timed out waiting for: ${what}`);
}

/** Rows of a Markdown table whose first cell matches `firstCell`, as arrays of
 * cells without their backticks. */
export function markdownRows(text, firstCell = /.*/) {
  return text
    .split('\n')
    .filter((l) => l.startsWith('|') && !/^\|\s*-/.test(l))
    .map((l) => l.split('|').slice(1, -1).map((c) => c.trim()))
    .filter((cells) => firstCell.test(cells[0]));
}

/** tests/images/hostile/README.md: [{ file, expected }], expected `ok` or a code. */
export function hostileImages() {
  const text = readFileSync(path.join(images, 'hostile/README.md'), 'utf8');
  return markdownRows(text, /^`[^`]+\.(png|jpg|gif|bmp|webp)`$/).map((cells) => ({
    file: cells[0].replaceAll('`', ''),
    expected: cells[cells.length - 1].replaceAll('`', ''),
  }));
}

/** A multipart body by hand: [[name, filename|null, bytes]], boundary B. */
export function rawMultipart(parts, boundary = 'BoUnDaRy1234') {
  const chunks = [];
  for (const [name, filename, bytes] of parts) {
    const fn = filename == null ? '' : `; filename="${filename}"`;
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"${fn}\r\n\r\n`), Buffer.from(bytes), Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(chunks), contentType: `multipart/form-data; boundary=${boundary}` };
}
