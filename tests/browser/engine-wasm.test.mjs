// The engine's own wasm builds (crates/engine/examples/wasm_check.rs, built
// by scripts/build-engine-wasm.sh; tests/browser/run.sh passes their paths in
// ENGINE_WASM_SIMD128 and ENGINE_WASM_RELAXED): every wasm kernel against
// float64 and the portable kernel, then the whole network against
// onnxruntime's logits (4 photos at batch 1, batch 4; max |diff| <= 1e-4),
// streamed in 1 MiB pieces. simd128 in Node and Chromium, relaxed SIMD in
// Chromium (Node 20 rejects it; workerd runs it in tests/worker/run.sh).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, copyFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { launch } from './chromium.mjs';
import { serve } from '../../scripts/serve-web.mjs';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BUILDS = { simd128: process.env.ENGINE_WASM_SIMD128, relaxed: process.env.ENGINE_WASM_RELAXED };

let dir;
let server;
let context;

before(async () => {
  for (const [name, path] of Object.entries(BUILDS)) assert.ok(path, `the ${name} build's path (run through tests/browser/run.sh)`);
  dir = await mkdtemp(join(tmpdir(), 'densenet-edge-engine-wasm-'));
  await copyFile(join(ROOT, 'bench/engine/wasm_page.html'), join(dir, 'wasm_page.html'));
  for (const [name, path] of Object.entries(BUILDS)) await copyFile(path, join(dir, `${name}.wasm`));
  server = await serve({ dirs: [], mounts: { '/model/': join(ROOT, 'model'), '/engine/': dir } });
  context = await launch();
});

after(async () => {
  await context?.close();
  await server?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('Node: the simd128 build passes its kernel checks and matches onnxruntime', async () => {
  const { stdout } = await promisify(execFile)(process.execPath, [join(ROOT, 'tests/engine/wasm_check.mjs'), BUILDS.simd128, '1']);
  console.log(stdout.trim());
  assert.match(stdout, /^ok +kernels 3 /m); // portable + simd128
  assert.doesNotMatch(stdout, /FAIL/);
});

for (const [name, kernels, device] of [['simd128', 3, 'densenet-edge wasm simd128'], ['relaxed', 7, 'densenet-edge wasm simd128+relaxed']]) {
  test(`Chromium: the ${name} build passes its kernel checks and matches onnxruntime`, async () => {
    const page = await context.newPage();
    try {
      await page.goto(`${server.url}engine/wasm_page.html?wasm=/engine/${name}.wasm`);
      await page.waitForFunction(() => document.body.dataset.result, null, { timeout: 300_000 });
      const out = await page.textContent('#out');
      console.log(out);
      assert.equal(await page.evaluate(() => document.body.dataset.result), 'pass');
      assert.match(out, new RegExp(`^ok +kernels ${kernels} `, 'm'));
      assert.match(out, new RegExp(`^${device.replace('+', '\\+')}: loaded`, 'm'));
      assert.equal(out.match(/^ok +.* vs onnxruntime$/gm)?.length, 5);
    } finally {
      await page.close();
    }
  });
}
