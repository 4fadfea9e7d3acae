// A small closed-loop load generator: C clients, each POSTing the same image
// as multipart field `file` back to back, until N requests are done.
//   node load.mjs URL IMAGE CONCURRENCY REQUESTS [WARMUP]
// Prints one JSON line: req/s (answered requests only: a refusal such as 503
// is fast and must not count as throughput; sent_s counts every request),
// latency p50/p90/p99/max (ms, all requests), errors, and the median of the
// server's own timings_ms (when it sends them).
import { readFileSync } from 'node:fs';
import path from 'node:path';

const [url, imagePath, c, n, w] = process.argv.slice(2);
const concurrency = Number(c);
const requests = Number(n);
const warmup = Number(w ?? 0);
const bytes = readFileSync(imagePath);
const name = path.basename(imagePath);

async function once() {
  const fd = new FormData();
  fd.append('file', new Blob([bytes]), name);
  const t0 = performance.now();
  const res = await fetch(url, { method: 'POST', body: fd });
  const text = await res.text();
  const ms = performance.now() - t0;
  let body = null;
  try { body = JSON.parse(text); } catch { /* HTML error page */ }
  return { ok: res.status === 200 && body?.class_id !== undefined, status: res.status, ms, body, text };
}

for (let i = 0; i < warmup; i++) await once();

const latencies = [];
const server = {};
const statuses = {};
const errorSamples = {};
let errors = 0;
let started = 0;
const t0 = performance.now();
await Promise.all(Array.from({ length: concurrency }, async () => {
  while (started < requests) {
    started++;
    const r = await once();
    latencies.push(r.ms);
    statuses[r.status] = (statuses[r.status] ?? 0) + 1;
    if (!r.ok) {
      errors++;
      errorSamples[r.status] ??= r.text.slice(0, 300);
    }
    for (const [k, v] of Object.entries(r.body?.timings_ms ?? {})) (server[k] ??= []).push(v);
    if (r.body?.batch_size !== undefined) (server.batch_size ??= []).push(r.body.batch_size);
  }
}));
const seconds = (performance.now() - t0) / 1000;
const sorted = latencies.sort((a, b) => a - b);
const q = (p, xs = sorted) => xs[Math.min(xs.length - 1, Math.floor(p * xs.length))];
const median = (xs) => q(0.5, [...xs].sort((a, b) => a - b));
console.log(JSON.stringify({
  concurrency,
  requests,
  seconds: +seconds.toFixed(2),
  req_s: +((requests - errors) / seconds).toFixed(3),
  sent_s: +(requests / seconds).toFixed(3),
  p50_ms: +q(0.5).toFixed(1),
  p90_ms: +q(0.9).toFixed(1),
  p99_ms: +q(0.99).toFixed(1),
  max_ms: +sorted[sorted.length - 1].toFixed(1),
  errors,
  statuses,
  error_samples: errorSamples,
  server_median: Object.fromEntries(Object.entries(server).map(([k, v]) => [k, +median(v).toFixed(1)])),
}));
