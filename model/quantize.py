#!/usr/bin/env python3
"""Quantizes a torchvision DenseNet ONNX export to int8 (QDQ) with onnxruntime.

    model/quantize.py IN.onnx OUT.onnx [--calibration DIR]
    (or scripts/quantize-model.sh, which runs it in the project's venv)

onnxruntime.quantization.quantize_static, static MinMax calibration, with these
options pinned (the int8 issue's; see docs/int8-qdq.md for the graph it makes):

- quant_format=QDQ: a standard ONNX graph with QuantizeLinear/DequantizeLinear
  around float ops, which onnxruntime and onnxruntime-web run as is;
- per_channel=True (weights per output channel), reduce_range=True (weights in
  7 bits, -64..63: no i16 saturation in vpmaddubsw-style kernels);
- activation_type=QUInt8 (asymmetric, so each Relu folds into the zero point of
  the QuantizeLinear after it), weight_type=QInt8 (symmetric, zero point 0);
- BatchNormalization not quantized: every op type onnxruntime quantizes by
  default except BatchNormalization (op_types_to_quantize);
- the classifier's output not quantized (OpTypesToExcludeOutputQuantization =
  [Gemm]): the logits are the Gemm's float output, no QuantizeLinear after it.

Calibration: the 16 images of model/int8_images.py (corner crops of the 4
fixture photos, disjoint from the evaluation images of
model/int8_reference.py), or with --calibration DIR every image file under DIR,
each through the project's preprocessing (Resize(255), CenterCrop(224),
ImageNet mean/std, NCHW float32).

Writes OUT and its manifest OUT.json beside it (name, file, sha256, bytes,
weights, "precision": "int8", the source file's sha256, the options, the
calibration set), taking the other fields (weights, seed, input, preprocess,
labels...) from IN's manifest when there is one (model/manifests/<IN stem>.json
or <IN without .onnx>.json). Calibration runs onnxruntime's float kernels, so
another CPU may give other bytes: the sha256 is that of the file written here.
Prints the file size and the node-type counts.

    model/quantize.py IN.onnx OUT.onnx --up-to-date

exits 0 when OUT and its manifest are what this script would make from IN with
the built-in calibration set (same IN bytes, same recipe: this script,
model/int8_images.py, model/make_references.py and the package versions), 1
otherwise, without quantizing (scripts/prepare-model.sh uses it).
"""
import argparse
import collections
import hashlib
import importlib.metadata
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

# What decides the bytes besides IN: these files and the pinned packages.
RECIPE_FILES = ("quantize.py", "int8_images.py", "make_references.py")
RECIPE_PACKAGES = ("onnxruntime", "onnx", "numpy", "pillow")
BUILTIN = "built-in: 16 corner crops of tests/images/photos (model/int8_images.py), disjoint from the evaluation images"
OPTIONS = {
    "quant_format": "QDQ", "per_channel": True, "reduce_range": True,
    "activation_type": "QUInt8", "weight_type": "QInt8", "calibrate_method": "MinMax",
    "not_quantized": ["BatchNormalization", "the Gemm's output (logits)"],
}


def recipe():
    """sha256 over the recipe files and the package versions."""
    h = hashlib.sha256()
    for f in RECIPE_FILES:
        with open(os.path.join(HERE, f), "rb") as fh:
            h.update(f.encode() + b"\0" + fh.read() + b"\0")
    for p in RECIPE_PACKAGES:
        h.update(f"{p}=={importlib.metadata.version(p)}\0".encode())
    return h.hexdigest()


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def manifest_path(dst):
    return os.path.splitext(dst)[0] + ".json"


def up_to_date(src, dst):
    """dst and its manifest exist, the manifest describes dst's bytes, made from
    src's bytes by this recipe with the built-in calibration set."""
    try:
        with open(manifest_path(dst), encoding="utf-8") as f:
            m = json.load(f)
        q = m["quantization"]
        return (m["sha256"] == sha256_file(dst) and m["source"]["sha256"] == sha256_file(src)
                and q["recipe"] == recipe() and q["calibration"] == BUILTIN)
    except (OSError, KeyError, TypeError, ValueError):
        return False


def quantize(src, dst, inputs):
    import onnx
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                          quantize_static)
    from onnxruntime.quantization.registry import QDQRegistry, QLinearOpsRegistry

    class Reader(CalibrationDataReader):
        """Feeds one [1,3,224,224] image at a time."""

        def __init__(self, input_name):
            self.input_name = input_name
            self.i = 0

        def get_next(self):
            if self.i >= len(inputs):
                return None
            self.i += 1
            return {self.input_name: inputs[self.i - 1]}

        def __len__(self):
            return len(inputs)

    input_name = onnx.load(src, load_external_data=False).graph.input[0].name
    # What quantize_static quantizes by default (its own rule), less BatchNormalization.
    op_types = sorted((set(QLinearOpsRegistry) | set(QDQRegistry)) - {"BatchNormalization"})
    tmp = dst + ".tmp"
    quantize_static(
        src, tmp, Reader(input_name),
        quant_format=QuantFormat.QDQ,
        per_channel=True,
        reduce_range=True,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        op_types_to_quantize=op_types,
        calibrate_method=CalibrationMethod.MinMax,
        extra_options={"OpTypesToExcludeOutputQuantization": ["Gemm"]},
    )
    check(onnx.load(tmp))
    os.replace(tmp, dst)


