// The page: picks an image, shows it, and shows what the classifier says.
// Classification runs in a Web Worker (worker.js) so the page never
// freezes, or on the server (POST /predict) when the switch is on.
// Query options: ?engine=auto|webgpu|cpu, ?model=<url of .onnx on this
// page's origin> (the precision menu sets it to the f32 model or its int8
// twin), ?nosw.
import { camelKeys } from './pkg/answer.js';

const params = new URLSearchParams(location.search);
const DEFAULT_MODEL = 'model/densenet121-random.onnx';
const $ = (id) => document.getElementById(id);

/**
 * The model to load: `?model=` only when it is on this page's own origin.
 * A model is hostile input to the engine, and a link to this page with a
 * model from elsewhere must not make it run one (nor leak to another site
 * that someone opened the page). A refused URL loads nothing: the page says
 * why instead of quietly classifying with another model than the one asked
 * for (the server switch still works).
 */
function chooseModel() {
  const asked = params.get('model');
  if (asked === null) return { url: new URL(DEFAULT_MODEL, location.href).href };
  let url;
  try {
    url = new URL(asked, location.href);
  } catch {
    return { refused: `?model=${asked} is not a URL` };
  }
  if (url.origin !== location.origin) {
    return { refused: `?model=${asked} is not on this site (${location.origin}): the page loads models only from its own origin` };
  }
  return { url: url.href };
}
const { url: MODEL_URL, refused: MODEL_REFUSED } = chooseModel();

// The precision menu: the default model or its int8 twin (prepare-model
// makes both; the Worker serves both under /model/).
const INT8_MODEL = DEFAULT_MODEL.replace(/\.onnx$/, '-int8.onnx');
$('precision').value = MODEL_URL && MODEL_URL.endsWith('-int8.onnx') ? 'int8' : 'f32';
$('precision').addEventListener('change', () => {
  const next = new URLSearchParams(location.search);
  if ($('precision').value === 'int8') next.set('model', INT8_MODEL);
  else next.delete('model');
  location.search = next.toString();
});
const MANIFEST_URL = MODEL_URL && MODEL_URL.replace(/\.onnx$/, '') + '.json';

if ('serviceWorker' in navigator && !params.has('nosw')) {
  navigator.serviceWorker.register('sw.js').catch((e) => console.warn('service worker not registered:', e));
}

// The banner comes from the manifest: a model with random weights gives
// meaningless labels, and the page must say so.
function showWeights(model) {
  if (!model || !model.weights) return;
  const banner = $('banner');
  if (model.weights === 'pretrained') {
    banner.hidden = true;
    return;
  }
  banner.textContent = `This model (${model.name || 'DenseNet-121'}) has ${model.weights.toUpperCase()} weights, not trained ones: its predictions are meaningless. It shows that the pipeline works, not what is in the image.`;
  banner.dataset.weights = model.weights;
  banner.hidden = false;
}
// Revalidated (never an HTTP-cached copy the server no longer serves);
// offline, the banner comes from the Worker's `ready` instead.
if (MANIFEST_URL) fetch(MANIFEST_URL, { cache: 'no-cache' }).then((r) => (r.ok ? r.json() : null)).then(showWeights, () => {});

// --- the local classifier, in a Web Worker ---------------------------------
// The package survives a trap of its wasm instance by itself (worker.js).
// If the Web Worker itself dies (an error nothing caught), it is replaced by
// a new one, which loads the model again from the Cache API.
let worker = null;
let ready = false;
let nextId = 1;
const pending = new Map();
let workerRestarts = 0;

