// The int8 GEMM kernel sets of the wasm builds (crates/engine/src/int8:
// simd128's i32x4.dot_i16x8_s, relaxed SIMD's two tiles, the portable one)
// bit for bit against a plain integer reference written here in JS, on
// random data with the extremes (weights -64 and +64, rows holding both,
// activations 0 and 255, zero points 0, 128, 255), ragged M, K, N, C inside a wider matrix,
// whole-B and panel-by-panel packing; and their packed layouts against the
// formulas of crates/engine/src/int8/mod.rs. In Node, and in headless
// Chromium where there is one (where relaxed SIMD ships).
//
//   node --test tests/engine/int8-wasm.test.mjs
//
// Needs Node 20+, cargo and the wasm32-unknown-unknown target: the modules are
// built by scripts/build-int8-wasm.sh unless INT8_WASM_SIMD128 and
// INT8_WASM_RELAXED name them. Chromium: $CHROMIUM or /usr/bin/chromium
// (that test is skipped without one). Node 20 validates relaxed SIMD only
// with --experimental-wasm-relaxed-simd: without it this file runs the
// relaxed module's checks in a child Node that has the flag, and leaves out
// `wasm relaxed dot-add` there (Node 20's V8 miscompiles that tile: see
// crates/engine/src/int8/wasm.rs); Chromium checks it.
import test from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { execFileSync, spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import { chromiumPath, runInChromium } from "../../bench/engine/wasm_int8_kernels.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..");

function modules() {
  let simd = process.env.INT8_WASM_SIMD128;
  let relaxed = process.env.INT8_WASM_RELAXED;
  if (!simd || !relaxed) {
    const out = execFileSync(join(root, "scripts", "build-int8-wasm.sh"), { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
    [simd, relaxed] = out.trim().split(/\s+/);
  }
  return { simd, relaxed };
}

// mulberry32
function rng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const below = (n) => Math.floor(next() * n);
  return {
    below,
    // Weights in -64..=64: rows with more +64s, more -64s, or both alike.
    weights: (len) => {
      const bias = below(3);
      return Int8Array.from({ length: len }, () => {
        const r = below(16);
        if ((r === 0 && bias === 0) || (r <= 1 && bias === 2)) return -64;
        if ((r === 1 && bias === 0) || (r <= 1 && bias === 1)) return 64;
        return r === 2 ? 63 : below(129) - 64;
      });
    },
    activations: (len) => Uint8Array.from({ length: len }, () => [0, 255][below(16)] ?? below(256)),
  };
}

function reference(w, x, m, k, n, zx, bias) {
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = bias ? bias[i] : 0;
      for (let kk = 0; kk < k; kk++) s += w[i * k + kk] * (x[kk * n + j] - zx);
      c[i * n + j] = s;
    }
  }
  return c;
}

async function load(bytes) {
  const { instance } = await WebAssembly.instantiate(bytes, {});
  const x = instance.exports;
  const names = [];
  for (let i = 0; i < x.int8_kind_count(); i++) {
    const p = x.buf_alloc(64);
    const len = x.int8_name(i, p, 64);
    names.push(new TextDecoder().decode(new Uint8Array(x.memory.buffer, p, len)));
    x.buf_free(p, 64);
  }
  const kinds = [];
  for (let i = 0; i < x.int8_kind_count(); i++) if (x.int8_kinds() & (1 << i)) kinds.push({ i, name: names[i] });
  return { x, kinds };
}

// Copies a typed array into wasm memory; returns [ptr, bytes].
function put(x, arr) {
  const bytes = arr.byteLength;
  const p = x.buf_alloc(bytes);
  new Uint8Array(x.memory.buffer, p, bytes).set(new Uint8Array(arr.buffer, arr.byteOffset, bytes));
  return [p, bytes];
}

