// The one wasm instance of this JS realm, and its replacement after a trap.
//
// A trap (`WebAssembly.RuntimeError`: a Rust panic is `unreachable` with
// panic=abort, out of memory too) stops Rust mid-call: its allocator,
// borrow flags and objects are left as they were, so the instance must not
// run again. The glue is built with wasm-bindgen's
// `--experimental-reset-state-function`: `__wbg_reset_state()` makes a fresh
// `WebAssembly.Instance` of the same compiled module, synchronously (no new
// download or compilation). Every object of the old instance (the loaded
// Models) is then dead; Classifier loads its model again (classifier.js).
//
// Chromium refuses a synchronous `new WebAssembly.Instance` of a module
// over 8 MB on a page's main thread (RangeError). There, a fresh copy of the
// glue module is imported and instantiated asynchronously from the module
// compiled at start instead; `api()` is whichever glue is current.

import initWasm, * as firstGlue from './densenet_edge_web.js';

const GLUE_FILE = './densenet_edge_web.js';
let glue = firstGlue;
let compiled = null;
let readWasmBytes = null;
let ready = null;
let current = 0;
// WeakRefs of the wasm-backed objects of the current instance.
let live = new Set();
// Rejects the calls in flight when a trap escapes as an uncaught error.
const inFlight = new Set();

/** node.js: the wasm comes from a file rather than a URL. */
export function setWasmSource(read) {
  readWasmBytes = read;
}

/** The current wasm-bindgen glue: its exports (WasmClassifier, parseManifest, ...) work on the current instance. */
export function api() {
  return glue;
}

// (func (param v128 v128 v128) (result v128) local.get 0 local.get 1 local.get 2 f32x4.relaxed_madd)
const RELAXED_SIMD_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 8, 1, 96, 3, 123, 123, 123, 1, 123, 3, 2, 1, 0, 10, 13, 1, 11, 0, 32, 0, 32, 1, 32, 2,
  253, 133, 2, 11,
]);

/**
 * The package's wasm build for this runtime: the relaxed-SIMD one
 * (f32x4.relaxed_madd is one FMA) where the runtime validates relaxed SIMD
 * (Chromium 114+, Node 22+), else the simd128 one (Node 20, Safari, Firefox
 * without the flag). The answer's `device` says which ran. Both URLs are
 * literal so that bundlers (Vite) emit both files.
 */
export function wasmUrl() {
  return WebAssembly.validate(RELAXED_SIMD_PROBE)
    ? new URL('densenet_edge_web_relaxed_bg.wasm', import.meta.url)
    : new URL('densenet_edge_web_bg.wasm', import.meta.url);
}

async function compile() {
  if (readWasmBytes) return WebAssembly.compile(await readWasmBytes());
  const url = wasmUrl();
  const response = await fetch(url);
  if (!response.ok) throw codedError('model_unavailable', `could not download ${url}: HTTP ${response.status}`);
  if (typeof WebAssembly.compileStreaming === 'function' && response.headers.get('content-type') === 'application/wasm') {
    return WebAssembly.compileStreaming(response);
  }
  return WebAssembly.compile(await response.arrayBuffer());
}

export function ensureWasm() {
  ready ??= (async () => {
    compiled = await compile();
    await initWasm({ module_or_path: compiled });
    watchUncaughtTraps();
  })().catch((e) => {
    ready = null; // e.g. offline on a first visit: try again next time
    throw e;
  });
  return ready;
}

/** Bumped each time the instance is replaced. */
export function generation() {
  return current;
}

/** Registers a wasm-backed object (a WasmClassifier) of the current instance. */
export function onReset(object) {
  for (const ref of live) if (!ref.deref()) live.delete(ref);
  live.add(new WeakRef(object));
}

export function codedError(code, message) {
  const e = new Error(message);
  e.code = code;
  return e;
}

function isTrap(e) {
  return typeof WebAssembly !== 'undefined' && e instanceof WebAssembly.RuntimeError;
}

async function replaceInstance() {
  // Detach the old objects first: their pointers mean nothing in the new
  // memory, and a finaliser freeing one there would corrupt it.
  for (const ref of live) ref.deref()?.__destroy_into_raw?.();
  live = new Set();
  current += 1;
  try {
    glue.__wbg_reset_state();
    return;
  } catch (e) {
    if (!(e instanceof RangeError)) throw e;
  }
  // A page's main thread in Chromium: a fresh glue module (its own module
  // record, hence the query) instantiated asynchronously. A bundle that
  // has no separate glue file cannot do this: the page must be reloaded.
  const generationUrl = new URL(`${GLUE_FILE}?instance=${current}`, import.meta.url).href;
  try {
    const fresh = await import(/* @vite-ignore */ generationUrl);
    await fresh.default({ module_or_path: compiled });
    glue = fresh;
  } catch (e) {
    throw codedError('instance_crashed', `the wasm instance trapped and could not be replaced here (${e.message}): reload the page`);
  }
}

function crashed(e) {
  return codedError(
    'instance_crashed',
    `the wasm instance trapped (${e.name}: ${e.message}) and was replaced: this call failed, the next call loads the model into a fresh instance`,
  );
}

/**
 * Runs `fn` (a call into wasm that returns a Promise). A trap rejects with
 * code `instance_crashed` after the instance has been replaced, whether it
 * was thrown synchronously (the CPU engine: all its work happens inside the
 * exported call) or escaped later as an uncaught error (WebGPU work resumed
 * from a callback).
 */
export async function callWasm(fn) {
  const started = current;
  let abort;
  const escaped = new Promise((_, reject) => (abort = reject));
  inFlight.add(abort);
  try {
    return await Promise.race([fn(), escaped]);
  } catch (e) {
    if (!isTrap(e)) throw e;
    if (started === current) await replaceInstance();
    throw crashed(e);
  } finally {
    inFlight.delete(abort);
  }
}

// An exception thrown by wasm inside a microtask or callback is reported
// as an uncaught error on the global scope (window or worker) and leaves
// the Promise of the call pending forever. Node has no such event, and
// needs none: it has no WebGPU, and CPU calls trap synchronously.
function watchUncaughtTraps() {
  if (typeof globalThis.addEventListener !== 'function') return;
  globalThis.addEventListener('error', (event) => {
    if (!isTrap(event.error) || inFlight.size === 0) return;
    // Handled here: in a Web Worker, this keeps the error from reaching
    // the page's worker.onerror as if the worker itself had failed.
    event.preventDefault();
    for (const abort of inFlight) abort(event.error);
  });
}
