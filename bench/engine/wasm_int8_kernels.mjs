// The int8 GEMM micro-kernels in wasm against the f32 kernel of the same
// build (crates/engine/examples/int8_kernels.rs, built for wasm32 by
// scripts/build-int8-wasm.sh), on DenseNet's shapes, 1 thread: int8 GOP/s
// and f32 GFLOP/s (2 ops per multiply-add), best of 7, int8 and f32
// interleaved, then the ratio. "kernel": B packed before the clock starts;
// "+pack": packed per panel inside the GEMM (f32 by the set's BN + ReLU
// packer, as conv1's input is packed; int8 by interleaving u8 that are
// already quantized). Node times by process CPU time, Chromium by wall time. Then DenseNet-121's GEMMs per image and the Amdahl
// projection (GEMMs 77% of the wasm engine's time), as the native example.
//
//   read -r SIMD RELAXED < <(scripts/build-int8-wasm.sh)
//   node bench/engine/wasm_int8_kernels.mjs $SIMD            # Node 20: simd128 (+ portable with --all)
//   node --experimental-wasm-relaxed-simd bench/engine/wasm_int8_kernels.mjs $RELAXED
//   node bench/engine/wasm_int8_kernels.mjs $RELAXED --chromium   # the same in headless Chromium
// Options: --table / --network (only that part), --all (the portable set
// too), --sets=NAME,NAME (e.g. --sets="wasm simd128").
import { readFileSync, writeFileSync, mkdtempSync, rmSync, existsSync } from "node:fs";
import { spawn } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

// The benchmark itself: `x` the module's exports, `log` a line printer,
// `now` milliseconds. Self-contained (its source is copied into the
// Chromium page).
export async function bench(x, log, now, opts) {
  const text = (f, ...a) => {
    const p = x.buf_alloc(512);
    const len = f(...a, p, 512);
    const s = new TextDecoder().decode(new Uint8Array(x.memory.buffer, p, len));
    x.buf_free(p, 512);
    return s;
  };
  const kinds = [];
  for (let i = 0; i < x.int8_kind_count(); i++) {
    if (!(x.int8_kinds() & (1 << i))) continue;
    const name = text(x.int8_name, i);
    if (opts.sets ? opts.sets.includes(name) : name !== "portable" || opts.all) kinds.push({ i, name });
  }
  const pad = (s, n) => String(s).padEnd(n);
  const num = (v, n) => v.toFixed(1).padStart(n);
  const shapes = [];
  for (let j = 0; x.shape(1, j, 0) >= 0; j++) {
    const [m, k, n, blk] = [0, 1, 2, 3].map((w) => Number(x.shape(1, j, w)));
    shapes.push([blk ? `block${blk} conv1` : `3x3 direct, block${[0, 1, 2, 3, 4][[3136, 784, 196, 49].indexOf(n) + 1]}`, m, k, n]);
  }
  // Seconds per GEMM of the prepared shape, best of `trials`, for each of `modes`.
  const time = (modes, reps, trials) => {
    const best = modes.map(() => Infinity);
    for (let t = 0; t < trials; t++) {
      modes.forEach(([int8, pack], i) => {
        const t0 = now();
        x.bench_run(int8, pack, reps);
        best[i] = Math.min(best[i], (now() - t0) / 1e3 / reps);
      });
    }
    return best;
  };
  if (!opts.network) {
    log(`${pad("int8 set", 22)} ${pad("shape", 20)} ${"M".padStart(4)} ${"K".padStart(5)} ${"N".padStart(5)} | ${"int8".padStart(7)} ${"f32".padStart(7)}  ratio | ${"int8+pk".padStart(7)} ${"f32+pk".padStart(7)}  ratio`);
    for (const kind of kinds) {
      for (const [what, m, k, n] of shapes) {
        if (x.bench_prepare(kind.i, m, k, n) !== 0) continue;
        const ops = 2 * m * k * n;
        const reps = Math.max(1, Math.round(2e8 / ops));
        // V8 tiers a function up while it runs: a first pass warms.
        time([[1, 0], [0, 0], [1, 1], [0, 1]], reps, 1);
        const g = time([[1, 0], [0, 0], [1, 1], [0, 1]], reps, 7).map((t) => ops / t / 1e9);
        log(`${pad(kind.name, 22)} ${pad(what, 20)} ${String(m).padStart(4)} ${String(k).padStart(5)} ${String(n).padStart(5)} | ${num(g[0], 7)} ${num(g[1], 7)} ${(g[0] / g[1]).toFixed(2).padStart(5)}x | ${num(g[2], 7)} ${num(g[3], 7)} ${(g[2] / g[3]).toFixed(2).padStart(5)}x`);
      }
    }
  }
  if (!opts.table) {
    for (const kind of kinds) {
      const sums = [0, 0, 0, 0]; // int8 1x1, f32 1x1, f32 Winograd, int8 3x3 direct
      for (let j = 0; x.shape(0, j, 0) >= 0; j++) {
        const [m, k, n, count, group] = [0, 1, 2, 3, 4].map((w) => Number(x.shape(0, j, w)));
        x.bench_prepare(kind.i, m, k, n);
        const reps = Math.max(1, Math.round(5e7 / (2 * m * k * n)));
        const modes = group === 1 ? [[0, 0]] : group === 2 ? [[1, 0]] : [[1, 0], [0, 0]];
        time(modes, reps, 1);
        const t = time(modes, reps, 5);
        if (group === 0) {
          sums[0] += t[0] * count;
          sums[1] += t[1] * count;
        } else if (group === 1) sums[2] += t[0] * count;
        else sums[3] += t[0] * count;
      }
      log(text(x.network_report, kind.i, 0.77, ...sums));
    }
  }
}

