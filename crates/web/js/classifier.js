// The public API of the npm package, around the wasm exports of
// crates/web (src/lib.rs). JS does what is simpler in JS: download with
// progress, the Cache API, asking the browser for a WebGPU adapter, size
// checks before anything is copied into wasm memory, and replacing a wasm
// instance that trapped (instance.js). node.js calls `setup` with a way to
// load the wasm.

import { camelKeys } from './answer.js';
import { api, callWasm, codedError, ensureWasm, generation, onReset, setWasmSource } from './instance.js';
import { checkInput } from './limits.js';

// The exports of the current wasm instance's glue (instance.js).
const sha256Hex = (bytes) => api().sha256Hex(bytes);
const parseManifest = (json) => api().parseManifest(json);
const defaultLimits = () => api().defaultLimits();
const hasTestTraps = () => api().hasTestTraps();
const CACHE_NAME = 'densenet-edge-models-v1';
// node.js replaces these: Node's fetch cannot read file: URLs, relative
// model URLs resolve against the working directory there, and Node has no
// Cache API (which is no reason for a warning there).
let env = {
  fetch: (u) => fetch(u),
  baseUrl: () => globalThis.location?.href ?? 'file:///',
  cacheApiExpected: true,
};

export function setup(overrides) {
  const { readWasmBytes, ...rest } = overrides;
  if (readWasmBytes) setWasmSource(readWasmBytes);
  env = { ...env, ...rest };
}

/** A warning that does not fail the call: to onProgress and the console. */
function warn(onProgress, code, message) {
  console.warn(`densenet-edge: ${message}`);
  onProgress?.({ phase: 'warning', code, message });
}

/** `cache.put` that never fails a load: a full quota only costs a download next time. */
async function cachePut(cache, url, response, onProgress) {
  if (!cache) return false;
  try {
    await cache.put(url, response);
    return true;
  } catch (e) {
    warn(onProgress, 'cache_failed', `could not store ${url} in the Cache API (${e.name}: ${e.message}); it is used now and will be downloaded again on the next load`);
    return false;
  }
}

async function cacheMatch(cache, url) {
  try {
    return (await cache?.match(url)) || null;
  } catch {
    return null; // a broken cache is a miss, not a failure
  }
}

/** The manifest URL next to a model URL: `x.onnx` -> `x.json`. */
export function manifestUrlFor(modelUrl) {
  const u = new URL(modelUrl, baseUrl());
  u.pathname = u.pathname.replace(/\.onnx$/, '') + '.json';
  return u.href;
}

function baseUrl() {
  return env.baseUrl();
}

async function openCache(enabled, onProgress) {
  if (!enabled) return null;
  if (typeof caches === 'undefined') {
    if (env.cacheApiExpected) warn(onProgress, 'cache_unavailable', 'this context has no Cache API (e.g. a plain-http page on another host than localhost): the model will be downloaded on every load');
    return null;
  }
  try {
    return await caches.open(CACHE_NAME);
  } catch (e) {
    // e.g. opaque origins, or storage disabled
    warn(onProgress, 'cache_unavailable', `the Cache API cannot be opened (${e.name}: ${e.message}): the model will be downloaded on every load`);
    return null;
  }
}

async function fetchBytes(url, onProgress, fetchUrl) {
  let response;
  try {
    response = await fetchUrl(url);
  } catch (e) {
    throw codedError('model_unavailable', `could not download ${url}: ${e.message}`);
  }
  if (!response.ok) throw codedError('model_unavailable', `could not download ${url}: HTTP ${response.status}`);
  const total = Number(response.headers.get('content-length')) || 0;
  if (!response.body || !onProgress) return new Uint8Array(await response.arrayBuffer());
  // Read in chunks to report progress.
  const chunks = [];
  let loaded = 0;
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    loaded += value.length;
    onProgress({ phase: 'download', loaded, total });
  }
  const bytes = new Uint8Array(loaded);
  let at = 0;
  for (const c of chunks) {
    bytes.set(c, at);
    at += c.length;
  }
  return bytes;
}

/** Manifest JSON: from the option, else the Cache, else the network. */
async function loadManifest(options, modelUrl, cache, fetchUrl, onProgress) {
  if (options.manifest) {
    return typeof options.manifest === 'string' ? options.manifest : JSON.stringify(options.manifest);
  }
  if (!modelUrl) throw codedError('invalid_argument', 'model bytes need a `manifest` option');
  const url = options.manifestUrl ? new URL(options.manifestUrl, baseUrl()).href : manifestUrlFor(modelUrl);
  try {
    const bytes = await fetchBytes(url, null, fetchUrl);
    const text = new TextDecoder().decode(bytes);
    await cachePut(cache, url, new Response(text, { headers: { 'content-type': 'application/json' } }), onProgress);
    return text;
  } catch (e) {
    const hit = await cacheMatch(cache, url); // offline: the copy from the last visit
    if (hit) return hit.text();
    throw e;
  }
}

