// The Worker's entry: worker-build's module (build/index.js) behind one
// wrapper that turns a crash of the wasm instance into our JSON 500.
//
// What workers-rs 0.8 does on a panic (panic=abort on stable Rust): its panic
// hook logs the panic and sets `criticalError` in `globalThis.__worker_init_state`;
// wasm-bindgen's abort handler schedules a reinitialisation, and the next
// request gets a fresh wasm instance (new linear memory: the model is loaded
// again). The panicking request's promise never settles, so the runtime would
// cancel it with its own text 500, and so would every other request in flight
// on that instance. Here each request watches the crash flag and the instance
// id instead, and answers a JSON 500 `internal` as soon as either moves.
import { WorkerEntrypoint } from 'cloudflare:workers';
import RustWorker from './build/index.js';

// Each waiting request looks every LOOK_MS: at concurrency 16, 1000 instead
// of 20 gave the same requests per second (6 interleaved rounds).
const LOOK_MS = 20;

function crashed(detail) {
  const body = {
    error: {
      code: 'internal',
      message: `the Worker crashed while answering (${detail}); its state was reset, retry the request`,
    },
  };
  return new Response(JSON.stringify(body), {
    status: 500,
    headers: { 'Content-Type': 'application/json', 'Access-Control-Allow-Origin': '*' },
  });
}

export default class extends WorkerEntrypoint {
  async fetch(request) {
    const state = globalThis.__worker_init_state;
    const inner = new RustWorker(this.ctx, this.env);
    const instance = state?.instanceId;
    let timer;
    const crash = new Promise((resolve) => {
      const look = () => {
        if (state && (state.criticalError || state.instanceId !== instance)) resolve(crashed('panic or wasm trap'));
        else timer = setTimeout(look, LOOK_MS);
      };
      timer = setTimeout(look, LOOK_MS);
    });
    try {
      return await Promise.race([inner.fetch(request), crash]);
    } catch (e) {
      return crashed(String(e?.message ?? e).slice(0, 200));
    } finally {
      clearTimeout(timer);
    }
  }
}
