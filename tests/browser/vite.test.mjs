// A Vite app that imports the package builds, and classifies in Chromium.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serve } from '../../scripts/serve-web.mjs';
import { launch } from './chromium.mjs';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const APP = join(ROOT, 'tests/browser/vite-app');

test('a TypeScript Vite app type-checks, builds and classifies a photo in the browser', { timeout: 300_000 }, async () => {
  // The package's TypeScript types, checked on a strict TS app.
  execFileSync(join(APP, 'node_modules/.bin/tsc'), ['--noEmit', '-p', APP], { cwd: APP, stdio: 'inherit' });
  execFileSync(join(APP, 'node_modules/.bin/vite'), ['build', '--logLevel', 'warn'], { cwd: APP, stdio: 'inherit' });
  const server = await serve({ dirs: [join(APP, 'dist'), join(ROOT, 'tests/images/photos')] });
  const context = await launch();
  try {
    const page = await context.newPage();
    await page.goto(server.url);
    await page.waitForFunction(() => document.body.dataset.state, null, { timeout: 120_000 });
    const out = await page.textContent('#out');
    assert.equal(await page.evaluate(() => document.body.dataset.state), 'done', out);
    const result = JSON.parse(out);
    assert.equal(result.predictions.length, 5);
    assert.equal(result.engine, 'cpu');
    await page.screenshot({ path: join(ROOT, 'tests/artifacts/vite-app.png') });
  } finally {
    await context.close();
    await server.close();
  }
});