/**
 * Model bytes: the cached copy first, else downloaded (and then cached).
 * Their sha256 is checked once, in WasmClassifier.load (Rust, against the
 * digest from nativeSha256 where there is one); a cached copy that fails it is
 * dropped and downloaded again by create().
 */
async function loadModelBytes(url, cache, onProgress, fetchUrl) {
  const hit = await cacheMatch(cache, url);
  if (hit) {
    const bytes = new Uint8Array(await hit.arrayBuffer());
    onProgress?.({ phase: 'verify', loaded: bytes.length, total: bytes.length, cached: true });
    return { bytes, cached: true };
  }
  const bytes = await fetchBytes(url, onProgress, fetchUrl);
  onProgress?.({ phase: 'verify', loaded: bytes.length, total: bytes.length, cached: false });
  return { bytes, cached: false };
}

/**
 * The bytes' SHA-256 by the runtime's WebCrypto (native code: 22-39 ms for
 * the 32 MB model in Node, where hashing in wasm takes 180-200), or null
 * where there is none (e.g. a page served over plain http): the wasm then
 * hashes the bytes itself.
 */
async function nativeSha256(bytes) {
  const subtle = globalThis.crypto?.subtle;
  if (!subtle) return null;
  try {
    return new Uint8Array(await subtle.digest('SHA-256', bytes));
  } catch {
    return null;
  }
}

/**
 * Which engine to try, from what JS can see. WebGPU through wonnx only
 * with a real (non-fallback) adapter: SwiftShader is correct but ~60x slower
 * than the CPU engine.
 */
async function chooseEngine(requested) {
  if (requested === 'cpu') return { engine: 'cpu', fallback: false, reason: 'CPU engine requested' };
  const gpu = globalThis.navigator?.gpu;
  let adapter = null;
  if (gpu) {
    try {
      adapter = await gpu.requestAdapter();
    } catch {
      adapter = null;
    }
  }
  if (requested === 'webgpu') {
    if (!adapter) throw codedError('engine_unavailable', 'WebGPU engine requested, but there is no WebGPU adapter');
    return { engine: 'webgpu', fallback: false, reason: `WebGPU engine requested (${describe(adapter)})` };
  }
  if (requested !== 'auto') throw codedError('invalid_argument', `unknown engine ${requested}: use auto, webgpu or cpu`);
  if (!gpu) return { engine: 'cpu', fallback: false, reason: 'auto: this runtime has no WebGPU (navigator.gpu)' };
  if (!adapter) return { engine: 'cpu', fallback: false, reason: 'auto: no WebGPU adapter' };
  if (adapter.isFallbackAdapter || adapter.info?.isFallbackAdapter) {
    return { engine: 'cpu', fallback: false, reason: `auto: the WebGPU adapter is a software fallback (${describe(adapter)}), the CPU engine is faster` };
  }
  return { engine: 'webgpu', fallback: true, reason: `auto: WebGPU adapter ${describe(adapter)}` };
}

function describe(adapter) {
  const i = adapter.info || {};
  return [i.vendor, i.architecture, i.description].filter(Boolean).join(' ') || 'unknown adapter';
}

/**
 * An input as wasm takes it, its size checked first: a Blob by its `size`
 * before it is read, bytes by their length (limits.js). ImageData goes to
 * wasm as it is: the shared crate checks its dimensions before it copies
 * a row of its pixels.
 */
async function toInput(input, limits) {
  if (typeof Blob !== 'undefined' && input instanceof Blob) {
    checkInput({ byteLength: input.size }, limits);
    return new Uint8Array(await input.arrayBuffer());
  }
  if (input instanceof ArrayBuffer) return checkInput(new Uint8Array(input), limits);
  if (ArrayBuffer.isView(input)) return checkInput(new Uint8Array(input.buffer, input.byteOffset, input.byteLength), limits);
  if (input && typeof input === 'object' && 'data' in input && 'width' in input && 'height' in input) return input;
  throw codedError('invalid_argument', 'classify() takes a Blob/File, an ArrayBuffer/Uint8Array or ImageData');
}

export class Classifier {
  #model;
  #modelGeneration;
  #loader;
  #reloading = null;
  /** Information about the loaded model and engine. */
  engine;
  engineReason;
  device;
  model;
  /** Milliseconds spent in create(), and whether the model came from the cache. */
  load;
  /** The decode limits applied: `{ maxBytes, maxPixels, maxDecodeBytes }`. */
  limits;
  /** Times the model was loaded again into a fresh wasm instance after a trap, and the last of them. */
  reloads = 0;
  lastReload = null;

  constructor(model, load, loader) {
    this.#adopt(model);
    this.#loader = loader;
    this.engine = model.engine;
    this.engineReason = model.engineReason;
    this.device = model.device;
    this.limits = model.limits;
    this.model = camelKeys(model.modelInfo);
    this.load = load;
  }

