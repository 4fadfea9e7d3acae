// Measures the Worker's wasm linear memory (GET /health) in fresh isolates:
// after the model load, after one photo, 4 and 8 photos in one request (with
// MAX_BATCH 1, the default, and 8: one engine batch), and after one large
// image of N megapixels (a smooth synthetic PNG made here), for the
// MAX_PIXELS decision. Run after scripts/build-worker.sh:
//   source worker/env.sh && node bench/worker/memory.mjs [MP ...]   (default 4 8 12 16)
// BENCH_MODEL=densenet121-random-int8 measures that model of model/build instead.
import { deflateSync } from 'node:zlib';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { form, image, seedModel, startWorker } from '../../tests/worker/helpers.mjs';

const mib = (b) => (b / 2 ** 20).toFixed(1);

function crc32(buf) {
  let c, crc = 0xffffffff;
  for (const b of buf) {
    c = (crc ^ b) & 0xff;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    crc = (crc >>> 8) ^ c;
  }
  return (crc ^ 0xffffffff) >>> 0;
}
function chunk(type, data) {
  const len = Buffer.alloc(4); len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type), data]);
  const crc = Buffer.alloc(4); crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}
/** An RGB PNG of about `mp` megapixels (3:2), smooth gradients. */
function png(mp) {
  const w = Math.round(Math.sqrt(mp * 1e6 * 1.5)), h = Math.round(mp * 1e6 / w);
  const raw = Buffer.alloc((w * 3 + 1) * h);
  for (let y = 0; y < h; y++) {
    const row = y * (w * 3 + 1);
    for (let x = 0; x < w; x++) {
      raw[row + 1 + 3 * x] = (x * 255 / w) | 0;
      raw[row + 2 + 3 * x] = (y * 255 / h) | 0;
      raw[row + 3 + 3 * x] = ((x + y) & 0xff);
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0); ihdr.writeUInt32BE(h, 4); ihdr[8] = 8; ihdr[9] = 2;
  return { w, h, bytes: Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw, { level: 9 })), chunk('IEND', Buffer.alloc(0))]) };
}

const health = async (base) => (await fetch(`${base}/health`)).json();
const MODEL = process.env.BENCH_MODEL;
if (MODEL) {
  const build = fileURLToPath(new URL('../../model/build/', import.meta.url));
  const seed = fileURLToPath(new URL('../../scripts/seed-worker-model.sh', import.meta.url));
  execFileSync(seed, [`${build}${MODEL}.json`, `${build}${MODEL}.onnx`], { stdio: ['ignore', 'ignore', 'inherit'] });
} else {
  seedModel();
}
const sizes = process.argv.slice(2).map(Number);
const vars = { MAX_PIXELS: 100_000_000, MAX_BODY_BYTES: 64 << 20, ...(MODEL ? { MODEL } : {}) };

const photos = ['photos/astronaut.png', 'photos/chelsea.png', 'photos/coffee.png', 'photos/rocket.jpg'];
const photoForm = async (list) => form(await Promise.all(list.map(async (p) => ['file', await image(p), p])));
// The default (MAX_BATCH 1: one engine run per image) and the whole request as one engine batch.
for (const maxBatch of [1, 8]) {
  const { worker, base } = await startWorker({ ...vars, MAX_BATCH: maxBatch });
  const h0 = await (await fetch(`${base}/health?load=1`)).json();
  console.log(`MAX_BATCH ${maxBatch}: after load: ${mib(h0.memory.wasm_bytes)} MiB; load ${JSON.stringify(h0.load)}`);
  const one = await photoForm(['photos/rocket.jpg']);
  const r1 = await (await fetch(`${base}/predict`, { method: 'POST', body: one })).json();
  console.log(`  after one photo: engine ${r1.timings_ms.engine} ms; memory ${mib((await health(base)).memory.wasm_bytes)} MiB`);
  for (const n of [4, 8]) {
    const res = await (await fetch(`${base}/predict`, { method: 'POST', body: await photoForm([...photos, ...photos].slice(0, n)) })).json();
    const h = await health(base);
    console.log(`  after ${n} photos in one request: ${mib(h.memory.wasm_bytes)} MiB (engine batch sizes ${res.batch_sizes}; longest engine run ${res.timings_ms.engine} ms)`);
  }
  await worker.dispose();
}

for (const mp of sizes.length ? sizes : [4, 8, 12, 16]) {
  const { w, h, bytes } = png(mp);
  const { worker, base } = await startWorker(vars);
  await fetch(`${base}/health?load=1`);
  const res = await fetch(`${base}/predict`, { method: 'POST', body: form([['file', bytes, `${mp}mp.png`, 'image/png']]) });
  const body = await res.json();
  const hm = await health(base);
  console.log(`one ${w}x${h} PNG (${mp} MP, ${mib(bytes.length)} MiB): status ${res.status}, prepare ${body.timings_ms?.prepare} ms, wasm memory ${mib(hm.memory.wasm_bytes)} MiB (after load ${mib(hm.memory.wasm_bytes_after_load)})`);
  await worker.dispose();
}
