"""Makes small JPEGs with PIL and PIL's own pixels for them, to check the Rust JPEG decoder.

    $VENV_DIR/bin/python model/make_jpeg_references.py
    $VENV_DIR/bin/python model/make_jpeg_references.py --big /tmp/jpeg-12mp.jpg   # bench input

Writes tests/images/jpeg/<name>.jpg and model/reference/jpeg/<name>.png (RGB8,
stored order, what `Image.open(f).convert("RGB")` gives before any EXIF
rotation; PNG only to keep the files small) plus model/reference/jpeg/index.json ({name: {width, height,
orientation, sha256 of the jpg}}). Also references for the existing JPEGs
under tests/images/variants and photos/rocket.jpg. Same bytes on every run.
"""
import hashlib
import io
import json
import pathlib

import numpy as np
from PIL import Image

import jpeg_writer

ROOT = pathlib.Path(__file__).resolve().parent.parent
IMG = ROOT / "tests/images/jpeg"
REF = ROOT / "model/reference/jpeg"


def photo(name, size):
    im = Image.open(ROOT / "tests/images/photos" / name).convert("RGB")
    return im.resize(size, Image.LANCZOS)


def synthetic(w, h, seed):
    rng = np.random.default_rng(seed)
    x = np.linspace(0, 255, w)[None, :, None]
    y = np.linspace(0, 255, h)[:, None, None]
    base = np.concatenate([x + 0 * y, y + 0 * x, (x + y) / 2], axis=2)
    noise = rng.integers(-40, 40, (h, w, 3))
    return Image.fromarray(np.clip(base + noise, 0, 255).astype(np.uint8), "RGB")


def exif_with_orientation(o):
    ex = Image.Exif()
    ex[0x0112] = o
    return ex.tobytes()


