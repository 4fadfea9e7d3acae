"""The images of the int8 work: the calibration set (model/quantize.py) and the
evaluation set (model/int8_reference.py), both made from the 4 fixture photos
of tests/images/photos (the repository has no other real photos; the variants
are small copies of the same 4), so both are deterministic and need no
download.

They are disjoint as images, not as subjects: no evaluation image equals a
calibration image, but both come from the same 4 photos.

- Calibration (16 images): for each photo, the 4 corner squares of side
  0.6 x its shorter side (top-left, top-right, bottom-left, bottom-right), the
  top-right and bottom-left ones mirrored left-right; each square then goes
  through the project's pipeline (Resize(255), CenterCrop(224), normalise),
  so each calibration image is a zoomed-in corner of a photo.
- Evaluation (8 images): each whole photo through the pipeline (exactly
  model/reference/photos_<x>.input.npy), then each whole photo mirrored
  left-right through the pipeline.

A calibration folder (`--calibration DIR`) is every image file under DIR,
in sorted path order, through the pipeline.

The pipeline is model/make_references.py's (torchvision's Resize(255) +
CenterCrop(224) in PIL, ImageNet mean/std, NCHW float32).
"""
import os
import sys

import numpy as np
from PIL import Image, ImageOps

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from make_references import IMAGES, load_rgb, preprocess, to_input  # noqa: E402

PHOTOS = ("astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg")
CORNER_FRACTION = 0.6
# (corner, mirrored): mirroring alternates so the set holds both orientations.
CORNERS = (("tl", False), ("tr", True), ("bl", True), ("br", False))
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff")


def _photo(fname):
    return load_rgb(os.path.join(IMAGES, "photos", fname))


def _stem(fname):
    return f"photos_{os.path.splitext(fname)[0]}"


def corner_box(w, h, corner, fraction=CORNER_FRACTION):
    """(left, top, right, bottom) of a corner square of side fraction x min(w, h)."""
    s = int(round(fraction * min(w, h)))
    left = 0 if corner[1] == "l" else w - s
    top = 0 if corner[0] == "t" else h - s
    return left, top, left + s, top + s


def calibration_images():
    """[(name, crop 224x224 PIL RGB)], 16 of them, in a fixed order."""
    out = []
    for fname in PHOTOS:
        img = _photo(fname)
        for corner, mirrored in CORNERS:
            sq = img.crop(corner_box(img.width, img.height, corner))
            if mirrored:
                sq = ImageOps.mirror(sq)
            out.append((f"{_stem(fname)}_{corner}{'_mirror' if mirrored else ''}", preprocess(sq)))
    return out


def evaluation_images():
    """[(name, crop 224x224 PIL RGB)], 8 of them: the 4 photos, then the 4 mirrored."""
    whole = [(_stem(f), preprocess(_photo(f))) for f in PHOTOS]
    mirrored = [(f"{_stem(f)}_mirror", preprocess(ImageOps.mirror(_photo(f)))) for f in PHOTOS]
    return whole + mirrored


def folder_images(folder):
    """[(relative path, crop)] for every image file under folder, sorted by path."""
    paths = []
    for root, _, files in os.walk(folder):
        paths += [os.path.join(root, f) for f in files if f.lower().endswith(IMAGE_EXTENSIONS)]
    out = []
    for p in sorted(paths):
        out.append((os.path.relpath(p, folder), preprocess(load_rgb(p))))
    if not out:
        raise SystemExit(f"no image files ({', '.join(IMAGE_EXTENSIONS)}) under {folder}")
    return out


def inputs(images):
    """[1,3,224,224] float32 model inputs, one per (name, crop)."""
    return [to_input(crop) for _, crop in images]


def check_disjoint(calibration, evaluation):
    """No evaluation crop may equal a calibration crop (pixel for pixel)."""
    seen = {np.asarray(c).tobytes(): n for n, c in calibration}
    for n, c in evaluation:
        if np.asarray(c).tobytes() in seen:
            raise SystemExit(f"evaluation image {n} equals calibration image {seen[np.asarray(c).tobytes()]}")


if __name__ == "__main__":
    cal, ev = calibration_images(), evaluation_images()
    check_disjoint(cal, ev)
    for n, _ in cal:
        print("calibration", n)
    for n, _ in ev:
        print("evaluation", n)
