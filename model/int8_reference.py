#!/usr/bin/env python3
"""onnxruntime's f32 and int8 runs on the int8 evaluation images: reference
files for the Rust int8 engine and the drift figures.

    model/int8_reference.py [--f32 F.onnx] [--int8 Q.onnx] [--out DIR] [--no-write] [--time N]

Defaults: model/build/densenet121-random.onnx and densenet121-random-int8.onnx
(scripts/prepare-model.sh makes both), each checked against its manifest
(model/manifests/<name>.json, else <file without .onnx>.json beside it).

The evaluation images (model/int8_images.py) are the 4 fixture photos and the
same 4 mirrored, through the project's preprocessing; the calibration images
(corner crops) are disjoint from them.

Writes into model/reference/ (names as model/make_references.py's):
  <name>.input.npy                 float32 [1,3,224,224], only those not there
                                   yet (photos_<x>.input.npy exist; checked equal)
  <name>.logits.<f32 model>.npy    float32 [1000], onnxruntime f32, batch 1
                                   (the 4 photos' exist; checked equal)
  <name>.logits.<int8 model>.npy   float32 [1000], onnxruntime on the int8 file, batch 1
  int8.json                        the image names in order, both files' sha256,
                                   onnxruntime's version and the figures below
onnxruntime runs with 2 intra-op threads and its default graph optimisations.

Prints, for onnxruntime's int8 run against its f32 run:

- the drift ratio, drift(lq, lf) below;
- top-1 agreement: images whose int8 argmax is the f32 argmax;
- top-5 agreement: images whose int8 top-5 set is the f32 top-5 set (order
  ignored), and the mean overlap of the two top-5 sets (out of 5);
- f32's top-1 inside int8's top-5: images where it is.

The drift ratio (the int8 issue's definition), for N images x C classes of
logits lf (f32 reference) and lq (the run under test):

    Lf[n, c] = log_softmax(lf[n])[c] - mean_c' log_softmax(lf[n])[c']
    Lq[n, c] = the same for lq
    drift = sqrt(mean_{n,c} (Lq - Lf)^2) / sqrt(mean_{n,c} (Lf[n, c] - mean_n' Lf[n', c])^2)

i.e. the RMS of the error on log-probabilities centred per image, over the RMS
of the f32 ones minus their mean over the images (the spread the image
causes: with random weights the logits barely depend on the image, so top-1
says little). Centring a log-softmax per image removes its log-sum-exp, so
Lf[n, c] = lf[n, c] - mean_c lf[n, c]: the logits centred per image (no exp
or log needed; computed here in float64). Needs N >= 2 images whose logits
differ. 0 = identical; the f32 spread is 1.
"""
import argparse
import hashlib
import json
import os
import statistics
import sys
import time

import numpy as np
import onnxruntime as ort

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import int8_images  # noqa: E402

THREADS = 2


def centred_log_probs(logits):
    """[N, C] logits -> log-softmax centred per image (== logits centred per image), float64."""
    x = np.asarray(logits, dtype=np.float64)
    return x - x.mean(axis=1, keepdims=True)


def drift_ratio(lq, lf):
    """The int8 issue's drift ratio of lq against the reference lf (both [N, C] logits)."""
    cq, cf = centred_log_probs(lq), centred_log_probs(lf)
    err = np.sqrt(np.mean((cq - cf) ** 2))
    spread = np.sqrt(np.mean((cf - cf.mean(axis=0, keepdims=True)) ** 2))
    return float(err / spread)


def agreement(lq, lf):
    """Top-1 / top-5 agreement counts of lq against lf ([N, C] logits)."""
    lq, lf = np.asarray(lq), np.asarray(lf)
    t1q, t1f = lq.argmax(1), lf.argmax(1)
    t5q = np.argsort(-lq, axis=1, kind="stable")[:, :5]
    t5f = np.argsort(-lf, axis=1, kind="stable")[:, :5]
    overlap = [len(set(a) & set(b)) for a, b in zip(t5q, t5f)]
    return {
        "images": int(lf.shape[0]),
        "top1_agree": int((t1q == t1f).sum()),
        "top5_same_set": int(sum(o == 5 for o in overlap)),
        "top5_mean_overlap": float(np.mean(overlap)),
        "f32_top1_in_int8_top5": int(sum(f in q for f, q in zip(t1f, t5q))),
    }


def manifest_for(path):
    stem = os.path.splitext(os.path.basename(path))[0]
    for p in (os.path.join(HERE, "manifests", f"{stem}.json"), os.path.splitext(path)[0] + ".json"):
        if os.path.isfile(p):
            with open(p, encoding="utf-8") as f:
                return json.load(f)
    sys.exit(f"no manifest for {path} (model/manifests/{stem}.json or beside it): run scripts/prepare-model.sh")


def checked(path):
    m = manifest_for(path)
    with open(path, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    if digest != m["sha256"]:
        sys.exit(f"{path} has sha256 {digest}, its manifest says {m['sha256']}: run scripts/prepare-model.sh")
    return m


def session(path, threads=THREADS):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    return ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])


def run_each(sess, inputs):
    name = sess.get_inputs()[0].name
    return np.stack([sess.run(None, {name: x})[0][0] for x in inputs]).astype(np.float32)