def main():
    IMG.mkdir(parents=True, exist_ok=True)
    REF.mkdir(parents=True, exist_ok=True)
    land = photo("chelsea.png", (203, 151))
    coffee = photo("coffee.png", (150, 101))
    astro = photo("astronaut.png", (96, 96))
    cases = {}

    def add(name, im, **kw):
        buf = io.BytesIO()
        im.save(buf, "JPEG", **kw)
        cases[name] = buf.getvalue()

    for sub, tag in [(2, "420"), (1, "422"), (0, "444")]:
        for q in (50, 75, 95):
            add(f"land_{tag}_q{q}", land, quality=q, subsampling=sub)
            add(f"land_{tag}_q{q}_prog", land, quality=q, subsampling=sub, progressive=True)
        add(f"coffee_{tag}_opt", coffee, quality=85, subsampling=sub, optimize=True)
    for (w, h) in [(1, 1), (2, 2), (3, 5), (17, 9), (9, 17), (33, 31), (63, 65)]:
        im = synthetic(w, h, w * 100 + h)
        add(f"syn_{w}x{h}_420", im, quality=90, subsampling=2)
        add(f"syn_{w}x{h}_422_prog", im, quality=90, subsampling=1, progressive=True)
        add(f"syn_{w}x{h}_444", im, quality=90, subsampling=0)
    add("land_restart_420", land, quality=80, subsampling=2, restart_marker_blocks=3)
    add("land_restart_prog", land, quality=80, subsampling=2, progressive=True, restart_marker_rows=1)
    add("coffee_grey", coffee.convert("L"), quality=85)
    add("coffee_grey_prog", coffee.convert("L"), quality=85, progressive=True)
    add("syn_17x9_grey", synthetic(17, 9, 5).convert("L"), quality=70)
    rgb = np.asarray(astro).astype(int)
    k = 255 - rgb.max(axis=2)
    cmy = 255 - rgb - k[..., None]
    cmyk = Image.fromarray(np.dstack([cmy, k]).astype(np.uint8), "CMYK")
    add("astro_cmyk", cmyk, quality=90)
    add("astro_cmyk_prog", cmyk, quality=90, progressive=True)
    add("coffee_exif6", coffee, quality=85, exif=exif_with_orientation(6))
    add("coffee_exif3", coffee, quality=85, exif=exif_with_orientation(3))
    xmp = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
           b'<rdf:Description xmlns:tiff="http://ns.adobe.com/tiff/1.0/" tiff:Orientation="8"/></rdf:RDF></x:xmpmeta>')
    add("coffee_xmp8", coffee, quality=85, xmp=xmp)
    # Big-endian EXIF (as many cameras write it), orientation 3, put after SOI.
    tiff = b"MM\0*\0\0\0\x08" + b"\0\x01" + b"\x01\x12\0\x03\0\0\0\x01\0\x03\0\0" + b"\0\0\0\0"
    app1 = b"Exif\0\0" + tiff
    plain = io.BytesIO()
    coffee.save(plain, "JPEG", quality=85)
    cases["coffee_exif3_be"] = b"\xff\xd8\xff\xe1" + (len(app1) + 2).to_bytes(2, "big") + app1 + plain.getvalue()[2:]
    # Layouts Pillow cannot write, from model/jpeg_writer.py.
    for name, im in [("land", land), ("syn37x29", synthetic(37, 29, 7))]:
        ycc = [np.asarray(ch) for ch in im.convert("YCbCr").split()]
        rgbp = [np.asarray(ch) for ch in im.split()]
        cases[f"{name}_440"] = jpeg_writer.write(ycc, [(1, 2), (1, 1), (1, 1)], jfif=True)
        cases[f"{name}_411"] = jpeg_writer.write(ycc, [(4, 1), (1, 1), (1, 1)], jfif=True)
        cases[f"{name}_mixed"] = jpeg_writer.write(ycc, [(2, 2), (1, 2), (2, 1)], jfif=True)
        cases[f"{name}_h1v4"] = jpeg_writer.write(ycc, [(1, 4), (1, 2), (1, 1)])
        cases[f"{name}_adobe_rgb"] = jpeg_writer.write(rgbp, [(1, 1)] * 3, adobe=0)
        cases[f"{name}_ids_rgb"] = jpeg_writer.write(rgbp, [(2, 1), (1, 1), (1, 1)], ids=[82, 71, 66])
        k = 255 - np.asarray(im).max(axis=2)
        cases[f"{name}_ycck"] = jpeg_writer.write(ycc + [k], [(2, 2), (1, 1), (1, 1), (2, 2)], adobe=2)
        cases[f"{name}_cmyk_noadobe"] = jpeg_writer.write(rgbp + [k], [(1, 1)] * 4)
        cases[f"{name}_grey_2x2"] = jpeg_writer.write(ycc[:1], [(2, 2)])
        cases[f"{name}_420_multiscan"] = jpeg_writer.write(ycc, [(2, 2), (1, 1), (1, 1)], jfif=True, separate_scans=True)

    # Scan data cut in half and closed with EOI: libjpeg warns ("premature
    # end of data segment"), reads zeros and PIL accepts the image.
    for name in ("land_420_q75", "land_420_q75_prog", "land_restart_420"):
        data = cases[name]
        cases[f"{name}_half_eoi"] = data[: len(data) // 2] + b"\xff\xd9"

    # Progressive files stopped after their first scans (then EOI): the
    # coefficients stay unrefined and libjpeg smooths blocks (DC-only after
    # one scan, with its 5x5 DC kernel).
    for name in ("land_420_q75_prog", "land_444_q95_prog", "astro_cmyk_prog", "coffee_grey_prog"):
        data = cases[name]
        sos = [i for i in range(len(data) - 1) if data[i] == 0xFF and data[i + 1] == 0xDA]
        for k in (1, 2, 4, 6):
            if k < len(sos):
                cases[f"{name}_{k}scans"] = data[: sos[k]] + b"\xff\xd9"

    index = {}
    for name, data in sorted(cases.items()):
        (IMG / f"{name}.jpg").write_bytes(data)
        index[name] = reference(name, data, f"tests/images/jpeg/{name}.jpg")
    for path in sorted((ROOT / "tests/images/variants").glob("*.jpg")) + [ROOT / "tests/images/photos/rocket.jpg"]:
        name = f"{path.parent.name}_{path.stem}"
        index[name] = reference(name, path.read_bytes(), str(path.relative_to(ROOT)))
    (REF / "index.json").write_text(json.dumps(index, indent=1, sort_keys=True) + "\n")
    print(f"{len(index)} references")


def reference(name, data, path):
    im = Image.open(io.BytesIO(data))
    orientation = im.getexif().get(0x0112, 1)
    rgb = im.convert("RGB")
    rgb.save(REF / f"{name}.png", optimize=True)
    return {
        "path": path,
        "width": rgb.width,
        "height": rgb.height,
        "orientation": orientation if orientation in range(1, 9) else 1,
        "progressive": bool(im.info.get("progressive")),
        "sha256": hashlib.sha256(data).hexdigest(),
    }


def make_big(path):
    """A 12-megapixel phone-like JPEG (4000x3000, baseline 4:2:0, quality 90,
    EXIF orientation 6) for the speed comparison; not committed."""
    im = photo("chelsea.png", (4000, 3000))
    noise = np.random.default_rng(0).integers(-6, 7, (3000, 4000, 3))
    im = Image.fromarray(np.clip(np.asarray(im).astype(int) + noise, 0, 255).astype(np.uint8))
    im.save(path, "JPEG", quality=90, subsampling=2, exif=exif_with_orientation(6))
    im.save(path.replace(".jpg", "_prog.jpg"), "JPEG", quality=90, subsampling=2, progressive=True)


if __name__ == "__main__":
    import sys

    if len(sys.argv) == 3 and sys.argv[1] == "--big":
        make_big(sys.argv[2])
    else:
        main()
