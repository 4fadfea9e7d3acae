// The Web Worker that owns the classifier, so decoding and inference never
// block the page. Messages: see app.js. The package replaces its wasm
// instance itself when it traps (the call fails with `instance_crashed`,
// the next one reloads the model from the Cache API), and reports that
// through onProgress ('reload', then 'ready' with `reloaded`).
import { Classifier } from './pkg/classifier.js';

let classifier = null;

self.onmessage = async ({ data: m }) => {
  if (m.type === 'init') {
    try {
      // app.js only sends a model of the page's own origin; checked here
      // too, so that nothing else posting to this Web Worker can load one
      // from elsewhere.
      if (new URL(m.model, self.location.href).origin !== self.location.origin) {
        throw Object.assign(new Error(`${m.model} is not on this site's origin (${self.location.origin})`), { code: 'model_refused' });
      }
      classifier = await Classifier.create({
        model: m.model,
        engine: m.engine,
        onProgress: (p) => self.postMessage({ type: 'progress', ...p }),
      });
      const { engine, engineReason, device, model, load } = classifier;
      self.postMessage({ type: 'ready', engine, engineReason, device, model, load });
    } catch (e) {
      self.postMessage({ type: 'init-error', code: e.code || 'error', message: e.message });
    }
  } else if (m.type === 'classify') {
    try {
      const result = await classifier.classify(m.file, { topK: 5 });
      self.postMessage({ type: 'result', id: m.id, result });
    } catch (e) {
      self.postMessage({ type: 'error', id: m.id, code: e.code || 'error', message: e.message });
    }
  }
};