  #adopt(model) {
    this.#model = model;
    this.#modelGeneration = generation();
    // The WasmClassifier lives in this instance's memory: once the instance is
    // replaced, its handle must never reach wasm again (not even to free it).
    onReset(model);
  }

  static async create(options = {}) {
    const t0 = performance.now();
    await ensureWasm();
    const { onProgress } = options;
    const fetchUrl = options.fetch || env.fetch;
    const cache = await openCache(options.cache !== false, onProgress);
    let modelUrl = null;
    let givenBytes = null;
    if (typeof options.model === 'string' || options.model instanceof URL) {
      modelUrl = new URL(options.model, baseUrl()).href;
    } else if (options.model instanceof ArrayBuffer || ArrayBuffer.isView(options.model)) {
      givenBytes = options.model instanceof ArrayBuffer ? new Uint8Array(options.model) : new Uint8Array(options.model.buffer, options.model.byteOffset, options.model.byteLength);
    } else {
      throw codedError('invalid_argument', '`model` must be a URL or the model bytes');
    }
    const manifestJson = await loadManifest(options, modelUrl, cache, fetchUrl, onProgress);
    parseManifest(manifestJson); // a bad manifest fails before any download
    const choice = await chooseEngine(options.engine || 'auto');
    const limits = options.limits ?? null;

    // Loads the model into the current wasm instance: at create(), and
    // again after a trap replaced the instance (the bytes then come from
    // the Cache API when they were stored there).
    const loader = async (progress) => {
      let bytes = givenBytes;
      let cached = false;
      if (modelUrl) ({ bytes, cached } = await loadModelBytes(modelUrl, cache, progress, fetchUrl));
      progress?.({ phase: 'compile', engine: choice.engine });
      // load() checks the sha256 against the manifest before anything else.
      const load = async () => {
        const sha256 = await nativeSha256(bytes);
        return callWasm(() => api().WasmClassifier.load(bytes, manifestJson, choice.engine, choice.fallback, choice.reason, limits, sha256));
      };
      let model;
      try {
        model = await load();
      } catch (e) {
        if (!(cached && e.code === 'model_checksum_mismatch')) throw e;
        try {
          await cache.delete(modelUrl); // a stale or corrupt cached copy: download again
        } catch {}
        ({ bytes, cached } = await loadModelBytes(modelUrl, null, progress, fetchUrl));
        model = await load();
      }
      if (modelUrl && !cached) {
        await cachePut(cache, modelUrl, new Response(bytes, { headers: { 'content-type': 'application/octet-stream' } }), progress);
      }
      return { model, cached };
    };
    const { model, cached } = await loader(onProgress);
    onProgress?.({ phase: 'ready', engine: model.engine });
    return new Classifier(model, { ms: performance.now() - t0, cached }, { run: loader, onProgress });
  }

  /** The model in the current wasm instance: loaded again if a trap replaced the instance. */
  async #current() {
    if (this.#modelGeneration === generation()) return this.#model;
    this.#reloading ??= (async () => {
      const t0 = performance.now();
      const { onProgress } = this.#loader;
      onProgress?.({ phase: 'reload', reason: 'the wasm instance trapped and was replaced' });
      try {
        const { model, cached } = await this.#loader.run(onProgress);
        this.#adopt(model);
        this.reloads += 1;
        this.lastReload = { ms: performance.now() - t0, cached };
        onProgress?.({ phase: 'ready', engine: model.engine, reloaded: true });
      } finally {
        this.#reloading = null;
      }
    })();
    await this.#reloading;
    return this.#current();
  }

  /** Top-k of one image; throws an Error with `.code` for a bad image. */
  async classify(input, options = {}) {
    const [result] = await this.classifyMany([input], options);
    if (result.error) throw codedError(result.error.code, result.error.message);
    return result;
  }

  /**
   * One result or `{ error: { code, message } }` per input, in order.
   * Rejects with code `instance_crashed` if the wasm instance traps: it is
   * then replaced, and the next call loads the model into a fresh one.
   */
  async classifyMany(inputs, options = {}) {
    const topK = options.topK ?? api().defaultTopK();
    const prepared = [];
    const errors = new Map();
    for (const [i, input] of Array.from(inputs).entries()) {
      try {
        prepared.push(await toInput(input, this.limits));
      } catch (e) {
        errors.set(i, { error: { code: e.code || 'invalid_argument', message: e.message } });
        prepared.push(new Uint8Array(0)); // keeps the order; its result is replaced below
      }
    }
    const model = await this.#current();
    const results = await callWasm(() => model.classify(prepared, topK));
    return results.map((r, i) => errors.get(i) || camelKeys(r));
  }

  /**
   * Bytes of wasm memory of the current instance: its high-water mark, as
   * linear memory never shrinks (a fresh instance after a trap starts low).
   */
  static wasmMemoryBytes() {
    return api().wasmMemoryBytes();
  }

  /** Frees the wasm memory of the model. */
  dispose() {
    if (this.#modelGeneration === generation()) this.#model.free();
    this.#model = null;
  }
}

export { sha256Hex, defaultLimits, hasTestTraps, CACHE_NAME };