function gemmCheck(x, kind, w, xs, m, k, n, zx, bias, panels) {
  const ldc = n + 3;
  const [pw, bw] = put(x, w);
  const [px, bx] = put(x, xs);
  const [pb, bb] = bias ? put(x, bias) : [0, 0];
  const cBytes = Math.max(1, m * ldc * 4);
  const pc = x.buf_alloc(cBytes);
  new Int32Array(x.memory.buffer, pc, m * ldc).fill(-2147483641);
  const rc = x.int8_gemm(kind.i, m, k, n, pw, px, zx, pb, pc, ldc, panels);
  assert.equal(rc, 0, `${kind.name}: int8_gemm returned ${rc}`);
  const c = new Int32Array(x.memory.buffer, pc, m * ldc).slice();
  const want = reference(w, xs, m, k, n, zx, bias);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < ldc; j++) {
      const got = c[i * ldc + j];
      if (j >= n) {
        assert.equal(got, -2147483641, `${kind.name}: wrote past column ${n} (row ${i})`);
        continue;
      }
      const r = want[i * n + j];
      assert.ok(r >= -(2 ** 31) && r < 2 ** 31, `reference C[${i}][${j}] = ${r} does not fit in i32`);
      if (got !== r) {
        assert.fail(`${kind.name}: C[${i}][${j}] = ${got}, reference ${r} (M=${m} K=${k} N=${n} zx=${zx} bias=${!!bias} panels=${panels})`);
      }
    }
  }
  x.buf_free(pw, bw);
  x.buf_free(px, bx);
  if (bias) x.buf_free(pb, bb);
  x.buf_free(pc, cBytes);
}

const SHAPES = [
  [1, 1, 1], [1, 3, 2], [3, 5, 7], [4, 4, 16], [5, 6, 17], [8, 8, 8], [8, 32, 32], [9, 33, 33], [7, 7, 31],
  [12, 2, 40], [13, 67, 41], [16, 129, 64], [17, 130, 100], [24, 31, 65], [33, 9, 3], [32, 1152, 49],
  [128, 64, 49], [130, 257, 35],
];

function checkRandom(x, kind) {
  const r = rng(0x9e3779b9);
  SHAPES.forEach(([m, k, n], i) => {
    const w = r.weights(m * k);
    const xs = r.activations(k * n);
    const bias = i % 3 === 0 ? null : Int32Array.from({ length: m }, () => r.below(1 << 20) - (1 << 19));
    const zx = [0, 128, 255, r.below(256)][i % 4];
    gemmCheck(x, kind, w, xs, m, k, n, zx, bias, i % 2);
  });
}

function checkExtremes(x, kind) {
  const [m, k, n] = [9, 1003, 35];
  for (const [wv, xv] of [[-64, 255], [64, 255], [63, 255], [-64, 0], [64, 0], [-64, 128], [64, 127]]) {
    for (const zx of [0, 1, 127, 128, 255]) {
      gemmCheck(x, kind, new Int8Array(m * k).fill(wv), new Uint8Array(k * n).fill(xv), m, k, n, zx, null, zx & 1);
    }
  }
  // Rows with both -64 and +64 in either majority (relaxed: negated rows, fixups).
  const xs = Uint8Array.from({ length: k * n }, (_, i) => (i % 5 < 2 ? 0 : 255));
  for (const pattern of [[63, -64, -64], [64, -64, -64], [64, 64, -64], [64, -64, 0]]) {
    const w = Int8Array.from({ length: m * k }, (_, i) => pattern[(i + Math.floor(i / k)) % 3]);
    for (const zx of [0, 255]) gemmCheck(x, kind, w, xs, m, k, n, zx, null, zx & 1);
  }
}

function checkRefusal(x, kind) {
  for (const bad of [-65, 65, -128, 127]) {
    const w = new Int8Array(30);
    w[17] = bad;
    const [pw, bw] = put(x, w);
    const [px, bx] = put(x, new Uint8Array(25));
    const pc = x.buf_alloc(6 * 5 * 4);
    assert.equal(x.int8_gemm(kind.i, 6, 5, 5, pw, px, 0, 0, pc, 5, 0), 2, `${kind.name}: weight ${bad} accepted`);
    x.buf_free(pw, bw);
    x.buf_free(px, bx);
    x.buf_free(pc, 120);
  }
}

