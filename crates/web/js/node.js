// Node entry: the same API as the browser build (CPU engine: Node has no
// WebGPU). Loads the wasm from disk and lets `model` be a file path.
import { readFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import { setup } from './classifier.js';
import { wasmUrl } from './instance.js';

setup({
  readWasmBytes: () => readFile(wasmUrl()),
  baseUrl: () => pathToFileURL(process.cwd() + '/').href,
  cacheApiExpected: false, // Node has no Cache API: no warning for that
  fetch: async (url, init) => {
    if (!String(url).startsWith('file:')) return fetch(url, init);
    try {
      return new Response(await readFile(new URL(url)));
    } catch (e) {
      return new Response(e.message, { status: e.code === 'ENOENT' ? 404 : 500 });
    }
  },
});

export * from './classifier.js';
