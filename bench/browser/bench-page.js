// Runs inside headless Chromium, driven by bench.mjs. ?mode=first measures
// the time from navigation to the first prediction (cold or warm cache,
// depending on the profile); ?mode=latency compares per-image latency of
// this package's CPU engine with onnxruntime-web's wasm EP (1 thread, SIMD)
// on the same ONNX file, interleaved so both see the same machine state;
// with ?tract=1 also tract-onnx's wasm build (scripts/build-tract-peer.sh,
// served at /tract/), the CPU engine this package shipped before its own.
// ?build=simd128 makes the package's probe for relaxed SIMD fail on this
// page, so it loads its simd128 build: the result's `device` says which ran.
// ?model=int8 runs the int8 (QDQ) file in both, and the package on the f32
// file too, interleaved: int8 against f32 and against onnxruntime-web.
const q = new URLSearchParams(location.search);
if (q.get('build') === 'simd128') {
  const validate = WebAssembly.validate;
  // Only the package's probe (it ends with f32x4.relaxed_madd, end): onnxruntime-web probes too.
  const isProbe = (b) => b.length === 37 && b[33] === 253 && b[34] === 133 && b[35] === 2;
  WebAssembly.validate = (bytes) => !isProbe(new Uint8Array(bytes)) && validate(bytes);
}
const { Classifier } = await import('/pkg/classifier.js');

const F32_MODEL = '/model/densenet121-random.onnx';
const MODEL = q.get('model') === 'int8' ? '/model/densenet121-random-int8.onnx' : F32_MODEL;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function first() {
  const photo = await (await fetch('/photos/chelsea.png')).arrayBuffer();
  const c = await Classifier.create({ model: MODEL, engine: 'cpu' });
  const r = await c.classify(photo);
  return { msSinceNavigation: performance.now(), createMs: c.load.ms, modelFromCache: c.load.cached, top: r.predictions[0].classId };
}

async function latency(runs) {
  const photo = new Uint8Array(await (await fetch('/photos/chelsea.png')).arrayBuffer());
  const c = await Classifier.create({ model: MODEL, engine: 'cpu', cache: false });
  const f32 = MODEL === F32_MODEL ? null : await Classifier.create({ model: F32_MODEL, engine: 'cpu', cache: false });

  const ort = await import('/ort/ort.wasm.min.mjs');
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.simd = true;
  ort.env.wasm.wasmPaths = '/ort/';
  const modelBytes = new Uint8Array(await (await fetch(MODEL)).arrayBuffer());
  const session = await ort.InferenceSession.create(modelBytes, { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
  // Same cost whatever the values: a fixed pseudo-random normalised input.
  const data = new Float32Array(3 * 224 * 224).map((_, i) => Math.sin(i) * 2);
  const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', data, [1, 3, 224, 224]) };

  let tract = null;
  if (q.get('tract') === '1') {
    const peer = await import('/tract/densenet_edge_tract_peer.js');
    await peer.default({ module_or_path: '/tract/densenet_edge_tract_peer_bg.wasm' });
    const t = performance.now();
    tract = { peer: new peer.TractPeer(modelBytes), loadMs: performance.now() - t, runMs: [] };
  }

  const ours = { classifyMs: [], inferenceMs: [], f32InferenceMs: [] };
  const theirs = { runMs: [] };
  for (let i = 0; i < runs + 2; i++) {
    let t = performance.now();
    const r = await c.classify(photo);
    const ourMs = performance.now() - t;
    const f32Ms = f32 && (await f32.classify(photo)).timings.inferenceMs;
    t = performance.now();
    const ortOut = await session.run(feeds);
    const ortMs = performance.now() - t;
    let tractMs;
    if (tract) {
      t = performance.now();
      const logits = tract.peer.run(data);
      tractMs = performance.now() - t;
      if (i === 0) {
        // The peer must compute the same network: its logits against onnxruntime-web's.
        const ortLogits = ortOut[session.outputNames[0]].data;
        tract.maxAbsDiffVsOrt = Math.max(...logits.map((v, j) => Math.abs(v - ortLogits[j])));
      }
    }
    if (i < 2) continue; // warm-up
    ours.classifyMs.push(ourMs);
    ours.inferenceMs.push(r.timings.inferenceMs);
    if (f32) ours.f32InferenceMs.push(f32Ms);
    theirs.runMs.push(ortMs);
    if (tract) tract.runMs.push(tractMs);
  }
  return {
    runs,
    packageCpu: {
      medianClassifyMs: median(ours.classifyMs),
      medianInferenceMs: median(ours.inferenceMs),
      device: c.device,
      precision: c.model.precision,
      f32MedianInferenceMs: f32 && median(ours.f32InferenceMs),
    },
    ortWasm: { medianRunMs: median(theirs.runMs), threads: ort.env.wasm.numThreads },
    tractWasm: tract && { medianRunMs: median(tract.runMs), loadMs: tract.loadMs, maxAbsDiffVsOrt: tract.maxAbsDiffVsOrt },
    all: { ours, theirs, tract: tract && tract.runMs },
  };
}

try {
  const result = q.get('mode') === 'first' ? await first() : await latency(Number(q.get('runs') || 10));
  window.benchResult = result;
} catch (e) {
  window.benchResult = { error: `${e.code || ''} ${e.message}` };
}
document.getElementById('out').textContent = JSON.stringify(window.benchResult, null, 2);
