#!/usr/bin/env python3
"""References for the engine's extra tests, written outside the clone
(default ~/.cache/densenet-edge/engine-refs, or $DENSENET_ENGINE_REFS):

- densenet169-random.onnx, densenet201-random.onnx and
  densenet161-random.onnx: torchvision's DenseNet-169, -201 and -161 graphs
  (blocks 6/12/32/32 and 6/12/48/32; -161: 6/12/36/24 with growth 48 and 96
  initial features) with seeded random weights, built like
  model/make_random_densenet.py does DenseNet-121 (same Builder, same node
  and initializer naming);
- for them and for model/build/densenet121-random.onnx: onnxruntime logits of a
  batch of 8 (the 4 photos, then the same 4 mirrored left-right), as
  <model>.batch8.logits.npy, and the batch itself as batch8.input.npy.

Usage: $VENV_DIR/bin/python bench/engine/make_variants.py
"""
import importlib.util
import os
import sys

import numpy as np
import onnxruntime as ort

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
OUT = os.environ.get("DENSENET_ENGINE_REFS", os.path.expanduser("~/.cache/densenet-edge/engine-refs"))

spec = importlib.util.spec_from_file_location("mrd", os.path.join(REPO, "model", "make_random_densenet.py"))
mrd = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mrd)


def logits(path, x):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    sess = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
    return sess.run(["logits"], {"input": x})[0].astype(np.float32)


def main():
    os.makedirs(OUT, exist_ok=True)
    photos = ["astronaut", "chelsea", "coffee", "rocket"]
    ref = os.path.join(REPO, "model", "reference")
    x = np.concatenate([np.load(os.path.join(ref, f"photos_{p}.input.npy")) for p in photos])
    x = np.ascontiguousarray(np.concatenate([x, x[:, :, :, ::-1]]), dtype=np.float32)
    np.save(os.path.join(OUT, "batch8.input.npy"), x)
    models = [("densenet121-random", os.path.join(REPO, "model", "build", "densenet121-random.onnx"))]
    for depth, blocks, growth, init in ((169, (6, 12, 32, 32), 32, 64), (201, (6, 12, 48, 32), 32, 64),
                                        (161, (6, 12, 36, 24), 48, 96)):
        path = os.path.join(OUT, f"densenet{depth}-random.onnx")
        graph = mrd.build(depth, 13, blocks=blocks, name=f"DenseNet-{depth}", growth=growth, init_features=init)
        with open(path, "wb") as f:
            f.write(graph.SerializeToString(deterministic=True))
        models.append((f"densenet{depth}-random", path))
    for name, path in models:
        if not os.path.exists(path):
            sys.exit(f"{path} missing: run scripts/prepare-model.sh")
        y = logits(path, x)
        np.save(os.path.join(OUT, f"{name}.batch8.logits.npy"), y)
        print(f"{name}: batch-8 logits written, spread {y.std():.2f}")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
