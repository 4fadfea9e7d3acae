// The engine's wasm_check build (crates/engine/examples/wasm_check.rs) inside
// workerd, driven by tests/engine/workerd_check.sh. One request
// (GET /?reps=N&reps8=M) does everything and answers JSON: for each build
// embedded in the config, a fresh instance streams the ONNX model from the
// "files" disk service (model/ of the repo) through loader_push in 1 MiB
// pieces, runs kernel_check, checks the 4 photos (batch 1) and batch 4 against
// onnxruntime's logits (model/reference), then the builds are timed
// interleaved (batch 1, then batch 8; median ms/image) so that a change in
// the machine's load hits both alike.
const MiB = 1 << 20;
const IMG = 3 * 224 * 224;
const TOL = 1e-4;
const PHOTOS = ["astronaut", "chelsea", "coffee", "rocket"];
const MODEL = "build/densenet121-random.onnx";

async function get(env, path) {
  const r = await env.FILES.fetch(`http://files/${path}`);
  if (!r.ok) throw new Error(`GET ${path}: ${r.status}`);
  return r;
}

async function npy(env, path) {
  const b = new Uint8Array(await (await get(env, path)).arrayBuffer());
  const hlen = b[8] | (b[9] << 8);
  const header = new TextDecoder().decode(b.subarray(10, 10 + hlen));
  if (!header.includes("'<f4'")) throw new Error(`${path}: not float32`);
  return new Float32Array(b.slice(10 + hlen).buffer);
}

const maxDiff = (a, b) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
const median = (a) => {
  const s = [...a].sort((p, q) => p - q), h = s.length >> 1;
  return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
};
const round = (v, d = 1) => Number(v.toFixed(d));

class Build {
  constructor(name, module) {
    this.name = name;
    this.x = new WebAssembly.Instance(module, {}).exports;
  }
  get mem() {
    return this.x.memory.buffer;
  }
  get memMiB() {
    return round(this.mem.byteLength / MiB);
  }
  text(which) {
    const p = this.x.buf_alloc(256);
    const n = this.x.text(which, p, 256);
    const s = new TextDecoder().decode(new Uint8Array(this.mem, p, n));
    this.x.buf_free(p, 256);
    return s;
  }
  ok(rc, what) {
    if (rc !== 0) throw new Error(`${this.name} ${what}: ${this.text(1) || `rc ${rc}`}`);
  }
  // Streams the model: the whole file never sits in wasm memory (nor in JS).
  async load(env) {
    const t0 = performance.now();
    this.ok(this.x.loader_new(0), "loader_new");
    const chunk = this.x.buf_alloc(MiB);
    let fill = 0, chunks = 0, bytes = 0;
    const push = () => {
      this.ok(this.x.loader_push(chunk, fill), "loader_push");
      chunks++;
      bytes += fill;
      fill = 0;
    };
    const reader = (await get(env, MODEL)).body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      for (let off = 0; off < value.length; ) {
        const n = Math.min(MiB - fill, value.length - off);
        new Uint8Array(this.mem, chunk + fill, n).set(value.subarray(off, off + n));
        fill += n;
        off += n;
        if (fill === MiB) push();
      }
    }
    if (fill > 0) push();
    this.x.buf_free(chunk, MiB);
    this.ok(this.x.loader_finish(), "loader_finish");
    return { ms: round(performance.now() - t0, 0), chunks, bytes };
  }
  run(images) {
    const batch = images.length;
    const inp = this.x.buf_alloc(batch * IMG * 4);
    const out = this.x.buf_alloc(batch * 1000 * 4);
    images.forEach((im, i) => new Float32Array(this.mem, inp, batch * IMG).set(im, i * IMG));
    const t = performance.now();
    const rc = this.x.engine_run(inp, batch, out);
    const ms = performance.now() - t;
    this.ok(rc, `engine_run batch ${batch}`);
    const logits = new Float32Array(this.mem, out, batch * 1000).slice();
    this.x.buf_free(inp, batch * IMG * 4);
    this.x.buf_free(out, batch * 1000 * 4);
    return { logits, ms };
  }
}

