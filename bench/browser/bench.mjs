// Browser benchmark (not a test): node bench/browser/bench.mjs [runs]
// (scripts/bench-browser.sh builds the package and installs what it needs).
// Prints: wasm size raw/gzip; time to first prediction with a cold and a
// warm cache; per-image latency of the package's CPU engine (its relaxed-SIMD
// build, then its simd128 build) vs
// onnxruntime-web's wasm EP, both single-threaded with SIMD, in one run;
// with TRACT_PEER_DIR set (scripts/bench-browser.sh sets it), tract-onnx's
// wasm build too, interleaved with them.
import { readFile } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serve } from '../../scripts/serve-web.mjs';
import { launch } from '../../tests/browser/chromium.mjs';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const HERE = fileURLToPath(new URL('.', import.meta.url));
const runs = Number(process.argv[2] || 10);
const tractDir = process.env.TRACT_PEER_DIR;

const size = async (p) => {
  const b = await readFile(p);
  return { rawMiB: +(b.length / 2 ** 20).toFixed(2), gzipMiB: +(gzipSync(b, { level: 9 }).length / 2 ** 20).toFixed(2) };
};
console.log('densenet-edge wasm, simd128 build:', await size(join(ROOT, 'crates/web/pkg/densenet_edge_web_bg.wasm')));
console.log('densenet-edge wasm, relaxed-SIMD build:', await size(join(ROOT, 'crates/web/pkg/densenet_edge_web_relaxed_bg.wasm')));
console.log('onnxruntime-web wasm (for reference):', await size(join(HERE, 'node_modules/onnxruntime-web/dist/ort-wasm-simd-threaded.wasm')));
if (tractDir) console.log('tract-onnx wasm (for reference):', await size(join(tractDir, 'densenet_edge_tract_peer_bg.wasm')));

const server = await serve({
  dirs: [join(ROOT, 'www'), HERE],
  mounts: {
    '/ort/': join(HERE, 'node_modules/onnxruntime-web/dist'),
    '/photos/': join(ROOT, 'tests/images/photos'),
    ...(tractDir ? { '/tract/': tractDir } : {}),
  },
});
const context = await launch(); // one fresh profile: the first visit is cold, the second warm
async function visit(query, timeout = 600_000) {
  const page = await context.newPage();
  await page.goto(`${server.url}bench.html?${query}`);
  await page.waitForFunction(() => window.benchResult, null, { timeout, polling: 500 });
  const r = await page.evaluate(() => window.benchResult);
  await page.close();
  if (r.error) throw new Error(r.error);
  return r;
}
try {
  const cold = await visit('mode=first');
  const warm = await visit('mode=first');
  console.log('time to first prediction, cold (download + sha256 + compile + classify):', Math.round(cold.msSinceNavigation), 'ms', cold);
  console.log('time to first prediction, warm (model from the Cache API):', Math.round(warm.msSinceNavigation), 'ms', warm);
  // The package as Chromium gets it (relaxed SIMD), then its simd128 build;
  // each interleaved with onnxruntime-web in its own page.
  for (const build of ['auto', 'simd128']) {
    const lat = await visit(`mode=latency&runs=${runs}&build=${build}&tract=${tractDir ? 1 : 0}`);
    const ours = lat.packageCpu.medianInferenceMs;
    const theirs = lat.ortWasm.medianRunMs;
    console.log(`per-image latency over ${runs} runs (median): package CPU (${lat.packageCpu.device}) inference ${ours.toFixed(0)} ms, whole classify() ${lat.packageCpu.medianClassifyMs.toFixed(0)} ms; onnxruntime-web wasm EP (1 thread) ${theirs.toFixed(0)} ms; ratio package/ort ${(ours / theirs).toFixed(2)}`);
    if (lat.tractWasm) {
      const t = lat.tractWasm;
      console.log(`  tract-onnx wasm (simd128, batch-1 plan) ${t.medianRunMs.toFixed(0)} ms (load + optimise ${t.loadMs.toFixed(0)} ms; max |logit - onnxruntime-web| ${t.maxAbsDiffVsOrt.toExponential(1)}); ratio package/tract ${(ours / t.medianRunMs).toFixed(2)}`);
    }
    console.log(JSON.stringify(lat.all));
    // The int8 file: the package against itself on f32 and onnxruntime-web on the same file.
    const q8 = await visit(`mode=latency&runs=${runs}&build=${build}&model=int8`);
    const p8 = q8.packageCpu;
    console.log(`int8 model, per-image latency over ${runs} runs (median): package CPU (${p8.device}, ${p8.precision}) inference ${p8.medianInferenceMs.toFixed(0)} ms vs its f32 ${p8.f32MedianInferenceMs.toFixed(0)} ms (ratio ${(p8.medianInferenceMs / p8.f32MedianInferenceMs).toFixed(2)}); onnxruntime-web wasm EP (1 thread) on the int8 file ${q8.ortWasm.medianRunMs.toFixed(0)} ms; ratio package/ort ${(p8.medianInferenceMs / q8.ortWasm.medianRunMs).toFixed(2)}`);
    console.log(JSON.stringify(q8.all));
  }
} finally {
  await context.close();
  await server.close();
}
