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
