// The public API of the npm package, around the wasm exports of
// crates/web (src/lib.rs). JS does what is simpler in JS: download with
// progress, the Cache API, asking the browser for a WebGPU adapter.
// browser.js and node.js call `setup` with a way to load the wasm.

import initWasm, { Model, sha256Hex, parseManifest } from './densenet_edge_web.js';

const CACHE_NAME = 'densenet-edge-models-v1';
let wasmReady = null;
// node.js replaces these: Node's fetch cannot read file: URLs, and relative
// model URLs resolve against the working directory there.
let env = { readWasmBytes: null, fetch: (u) => fetch(u), baseUrl: () => globalThis.location?.href ?? 'file:///' };

export function setup(overrides) {
  env = { ...env, ...overrides };
}

function ensureWasm() {
  wasmReady ??= (async () => {
    if (env.readWasmBytes) await initWasm({ module_or_path: await env.readWasmBytes() });
    else await initWasm();
  })();
  return wasmReady;
}

function codedError(code, message) {
  const e = new Error(message);
  e.code = code;
  return e;
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

async function openCache(enabled) {
  if (!enabled || typeof caches === 'undefined') return null;
  try {
    return await caches.open(CACHE_NAME);
  } catch {
    return null; // e.g. opaque origins, or storage disabled
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
async function loadManifest(options, modelUrl, cache, fetchUrl) {
  if (options.manifest) {
    return typeof options.manifest === 'string' ? options.manifest : JSON.stringify(options.manifest);
  }
  if (!modelUrl) throw codedError('invalid_argument', 'model bytes need a `manifest` option');
  const url = options.manifestUrl ? new URL(options.manifestUrl, baseUrl()).href : manifestUrlFor(modelUrl);
  try {
    const bytes = await fetchBytes(url, null, fetchUrl);
    const text = new TextDecoder().decode(bytes);
    await cache?.put(url, new Response(text, { headers: { 'content-type': 'application/json' } }));
    return text;
  } catch (e) {
    const hit = await cache?.match(url); // offline: the copy from the last visit
    if (hit) return hit.text();
    throw e;
  }
}

/**
 * Model bytes: the cached copy first, else downloaded (and then cached).
 * Their sha256 is checked once, in Model.load (Rust); a cached copy that
 * fails it is dropped and downloaded again by create().
 */
async function loadModelBytes(url, cache, onProgress, fetchUrl) {
  const hit = await cache?.match(url);
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

async function toInput(input) {
  if (typeof Blob !== 'undefined' && input instanceof Blob) return new Uint8Array(await input.arrayBuffer());
  if (input instanceof ArrayBuffer) return new Uint8Array(input);
  if (ArrayBuffer.isView(input)) return new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
  if (input && typeof input === 'object' && 'data' in input && 'width' in input && 'height' in input) return input;
  throw codedError('invalid_argument', 'classify() takes a Blob/File, an ArrayBuffer/Uint8Array or ImageData');
}

export class Classifier {
  #model;
  /** Information about the loaded model and engine. */
  engine;
  engineReason;
  device;
  model;
  /** Milliseconds spent in create(), and whether the model came from the cache. */
  load;

  constructor(model, load) {
    this.#model = model;
    this.engine = model.engine;
    this.engineReason = model.engineReason;
    this.device = model.device;
    const m = model.manifest;
    this.model = { name: m.name, weights: m.weights, sha256: m.sha256, pretrained: m.weights === 'pretrained' };
    this.load = load;
  }

  static async create(options = {}) {
    const t0 = performance.now();
    await ensureWasm();
    const { onProgress } = options;
    const fetchUrl = options.fetch || env.fetch;
    const cache = await openCache(options.cache !== false);
    let modelUrl = null;
    let bytes;
    let cached = false;
    if (typeof options.model === 'string' || options.model instanceof URL) {
      modelUrl = new URL(options.model, baseUrl()).href;
    } else if (options.model instanceof ArrayBuffer || ArrayBuffer.isView(options.model)) {
      bytes = options.model instanceof ArrayBuffer ? new Uint8Array(options.model) : new Uint8Array(options.model.buffer, options.model.byteOffset, options.model.byteLength);
    } else {
      throw codedError('invalid_argument', '`model` must be a URL or the model bytes');
    }
    const manifestJson = await loadManifest(options, modelUrl, cache, fetchUrl);
    parseManifest(manifestJson); // a bad manifest fails before any download
    if (modelUrl) ({ bytes, cached } = await loadModelBytes(modelUrl, cache, onProgress, fetchUrl));
    const choice = await chooseEngine(options.engine || 'auto');
    onProgress?.({ phase: 'compile', engine: choice.engine });
    // load() checks the sha256 against the manifest before anything else.
    const load = () => Model.load(bytes, manifestJson, choice.engine, choice.fallback, choice.reason);
    let model;
    try {
      model = await load();
    } catch (e) {
      if (!(cached && e.code === 'model_invalid' && /sha256/.test(e.message))) throw e;
      await cache.delete(modelUrl); // a stale or corrupt cached copy: download again
      ({ bytes, cached } = await loadModelBytes(modelUrl, cache, onProgress, fetchUrl));
      model = await load();
    }
    if (modelUrl && !cached) await cache?.put(modelUrl, new Response(bytes, { headers: { 'content-type': 'application/octet-stream' } }));
    onProgress?.({ phase: 'ready', engine: model.engine });
    return new Classifier(model, { ms: performance.now() - t0, cached });
  }

  /** Top-k of one image; throws an Error with `.code` for a bad image. */
  async classify(input, options = {}) {
    const [result] = await this.classifyMany([input], options);
    if (result.error) throw codedError(result.error.code, result.error.message);
    return result;
  }

  /** One result or `{ error: { code, message } }` per input, in order. */
  async classifyMany(inputs, options = {}) {
    const topK = options.topK ?? 5;
    const prepared = [];
    const errors = new Map();
    for (const [i, input] of Array.from(inputs).entries()) {
      try {
        prepared.push(await toInput(input));
      } catch (e) {
        errors.set(i, { error: { code: e.code || 'invalid_argument', message: e.message } });
        prepared.push(new Uint8Array(0)); // keeps the order; its result is replaced below
      }
    }
    const results = await this.#model.classify(prepared, topK);
    return results.map((r, i) => errors.get(i) || r);
  }

  /** Frees the wasm memory of the model. */
  dispose() {
    this.#model.free();
  }
}

export { sha256Hex, CACHE_NAME };
