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
  fetch: (u, init) => fetch(u, init),
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

/**
 * The model's key in the Cache API: its URL with the manifest's sha256 in
 * the query (`x.onnx?sha256=<hex>`). A model updated on the server has
 * another sha256 in its manifest, hence another key: a copy of the old file
 * can never stand in for the new one.
 */
export function modelCacheKey(modelUrl, sha256) {
  const u = new URL(modelUrl, baseUrl());
  u.searchParams.set('sha256', sha256);
  return u.href;
}

/** The model URL a cache key was made from (its `sha256` parameter removed). */
function keyModelUrl(key) {
  const u = new URL(key);
  u.searchParams.delete('sha256');
  return u.href;
}

/**
 * Drops the other copies of this model URL (older versions, and the
 * URL-keyed entry of earlier package versions) once `keep` is stored: the
 * cache holds one 32 MB file per model URL, not one per update.
 */
async function dropOtherVersions(cache, modelUrl, keep) {
  try {
    for (const request of await cache.keys()) {
      if (request.url !== keep && keyModelUrl(request.url) === modelUrl) await cache.delete(request);
    }
  } catch {} // a cache that cannot be listed keeps its old copies, which costs space only
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

/**
 * The body of `url`, read in chunks (progress to `onProgress`). `init` goes
 * to fetch (its `cache` mode). Past `limit.bytes` it stops reading and
 * throws `limit.error(bytesSoFar)`: a model file larger than its manifest
 * says is not that file, whatever it is.
 */
async function fetchBytes(url, onProgress, fetchUrl, init, limit = null) {
  let response;
  try {
    response = await fetchUrl(url, init);
  } catch (e) {
    throw codedError('model_unavailable', `could not download ${url}: ${e.message}`);
  }
  if (!response.ok) throw codedError('model_unavailable', `could not download ${url}: HTTP ${response.status}`);
  const maxBytes = limit?.bytes ?? Infinity;
  // (Not refused on Content-Length: that is the encoded size, which gzip can
  // make a little larger than the file.)
  const total = Number(response.headers.get('content-length')) || 0;
  if (!response.body) {
    const bytes = new Uint8Array(await response.arrayBuffer());
    if (bytes.length > maxBytes) throw limit.error(bytes.length);
    return bytes;
  }
  // Read in chunks to report progress, and to stop at maxBytes.
  const chunks = [];
  let loaded = 0;
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    loaded += value.length;
    if (loaded > maxBytes) {
      reader.cancel().catch(() => {});
      throw limit.error(loaded);
    }
    onProgress?.({ phase: 'download', loaded, total });
  }
  const bytes = new Uint8Array(loaded);
  let at = 0;
  for (const c of chunks) {
    bytes.set(c, at);
    at += c.length;
  }
  return bytes;
}

/**
 * Manifest JSON: from the option, else the network, revalidated (`cache:
 * 'no-cache'`: an HTTP cache may keep it only if the server confirms it is
 * current; `'reload'` when create() asks again after a checksum mismatch),
 * else, offline, the copy in the Cache API from the last load.
 */
async function loadManifest(options, manifestUrl, cache, fetchUrl, onProgress, cacheMode = 'no-cache') {
  if (options.manifest) {
    return typeof options.manifest === 'string' ? options.manifest : JSON.stringify(options.manifest);
  }
  if (!manifestUrl) throw codedError('invalid_argument', 'model bytes need a `manifest` option');
  try {
    const bytes = await fetchBytes(manifestUrl, null, fetchUrl, { cache: cacheMode }, {
      bytes: MAX_MANIFEST_BYTES,
      error: (n) => codedError('model_invalid', `${manifestUrl} has ${n} bytes or more: not a model manifest`),
    });
    const text = new TextDecoder().decode(bytes);
    await cachePut(cache, manifestUrl, new Response(text, { headers: { 'content-type': 'application/json' } }), onProgress);
    return text;
  } catch (e) {
    if (e.code !== 'model_unavailable') throw e;
    const hit = await cacheMatch(cache, manifestUrl); // offline: the copy from the last visit
    if (hit) return hit.text();
    throw e;
  }
}

/** A manifest is a few hundred bytes; anything past this is not one. */
const MAX_MANIFEST_BYTES = 1 << 20;

/**
 * Model bytes: the cached copy of this very file (its key holds the
 * manifest's sha256) first, else downloaded, revalidated with the server
 * (`cache: 'no-cache'`: a stale copy in the browser's HTTP cache is not
 * used; a server that sends an ETag answers 304 when it is current).
 * Their sha256 is checked once, in WasmClassifier.load (Rust, against the
 * digest from nativeSha256 where there is one); a cached copy that fails it
 * is dropped and downloaded again by create().
 */
