#!/usr/bin/env python3
"""Writes model/reference/: what the PyTorch tutorial's preprocessing (done in
PIL, as torchvision does for PIL images) and onnxruntime give for the test
images, for the Rust side to match. See model/reference/README.md."""
import argparse
import hashlib
import json
import os
import sys

import numpy as np
import onnxruntime as ort
from PIL import Image, ImageOps

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
IMAGES = os.path.join(REPO, "tests", "images")
MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
MODEL = "densenet121-random"


# --- torchvision's Resize(int) and CenterCrop(int) on a PIL image ------------
# Copied from torchvision 0.20 (torchvision/transforms/functional.py:
# _compute_resized_output_size, resize, center_crop); the same arithmetic since
# torchvision 0.9. Resize on a PIL image is PIL's resize with BILINEAR, which
# is antialiased (the filter support widens with the downscale factor).
def resized_size(w, h, size):
    short, long = (w, h) if w <= h else (h, w)
    # Float division, then truncation toward zero (not rounding).
    new_short, new_long = size, int(size * long / short)
    new_w, new_h = (new_short, new_long) if w <= h else (new_long, new_short)
    return new_w, new_h


def resize(img, size):
    new_w, new_h = resized_size(img.width, img.height, size)
    if (new_w, new_h) == img.size:  # torchvision returns the image untouched
        return img
    return img.resize((new_w, new_h), Image.BILINEAR)


def center_crop(img, size):
    w, h = img.size
    if size > w or size > h:
        # Pad with zeros (black), the odd pixel going to the right/bottom.
        left, top = (size - w) // 2 if size > w else 0, (size - h) // 2 if size > h else 0
        right, bottom = (size - w + 1) // 2 if size > w else 0, (size - h + 1) // 2 if size > h else 0
        padded = Image.new(img.mode, (w + left + right, h + top + bottom), 0)
        padded.paste(img, (left, top))
        img = padded
        w, h = img.size
        if (w, h) == (size, size):
            return img
    # Python's round() rounds half to EVEN: (255-224)/2 = 15.5 -> 16, 78.5 -> 78.
    top = int(round((h - size) / 2.0))
    left = int(round((w - size) / 2.0))
    return img.crop((left, top, left + size, top + size))


def load_rgb(path, grey16_high_byte=False):
    img = Image.open(path)
    img = ImageOps.exif_transpose(img)
    if grey16_high_byte and img.mode.startswith("I;16"):
        # Alternative to PIL's clipping: keep the high byte, as PIL does for 16-bit RGB.
        img = Image.fromarray((np.asarray(img) >> 8).astype(np.uint8))
    return img.convert("RGB")


def preprocess(img, resize_to=255, crop=224):
    return center_crop(resize(img, resize_to), crop)


def to_input(crop):
    # ToTensor (uint8 -> float32 / 255, HWC -> CHW) then Normalize, in float32.
    x = np.asarray(crop, dtype=np.uint8).astype(np.float32) / np.float32(255.0)
    x = (x - MEAN) / STD
    return x.transpose(2, 0, 1)[None].astype(np.float32)


def torchvision_check(entries):
    try:
        import torch
        from torchvision import transforms as T
    except ImportError:
        print("torchvision check SKIPPED: torch/torchvision not importable")
        return
    for path, crop in entries:
        img = load_rgb(path)
        tv = T.Compose([T.Resize(255), T.CenterCrop(224)])(img)
        assert np.array_equal(np.asarray(tv), np.asarray(crop)), f"torchvision differs on {path}"
        x = T.Compose([T.ToTensor(), T.Normalize(MEAN.tolist(), STD.tolist())])(tv).unsqueeze(0).numpy()
        assert np.array_equal(x, to_input(crop)), f"torchvision normalisation differs on {path}"
    print(f"torchvision {__import__('torchvision').__version__} check OK on {len(entries)} images")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=os.path.join(HERE, "build", f"{MODEL}.onnx"))
    ap.add_argument("--out", default=os.path.join(HERE, "reference"))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)

    def save(name, array):
        np.save(os.path.join(args.out, name), array)

    index = {}
    checked = []
    photos = {}
    for sub in ("photos", "variants"):
        for fname in sorted(os.listdir(os.path.join(IMAGES, sub))):
            if fname.endswith(".md"):
                continue
            path = os.path.join(IMAGES, sub, fname)
            name = f"{sub}_{os.path.splitext(fname)[0]}"
            raw = Image.open(path)
            img = load_rgb(path)
            crop = preprocess(img)
            save(f"{name}.crop.npy", np.asarray(crop, dtype=np.uint8))
            index[name] = {"image": f"tests/images/{sub}/{fname}", "format": raw.format, "mode": raw.mode,
                           "size": list(raw.size), "oriented_size": list(img.size),
                           "resized_size": list(resized_size(*img.size, 255))}
            rw, rh = index[name]["resized_size"]
            index[name]["crop_left_top"] = [int(round((rw - 224) / 2.0)), int(round((rh - 224) / 2.0))]
            checked.append((path, crop))
            if sub == "photos":
                photos[name] = crop
                save(f"{name}.input.npy", to_input(crop))
            if raw.mode.startswith("I;16"):
                # PIL clips 16-bit grey to 255 on convert("RGB") (an almost white
                # image); the high-byte reading is kept beside it.
                alt = preprocess(load_rgb(path, grey16_high_byte=True))
                save(f"{name}.highbyte.crop.npy", np.asarray(alt, dtype=np.uint8))
    # Resize(256) for chelsea: the resize size is configurable.
    img = load_rgb(os.path.join(IMAGES, "photos", "chelsea.png"))
    save("photos_chelsea.crop256.npy", np.asarray(preprocess(img, 256), dtype=np.uint8))

    with open(os.path.join(args.out, "index.json"), "w", encoding="utf-8") as f:
        json.dump(index, f, indent=1, sort_keys=True)
        f.write("\n")
    torchvision_check(checked)

    # Logits, only for the model the manifest names.
    with open(os.path.join(HERE, "manifests", f"{MODEL}.json"), encoding="utf-8") as f:
        manifest = json.load(f)
    with open(args.model, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    if digest != manifest["sha256"]:
        sys.exit(f"REFUSING to write logits: {args.model} has sha256 {digest}, "
                 f"the manifest says {manifest['sha256']}. Run scripts/prepare-model.sh.")
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    sess = ort.InferenceSession(args.model, opts, providers=["CPUExecutionProvider"])
    names = sorted(photos)
    batch = np.concatenate([to_input(photos[n]) for n in names])
    for n in names:
        logits = sess.run(["logits"], {"input": to_input(photos[n])})[0][0].astype(np.float32)
        save(f"{n}.logits.{MODEL}.npy", logits)
        p = np.exp(logits - logits.max())
        p /= p.sum()
        print(f"{n}: top-1 class {int(p.argmax())} probability {p.max():.3f}")
    batch_logits = sess.run(["logits"], {"input": batch})[0].astype(np.float32)
    save(f"batch4.logits.{MODEL}.npy", batch_logits)
    single = np.stack([np.load(os.path.join(args.out, f"{n}.logits.{MODEL}.npy")) for n in names])
    print(f"batch4 vs single max |diff| {np.abs(batch_logits - single).max():.2e}")
    print(f"wrote {len(os.listdir(args.out))} files to {args.out}")


if __name__ == "__main__":
    main()
