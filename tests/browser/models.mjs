// Models for the package tests: the real one, a second valid one with
// another sha256 (a model "update"), and hostile ones, each with a manifest
// that matches its bytes (the sha256 check passes: what follows is the
// engine's own defence).
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

export const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');

export async function realModel(root) {
  const bytes = await readFile(join(root, 'model/build/densenet121-random.onnx'));
  const manifest = JSON.parse(await readFile(join(root, 'model/manifests/densenet121-random.json'), 'utf8'));
  return { bytes, manifest };
}

/** `base` describing `bytes` instead. */
export function manifestFor(bytes, base, name = base.name) {
  return { ...base, name, sha256: sha256(bytes), bytes: bytes.length };
}

/**
 * The model with one weight changed in its lowest bit: still a valid model
 * (a float's lowest mantissa or exponent bit: the value moves a little, or
 * doubles), with another sha256. `at` picks the byte (the middle of the
 * file, where the initializers' raw data are); callers check that it loads.
 */
export function updatedModel(bytes, at = Math.floor(bytes.length / 2)) {
  const copy = Buffer.from(bytes);
  copy[at] ^= 1;
  return copy;
}

/**
 * Model files whose manifest matches them, so only the engine stands
 * between them and the tab: each must be refused with `model_invalid`,
 * never trap the wasm instance.
 */
export function hostileModels(real) {
  return [
    // A graph (field 7) of 11 bytes whose first node (field 1) claims a
    // length of 2^64 - 11: the engine once panicked on it.
    { name: 'node-length-2^64', bytes: Uint8Array.from([0x3a, 0x0b, 0x0a, 0xf5, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]) },
    { name: 'empty', bytes: new Uint8Array(0) },
    { name: 'text', bytes: new TextEncoder().encode('not a model at all') },
    { name: 'truncated-1MiB', bytes: real.subarray(0, 1 << 20) },
  ];
}
