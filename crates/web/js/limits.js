// Size checks made in JS, before an input is read or copied into wasm
// memory: an oversized file must not grow the wasm memory (which never
// shrinks) by its size just to be refused, and a Blob over the limit is not
// even read. The wasm side checks again (src/input.rs); the messages are the
// same. ImageData needs no check here: it is passed to wasm by reference,
// and the shared crate refuses it on its dimensions before it copies a row.

import { codedError } from './instance.js';

/** Throws an Error with `.code` when `input` (bytes, or `{ byteLength }`) is over `limits`; returns it otherwise. */
export function checkInput(input, limits) {
  if (input.byteLength > limits.maxBytes) {
    throw codedError('too_many_bytes', `the input has ${input.byteLength} bytes, more than the limit of ${limits.maxBytes}`);
  }
  return input;
}