def check(model):
    """The properties the issue pins, checked on the graph that was written."""
    import onnx

    g = model.graph
    producer = {o: n for n in g.node for o in n.output}
    consumers = collections.defaultdict(list)
    for n in g.node:
        for i in n.input:
            consumers[i].append(n)
    for out in g.output:
        p = producer.get(out.name)
        if p is None or p.op_type in ("QuantizeLinear", "DequantizeLinear"):
            sys.exit(f"graph output {out.name} comes from {p and p.op_type}: the classifier's output is quantized")
        if out.type.tensor_type.elem_type != onnx.TensorProto.FLOAT:
            sys.exit(f"graph output {out.name} is not float")
        if any(c.op_type == "QuantizeLinear" for c in consumers[out.name]):
            sys.exit(f"a QuantizeLinear reads the graph output {out.name}")
    for n in g.node:
        if n.op_type == "BatchNormalization" and any(
                i in producer and producer[i].op_type in ("QuantizeLinear", "DequantizeLinear") for i in n.input[1:]):
            sys.exit(f"{n.name}: BatchNormalization's parameters are quantized")
        if n.op_type == "BatchNormalization" and any(c.op_type == "QuantizeLinear" for c in consumers[n.output[0]]):
            sys.exit(f"{n.name}: BatchNormalization's output is quantized")
    if not any(n.op_type == "QuantizeLinear" for n in g.node):
        sys.exit("no QuantizeLinear in the output: not a QDQ model")


def source_manifest(src):
    stem = os.path.splitext(os.path.basename(src))[0]
    for p in (os.path.join(HERE, "manifests", f"{stem}.json"), manifest_path(src)):
        if os.path.isfile(p):
            with open(p, encoding="utf-8") as f:
                return json.load(f)
    return None


def write_manifest(src, dst, calibration, weights):
    import onnxruntime

    src_sha = sha256_file(src)
    base = source_manifest(src)
    if base is not None and base.get("sha256") != src_sha:
        print(f"quantize: {src}'s manifest is for other bytes: not used", file=sys.stderr)
        base = None
    base = base or {}
    with open(dst, "rb") as f:
        data = f.read()
    manifest = {
        "name": os.path.splitext(os.path.basename(dst))[0], "file": os.path.basename(dst),
        "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data),
        "weights": weights or base.get("weights", "pretrained"), "precision": "int8",
    }
    for k in ("seed", "opset", "input", "output", "preprocess", "labels"):
        if k in base:
            manifest[k] = base[k]
    manifest.setdefault("preprocess", {"resize": 255, "crop": 224, "mean": [0.485, 0.456, 0.406],
                                       "std": [0.229, 0.224, 0.225], "interpolation": "bilinear-antialias (PIL)"})
    manifest.setdefault("labels", "imagenet_class_index.json")
    manifest["source"] = {"file": os.path.basename(src), "sha256": src_sha}
    manifest["quantization"] = dict(OPTIONS, tool=f"onnxruntime {onnxruntime.__version__} quantize_static",
                                    calibration=calibration, recipe=recipe())
    with open(manifest_path(dst), "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    return manifest


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("src", metavar="IN.onnx")
    ap.add_argument("dst", metavar="OUT.onnx")
    ap.add_argument("--calibration", metavar="DIR", help="calibrate on every image under DIR instead of the built-in set")
    ap.add_argument("--weights", help='the manifest\'s "weights" ("random"/"pretrained"); default: IN\'s manifest\'s, '
                                      'else "pretrained"')
    ap.add_argument("--up-to-date", action="store_true", help="only check: exit 0 if OUT is up to date, else 1")
    args = ap.parse_args()
    if args.up_to_date:
        sys.exit(0 if up_to_date(args.src, args.dst) else 1)

    import onnx
    import onnxruntime
    import int8_images

    if args.calibration:
        images = int8_images.folder_images(args.calibration)
        calibration = f"{len(images)} images under {os.path.basename(os.path.abspath(args.calibration))}"
    else:
        images = int8_images.calibration_images()
        int8_images.check_disjoint(images, int8_images.evaluation_images())
        calibration = BUILTIN
    t0 = time.time()
    os.makedirs(os.path.dirname(os.path.abspath(args.dst)), exist_ok=True)
    quantize(args.src, args.dst, int8_images.inputs(images))
    took = time.time() - t0
    manifest = write_manifest(args.src, args.dst, calibration, args.weights)

    counts = collections.Counter(n.op_type for n in onnx.load(args.dst).graph.node)
    print(f"{args.dst}: {manifest['bytes']} bytes ({manifest['bytes'] / 1e6:.2f} MB) sha256 {manifest['sha256']}")
    print(f"  onnxruntime {onnxruntime.__version__}; calibration: {calibration}; "
          f"{took:.1f} s")
    print(f"  {sum(counts.values())} nodes: " + ", ".join(f"{k} {v}" for k, v in counts.most_common()))
    print(f"wrote {manifest_path(args.dst)}")


if __name__ == "__main__":
    main()
