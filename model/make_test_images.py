#!/usr/bin/env python3
"""Writes tests/images/: the fixture photos, small variants in every format and
colour type the decoder must handle, and bad inputs it must reject cleanly.
Deterministic: same bytes every run for a given Pillow/zlib/libjpeg/libwebp.

Layout: photos/ (the fixture photos, unchanged), variants/ (decodable),
bad/ (must be rejected). See tests/images/README.md.
"""
import argparse
import os
import shutil
import struct
import zlib

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.environ.get("REPO_ROOT", os.path.dirname(HERE))
PHOTOS = ("astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg")


# --- minimal PNG writer: PIL can write neither 16-bit RGB nor Adam7 ---------
def _chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bytes(pixels, color_type, interlace=False, size=None, idat=None):
    """pixels: HxWxC uint8 or >u2 numpy array (C matching color_type).
    size/idat override the header size and the compressed data (for bomb.png)."""
    h, w = pixels.shape[:2] if size is None else size[::-1]
    depth = 16 if pixels.dtype.itemsize == 2 else 8
    ihdr = struct.pack(">IIBBBBB", w, h, depth, color_type, 0, 0, 1 if interlace else 0)
    if idat is None:
        passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)] \
            if interlace else [(0, 0, 1, 1)]
        raw = b""
        for x0, y0, dx, dy in passes:
            sub = pixels[y0::dy, x0::dx]
            if sub.size == 0:  # an empty pass has no rows at all, not even filter bytes
                continue
            # Filter type 0 (None) on every row: simple, and legal.
            raw += b"".join(b"\x00" + row.tobytes() for row in sub)
        idat = zlib.compress(raw, 9)
    sig = b"\x89PNG\r\n\x1a\n"
    return sig + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def shrink(im, size):
    return im.resize(size, Image.LANCZOS)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fixtures", default=os.path.join(REPO, "..", "shared", "fixtures"))
    ap.add_argument("--out", default=os.path.join(REPO, "tests", "images"))
    args = ap.parse_args()
    photos_dir, var, bad = (os.path.join(args.out, d) for d in ("photos", "variants", "bad"))
    for d in (photos_dir, var, bad):
        os.makedirs(d, exist_ok=True)

    for name in PHOTOS:
        shutil.copyfile(os.path.join(args.fixtures, "images", name), os.path.join(photos_dir, name))

    def src(name):
        return Image.open(os.path.join(args.fixtures, "images", name)).convert("RGB")

    def v(name):
        return os.path.join(var, name)

    # Small, non-square sources. land: landscape cat; port: portrait coffee
    # (centre 260x400 of the 600x400 photo); rocket: landscape.
    land = shrink(src("chelsea.png"), (160, 106))
    port = shrink(src("coffee.png").crop((170, 0, 430, 400)), (104, 160))
    rocket = shrink(src("rocket.jpg"), (150, 100))
    astro = shrink(src("astronaut.png"), (120, 120))
    land_a = np.asarray(land)
    yy, xx = np.mgrid[0:106, 0:160]

    # JPEG: Pillow defaults (4:2:0 chroma subsampling, libjpeg-turbo).
    land.save(v("baseline.jpg"), quality=90)
    port.save(v("progressive.jpg"), quality=90, progressive=True)
    # CMYK with a real K channel (full under-colour removal), so the CMYK->RGB
    # formula matters; PIL's own convert("CMYK") always gives K=0. PIL reads it
    # back as R = (255-C)(255-K)/255 and writes Adobe-inverted CMYK (APP14).
    ra = np.asarray(rocket).astype(np.int32)
    mx = ra.max(axis=2, keepdims=True)
    cmy = np.where(mx > 0, 255 - (ra * 255 + mx // 2) // np.maximum(mx, 1), 0)
    cmyk = np.dstack([cmy, 255 - mx]).astype(np.uint8)
    Image.frombytes("CMYK", rocket.size, cmyk.tobytes()).save(v("cmyk.jpg"), quality=90)
    port.convert("L").save(v("grey.jpg"), quality=90)
    # EXIF Orientation 6, as a camera held upright writes it: pixels stored
    # rotated 90 deg counter-clockwise (portrait 106x160), to be shown rotated
    # 90 deg clockwise: the upright landscape cat. Ignoring EXIF shows it sideways.
    exif = Image.Exif()
    exif[0x0112] = 6
    land.transpose(Image.Transpose.ROTATE_90).save(v("exif_rotate6.jpg"), quality=90, exif=exif.tobytes())

    # PNG, 16-bit: high byte = the 8-bit image, low byte varies, so a decoder
    # that rounds 16->8 differs from one that takes the high byte (as PIL does).
    # 120x80 keeps the file under 60 KB (the varying low bytes compress poorly).
    small = np.asarray(shrink(src("chelsea.png"), (120, 80))).astype(np.uint16)
    sy, sx = np.mgrid[0:80, 0:120]
    rgb16 = (small << 8) | ((sx * 7 + sy * 13) & 0xFF).astype(np.uint16)[..., None]
    with open(v("rgb16.png"), "wb") as f:
        f.write(png_bytes(rgb16.astype(">u2"), color_type=2))
    pl = np.asarray(port.convert("L")).astype(np.uint16)
    pyy, pxx = np.mgrid[0:160, 0:104]
    Image.fromarray(((pl << 8) | ((pxx * 5 + pyy * 11) & 0xFF)).astype(np.uint16)).save(v("grey16.png"))

    # PNG, 8-bit colour types.
    pal = land.quantize(64, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    pal.save(v("palette.png"))
    pal_t = rocket.quantize(32, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    # Transparent index = the most used colour, so many pixels are transparent.
    counts = np.bincount(np.asarray(pal_t).ravel(), minlength=32)
    pal_t.save(v("palette_trns.png"), transparency=int(counts.argmax()))
    rocket.convert("L").save(v("grey8.png"))  # not grey.png: stems must be unique (grey.jpg)
    la = np.dstack([np.asarray(port.convert("L")), (pyy * 255 // 159).astype(np.uint8)])
    Image.fromarray(la).save(v("grey_alpha.png"))
    # Alpha: a horizontal ramp, and a fully transparent band whose colour is
    # kept: PIL drops alpha without compositing or premultiplying.
    alpha = (xx * 255 // 159).astype(np.uint8)
    alpha[40:60] = 0
    Image.fromarray(np.dstack([land_a, alpha])).save(v("rgba.png"))
    with open(v("interlaced.png"), "wb") as f:
        f.write(png_bytes(np.asarray(astro), color_type=2, interlace=True))
    shrink(src("chelsea.png"), (10, 7)).save(v("tiny.png"))
    shrink(src("rocket.jpg").crop((0, 180, 640, 244)), (600, 60)).save(v("wide.png"))

    # WebP, GIF, BMP.
    port.save(v("lossless.webp"), lossless=True)
    rocket.save(v("lossy.webp"), quality=80, method=4)
    f1 = land.quantize(64, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    f2 = Image.fromarray(255 - land_a).quantize(64, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    trans = int(np.bincount(np.asarray(f1).ravel(), minlength=64).argmax())
    f1.save(v("animated.gif"), save_all=True, append_images=[f2], duration=[100, 100], loop=0,
            transparency=trans, disposal=1, optimize=False)
    # 148x100 -> Resize(255) gives 377x255 and the crop's left edge is
    # round(76.5) = 76: Python rounds half to even (half-up would give 77).
    shrink(src("rocket.jpg"), (148, 100)).save(v("image.bmp"))

    # Bad inputs.
    base = open(v("baseline.jpg"), "rb").read()
    open(os.path.join(bad, "truncated.jpg"), "wb").write(base[: len(base) * 6 // 10])
    grey_png = open(v("grey8.png"), "rb").read()
    open(os.path.join(bad, "truncated.png"), "wb").write(grey_png[: len(grey_png) * 6 // 10])
    # Keep SOI, JFIF APP0 and the quantisation tables, then garbage up to EOI:
    # no frame header is left, so every decoder must fail.
    sof = base.index(b"\xff\xc0")
    garbage = np.random.default_rng(7).integers(0, 256, len(base) - sof - 2, dtype=np.uint8).tobytes()
    garbage = garbage.replace(b"\xff", b"\x00")  # no accidental markers
    open(os.path.join(bad, "corrupt.jpg"), "wb").write(base[:sof] + garbage + b"\xff\xd9")
    open(os.path.join(bad, "not_image.txt"), "w").write("This is a text file, not an image.\n")
    open(os.path.join(bad, "empty.bin"), "wb").close()
    # 60000x60000 RGB claimed by IHDR; the IDAT holds only 4 zero rows. The
    # point is the header: reject before allocating 10.8 GB of pixels.
    rows = zlib.compress(b"\x00" * (4 * (1 + 60000 * 3)), 9)
    with open(os.path.join(bad, "bomb.png"), "wb") as f:
        f.write(png_bytes(np.zeros((1, 1, 3), np.uint8), 2, size=(60000, 60000), idat=rows))
    shrink(src("coffee.png"), (60, 40)).save(os.path.join(bad, "unsupported.tiff"))

    # model/reference names files <dir>_<stem>: stems must not repeat.
    stems = [os.path.splitext(n)[0] for d in (photos_dir, var) for n in os.listdir(d) if not n.endswith(".md")]
    assert len(stems) == len(set(stems)), sorted(stems)
    total = 0
    for d in (photos_dir, var, bad):
        for n in sorted(os.listdir(d)):
            size = os.path.getsize(os.path.join(d, n))
            total += size
            print(f"{os.path.relpath(os.path.join(d, n), args.out):28s} {size:8d}")
    print(f"total {total} bytes")


if __name__ == "__main__":
    main()