function onWorkerMessage({ data: m }) {
  if (m.type === 'progress') {
    const p = $('progress');
    if (m.phase === 'download' && m.total) {
      p.hidden = false;
      p.value = m.loaded / m.total;
      setStatus(`Downloading the model: ${(m.loaded / 1e6).toFixed(1)} / ${(m.total / 1e6).toFixed(1)} MB`);
    } else if (m.phase === 'verify') {
      setStatus(m.cached ? 'Checking the cached model (sha256)…' : 'Checking the model (sha256)…');
    } else if (m.phase === 'compile') {
      p.hidden = true;
      setStatus(`Preparing the ${m.engine === 'webgpu' ? 'WebGPU' : 'CPU'} engine…`);
    } else if (m.phase === 'warning') {
      showWarning(m.code, m.message);
    } else if (m.phase === 'reload') {
      setStatus('The classifier crashed; restarting it…');
    } else if (m.phase === 'ready' && m.reloaded) {
      document.body.dataset.reloads = String(Number(document.body.dataset.reloads || 0) + 1);
      if (document.body.dataset.state !== 'busy') setStatus('The classifier was restarted: ready.');
    }
  } else if (m.type === 'ready') {
    ready = true;
    showWeights(m.model);
    setStatus(`Ready: ${m.engine === 'webgpu' ? 'WebGPU' : 'CPU'} engine, ${m.model.precision} model ${m.load.cached ? 'from the cache' : 'downloaded'}, loaded in ${(m.load.ms / 1000).toFixed(1)} s.`);
    document.body.dataset.precision = m.model.precision;
    document.body.dataset.ready = m.engine;
    document.body.dataset.modelSha256 = m.model.sha256;
  } else if (m.type === 'init-error') {
    setStatus('');
    showError(m.code, `The classifier could not start: ${m.message}`);
    document.body.dataset.ready = 'error';
  } else {
    const { resolve, reject } = pending.get(m.id) || {};
    pending.delete(m.id);
    if (m.type === 'result') resolve?.(m.result);
    else reject?.(Object.assign(new Error(m.message), { code: m.code }));
  }
}

function startWorker() {
  ready = false;
  worker = new Worker(new URL('worker.js', import.meta.url), { type: 'module' });
  worker.onmessage = onWorkerMessage;
  worker.onerror = (event) => {
    event.preventDefault();
    restartWorker(`the classifier's Web Worker failed: ${event.message || 'unknown error'}`);
  };
  worker.postMessage({ type: 'init', model: MODEL_URL, engine: params.get('engine') || 'auto' });
}

function restartWorker(why) {
  worker.terminate();
  for (const { reject } of pending.values()) reject(Object.assign(new Error(`${why}; it was restarted, try again`), { code: 'worker_crashed' }));
  pending.clear();
  workerRestarts += 1;
  document.body.dataset.workerRestarts = String(workerRestarts);
  delete document.body.dataset.ready;
  if (workerRestarts > 3) {
    showError('worker_crashed', `${why}, more than 3 times: reload the page`);
    return;
  }
  setStatus('The classifier stopped; restarting it…');
  startWorker();
}
if (MODEL_REFUSED) {
  // After the UI helpers below are defined.
  queueMicrotask(() => {
    setStatus('');
    showError('model_refused', MODEL_REFUSED);
    document.body.dataset.ready = 'error';
  });
} else {
  startWorker();
}

function classifyLocally(file) {
  if (MODEL_REFUSED) return Promise.reject(Object.assign(new Error(MODEL_REFUSED), { code: 'model_refused' }));
  if (!ready) return Promise.reject(Object.assign(new Error('the model is still loading, try again in a moment'), { code: 'not_ready' }));
  const id = nextId++;
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject });
    worker.postMessage({ type: 'classify', id, file });
  });
}

// --- the server ------------------------------------------------------------
async function classifyRemotely(file) {
  const form = new FormData();
  form.append('file', file, file.name || 'image');
  const t0 = performance.now();
  let response;
  try {
    response = await fetch('predict', { method: 'POST', body: form });
  } catch (e) {
    throw Object.assign(new Error(`the server could not be reached (${e.message})`), { code: 'network' });
  }
  const body = await response.json().catch(() => null);
  if (!response.ok || !body || body.error) {
    const err = body?.error || { code: `http_${response.status}`, message: `the server answered HTTP ${response.status}` };
    throw Object.assign(new Error(err.message), { code: err.code });
  }
  // The API's answer is the package's result with snake_case keys (docs/answer.schema.json).
  const answer = camelKeys(body);
  return { ...answer, engine: `server, ${answer.engine}`, engineReason: 'sent to POST /predict', timings: { totalMs: performance.now() - t0 } };
}

// --- the UI ----------------------------------------------------------------
function setStatus(text) {
  $('status').textContent = text;
}

