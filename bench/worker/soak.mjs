// Bounded soak of the Worker on loopback (wrangler's workerd, production
// limits from wrangler.toml): CONCURRENCY clients post a mix of good photos
// and hostile inputs back to back, first for WARMUP_S (the warm-up), then for
// SOAK_S, while STALLED more connections (default 40) hold uploads that send
// their headers and 6 bytes, then nothing (each answered 408 body_timeout at
// BODY_IDLE_MS and opened again). Prints the answers by status and code,
// latencies, and the wasm memory after the warm-up and after the soak; exits
// 1 on any 5xx but 503 overloaded with Retry-After, on a replaced isolate,
// or if wasm memory grew during the soak. The Worker runs
// in workerd through Miniflare directly, each request on its own connection
// (tests/worker/helpers.mjs, startWorkerDirect, says why); SOAK_VIA_PROXY=1
// puts wrangler dev's proxy in front instead, whose own text 503s then count.
//   scripts/build-worker.sh && source worker/env.sh && node bench/worker/soak.mjs [SOAK_S] [CONCURRENCY] [WARMUP_S]
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import {
  form, health, image, images, postOnNewConnection, rawMultipart, seedModel, stalledUpload, startWorker, startWorkerDirect,
} from '../../tests/worker/helpers.mjs';
import { emptyScansJpeg, headerOnlyJpeg } from '../../tests/worker/hostile-jpeg.mjs';

const viaProxy = process.env.SOAK_VIA_PROXY === '1';

const [soakS = 60, concurrency = 16, warmupS = 60] = process.argv.slice(2).map(Number);
const mib = (b) => +(b / 2 ** 20).toFixed(2);

const inputs = [];
for (const dir of ['photos', 'hostile', 'bad']) {
  for (const f of readdirSync(path.join(images, dir)).filter((f) => !/\.(md|npy)$/.test(f) && statSync(path.join(images, dir, f)).isFile())) {
    inputs.push({ name: `${dir}/${f}`, make: async () => form([['file', await image(`${dir}/${f}`), f]]) });
  }
}
// Good photos twice as often as any one hostile input.
for (const f of ['photos/chelsea.png', 'photos/rocket.jpg']) inputs.push({ name: f, make: async () => form([['file', await image(f), f]]) });
// A phone upload's size (a real 12 MP JPEG is 3-6 MB; the test one is small):
// 6 MB of another field plus the 12 MP JPEG, so bodies weigh on the budget.
inputs.push({
  name: 'phone photo in a 6 MB body',
  make: async () => {
    const { body, contentType } = rawMultipart([['pad', null, Buffer.alloc(6 << 20, 32)], ['file', 'phone.jpg', await image('hostile/phone_12mp_exif6.jpg')]]);
    return { body, headers: { 'Content-Type': contentType } };
  },
});
inputs.push({
  name: 'multipart: 20,000 file parts',
  make: async () => {
    const { body, contentType } = rawMultipart(Array.from({ length: 20_000 }, (_, i) => ['file', `${i}`, 'x']));
    return { body, headers: { 'Content-Type': contentType } };
  },
});

// Cheap bytes, costly decoding (MAX_DECODE_PIXELS, MAX_JPEG_SCANS).
inputs.push({
  name: '16 header-only 40 MP JPEGs',
  make: async () => form(Array.from({ length: 16 }, (_, i) => ['file', headerOnlyJpeg(), `grey${i}.jpg`])),
});
inputs.push({ name: '600,000 empty scans', make: async () => form([['file', emptyScansJpeg(600_000), 'scans.jpg']]) });

const stalledCount = Number(process.env.STALLED ?? 40);
const stalledAnswers = {};
/** Keeps `stalledCount` stalled uploads open until `stop()`. */
function holdStalled(base) {
  let running = true;
  const open = new Set();
  const one = () => {
    if (!running) return;
    const s = stalledUpload(base);
    open.add(s);
    s.answered.then(({ status, body }) => {
      open.delete(s);
      if (!running) return;
      const key = `${status} ${body?.error?.code ?? 'none'}`;
      stalledAnswers[key] = (stalledAnswers[key] ?? 0) + 1;
      one();
    });
  };
  for (let i = 0; i < stalledCount; i++) one();
  return () => { running = false; for (const s of open) s.close(); };
}

async function phase(base, seconds) {
  const stop = performance.now() + seconds * 1000;
  const answers = {};
  const latencies = [];
  let i = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (performance.now() < stop) {
      const input = inputs[i++ % inputs.length];
      const made = await input.make();
      let init = made;
      if (made instanceof FormData) {
        const r = new Response(made);
        init = { body: Buffer.from(await r.arrayBuffer()), headers: { 'Content-Type': r.headers.get('content-type') } };
      }
      const t0 = performance.now();
      let res;
      let text;
      if (viaProxy) {
        res = await fetch(`${base}/predict`, { method: 'POST', ...init });
        text = await res.text();
      } else {
        ({ text, ...res } = await postOnNewConnection(`${base}/predict`, init.body, init.headers));
      }
      latencies.push(performance.now() - t0);
      let code;
      try { code = JSON.parse(text).error?.code ?? 'ok'; } catch { code = `not JSON: ${text.slice(0, 80)}`; }
      if (res.status === 503 && code === 'overloaded' && !(Number(res.headers['retry-after']) >= 1)) code = 'overloaded without Retry-After';
      const key = `${res.status} ${code}`;
      answers[key] = (answers[key] ?? 0) + 1;
    }
  }));
  latencies.sort((a, b) => a - b);
  const q = (p) => +latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))].toFixed(0);
  return { requests: latencies.length, req_s: +(latencies.length / seconds).toFixed(2), p50_ms: q(0.5), p99_ms: q(0.99), answers };
}

seedModel();
const { worker, base } = viaProxy ? await startWorker() : await startWorkerDirect();
const h0 = await (await fetch(`${base}/health?load=1`)).json();
const stopStalled = holdStalled(base);
const warm = await phase(base, warmupS);
const h1 = await health(base);
const soak = await phase(base, soakS);
const h2 = await health(base);
stopStalled();
await worker.dispose();

const fivexx = Object.entries(soak.answers).concat(Object.entries(warm.answers))
  .filter(([k]) => k.startsWith('5') && k !== '503 overloaded').reduce((a, [, n]) => a + n, 0);
const report = {
  via: viaProxy ? 'wrangler dev proxy' : 'workerd through Miniflare, a connection per request',
  concurrency,
  warmup: { seconds: warmupS, ...warm },
  soak: { seconds: soakS, ...soak },
  stalled: { connections: stalledCount, answers: stalledAnswers },
  five_xx_not_overloaded: fivexx,
  isolate_same: h0.isolate.id === h2.isolate.id,
  wasm_mib: { after_load: mib(h0.memory.wasm_bytes), after_warmup: mib(h1.memory.wasm_bytes), after_soak: mib(h2.memory.wasm_bytes) },
  heap_mib: { in_use_after_soak: mib(h2.memory.heap_in_use_bytes), peak: mib(h2.memory.heap_peak_bytes) },
  admission: h2.admission,
};
console.log(JSON.stringify(report, null, 1));
const stalledOk = Object.keys(stalledAnswers).every((k) => k === '408 body_timeout');
process.exit(fivexx === 0 && stalledOk && report.isolate_same && h2.memory.wasm_bytes === h1.memory.wasm_bytes ? 0 : 1);
