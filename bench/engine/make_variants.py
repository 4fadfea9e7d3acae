#!/usr/bin/env python3
"""References for the engine's extra tests, written outside the clone
(default ~/.cache/densenet-edge/engine-refs, or $DENSENET_ENGINE_REFS):

- densenet169-random.onnx: torchvision's DenseNet-169 graph (blocks 6/12/32/32)
  with seeded random weights, built like model/make_random_densenet.py does
  DenseNet-121 (same Builder, same node and initializer naming);
- for it and for model/build/densenet121-random.onnx: onnxruntime logits of a
  batch of 8 (the 4 photos, then the same 4 mirrored left-right), as
  <model>.batch8.logits.npy, and the batch itself as batch8.input.npy.

Usage: $VENV_DIR/bin/python bench/engine/make_variants.py
"""
import importlib.util
import os
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
OUT = os.environ.get("DENSENET_ENGINE_REFS", os.path.expanduser("~/.cache/densenet-edge/engine-refs"))

spec = importlib.util.spec_from_file_location("mrd", os.path.join(REPO, "model", "make_random_densenet.py"))
mrd = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mrd)


def build(blocks, seed, opset=13):
    """make_random_densenet.build with other block sizes (its body, minus the
    DenseNet-121 channel assertion)."""
    b = mrd.Builder(np.random.default_rng(seed))
    x = b.conv("/features/conv0", "input", 3, mrd.INIT_FEATURES, 7, stride=2, pad=3, bias=True)
    x = b.relu("/features/relu0", x)
    x = b.node("MaxPool", "/features/pool0", [x], ceil_mode=0, kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[2, 2])
    c = mrd.INIT_FEATURES
    for i, layers in enumerate(blocks, start=1):
        feats = [x]
        for j in range(1, layers + 1):
            s = f"/features/denseblock{i}/denselayer{j}"
            h = b.node("Concat", s, list(feats), axis=1)
            h = b.bn(f"{s}/norm1", h, c + (j - 1) * mrd.GROWTH)
            h = b.relu(f"{s}/relu1", h)
            h = b.conv(f"{s}/conv1", h, c + (j - 1) * mrd.GROWTH, mrd.BN_SIZE * mrd.GROWTH, 1, bias=True)
            h = b.relu(f"{s}/relu2", h)
            h = b.conv(f"{s}/conv2", h, mrd.BN_SIZE * mrd.GROWTH, mrd.GROWTH, 3, pad=1)
            feats.append(h)
        x = b.node("Concat", f"/features/denseblock{i}", feats, axis=1)
        c += layers * mrd.GROWTH
        if i < len(blocks):
            s = f"/features/transition{i}"
            x = b.bn(f"{s}/norm", x, c)
            x = b.relu(f"{s}/relu", x)
            x = b.conv(f"{s}/conv", x, c, c // 2, 1)
            x = b.node("AveragePool", f"{s}/pool", [x], ceil_mode=0, kernel_shape=[2, 2], pads=[0, 0, 0, 0], strides=[2, 2])
            c //= 2
    x = b.bn("/features/norm5", x, c)
    x = b.relu("", x)
    x = b.node("GlobalAveragePool", "", [x])
    x = b.node("Flatten", "", [x], axis=1)
    w = b.rng.standard_normal((mrd.NUM_CLASSES, c), dtype=np.float32) * np.float32(mrd.CLASSIFIER_STD * np.sqrt(1024 / c))
    bias = b.rng.standard_normal(mrd.NUM_CLASSES, dtype=np.float32) * np.float32(0.1)
    b.nodes.append(helper.make_node("Gemm", [x, b.init("classifier.weight", w), b.init("classifier.bias", bias)],
                                    ["logits"], name="/classifier/Gemm", alpha=1.0, beta=1.0, transB=1))
    graph = helper.make_graph(
        b.nodes, "main_graph",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, 224, 224])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", mrd.NUM_CLASSES])],
        b.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="densenet-edge")
    model.ir_version = 7
    onnx.checker.check_model(model, full_check=True)
    return model


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
    d169 = os.path.join(OUT, "densenet169-random.onnx")
    with open(d169, "wb") as f:
        f.write(build((6, 12, 32, 32), seed=169).SerializeToString(deterministic=True))
    for name, path in (("densenet121-random", os.path.join(REPO, "model", "build", "densenet121-random.onnx")),
                       ("densenet169-random", d169)):
        if not os.path.exists(path):
            sys.exit(f"{path} missing: run scripts/prepare-model.sh")
        y = logits(path, x)
        np.save(os.path.join(OUT, f"{name}.batch8.logits.npy"), y)
        print(f"{name}: batch-8 logits written, spread {y.std():.2f}")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