async function loadModelBytes(url, manifest, cache, onProgress, fetchUrl, cacheMode = 'no-cache') {
  const hit = await cacheMatch(cache, modelCacheKey(url, manifest.sha256));
  if (hit) {
    const bytes = new Uint8Array(await hit.arrayBuffer());
    onProgress?.({ phase: 'verify', loaded: bytes.length, total: bytes.length, cached: true });
    return { bytes, cached: true };
  }
  const bytes = await fetchBytes(url, onProgress, fetchUrl, { cache: cacheMode }, {
    bytes: manifest.bytes,
    error: (n) => codedError('model_checksum_mismatch', `${url} has ${n} bytes or more where its manifest (${manifest.name}) says ${manifest.bytes}: it is not the manifest's file`),
  });
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
  #disposed = false;
  /** Information about the loaded model and engine. */
  engine;
  engineReason;
  device;
  model;
  /** Milliseconds spent in create(), and whether the model came from the cache. */
  load;
  /** The limits applied (`defaultLimits()` with the caller's overrides). */
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
    if (this.#disposed) {
      model.free(); // disposed while it reloaded
      return;
    }
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
    const manifestUrl = modelUrl && (options.manifestUrl ? new URL(options.manifestUrl, baseUrl()).href : manifestUrlFor(modelUrl));
    let manifestJson = await loadManifest(options, manifestUrl, cache, fetchUrl, onProgress);
    let manifest = parseManifest(manifestJson); // a bad manifest fails before any download
    const choice = await chooseEngine(options.engine || 'auto');
    const limits = options.limits ?? null;

    // Loads the model of this manifest into the current wasm instance: at
    // create(), and again after a trap replaced the instance (the bytes
    // then come from the Cache API when they were stored there).
    const loaderFor = (manifestJson, manifest) => async (progress, cacheMode = 'no-cache') => {
      let bytes = givenBytes;
      let cached = false;
      if (modelUrl) ({ bytes, cached } = await loadModelBytes(modelUrl, manifest, cache, progress, fetchUrl, cacheMode));
      progress?.({ phase: 'compile', engine: choice.engine });
      // load() checks the sha256 against the manifest before anything else.
      const load = async () => {
        const sha256 = await nativeSha256(bytes);
        return callWasm(() => api().WasmClassifier.load({ model: bytes, manifest: manifestJson, engine: choice.engine, fallback: choice.fallback, reason: choice.reason, limits, sha256 }));
      };
      let model;
      try {
        model = await load();
      } catch (e) {
        if (!(cached && e.code === 'model_checksum_mismatch')) throw e;
        try {
          await cache.delete(modelCacheKey(modelUrl, manifest.sha256)); // a corrupt cached copy: download again
        } catch {}
        ({ bytes, cached } = await loadModelBytes(modelUrl, manifest, null, progress, fetchUrl, cacheMode));
        model = await load();
      }
      if (modelUrl && !cached) {
        const key = modelCacheKey(modelUrl, manifest.sha256);
        if (await cachePut(cache, key, new Response(bytes, { headers: { 'content-type': 'application/octet-stream' } }), progress)) {
          await dropOtherVersions(cache, modelUrl, key);
        }
      }
      return { model, cached };
    };
    let loader = loaderFor(manifestJson, manifest);
    let loaded;
    try {
      loaded = await loader(onProgress);
    } catch (e) {
      // The file the server sent is not the manifest's: one of the two was
      // stale (an HTTP cache or CDN on the way, a deploy half done). Once:
      // the manifest again and the model it names, past every HTTP cache.
      if (e.code !== 'model_checksum_mismatch' || !modelUrl) throw e;
      warn(onProgress, 'model_stale', `${e.message}; asking the server for the manifest and the model again`);
      if (manifestUrl) {
        manifestJson = await loadManifest(options, manifestUrl, cache, fetchUrl, onProgress, 'reload');
        manifest = parseManifest(manifestJson);
      }
      loader = loaderFor(manifestJson, manifest);
      loaded = await loader(onProgress, 'reload');
    }
    const { model, cached } = loaded;
    onProgress?.({ phase: 'ready', engine: model.engine });
    return new Classifier(model, { ms: performance.now() - t0, cached }, { run: loader, onProgress });
  }

  #checkLive() {
    if (this.#disposed) throw codedError('disposed', 'this Classifier was disposed: create a new one');
  }

  /** The model in the current wasm instance: loaded again if a trap replaced the instance. */
  async #current() {
    this.#checkLive();
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
   * Rejects with code `disposed` after dispose().
   */
  async classifyMany(inputs, options = {}) {
    this.#checkLive();
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

  /**
   * Frees the wasm memory of the model. Idempotent; classify() and
   * classifyMany() then reject with code `disposed`.
   */
  dispose() {
    if (this.#disposed) return;
    this.#disposed = true;
    const model = this.#model;
    this.#model = null;
    // A model of a replaced instance is dead already (instance.js).
    if (model && this.#modelGeneration === generation()) model.free();
  }
}

export { sha256Hex, defaultLimits, hasTestTraps, CACHE_NAME };
