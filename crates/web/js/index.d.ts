// Types of the npm package `densenet-edge` (classifier.js / node.js).

export type EngineChoice = 'auto' | 'webgpu' | 'cpu';

export interface Progress {
  /**
   * `warning`: something that did not fail the load (`code` "cache_failed":
   * `cache.put` refused the model, e.g. QuotaExceededError, so the next load
   * downloads it again; "cache_unavailable": no usable Cache API;
   * "model_stale": the file did not match its manifest, so create() asks
   * the server for both again, once, past every HTTP cache).
   * `reload`: the wasm instance trapped and was replaced; the model is being
   * loaded again (from the Cache API when it is there), followed by the
   * usual phases and `ready` with `reloaded: true`.
   */
  phase: 'download' | 'verify' | 'compile' | 'ready' | 'warning' | 'reload';
  code?: 'cache_failed' | 'cache_unavailable' | 'model_stale';
  message?: string;
  reason?: string;
  reloaded?: boolean;
  /** Bytes so far (download, verify). */
  loaded?: number;
  /** Total bytes, 0 when the server did not say. */
  total?: number;
  /** verify: whether the bytes came from the Cache API. */
  cached?: boolean;
  engine?: 'webgpu' | 'cpu';
}

export interface Manifest {
  name: string;
  file: string;
  sha256: string;
  bytes: number;
  /** "random" or "pretrained". */
  weights: string;
  preprocess: { resize: number; crop: number; mean: number[]; std: number[] };
}

export interface CreateOptions {
  /** URL of the .onnx file (a file path in Node), or its bytes. */
  model: string | URL | ArrayBuffer | Uint8Array;
  /** Default "auto": WebGPU on a non-fallback adapter whose self-check passes, else CPU. */
  engine?: EngineChoice;
  /**
   * The manifest (object or JSON). Default: fetched from `manifestUrl`,
   * revalidated with the server on every create() (`cache: 'no-cache'`; the
   * copy in the Cache API only when the network fails). Required with model bytes.
   */
  manifest?: Manifest | string;
  /** Default: the model URL with `.onnx` replaced by `.json`. */
  manifestUrl?: string;
  onProgress?: (p: Progress) => void;
  /**
   * Keep the model in the Cache API (`CACHE_NAME`), keyed by its URL and the
   * manifest's sha256 (`modelCacheKey`), verified by sha256 on every load.
   * Default true.
   */
  cache?: boolean;
  /** A fetch to use instead of the global one; `init.cache` is the cache mode the package asks for. */
  fetch?: (url: string, init?: { cache?: 'no-cache' | 'reload' }) => Promise<Response>;
  /** Limits; each one left out keeps its default (`defaultLimits()`). */
  limits?: Partial<Limits>;
}

/**
 * Per image: checked before an input is copied into wasm memory (ImageData:
 * its dimensions before its pixels), and from the image header before
 * decoding. Per call: `maxDecodePixels`. Per model: `maxWeightBytes` and
 * `maxWorkspaceBytes`, checked while it loads. Each must be an integer >= 1;
 * an unknown key is `invalid_argument`.
 */
export interface Limits {
  /** Largest encoded input, bytes. Default 20 MiB. Over it: `too_many_bytes`. */
  maxBytes: number;
  /** Largest width x height. Default 40 000 000. Over it: `too_many_pixels`. */
  maxPixels: number;
  /**
   * What decoding and resizing one image may allocate in wasm, bytes.
   * Default 256 MiB (wasm memory never shrinks: this is how far one image
   * can raise the tab's memory above the model's). Over it: `image_too_large`.
   */
  maxDecodeBytes: number;
  /**
   * Most scans one (progressive) JPEG may have: each is a pass of the
   * decoder over the image. Default 500: the shared crate's, as the Worker's
   * MAX_JPEG_SCANS. Over it: `too_much_work`, for that image.
   */
  maxJpegScans: number;
  /**
   * Pixels of decode work one `classify` / `classifyMany` call may take,
   * all its images together, charged from each header before decoding
   * (width x height, plus a progressive JPEG's scans; ImageData: its width
   * x height). Default 128 000 000. An image that would go past it gets
   * `too_much_work` in its place; the others are answered.
   */
  maxDecodePixels: number;
  /**
   * The most the CPU engine's packed weights may take in wasm memory, bytes.
   * Default 128 MiB (DenseNet-121: ~44 MiB, -169: ~69 MiB). A model over it
   * is refused while it loads (`model_invalid`, naming the limit), before
   * the weights are allocated. WebGPU loads the CPU engine too (its
   * reference), under the same limit.
   */
  maxWeightBytes: number;
  /**
   * The most one engine run of 8 images (the package's batch) may allocate
   * for activations and scratch, bytes. Default 64 MiB (DenseNet-121: 12.5
   * MiB for one image, 19.8 for 8). Over it: the model is refused at its
   * load (`model_invalid`, naming the limit).
   */
  maxWorkspaceBytes: number;
}