async function main() {
  const path = process.argv[2];
  const flags = process.argv.slice(3);
  const opts = {
    table: flags.includes("--table"),
    network: flags.includes("--network"),
    all: flags.includes("--all"),
    sets: flags.find((f) => f.startsWith("--sets="))?.slice(7).split(","),
  };
  const bytes = readFileSync(path);
  if (flags.includes("--chromium")) return chromium(bytes, opts);
  const { instance } = await WebAssembly.instantiate(bytes, {});
  console.log(`Node ${process.version}, ${path} (times: process CPU time)`);
  // CPU time: on a shared machine wall time moves with the load.
  const cpuMs = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1e3;
  };
  await bench(instance.exports, console.log, cpuMs, opts);
}

// Runs `bench` in headless Chromium: a page with the module inlined.
async function chromium(bytes, opts) {
  const script = `const bytes = Uint8Array.from(atob("${bytes.toString("base64")}"), (c) => c.charCodeAt(0));
${bench.toString()}
const { instance } = await WebAssembly.instantiate(bytes, {});
log(navigator.userAgent);
await bench(instance.exports, log, () => performance.now(), ${JSON.stringify(opts)});`;
  await runInChromium(script, console.log);
}

/// The Chromium to use: $CHROMIUM or Debian's, or null.
export function chromiumPath() {
  const path = process.env.CHROMIUM || "/usr/bin/chromium";
  return existsSync(path) ? path : null;
}

// Runs the module script `script` in a page of headless Chromium (no
// Playwright: Chromium's own log on stderr carries the page's console).
// `script` prints with `log(line)`; each line goes to `onLine`. Resolves
// once the script ends (a thrown error is logged as "error ..."), or
// rejects after `timeoutMs`.
export async function runInChromium(script, onLine, timeoutMs = 600_000) {
  const dir = mkdtempSync(join(tmpdir(), "int8-wasm-"));
  const page = join(dir, "page.html");
  writeFileSync(
    page,
    `<!doctype html><script type="module">
const log = (s) => console.log("INT8| " + String(s).replaceAll("\\n", "\\nINT8| "));
try {
${script}
} catch (e) { log("error " + e + " " + (e.stack || "")); }
log("DONE");
</script>`,
  );
  const args = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--enable-logging=stderr", "--v=0", `--user-data-dir=${join(dir, "profile")}`, `file://${page}`];
  const child = spawn(chromiumPath() || "/usr/bin/chromium", args, { stdio: ["ignore", "ignore", "pipe"] });
  let buf = "";
  let timer;
  try {
    await new Promise((resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`Chromium did not finish in ${timeoutMs} ms`)), timeoutMs);
      child.on("error", reject);
      child.on("exit", () => reject(new Error("Chromium exited before the page finished")));
      child.stderr.on("data", (d) => {
        buf += d;
        let i;
        while ((i = buf.indexOf("\n")) >= 0) {
          const line = buf.slice(0, i);
          buf = buf.slice(i + 1);
          const m = line.match(/INT8\| (.*?)", source:/) || line.match(/INT8\| (.*)$/);
          if (!m) continue;
          if (m[1] === "DONE") return resolve();
          onLine(m[1]);
        }
      });
    });
  } finally {
    clearTimeout(timer);
    child.removeAllListeners("exit");
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill();
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000))]);
    }
    rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
