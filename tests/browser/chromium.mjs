// Debian's Chromium through playwright-core (never a downloaded browser),
// with a fresh profile and the flags that keep it quiet on a closed network.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

export const CHROMIUM_ARGS = [
  '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-quic',
];

export async function launch(extraArgs = []) {
  const userDataDir = await mkdtemp(join(tmpdir(), 'densenet-edge-chromium-'));
  return chromium.launchPersistentContext(userDataDir, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    chromiumSandbox: false, // --no-sandbox: containers and CI run as root
    args: [...CHROMIUM_ARGS, ...extraArgs],
    viewport: { width: 900, height: 700 },
  });
}