// Prediction, Timings, ModelInfo and Classification are the shared crate's
// answer types with camelCased keys: docs/answer.schema.json (definitions
// Prediction, PackageTimings, ModelInfo, PackageClassification) with
// `class_id` written `classId`. tests/browser/contract.test.mjs checks that
// these interfaces carry exactly those names.

export interface Prediction {
  classIndex: number;
  /** WordNet id, e.g. "n02124075". */
  classId: string;
  /** e.g. "Egyptian_cat". */
  className: string;
  probability: number;
}

export interface Timings {
  preprocessMs: number;
  inferenceMs: number;
  totalMs: number;
  /** Images in the call the timings belong to. */
  images: number;
}

export interface ModelInfo {
  name: string;
  /** "random" weights give meaningless labels. */
  weights: string;
  pretrained: boolean;
  sha256: string;
  /** Size of the model file. */
  bytes: number;
  /** "int8" for a quantized (QDQ) model, which only the CPU engine runs. */
  precision: 'f32' | 'int8';
}

export interface Classification {
  /** The most probable class (the HTTP API's `class_id`, `class_name`, ...): `predictions[0]`. */
  classId: string;
  className: string;
  classIndex: number;
  probability: number;
  /** False when the top probability is under the threshold (0.2). */
  recognized: boolean;
  /** Most probable first. */
  predictions: Prediction[];
  engine: 'webgpu' | 'cpu';
  /** Why this engine runs (for "auto": why WebGPU was or was not used). */
  engineReason: string;
  device: string;
  timings: Timings;
  model: ModelInfo;
}

export interface ClassificationError {
  error: { code: ErrorCode; message: string };
}

export type ErrorCode =
  | 'empty_input' | 'not_an_image' | 'unsupported_format' | 'corrupt_image' | 'too_many_pixels' | 'image_too_large'
  | 'too_many_bytes' | 'model_invalid' | 'model_checksum_mismatch' | 'model_unavailable' | 'engine_unavailable' | 'engine_mismatch'
  | 'inference_failed' | 'invalid_argument'
  /** Decoding this image would go past `maxJpegScans` or the call's `maxDecodePixels`. */
  | 'too_much_work'
  /** The wasm instance trapped during the call; it was replaced, the next call works on a fresh one. */
  | 'instance_crashed'
  /** classify() / classifyMany() on a Classifier after its dispose(). */
  | 'disposed';

/** Errors thrown by the package carry one of the codes above. */
export interface CodedError extends Error {
  code: ErrorCode;
}

export type ImageInput = Blob | ArrayBuffer | Uint8Array | ImageData | { data: Uint8ClampedArray | Uint8Array; width: number; height: number };

export interface ClassifyOptions {
  /** Default 5 (the shared crate's DEFAULT_TOP_K, as the HTTP API's); at most 1000. */
  topK?: number;
}

export declare class Classifier {
  static create(options: CreateOptions): Promise<Classifier>;
  readonly engine: 'webgpu' | 'cpu';
  readonly engineReason: string;
  readonly device: string;
  readonly model: ModelInfo;
  /** Time spent in create() and whether the model came from the cache. */
  readonly load: { ms: number; cached: boolean };
  readonly limits: Limits;
  /** Times the model was loaded into a fresh wasm instance after a trap, and the last of them. */
  readonly reloads: number;
  readonly lastReload: { ms: number; cached: boolean } | null;
  /** Rejects with a CodedError for a bad image; with code `disposed` after dispose(). */
  classify(input: ImageInput, options?: ClassifyOptions): Promise<Classification>;
  /**
   * One result or error per input, in order; never rejects for a bad image.
   * Rejects with code `instance_crashed` when the wasm instance trapped, and
   * `disposed` after dispose().
   */
  classifyMany(inputs: Iterable<ImageInput>, options?: ClassifyOptions): Promise<Array<Classification | ClassificationError>>;
  /** Bytes of wasm memory of the current instance (its high-water mark). */
  static wasmMemoryBytes(): number;
  /**
   * Frees the model's wasm memory. Idempotent (a second call does nothing);
   * classify() and classifyMany() then reject with code `disposed`.
   */
  dispose(): void;
}

/** The manifest URL next to a model URL: x.onnx -> x.json. */
export declare function manifestUrlFor(modelUrl: string): string;
/** The model's key in the Cache API: its URL with `sha256=<the manifest's sha256>` in the query. */
export declare function modelCacheKey(modelUrl: string, sha256: string): string;
/** sha256 hex of bytes (after the first create()). */
export declare function sha256Hex(bytes: Uint8Array): string;
export declare const CACHE_NAME: string;
/** False in the published package; true only in the test build with deliberate traps. */
export declare function hasTestTraps(): boolean;
/** The package's default limits (after the first create()). */
export declare function defaultLimits(): Limits;
