// onnxruntime's outputs for the test photos (model/make_references.py writes
// them), for the Worker's and the browser package's tests.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
/** The model the tests run: the seeded random-weight DenseNet-121. */
export const MODEL_NAME = 'densenet121-random';

/** A .npy file (format 1.x/2.x, little-endian float32) as a Float32Array. */
export function readNpyF32(file) {
  const buf = readFileSync(file);
  if (buf.toString('latin1', 0, 6) !== '\x93NUMPY') throw new Error(`${file}: not .npy`);
  const major = buf[6];
  const headerLen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = (major === 1 ? 10 : 12) + headerLen;
  const header = buf.toString('latin1', major === 1 ? 10 : 12, start);
  if (!header.includes("'<f4'")) throw new Error(`${file}: not float32: ${header}`);
  const data = buf.subarray(start);
  return new Float32Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.length));
}

export function softmax(logits) {
  const max = Math.max(...logits);
  const e = Array.from(logits, (l) => Math.exp(l - max));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / sum);
}

export const classIndex = JSON.parse(readFileSync(path.join(root, 'model/imagenet_class_index.json'), 'utf8'));

/** onnxruntime's answer for tests/images/photos/<name>: probabilities by class. */
export function reference(name) {
  return softmax(readNpyF32(path.join(root, `model/reference/photos_${name}.logits.${MODEL_NAME}.npy`)));
}

export function argmax(values) {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}