function checkLayout(x, kind) {
  const [m, k, n] = [11, 13, 37];
  const r = rng(11);
  const w = r.weights(m * k);
  const xs = r.activations(k * n);
  const g = (what) => x.int8_geometry(kind.i, what);
  const [mr, nr, kg, bBytes, aShift, bShift] = [0, 1, 2, 3, 4, 5].map(g);
  const groups = Math.ceil(k / kg);
  const aPanel = groups * kg * mr;
  const aLen = Math.ceil(m / mr) * aPanel;
  const bPanel = groups * kg * nr * bBytes;
  const panels = Math.ceil(n / nr);
  const [pw, bw] = put(x, w);
  const [px, bx] = put(x, xs);
  const pa = x.buf_alloc(aLen);
  const ps = x.buf_alloc(Math.ceil(m / mr) * mr * 4);
  const pn = x.buf_alloc(Math.ceil(m / mr) * mr * 4);
  const pb = x.buf_alloc(panels * bPanel);
  const pcol = x.buf_alloc(panels * nr * 4);
  assert.equal(x.int8_pack(kind.i, m, k, n, pw, px, pa, aLen, ps, pn, pb, panels * bPanel, pcol), 0);
  const mem = x.memory.buffer;
  const a = new Uint8Array(mem, pa, aLen);
  const sums = new Int32Array(mem, ps, Math.ceil(m / mr) * mr);
  const negs = new Int32Array(mem, pn, Math.ceil(m / mr) * mr);
  const b = new DataView(mem, pb, panels * bPanel);
  const col = new Int32Array(mem, pcol, panels * nr);
  for (let row = 0; row < Math.ceil(m / mr) * mr; row++) {
    const [p, rr] = [Math.floor(row / mr), row % mr];
    // With a shift (relaxed): a row with more +64s than -64s is stored
    // negated, and a +64 left after that as 63.
    const count = (val) => (row < m ? w.subarray(row * k, row * k + k).filter((v) => v === val).length : 0);
    const neg = aShift !== 0 && count(64) > count(-64);
    assert.equal(negs[row], neg ? -1 : 0, `${kind.name}: row ${row}'s sign`);
    let sum = 0;
    for (let kk = 0; kk < groups * kg; kk++) {
      const v = row < m && kk < k ? w[row * k + kk] : 0;
      sum += v;
      let stored = a[p * aPanel + (Math.floor(kk / kg) * mr + rr) * kg + (kk % kg)];
      if (aShift === 0) stored = (stored << 24) >> 24;
      const want = aShift ? Math.min(neg ? -v : v, 63) + aShift : v;
      assert.equal(stored, want, `${kind.name}: A row ${row} k ${kk}`);
    }
    assert.equal(sums[row], sum, `${kind.name}: row sum ${row}`);
  }
  for (let p = 0; p < panels; p++) {
    for (let j = 0; j < nr; j++) {
      const c = p * nr + j;
      let sum = 0;
      for (let kk = 0; kk < groups * kg; kk++) {
        const at = p * bPanel + ((Math.floor(kk / kg) * nr + j) * kg + (kk % kg)) * bBytes;
        const stored = bBytes === 2 ? b.getInt16(at, true) : bShift ? b.getInt8(at) : b.getUint8(at);
        const want = c < n && kk < k ? xs[kk * n + c] - bShift : 0;
        assert.equal(stored, want, `${kind.name}: B panel ${p} column ${j} k ${kk}`);
        sum += stored;
      }
      if (c < n) assert.equal(col[p * nr + j], -aShift * sum || 0, `${kind.name}: column term ${c}`);
    }
  }
}

// conv1's input packed straight from a block's codes against the two steps
// it fuses, byte for byte (int8::pack_b_bn_relu_matches_rows): wasm's sets
// have such a packer, portable packs rows.
function checkBnRelu(x, kind) {
  const p = x.buf_alloc(512);
  const r = x.int8_check_bn_relu(kind.i, p, 512);
  if (r < 0) assert.fail(`${kind.name}: ${new TextDecoder().decode(new Uint8Array(x.memory.buffer, p, -r))}`);
  assert.equal(r, kind.name === "portable" ? 0 : 1, `${kind.name}: packs straight from the codes`);
}

// A 3x3 conv reading B in place from quad planes against windows and
// packed panels (ops::quant::check_in_place): the relaxed sets read in
// place (their B is X - 128, the column terms from the planes' sums),
// simd128 (B as i16) and portable pack.
function checkInPlace(x, kind) {
  const p = x.buf_alloc(512);
  const r = x.int8_check_in_place(kind.i, p, 512);
  if (r < 0) assert.fail(`${kind.name}: ${new TextDecoder().decode(new Uint8Array(x.memory.buffer, p, -r))}`);
  assert.equal(r, kind.name.includes("relaxed") ? 1 : 0, `${kind.name}: reads the 3x3 conv's B in place`);
}

