// Debian's Chromium through playwright-core (never a downloaded browser),
// with a fresh profile and the flags that keep it quiet on a closed network.
import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

export const CHROMIUM_ARGS = [
  '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-quic',
];

// Each profile holds what the page cached (the 32 MB model in the Cache API,
// compiled wasm): 40-180 MB. Left in the temp dir they filled this machine's
// disk after a few hundred runs, so a profile goes with its browser, and at
// exit whatever a failed test did not close.
const profiles = new Set();
process.once('exit', () => {
  for (const dir of profiles) rmSync(dir, { recursive: true, force: true });
});

export async function launch(extraArgs = []) {
  const userDataDir = await mkdtemp(join(tmpdir(), 'densenet-edge-chromium-'));
  profiles.add(userDataDir);
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    chromiumSandbox: false, // --no-sandbox: containers and CI run as root
    args: [...CHROMIUM_ARGS, ...extraArgs],
    viewport: { width: 900, height: 700 },
  });
  const close = context.close.bind(context);
  context.close = async (...args) => {
    try {
      await close(...args);
    } finally {
      await rm(userDataDir, { recursive: true, force: true });
      profiles.delete(userDataDir);
    }
  };
  return context;
}