// `modules`: { name: WebAssembly.Module }; `bytes`: { name: ArrayBuffer } of
// every build, embedded or not, for WebAssembly.validate.
export function handler(modules, bytes) {
  return {
    async fetch(req, env) {
      const url = new URL(req.url);
      if (url.pathname === "/ready") return new Response("ok");
      const reps = Number(url.searchParams.get("reps") ?? 5);
      const reps8 = Number(url.searchParams.get("reps8") ?? 2);
      const out = {
        validate: Object.fromEntries(Object.entries(bytes).map(([k, b]) => [k, WebAssembly.validate(b)])),
        clockAdvances: null,
        builds: {},
        pass: true,
      };
      try {
        const inputs = await Promise.all(PHOTOS.map((p) => npy(env, `reference/photos_${p}.input.npy`)));
        const refs = await Promise.all(
          PHOTOS.map((p) => npy(env, `reference/photos_${p}.logits.densenet121-random.npy`)),
        );
        const ref4 = await npy(env, "reference/batch4.logits.densenet121-random.npy");
        const builds = Object.entries(modules).map(([name, m]) => new Build(name, m));
        for (const b of builds) {
          const r = (out.builds[b.name] = { memBeforeMiB: b.memMiB });
          r.kernelBits = b.x.kernels(); // 1 portable, 2 simd128, 4 relaxed
          r.kernelCheckMismatches = b.x.kernel_check();
          r.load = await b.load(env);
          r.device = b.text(0);
          r.memAfterLoadMiB = b.memMiB;
          r.maxDiff = {};
          PHOTOS.forEach((p, i) => {
            r.maxDiff[p] = b.run([inputs[i]]).logits.reduce((m, v, j) => Math.max(m, Math.abs(v - refs[i][j])), 0);
          });
          r.maxDiff.batch4 = maxDiff(b.run(inputs).logits, ref4);
          r.memAfterChecksMiB = b.memMiB; // after the 4 single-image runs and batch 4
          r.pass = r.kernelCheckMismatches === 0 && Object.values(r.maxDiff).every((d) => d <= TOL);
          out.pass &&= r.pass;
          r.t1 = [];
          r.t8 = [];
        }
        // Interleaved timing: batch 1 of each build in turn, then batch 8; the
        // order of the builds alternates from one round to the next.
        const order = (i) => (i % 2 ? [...builds].reverse() : builds);
        for (let i = 0; i < reps; i++) for (const b of order(i)) out.builds[b.name].t1.push(b.run([inputs[i % 4]]).ms);
        const eight = [...inputs, ...inputs];
        for (let i = 0; i < reps8; i++) for (const b of order(i)) out.builds[b.name].t8.push(b.run(eight).ms / 8);
        for (const b of builds) {
          const r = out.builds[b.name];
          r.memAfterBatch8MiB = b.memMiB;
          r.batch1MsPerImage = r.t1.length ? round(median(r.t1)) : null;
          r.batch8MsPerImage = r.t8.length ? round(median(r.t8)) : null;
          r.t1 = r.t1.map((v) => round(v));
          r.t8 = r.t8.map((v) => round(v));
          for (const k of Object.keys(r.maxDiff)) r.maxDiff[k] = Number(r.maxDiff[k].toExponential(2));
        }
        // workerd in production freezes the clock between I/O; make sure this one does not.
        out.clockAdvances = Object.values(out.builds).every((r) => r.t1.every((v) => v > 0));
        out.pass &&= out.clockAdvances !== false;
      } catch (e) {
        out.pass = false;
        out.error = String(e?.stack ?? e);
      }
      return Response.json(out, { status: out.pass ? 200 : 500 });
    },
  };
}
