// What cheap-but-costly requests cost the Worker against one 12 MP phone
// photo, with the production CPU budgets (MAX_DECODE_PIXELS, MAX_JPEG_SCANS)
// and with them lifted: one request of 16 header-only 40 MP JPEGs (~2 KB)
// and one progressive JPEG with 600,000 empty scans (6 MB). Wall time of
// each request on loopback, workerd through Miniflare, ROUNDS interleaved
// rounds, median; the ratio to the phone photo is what the budget bounds.
//   scripts/build-worker.sh && source worker/env.sh && node bench/worker/cpu-budget.mjs [ROUNDS]
import { form, image, postOnNewConnection, seedModel, startWorkerDirect } from '../../tests/worker/helpers.mjs';
import { emptyScansJpeg, headerOnlyJpeg } from '../../tests/worker/hostile-jpeg.mjs';

const rounds = Number(process.argv[2] ?? 5);

async function body(fd) {
  const r = new Response(fd);
  return { bytes: Buffer.from(await r.arrayBuffer()), type: r.headers.get('content-type') };
}

const cases = {
  'one 12 MP phone photo (150 KB JPEG)': await body(form([['file', await image('hostile/phone_12mp_exif6.jpg'), 'phone.jpg']])),
  '16 header-only 40 MP JPEGs': await body(form(Array.from({ length: 16 }, (_, i) => ['file', headerOnlyJpeg(), `g${i}.jpg`]))),
  'progressive JPEG, 600,000 empty scans': await body(form([['file', emptyScansJpeg(600_000), 'scans.jpg']])),
};

async function measure(vars) {
  const { worker, base } = await startWorkerDirect(vars);
  await fetch(`${base}/health?load=1`);
  const times = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
  const answers = {};
  for (let r = 0; r < rounds + 1; r++) {
    for (const [name, { bytes, type }] of Object.entries(cases)) {
      const t0 = performance.now();
      const res = await postOnNewConnection(`${base}/predict`, bytes, { 'Content-Type': type });
      const ms = performance.now() - t0;
      const json = JSON.parse(res.text);
      const codes = (json.results ?? [json]).map((x) => x.error?.code ?? 'ok');
      answers[name] = `${res.status} ${[...new Set(codes)].map((c) => `${c} x${codes.filter((x) => x === c).length}`).join(', ')}`;
      if (r > 0) times[name].push(ms); // round 0 warms the isolate up
    }
  }
  await worker.dispose();
  const median = (xs) => xs.sort((a, b) => a - b)[xs.length >> 1];
  return Object.fromEntries(Object.entries(times).map(([k, xs]) => [k, { ms: median(xs), answer: answers[k] }]));
}

seedModel();
const runs = {
  'production budgets': await measure({}),
  'budgets lifted': await measure({ MAX_DECODE_PIXELS: 1e15, MAX_JPEG_SCANS: 4e9 }),
};
for (const [run, results] of Object.entries(runs)) {
  const phone = results['one 12 MP phone photo (150 KB JPEG)'].ms;
  console.log(`\n${run} (median of ${rounds} rounds, ms per request; x = ratio to the phone photo):`);
  for (const [name, { ms, answer }] of Object.entries(results)) {
    console.log(`  ${name.padEnd(40)} ${ms.toFixed(0).padStart(6)} ms  ${(ms / phone).toFixed(2)}x  (${answer})`);
  }
}
