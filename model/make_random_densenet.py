#!/usr/bin/env python3
"""DenseNet-121 with seeded random weights, written with onnx.helper (no torch).

The graph is the one torch.onnx.export gives for torchvision's densenet121 in
eval mode at opset 13 (names of nodes and tensors follow torch's scheme, the
initializers are named after torchvision's state_dict keys):

- torch's ONNX eval peephole (fuseConvBatchNorm) folds a BatchNormalization
  into the Conv before it when that Conv's output has no other use. In
  DenseNet that is norm0 (after conv0) and every dense layer's norm2 (after
  conv1). So conv0 and every dense-layer conv1 HAVE a bias and there is no
  norm0/norm2 node; the 3x3 conv2 and the transition convs have no bias.
- A dense layer is: Concat(features so far, axis=1) -> BatchNormalization
  (norm1) -> Relu -> Conv 1x1 (128, bias) -> Relu -> Conv 3x3 pad 1 (32, no
  bias). torchvision always calls torch.cat on a list, so the FIRST layer of a
  block gets a Concat with a single input too; we keep it, as torch does.
- A block's output is Concat(block input + every new feature): 7, 13, 25, 17
  inputs.

The output is byte-for-byte deterministic for a given seed and numpy version.
"""
import argparse
import hashlib
import json
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

BLOCKS = (6, 12, 24, 16)
GROWTH = 32
BN_SIZE = 4
INIT_FEATURES = 64
NUM_CLASSES = 1000
# Chosen by measuring logits on the fixture photos: gives logits with a spread
# of a few units, top-1 softmax probabilities roughly 0.05-0.6.
CLASSIFIER_STD = 0.14


class Builder:
    def __init__(self, rng):
        self.rng = rng
        self.nodes = []
        self.inits = []

    def init(self, name, array):
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(array, dtype=np.float32), name))
        return name

    def node(self, op, scope, inputs, **attrs):
        name = f"{scope}/{op}"
        out = f"{name}_output_0"
        self.nodes.append(helper.make_node(op, inputs, [out], name=name, **attrs))
        return out

    def conv(self, scope, x, cin, cout, k, stride=1, pad=0, bias=False):
        # He-normal (fan_in, ReLU gain).
        w = self.rng.standard_normal((cout, cin, k, k), dtype=np.float32) * np.float32(np.sqrt(2.0 / (cin * k * k)))
        inputs = [x, self.init(f"{scope[1:].replace('/', '.')}.weight", w)]
        if bias:
            # Stands for a folded BatchNormalization's shift: small, not zero.
            b = self.rng.standard_normal(cout, dtype=np.float32) * np.float32(0.05)
            inputs.append(self.init(f"{scope[1:].replace('/', '.')}.bias", b))
        return self.node("Conv", scope, inputs, dilations=[1, 1], group=1, kernel_shape=[k, k],
                         pads=[pad] * 4, strides=[stride, stride])

    def bn(self, scope, x, c):
        # Near the identity, with seeded noise so it is not a no-op.
        r = self.rng
        p = scope[1:].replace("/", ".")
        gamma = 1.0 + 0.1 * r.standard_normal(c, dtype=np.float32)
        beta = 0.05 * r.standard_normal(c, dtype=np.float32)
        mean = 0.05 * r.standard_normal(c, dtype=np.float32)
        var = 1.0 + 0.2 * r.random(c, dtype=np.float32)
        names = [self.init(f"{p}.{n}", a) for n, a in
                 (("weight", gamma), ("bias", beta), ("running_mean", mean), ("running_var", var))]
        return self.node("BatchNormalization", scope, [x] + names, epsilon=1e-5, momentum=0.9)

    def relu(self, scope, x):
        return self.node("Relu", scope, [x])


