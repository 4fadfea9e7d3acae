// Types of the npm package `densenet-edge` (classifier.js / node.js).

export type EngineChoice = 'auto' | 'webgpu' | 'cpu';

export interface Progress {
  phase: 'download' | 'verify' | 'compile' | 'ready';
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
  /** The manifest (object or JSON). Default: fetched from `manifestUrl`. Required with model bytes. */
  manifest?: Manifest | string;
  /** Default: the model URL with `.onnx` replaced by `.json`. */
  manifestUrl?: string;
  onProgress?: (p: Progress) => void;
  /** Keep the model in the Cache API (verified by sha256 on every load). Default true. */
  cache?: boolean;
  /** A fetch to use instead of the global one. */
  fetch?: (url: string) => Promise<Response>;
}

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
  sha256: string;
}

export interface Classification {
  /** Most probable first. */
  predictions: Prediction[];
  /** False when the top probability is under the threshold (0.2). */
  recognized: boolean;
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
  | 'empty_input' | 'not_an_image' | 'unsupported_format' | 'corrupt_image' | 'too_many_pixels' | 'too_many_bytes'
  | 'model_invalid' | 'model_unavailable' | 'engine_unavailable' | 'engine_mismatch' | 'inference_failed' | 'invalid_argument';

/** Errors thrown by the package carry one of the codes above. */
export interface CodedError extends Error {
  code: ErrorCode;
}

export type ImageInput = Blob | ArrayBuffer | Uint8Array | ImageData | { data: Uint8ClampedArray | Uint8Array; width: number; height: number };

export interface ClassifyOptions {
  /** Default 5. */
  topK?: number;
}

export declare class Classifier {
  static create(options: CreateOptions): Promise<Classifier>;
  readonly engine: 'webgpu' | 'cpu';
  readonly engineReason: string;
  readonly device: string;
  readonly model: ModelInfo & { pretrained: boolean };
  /** Time spent in create() and whether the model came from the cache. */
  readonly load: { ms: number; cached: boolean };
  /** Throws a CodedError for a bad image. */
  classify(input: ImageInput, options?: ClassifyOptions): Promise<Classification>;
  /** One result or error per input, in order; never throws for a bad image. */
  classifyMany(inputs: Iterable<ImageInput>, options?: ClassifyOptions): Promise<Array<Classification | ClassificationError>>;
  /** Frees the model's wasm memory. */
  dispose(): void;
}

/** The manifest URL next to a model URL: x.onnx -> x.json. */
export declare function manifestUrlFor(modelUrl: string): string;
/** sha256 hex of bytes (after the first create()). */
export declare function sha256Hex(bytes: Uint8Array): string;
export declare const CACHE_NAME: string;