async function checkAll(bytes, skip) {
  const { x, kinds } = await load(bytes);
  const ran = [];
  for (const kind of kinds) {
    if (skip && skip.includes(kind.name)) continue;
    checkLayout(x, kind);
    checkRandom(x, kind);
    checkExtremes(x, kind);
    checkRefusal(x, kind);
    checkBnRelu(x, kind);
    checkInPlace(x, kind);
    ran.push(kind.name);
  }
  return ran;
}

// What assert/strict gives the checks, for the Chromium page.
const assertShim = {
  equal(a, b, msg) {
    if (a !== b) throw new Error(`${msg ?? "not equal"}: ${a} !== ${b}`);
  },
  ok(v, msg) {
    if (!v) throw new Error(msg ?? "not ok");
  },
  fail(msg) {
    throw new Error(msg);
  },
};

// The checks of both modules in a Chromium page: the names of the sets checked per module.
async function checkInChromium(paths) {
  const fns = [rng, reference, load, put, gemmCheck, checkRandom, checkExtremes, checkRefusal, checkLayout, checkBnRelu, checkInPlace, checkAll];
  const mods = paths.map((p) => readFileSync(p).toString("base64"));
  const script = `const assert = { ${Object.values(assertShim).map((f) => f.toString()).join(", ")} };
const SHAPES = ${JSON.stringify(SHAPES)};
${fns.map((f) => f.toString()).join("\n")}
for (const b64 of ${JSON.stringify(mods)}) {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  log(JSON.stringify(await checkAll(bytes)));
}`;
  const lines = [];
  await runInChromium(script, (l) => lines.push(l), 300_000);
  const errors = lines.filter((l) => l.startsWith("error"));
  assert.deepEqual(errors, [], errors.join("\n"));
  return lines.map((l) => JSON.parse(l));
}

const RELAXED_SETS = ["wasm simd128+relaxed", "wasm relaxed dot-add", "wasm simd128", "portable"];

if (process.argv[2] === "--child") {
  // node --experimental-wasm-relaxed-simd int8-wasm.test.mjs --child PATH: Node 20's V8.
  const ran = await checkAll(readFileSync(process.argv[3]), ["wasm relaxed dot-add"]);
  console.log(JSON.stringify(ran));
} else {
  const { simd, relaxed } = modules();

  test("Node, simd128 build: every int8 set matches the integer reference", async () => {
    const ran = await checkAll(readFileSync(simd));
    assert.deepEqual(ran, ["wasm simd128", "portable"]);
    console.log(`Node ${process.version}, simd128 build: ${ran.join(", ")} bit-exact`);
  });

  test("Node, relaxed-SIMD build: every int8 set matches the integer reference", async () => {
    const bytes = readFileSync(relaxed);
    let ran;
    if (WebAssembly.validate(bytes) && !process.execArgv.includes("--experimental-wasm-relaxed-simd")) {
      // A Node that ships relaxed SIMD: every set.
      ran = await checkAll(bytes);
      assert.deepEqual(ran, RELAXED_SETS);
    } else {
      // Node 20 (relaxed SIMD behind a flag): a child with the flag, without dot-add.
      const r = spawnSync(process.execPath, ["--experimental-wasm-relaxed-simd", fileURLToPath(import.meta.url), "--child", relaxed], {
        encoding: "utf8",
      });
      assert.equal(r.status, 0, `relaxed child failed:\n${r.stdout}\n${r.stderr}`);
      ran = JSON.parse(r.stdout.trim().split("\n").pop());
      assert.deepEqual(ran, RELAXED_SETS.filter((s) => s !== "wasm relaxed dot-add"));
    }
    console.log(`Node ${process.version}, relaxed build: ${ran.join(", ")} bit-exact`);
  });

  test("Chromium, both builds: every int8 set matches the integer reference", { skip: !chromiumPath() && "no Chromium" }, async () => {
    const [a, b] = await checkInChromium([simd, relaxed]);
    assert.deepEqual(a, ["wasm simd128", "portable"]);
    assert.deepEqual(b, RELAXED_SETS);
    console.log(`Chromium: simd128 build ${a.join(", ")}; relaxed build ${b.join(", ")}: bit-exact`);
  });
}