def build(seed, opset, blocks=BLOCKS, name="DenseNet-121", growth=GROWTH, init_features=INIT_FEATURES):
    """torchvision's DenseNet graph with seeded random weights; other block
    sizes give DenseNet-169 (6, 12, 32, 32) or 201 (6, 12, 48, 32), and
    DenseNet-161 is (6, 12, 36, 24) with growth 48 and 96 initial features."""
    b = Builder(np.random.default_rng(seed))
    x = b.conv("/features/conv0", "input", 3, init_features, 7, stride=2, pad=3, bias=True)
    x = b.relu("/features/relu0", x)
    x = b.node("MaxPool", "/features/pool0", [x], ceil_mode=0, kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[2, 2])
    c = init_features
    for i, layers in enumerate(blocks, start=1):
        feats = [x]
        for j in range(1, layers + 1):
            s = f"/features/denseblock{i}/denselayer{j}"
            h = b.node("Concat", s, list(feats), axis=1)
            h = b.bn(f"{s}/norm1", h, c + (j - 1) * growth)
            h = b.relu(f"{s}/relu1", h)
            h = b.conv(f"{s}/conv1", h, c + (j - 1) * growth, BN_SIZE * growth, 1, bias=True)  # norm2 folded in
            h = b.relu(f"{s}/relu2", h)
            h = b.conv(f"{s}/conv2", h, BN_SIZE * growth, growth, 3, pad=1)
            feats.append(h)
        x = b.node("Concat", f"/features/denseblock{i}", feats, axis=1)
        c += layers * growth
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
    # Scaled so wider classifiers (DenseNet-169/201) give logits of the same spread.
    w = b.rng.standard_normal((NUM_CLASSES, c), dtype=np.float32) * np.float32(CLASSIFIER_STD * np.sqrt(1024 / c))
    bias = b.rng.standard_normal(NUM_CLASSES, dtype=np.float32) * np.float32(0.1)
    gemm = helper.make_node("Gemm", [x, b.init("classifier.weight", w), b.init("classifier.bias", bias)],
                            ["logits"], name="/classifier/Gemm", alpha=1.0, beta=1.0, transB=1)
    b.nodes.append(gemm)

    graph = helper.make_graph(
        b.nodes, "main_graph",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, 224, 224])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", NUM_CLASSES])],
        b.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                              producer_name="densenet-edge", producer_version="1")
    # IR 7 is what opset 13 shipped with (onnx 1.8); older readers accept it.
    model.ir_version = 7
    model.doc_string = f"{name}, torchvision graph, RANDOM weights (numpy default_rng seed {seed})"
    return model


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(here, "build", "densenet121-random.onnx"))
    ap.add_argument("--seed", type=int, default=121)
    ap.add_argument("--opset", type=int, default=13)
    ap.add_argument("--write-manifest", action="store_true",
                    help="(re)write model/manifests/densenet121-random.json: only when the model is meant to change")
    args = ap.parse_args()

    model = build(args.seed, args.opset)
    onnx.checker.check_model(model, full_check=True)
    data = model.SerializeToString(deterministic=True)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    tmp = args.out + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, args.out)
    digest = hashlib.sha256(data).hexdigest()
    print(f"{args.out}: {len(data)} bytes sha256 {digest}")
    if args.write_manifest:
        write_manifest(os.path.join(here, "manifests", "densenet121-random.json"), "densenet121-random",
                       os.path.basename(args.out), digest, len(data), "random", args.seed, args.opset)


def write_manifest(path, name, file, sha256, size, weights, seed, opset):
    """Shared with export_torchvision.py (which passes seed=None)."""
    manifest = {
        "name": name, "file": file, "sha256": sha256, "bytes": size, "weights": weights,
        # "int8" in model/quantize.py's manifests (Manifest in crates/classifier ignores unknown fields).
        "precision": "f32",
        "seed": seed, "opset": opset,
        "input": {"name": "input", "shape": ["batch", 3, 224, 224]},
        "output": {"name": "logits", "shape": ["batch", 1000]},
        "preprocess": {"resize": 255, "crop": 224, "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225],
                       "interpolation": "bilinear-antialias (PIL)"},
        "labels": "imagenet_class_index.json",
    }
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
