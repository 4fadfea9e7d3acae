// Size checks made in JS, before an input is copied into wasm memory: an
// oversized file must not grow the wasm memory (which never shrinks) by
// its size just to be refused. The wasm side checks again (src/input.rs);
// the messages are the same.

import { codedError } from './instance.js';

// RGBA bytes that the wasm side copies per step (src/input.rs).
const ROW_BYTES_PER_STEP = 256 * 1024;

/** What converting width x height RGBA pixels costs in wasm (src/input.rs `image_data_cost`). */
export function imageDataCost(width, height) {
  const stepRows = Math.max(1, Math.floor(ROW_BYTES_PER_STEP / Math.max(1, 4 * width)));
  return 3 * width * height + 4 * width * Math.min(stepRows, height);
}

/** Throws an Error with `.code` when `input` is over `limits`; returns it otherwise. */
export function checkInput(input, limits) {
  if (input instanceof Uint8Array || (input && 'byteLength' in input && !('data' in input))) {
    if (input.byteLength > limits.maxBytes) {
      throw codedError('too_many_bytes', `the input has ${input.byteLength} bytes, more than the limit of ${limits.maxBytes}`);
    }
    return input;
  }
  const { width, height, data } = input;
  if (![width, height].every((d) => Number.isInteger(d) && d >= 1 && d <= 0xffffffff)) {
    throw codedError('invalid_argument', `ImageData width and height must be positive integers, got ${width} and ${height}`);
  }
  if (width * height > limits.maxPixels) {
    throw codedError('too_many_pixels', `the image has ${width}x${height} pixels, more than the limit of ${limits.maxPixels}`);
  }
  const needed = imageDataCost(width, height);
  if (needed > limits.maxDecodeBytes) {
    throw codedError('image_too_large', `decoding this ${width}x${height} image needs about ${needed} bytes of memory, more than the budget of ${limits.maxDecodeBytes}`);
  }
  if (!(data instanceof Uint8ClampedArray || data instanceof Uint8Array)) {
    throw codedError('invalid_argument', 'ImageData `data` must be a Uint8ClampedArray or Uint8Array');
  }
  if (data.length !== 4 * width * height) {
    throw codedError('invalid_argument', `${data.length} RGBA bytes for ${width}x${height} pixels`);
  }
  return input;
}
