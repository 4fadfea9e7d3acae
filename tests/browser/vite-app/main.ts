// A minimal app that imports the package through Vite, in TypeScript (the
// test runs tsc on it, so the package's .d.ts is checked too). The test
// builds it, serves dist/ with the model and a photo, and reads #out.
import { Classifier, type Classification, type CodedError } from 'densenet-edge';

const out = document.getElementById('out')!;
try {
  const classifier: Classifier = await Classifier.create({ model: '/model/densenet121-random.onnx', engine: 'cpu' });
  const photo: Blob = await (await fetch('/chelsea.png')).blob();
  const result: Classification = await classifier.classify(photo, { topK: 5 });
  out.textContent = JSON.stringify(result, null, 2);
  document.body.dataset.state = 'done';
} catch (e) {
  const err = e as CodedError;
  out.textContent = `${err.code}: ${err.message}`;
  document.body.dataset.state = 'error';
}
