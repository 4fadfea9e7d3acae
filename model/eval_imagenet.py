#!/usr/bin/env python3
"""Top-1 / top-5 accuracy of an f32 and an int8 DenseNet file on an ImageNet
validation folder, with onnxruntime.

    model/eval_imagenet.py --f32 F.onnx --int8 Q.onnx --val DIR [--limit N] [--threads T] [--batch B]

DIR in torchvision's ImageFolder layout: DIR/<wnid>/<image> (ILSVRC2012's 50,000
validation images sorted into 1,000 folders named by WordNet id, e.g.
DIR/n01440764/ILSVRC2012_val_00000293.JPEG). The label of a folder is the index
of its wnid in model/imagenet_class_index.json, which is the sorted order of
the 1,000 wnids (checked here), i.e. torchvision's ImageFolder order on the
full set; a folder with only some classes keeps the true indices. Folders that
are not wnids of the class index are an error.

Each image goes through the project's preprocessing (model/make_references.py:
Resize(255) antialiased bilinear in PIL, CenterCrop(224), ImageNet mean/std).
--limit N evaluates N images spread evenly over the sorted list (so over the
classes), not the first N. Prints top-1 / top-5 of both files, how often the
two agree, and the drift ratio of int8 against f32 (model/int8_reference.py).
Either file may be left out to evaluate the other alone.
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import onnxruntime as ort

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from int8_images import IMAGE_EXTENSIONS  # noqa: E402
from int8_reference import agreement, drift_ratio  # noqa: E402
from make_references import load_rgb, preprocess, to_input  # noqa: E402


def class_index():
    with open(os.path.join(HERE, "imagenet_class_index.json"), encoding="utf-8") as f:
        d = json.load(f)
    wnids = [d[str(i)][0] for i in range(len(d))]
    assert wnids == sorted(wnids), "imagenet_class_index.json is not in sorted wnid order"
    return {w: i for i, w in enumerate(wnids)}


def samples(val, limit):
    index = class_index()
    dirs = sorted(d for d in os.listdir(val) if os.path.isdir(os.path.join(val, d)))
    unknown = [d for d in dirs if d not in index]
    if unknown:
        sys.exit(f"{val}: folders that are not ImageNet wnids: {', '.join(unknown[:5])}")
    out = []
    for d in dirs:
        for f in sorted(os.listdir(os.path.join(val, d))):
            if f.lower().endswith(IMAGE_EXTENSIONS):
                out.append((os.path.join(val, d, f), index[d]))
    if not out:
        sys.exit(f"{val}: no images in <wnid>/ folders")
    if limit and limit < len(out):
        step = len(out) / limit
        out = [out[int(i * step)] for i in range(limit)]
    return out


def session(path, threads):
    opts = ort.SessionOptions()
    if threads:
        opts.intra_op_num_threads = threads
    return ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--f32", help="the f32 ONNX file")
    ap.add_argument("--int8", help="the int8 (QDQ) ONNX file")
    ap.add_argument("--val", required=True, help="ImageNet validation folder, DIR/<wnid>/*.JPEG")
    ap.add_argument("--limit", type=int, default=0, help="evaluate N images spread over the folder")
    ap.add_argument("--threads", type=int, default=0, help="onnxruntime intra-op threads (default: its own)")
    ap.add_argument("--batch", type=int, default=16)
    args = ap.parse_args()
    models = [(k, p) for k, p in (("f32", args.f32), ("int8", args.int8)) if p]
    if not models:
        sys.exit("give --f32 and/or --int8")

    items = samples(args.val, args.limit)
    labels = np.array([y for _, y in items])
    sessions = {k: session(p, args.threads) for k, p in models}
    logits = {k: [] for k, _ in models}
    t0 = time.time()
    for start in range(0, len(items), args.batch):
        chunk = items[start:start + args.batch]
        x = np.concatenate([to_input(preprocess(load_rgb(p))) for p, _ in chunk])
        for k, s in sessions.items():
            logits[k].append(s.run(None, {s.get_inputs()[0].name: x})[0])
        done = start + len(chunk)
        if done % 1000 < args.batch or done == len(items):
            print(f"  {done}/{len(items)} images, {time.time() - t0:.0f} s", file=sys.stderr)

    print(f"{len(items)} images from {len(set(labels.tolist()))} classes under {args.val}")
    for k, p in models:
        lg = np.concatenate(logits[k])
        top5 = np.argsort(-lg, axis=1, kind="stable")[:, :5]
        t1 = float((top5[:, 0] == labels).mean())
        t5 = float((top5 == labels[:, None]).any(axis=1).mean())
        print(f"{k} {os.path.basename(p)}: top-1 {100 * t1:.2f} %, top-5 {100 * t5:.2f} %")
        logits[k] = lg
    if len(models) == 2:
        a = agreement(logits["int8"], logits["f32"])
        n = a["images"]
        dr = f"drift ratio {drift_ratio(logits['int8'], logits['f32']):.4f}; " if n >= 2 else ""
        print(f"int8 vs f32: {dr}top-1 agreement {a['top1_agree']}/{n}; top-5 same set {a['top5_same_set']}/{n}; "
              f"f32 top-1 inside int8 top-5 {a['f32_top1_in_int8_top5']}/{n}")


if __name__ == "__main__":
    main()
