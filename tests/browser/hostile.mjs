// Hostile inputs for the package tests (Node and Chromium): the files of
// tests/images/hostile with the answers its README documents, and a few
// generated here (extreme shapes from the issue, a bomb header).
import { readdir, readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { png, pngHeaderOnly } from './png.mjs';

/** The package built with the Cargo feature `test-trap` (scripts/build-web.sh --test-trap). */
export const TRAP_PKG = `${process.env.DENSENET_EDGE_CACHE || `${homedir()}/.cache/densenet-edge`}/web-test-trap/pkg`;

// What "any aspect ratio works in bounded memory, or is refused with a
// clear code" allows.
const SHAPE_ANSWERS = ['prediction', 'image_too_large', 'too_many_pixels'];

export function generatedCases() {
  return [
    // The issue's 94-byte PNG: Resize(255) made a 255x510000 intermediate.
    { name: 'generated/1x2000-grey.png', bytes: png(1, 2000), expected: SHAPE_ANSWERS },
    { name: 'generated/60000x1-grey.png', bytes: png(60000, 1), expected: SHAPE_ANSWERS },
    { name: 'generated/1x100000-grey.png', bytes: png(1, 100000), expected: SHAPE_ANSWERS },
    // 9 MP RGBA in a few KB: must fit the package's 256 MiB budget.
    { name: 'generated/3000x3000-rgba.png', bytes: png(3000, 3000, { channels: 4 }), expected: ['prediction'] },
    { name: 'generated/40000x40000-header.png', bytes: pngHeaderOnly(40000, 40000), expected: ['too_many_pixels'] },
    { name: 'generated/65535x65535-header.png', bytes: pngHeaderOnly(65535, 65535), expected: ['too_many_pixels'] },
  ];
}

/**
 * The README's table rows name a file and its answers, all in backticks:
 * an error code, or `ok` for an accepted image, once for the shared
 * crate's default budget (512 MiB) and once for a 64 MiB one. The package's
 * 256 MiB lies between: where the two differ, either answer is right.
 * Files it does not list are an error: every hostile file must be documented.
 */
export async function hostileFileCases(root) {
  const dir = join(root, 'tests/images/hostile');
  let names;
  try {
    names = (await readdir(dir, { withFileTypes: true }))
      .filter((e) => e.isFile() && !/\.(md|txt|py)$/i.test(e.name))
      .map((e) => e.name);
  } catch {
    return []; // not on this branch yet
  }
  const readme = await readFile(join(dir, 'README.md'), 'utf8');
  const expected = new Map();
  for (const line of readme.split('\n')) {
    if (!line.trim().startsWith('|')) continue;
    const ticks = [...line.matchAll(/`([^`]+)`/g)].map((m) => m[1]);
    const file = ticks.find((t) => names.includes(t));
    if (!file) continue;
    const answers = ticks
      .filter((t) => t !== file && /^[a-z_0-9]+$/.test(t))
      .map((t) => (['ok', '200', 'prediction', 'accepted'].includes(t) ? 'prediction' : t));
    if (answers.length) expected.set(file, answers);
  }
  return Promise.all(
    names.map(async (name) => {
      if (!expected.has(name)) throw new Error(`tests/images/hostile/${name} has no expected answer in its README.md`);
      return { name: `hostile/${name}`, bytes: await readFile(join(dir, name)), expected: expected.get(name) };
    }),
  );
}

export async function hostileCases(root) {
  return [...generatedCases(), ...(await hostileFileCases(root))];
}