const MESSAGES = {
  empty_input: 'The file is empty.',
  not_an_image: 'This file is not an image.',
  unsupported_format: 'This image format is not supported: use JPEG, PNG, WebP, GIF or BMP.',
  corrupt_image: 'The image is corrupt or truncated.',
  too_many_pixels: 'The image has too many pixels.',
  too_many_bytes: 'The file is too large.',
  image_too_large: 'The image would need too much memory to decode.',
  instance_crashed: 'The classifier crashed on this image and was restarted; other images will work.',
  worker_crashed: 'The classifier stopped and was restarted.',
  model_refused: 'This model was not loaded: remove ?model= from the address to use the default one, or use the server switch.',
  too_much_work: 'The image would take too long to decode.',
  model_invalid: 'The model file is not a model this page can run.',
  model_checksum_mismatch: 'The model file does not match its manifest.',
};

function showWarning(code, message) {
  const el = $('warning');
  el.textContent = `Note: ${message}`;
  el.dataset.code = code;
  el.hidden = false;
}

function showError(code, message) {
  const el = $('error');
  el.textContent = `${MESSAGES[code] || 'Something went wrong.'} (${code}: ${message})`;
  el.dataset.code = code;
  el.hidden = false;
}

function render(result, elapsedMs) {
  const list = $('predictions');
  list.replaceChildren();
  for (const p of result.predictions.slice(0, 5)) {
    const li = document.createElement('li');
    li.dataset.classId = p.classId;
    const pct = (100 * p.probability).toFixed(1);
    li.innerHTML = `<div class="name"><span></span><span>${pct}%</span></div><div class="bar" style="width:${Math.max(0.5, 100 * p.probability)}%"></div>`;
    li.querySelector('span').textContent = `${p.className.replaceAll('_', ' ')} (${p.classId})`;
    list.append(li);
  }
  const verdict = $('verdict');
  verdict.textContent = result.recognized
    ? 'Recognised: the top class is above the 20% threshold.'
    : 'Not recognised: no class reaches 20%, the image most likely shows none of the 1000 ImageNet classes.';
  verdict.className = result.recognized ? 'yes' : 'no';
  $('engine').textContent = `Engine: ${result.engine}${result.engineReason ? ` (${result.engineReason})` : ''}`;
  const t = result.timings || {};
  $('time').textContent = `Time: ${Math.round(elapsedMs)} ms in all` + (t.inferenceMs != null ? `, ${Math.round(t.inferenceMs)} ms inference, ${Math.round(t.preprocessMs)} ms decode and resize` : '');
  showWeights(result.model);
  $('result').hidden = false;
  $('result').dataset.engine = result.engine;
}

let busy = 0;
async function handle(file) {
  if (!file) return;
  $('error').hidden = true;
  $('result').hidden = true;
  const preview = $('preview');
  if (preview.src) URL.revokeObjectURL(preview.src);
  preview.src = URL.createObjectURL(file);
  preview.hidden = false;
  preview.onerror = () => (preview.hidden = true); // not displayable: the classifier will say why
  const run = ++busy;
  document.body.dataset.state = 'busy';
  setStatus('Classifying…');
  const t0 = performance.now();
  try {
    const result = await ($('remote').checked ? classifyRemotely(file) : classifyLocally(file));
    if (run !== busy) return; // a newer image was chosen meanwhile
    render(result, performance.now() - t0);
    setStatus('Done.');
    document.body.dataset.state = 'done';
  } catch (e) {
    if (run !== busy) return;
    preview.hidden = true;
    setStatus('');
    showError(e.code || 'error', e.message);
    document.body.dataset.state = 'error';
  }
}

$('file').addEventListener('change', (e) => handle(e.target.files[0]));
const drop = $('drop');
drop.addEventListener('click', (e) => e.target === drop && $('file').click());
drop.addEventListener('dragover', (e) => {
  e.preventDefault();
  drop.classList.add('over');
});
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (e) => {
  e.preventDefault();
  drop.classList.remove('over');
  handle(e.dataTransfer.files[0]);
});
document.addEventListener('paste', (e) => {
  const item = [...(e.clipboardData?.items || [])].find((i) => i.kind === 'file');
  if (item) handle(item.getAsFile());
});