def time_per_image(path, x, runs):
    """Median seconds of `runs` batch-1 runs on 1 thread, after 3 warm-up runs."""
    sess = session(path, threads=1)
    name = sess.get_inputs()[0].name
    for _ in range(3):
        sess.run(None, {name: x})
    ts = []
    for _ in range(runs):
        t0 = time.perf_counter()
        sess.run(None, {name: x})
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def figures(lq, lf):
    return dict(drift_ratio=drift_ratio(lq, lf), **agreement(lq, lf))


def print_figures(label, f):
    print(f"{label}: drift ratio {f['drift_ratio']:.4f}; top-1 agreement {f['top1_agree']}/{f['images']}; "
          f"top-5 same set {f['top5_same_set']}/{f['images']} (mean overlap {f['top5_mean_overlap']:.2f}/5); "
          f"f32 top-1 inside int8 top-5 {f['f32_top1_in_int8_top5']}/{f['images']}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--f32", default=os.path.join(HERE, "build", "densenet121-random.onnx"))
    ap.add_argument("--int8", default=os.path.join(HERE, "build", "densenet121-random-int8.onnx"))
    ap.add_argument("--out", default=os.path.join(HERE, "reference"))
    ap.add_argument("--no-write", action="store_true", help="print the figures, write nothing")
    ap.add_argument("--with-variants", action="store_true",
                    help="also print the figures over the evaluation images plus tests/images/variants (not written)")
    ap.add_argument("--time", type=int, default=0, metavar="N",
                    help="also time both files: median of N batch-1 runs on 1 thread (e.g. 20)")
    args = ap.parse_args()

    mf, mq = checked(args.f32), checked(args.int8)
    ev = int8_images.evaluation_images()
    int8_images.check_disjoint(int8_images.calibration_images(), ev)
    names = [n for n, _ in ev]
    inputs = int8_images.inputs(ev)
    lf = run_each(session(args.f32), inputs)
    lq = run_each(session(args.int8), inputs)
    # Batch 8 gives the same logits as batch 1 (checked, not stored).
    batch = np.concatenate(inputs)
    for path, single in ((args.f32, lf), (args.int8, lq)):
        s = session(path)
        d = np.abs(s.run(None, {s.get_inputs()[0].name: batch})[0] - single).max()
        print(f"{os.path.basename(path)}: batch {len(names)} vs batch 1 max |diff| {d:.2e}")

    f = figures(lq, lf)
    print(f"{len(names)} evaluation images: {', '.join(names)}")
    print_figures(f"onnxruntime {ort.__version__} int8 vs f32", f)
    for n, a, b in zip(names, lf, lq):
        print(f"  {n}: f32 top-1 {int(a.argmax())} int8 top-1 {int(b.argmax())} "
              f"max |logit diff| {np.abs(a - b).max():.3f}")


    if args.with_variants:
        from make_references import IMAGES, load_rgb, preprocess, to_input
        vdir = os.path.join(IMAGES, "variants")
        vs = [to_input(preprocess(load_rgb(os.path.join(vdir, f)))) for f in sorted(os.listdir(vdir))
              if not f.endswith(".md")]
        vf, vq = run_each(session(args.f32), vs), run_each(session(args.int8), vs)
        print_figures(f"  with the {len(vs)} variants too", figures(np.concatenate([lq, vq]), np.concatenate([lf, vf])))

    if args.time:
        tf = time_per_image(args.f32, inputs[0], args.time)
        tq = time_per_image(args.int8, inputs[0], args.time)
        print(f"onnxruntime 1 thread, batch 1, median of {args.time}: f32 {tf * 1e3:.1f} ms, "
              f"int8 {tq * 1e3:.1f} ms (int8/f32 {tq / tf:.2f})")

    if args.no_write:
        return
    os.makedirs(args.out, exist_ok=True)
    written = 0

    def put(fname, array, keep_within=0.0):
        """Writes array unless the file holds it already; a file that holds it within
        keep_within (make_references.py's f32 logits, made on another CPU) is kept."""
        nonlocal written
        path = os.path.join(args.out, fname)
        if os.path.exists(path):
            old = np.load(path)
            if old.dtype == array.dtype and old.shape == array.shape:
                d = float(np.abs(old - array).max())
                if d == 0:
                    return
                if d <= keep_within:
                    print(f"  kept {fname} (max |diff| from this run {d:.1e})")
                    return
            if keep_within:
                sys.exit(f"{path} holds other values (max |diff| {d:.1e}): not overwritten")
        np.save(path, array)
        written += 1

    for n, x, a, b in zip(names, inputs, lf, lq):
        put(f"{n}.input.npy", x, keep_within=1e-30)  # must be equal
        put(f"{n}.logits.{mf['name']}.npy", a, keep_within=1e-4)
        put(f"{n}.logits.{mq['name']}.npy", b)
    index = {
        "images": names,
        "calibration_images": [n for n, _ in int8_images.calibration_images()],
        "f32_model": {"name": mf["name"], "sha256": mf["sha256"]},
        "int8_model": {"name": mq["name"], "sha256": mq["sha256"], "bytes": mq["bytes"]},
        "onnxruntime": ort.__version__, "threads": THREADS, "batch": 1,
        "onnxruntime_int8_vs_f32": {k: round(v, 4) if isinstance(v, float) else v for k, v in f.items()},
    }
    with open(os.path.join(args.out, "int8.json"), "w", encoding="utf-8") as fh:
        json.dump(index, fh, indent=1)
        fh.write("\n")
    print(f"wrote {written} .npy files and int8.json to {args.out}")


if __name__ == "__main__":
    main()
