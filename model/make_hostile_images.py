#!/usr/bin/env python3
"""Writes tests/images/hostile/: small files that cost a decoder or a resizer
far more memory than their size suggests, their README table, and
PIL's Resize(255)+CenterCrop(224) of the ones PIL can preprocess.

    $VENV_DIR/bin/python model/make_hostile_images.py

The same bytes on every run (no randomness, no timestamps)."""
import io
import os
import struct
import zlib

import numpy as np
from PIL import Image, ImageDraw, ImageOps

import jpeg_writer

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
OUT = os.path.join(REPO, "tests", "images", "hostile")
REF = os.path.join(OUT, "reference")

# (file, what it is, expected code with the default DecodeLimits, has a PIL reference)
TABLE = []


def add(name, data, what, expected, reference=False, tight=None):
    """expected: the code with the default DecodeLimits; tight: with
    max_decode_bytes = 64 MiB (a Worker-sized budget), when it differs."""
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)
    TABLE.append((name, len(data), what, expected, tight or expected, reference))


# --- PNG written by hand: any size, bit depth, interlacing, truncation ------
def chunk(kind, body):
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}


def png(width, height, color_type, depth, row_of, interlace=False, idat_rows=None, exif=None):
    """row_of(y, xs) -> bytes of the pixels at columns xs of row y. Each row
    is filtered with Up when it equals the previous one (so flat or banded
    content compresses like a real decompression bomb), else None."""
    bpp = CHANNELS[color_type] * depth // 8
    raw = bytearray()
    passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
    for x0, y0, dx, dy in passes if interlace else [(0, 0, 1, 1)]:
        xs = range(x0, width, dx)
        if len(xs) == 0:
            continue
        prev = None
        for n, y in enumerate(range(y0, height, dy)):
            if idat_rows is not None and n >= idat_rows:
                break
            row = row_of(y, xs)
            assert len(row) == len(xs) * bpp
            if row == prev:
                raw += b"\x02" + bytes(len(row))
            else:
                raw += b"\x00" + row
            prev = row
    ihdr = struct.pack(">IIBBBBB", width, height, depth, color_type, 0, 0, 1 if interlace else 0)
    out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
    if exif is not None:
        out += chunk(b"eXIf", exif)
    return out + chunk(b"IDAT", zlib.compress(bytes(raw), 9)) + chunk(b"IEND", b"")


def solid(pixel):
    return lambda y, xs: pixel * len(xs)


def gradient_rgb(y, xs, band=None):
    # A different horizontal ramp per band of rows: real content, still
    # compressible because rows repeat inside a band.
    b = y // band if band else y
    return b"".join(bytes(((x * 7 + b * 40) & 255, (x * 3 + b * 90) & 255, (b * 50 + x // 3) & 255)) for x in xs)


def encode(img, fmt, **kw):
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def picture(w, h, seed_colours=6):
    """Flat regions with a few shapes: a photo-sized image whose JPEG stays small."""
    img = Image.new("RGB", (w, h), (96, 128, 160))
    d = ImageDraw.Draw(img)
    for i in range(seed_colours):
        x0, y0 = (i * 613) % w, (i * 379) % h
        d.ellipse((x0, y0, x0 + w // 4, y0 + h // 5), fill=((i * 70) % 256, (i * 150) % 256, (255 - i * 40) % 256))
        d.rectangle((w - x0 - w // 6, h - y0 - h // 7, w - x0, h - y0), fill=((i * 30) % 256, 200, (i * 90) % 256))
    return img


def header_only_jpeg(width, height):
    """SOI, JFIF, a quantisation table, SOF0 (3 components, 4:2:0), the
    standard Huffman tables, a scan header, EOI: no entropy-coded data."""
    out = b"\xff\xd8" + jpeg_writer.segment(0xE0, b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0")
    out += jpeg_writer.segment(0xDB, bytes([0]) + bytes([16] * 64))
    sof = bytes([8]) + struct.pack(">HH", height, width) + bytes([3, 1, 0x22, 0, 2, 0x11, 0, 3, 0x11, 0])
    out += jpeg_writer.segment(0xC0, sof)
    out += jpeg_writer.segment(0xC4, bytes([0x00] + jpeg_writer.DC_BITS + jpeg_writer.DC_VALS)
                               + bytes([0x10] + jpeg_writer.AC_BITS) + jpeg_writer.AC_VALS)
    out += jpeg_writer.segment(0xDA, bytes([3, 1, 0x00, 2, 0x11, 3, 0x11, 0, 63, 0]))
    return out + b"\xff\xd9"


def scan_start(data):
    sos = data.index(b"\xff\xda")
    return sos + 2 + struct.unpack(">H", data[sos + 2:sos + 4])[0]


def cut_scan(data, fraction):
    """The entropy-coded data of the (only) scan cut at `fraction`, then EOI."""
    start = scan_start(data)
    end = data.rindex(b"\xff\xd9")
    at = start + int((end - start) * fraction)
    while data[at - 1] == 0xFF:
        at -= 1
    return data[:at] + b"\xff\xd9"


def drop_intervals(data, lo, hi):
    """Empties the restart intervals from `lo` to `hi` (fractions of the
    scan), keeping their RSTn markers: libjpeg reads zeros there and resumes
    at the next marker."""
    start, end = scan_start(data), data.rindex(b"\xff\xd9")
    scan = data[start:end]
    pieces, i, prev = [], 0, 0
    while True:
        i = scan.find(b"\xff", i)
        if i < 0:
            break
        if 0xD0 <= scan[i + 1] <= 0xD7:
            pieces.append(scan[prev:i])
            pieces.append(scan[i:i + 2])
            prev = i + 2
        i += 2
    pieces.append(scan[prev:])
    data_pieces = pieces[0::2]
    n = len(data_pieces)
    for k in range(int(n * lo), int(n * hi)):
        data_pieces[k] = b""
    pieces[0::2] = data_pieces
    return data[:start] + b"".join(pieces) + data[end:]


def exif_orientation(value):
    e = Image.Exif()
    e[0x0112] = value
    return e.tobytes()


# --- torchvision's Resize(255) + CenterCrop(224) through PIL, without the ---
# intermediate. PIL's resize is a horizontal pass (every row independent) then
# a vertical pass (every column independent), each rounded to uint8, so
# resizing horizontally, keeping the crop's columns, then resizing vertically
# gives PIL's own values for those columns; only the crop's columns of the
# vertical pass are computed, which keeps 60000x1 -> 15300000x255 in memory.
def resized_size(w, h, size):
    short, long = (w, h) if w <= h else (h, w)
    new_short, new_long = size, int(size * long / short)
    return (new_short, new_long) if w <= h else (new_long, new_short)


def pil_crop(img, size=255, crop=224):
    w, h = img.size
    nw, nh = resized_size(w, h, size)
    assert nw >= crop and nh >= crop
    left, top = int(round((nw - crop) / 2.0)), int(round((nh - crop) / 2.0))
    if nw * h > 40_000_000 or crop * nh > 150_000_000:
        raise ValueError("too large for a PIL reference")
    horizontal = img.resize((nw, h), Image.BILINEAR) if nw != w else img
    columns = horizontal.crop((left, 0, left + crop, h))
    vertical = columns.resize((crop, nh), Image.BILINEAR) if nh != h else columns
    return vertical.crop((0, top, crop, top + crop))


def full_pil_crop(img, size=255, crop=224):
    # torchvision's way (make_references.py), for images small enough.
    nw, nh = resized_size(*img.size, size)
    r = img.resize((nw, nh), Image.BILINEAR) if (nw, nh) != img.size else img
    left, top = int(round((nw - crop) / 2.0)), int(round((nh - crop) / 2.0))
    return r.crop((left, top, left + crop, top + crop))


def main():
    os.makedirs(REF, exist_ok=True)
    for f in os.listdir(OUT):
        # MEASURED.md is written by hand.
        if os.path.isfile(os.path.join(OUT, f)) and f != "MEASURED.md":
            os.remove(os.path.join(OUT, f))
    for f in os.listdir(REF):
        os.remove(os.path.join(REF, f))

    # Extreme aspect ratios: three PNGs, then every other format.
    add("png_1x2000.png", png(1, 2000, 2, 8, lambda y, xs: bytes(((y * 5) & 255, (y // 8) & 255, 200))),
        "1x2000 RGB, a ramp down the column: Resize(255) makes it 255x510000", "ok", True)
    add("png_60000x1.png", png(60000, 1, 2, 8, solid(b"\x50\xa0\x30")),
        "60000x1 solid RGB (a 259-byte PNG): Resize(255) makes it 15300000x255", "ok", True)
    add("png_1x100000.png", png(1, 100000, 2, 8, solid(b"\x20\x40\xe0")),
        "1x100000 solid RGB: Resize(255) makes it 255x25500000 (no PIL reference: PIL needs 26 GB for it)", "ok")
    add("png_3000x1_ramp.png", png(3000, 1, 0, 8, lambda y, xs: bytes((x * 7) & 255 for x in xs)),
        "3000x1 grey ramp: a wide upscale with content", "ok", True)
    add("gif_4000x3.gif", encode(Image.fromarray((np.arange(12000).reshape(3, 4000) // 16 % 256).astype(np.uint8), "L").convert("P"), "GIF"),
        "4000x3 GIF (palette ramp): 340000x255 once resized", "ok", True)
    bmp = Image.fromarray(np.stack([(np.arange(6000).reshape(3000, 2) * k // 23 % 256).astype(np.uint8) for k in (1, 3, 7)], -1), "RGB")
    add("bmp_2x3000.bmp", encode(bmp, "BMP"), "2x3000 24-bit BMP: 255x382500 once resized", "ok", True)
    webp = Image.fromarray(np.stack([(np.arange(2 * 16383).reshape(2, 16383) * k // 29 % 256).astype(np.uint8) for k in (1, 2, 5)], -1), "RGB")
    add("webp_16383x2.webp", encode(webp, "WEBP", lossless=True), "16383x2 lossless WebP (WebP's widest): 2088832x255 once resized", "ok", True)
    jpg = Image.fromarray(np.stack([(np.arange(20000).reshape(1, 20000) * k // 97 % 256).astype(np.uint8) for k in (1, 2, 3)], -1), "RGB")
    add("jpeg_20000x1.jpg", encode(jpg, "JPEG", quality=90), "20000x1 baseline 4:2:0 JPEG: 5100000x255 once resized", "ok", True)
    tall = Image.fromarray(np.stack([(np.arange(8 * 4000).reshape(4000, 8) * k // 41 % 256).astype(np.uint8) for k in (3, 1, 2)], -1), "RGB")
    add("jpeg_8x4000.jpg", encode(tall, "JPEG", quality=90), "8x4000 baseline 4:2:0 JPEG: 255x127500 once resized", "ok", True)

    # Few bytes, many pixels, costly pixel formats.
    add("rgba_9mp.png", png(3000, 3000, 6, 8, lambda y, xs: b"".join(bytes(((x // 12 + y // 500 * 40) & 255, (y // 500 * 60) & 255, x // 12 & 255, 128)) for x in xs)),
        "3000x3000 RGBA8, banded (whole: 36 MB decoded)", "ok", True)
    add("rgba16_6mp.png", png(3000, 2000, 6, 16, lambda y, xs: b"".join(struct.pack(">4H", x * 21, (y // 400) * 13000, 40000, 65535) for x in xs)),
        "3000x2000 RGBA16 (whole: 48 MB decoded)", "ok", True)
    add("interlaced_rgba_9mp.png", png(3000, 3000, 6, 8, lambda y, xs: b"".join(bytes(((x // 12) & 255, 90, 200 - x // 20, 255)) for x in xs), interlace=True),
        "3000x3000 RGBA8 Adam7-interlaced: no row order, must be decoded whole (36 MB)", "ok", True)
    add("progressive444_9_7mp.jpg", encode(picture(3808, 2560), "JPEG", quality=90, progressive=True, subsampling=0, optimize=True),
        "3808x2560 (9.7 MP) progressive 4:4:4 JPEG: the decoder keeps every coefficient", "ok", True)
    add("phone_12mp_exif6.jpg", encode(picture(4032, 3024, 9), "JPEG", quality=85, subsampling=2, optimize=True, exif=exif_orientation(6)),
        "4032x3024 (12 MP) baseline 4:2:0 JPEG, EXIF orientation 6 (a portrait phone photo: must be accepted)", "ok", True)
    add("exif6_progressive_24mp.jpg", encode(picture(6000, 4000, 5), "JPEG", quality=80, progressive=True, subsampling=0, optimize=True, exif=exif_orientation(6)),
        "6000x4000 (24 MP) progressive 4:4:4 JPEG, EXIF orientation 6", "ok", True, "image_too_large")
    add("png_exif8_2000x1500.png", png(2000, 1500, 2, 8, lambda y, xs: gradient_rgb(y, xs, band=100), exif=exif_orientation(8)),
        "2000x1500 RGB PNG with an eXIf orientation 8 (transposed while streaming rows; the chunk as PIL writes it, with an `Exif\\0\\0` prefix)", "ok", True)

    # GIF whose first frame is far larger than its logical screen (16x16):
    # PIL grows the image to the frame; the decoder allocates the frame.
    gif = bytearray(encode(Image.fromarray((np.arange(2000 * 2000).reshape(2000, 2000) // 2000 % 256).astype(np.uint8), "L").convert("P"), "GIF"))
    struct.pack_into("<HH", gif, 6, 16, 16)
    add("gif_frame_2000_on_16x16_screen.gif", bytes(gif), "logical screen 16x16, first frame 2000x2000 at (0,0): PIL grows the image to 2000x2000, the image crate cuts it to 16x16; refused", "corrupt_image")

    # Decompression bombs and huge headers.
    add("png_bomb_rgba16_36mp.png", png(6000, 6000, 6, 16, solid(b"\0" * 8), idat_rows=8),
        "IHDR 6000x6000 RGBA16 (288 MB decoded whole, under the pixel cap), IDAT holds 8 rows: truncated, refused before decoding", "corrupt_image")
    add("png_bomb_interlaced_rgba16_36mp.png", png(6000, 6000, 6, 16, solid(b"\0" * 8), interlace=True, idat_rows=8),
        "the same, Adam7-interlaced (decoding it needs the whole 288 MB buffer): its 1 KB of data cannot hold 288 MB (deflate expands at most 1032 times), refused before decoding", "corrupt_image")
    add("png_bomb_65535.png", png(65535, 65535, 6, 16, solid(b"\0" * 8), idat_rows=1),
        "IHDR 65535x65535 RGBA16, one row of data", "too_many_pixels")
    small = Image.new("RGB", (8, 8), (10, 20, 30))
    jpeg = bytearray(encode(small, "JPEG", quality=90))
    sof = jpeg.index(b"\xff\xc0")
    struct.pack_into(">HH", jpeg, sof + 5, 65000, 65000)
    add("jpeg_header_65000x65000.jpg", bytes(jpeg), "a valid 8x8 JPEG whose SOF0 claims 65000x65000", "too_many_pixels")
    prog = bytearray(encode(small, "JPEG", quality=90, progressive=True, subsampling=0))
    sof = prog.index(b"\xff\xc2")
    struct.pack_into(">HH", prog, sof + 5, 6000, 6000)
    add("jpeg_progressive_header_6000x6000.jpg", bytes(prog),
        "an 8x8 progressive 4:4:4 JPEG whose SOF2 claims 6000x6000 (36 MP, under the pixel cap); it decodes (the missing blocks are zero, as in PIL) but its coefficients need 210 MiB", "ok", tight="image_too_large")
    add("jpeg_header_only_6000x6600.jpg", header_only_jpeg(6000, 6600),
        "a baseline 4:2:0 JPEG header claiming 6000x6600 (39.6 MP) whose scan holds no data: libjpeg warns and decodes every block as zero (PIL gives a grey image); decoding stops at the first MCU row and repeats it", "ok", True)
    cut = encode(picture(1600, 1200, 7), "JPEG", quality=85, subsampling=2, exif=exif_orientation(6))
    add("jpeg_cut_1600x1200_exif6.jpg", cut_scan(cut, 0.4),
        "1600x1200 baseline 4:2:0 JPEG, EXIF orientation 6, its scan cut at 40% and closed with EOI: grey below the cut (PIL's zeros), decoded from the cut on without Huffman or IDCT", "ok", True)
    gaps = encode(picture(1600, 1200, 8), "JPEG", quality=85, subsampling=2, restart_marker_rows=1)
    add("jpeg_restart_gaps_1600x1200.jpg", drop_intervals(gaps, 0.3, 0.5),
        "1600x1200 baseline 4:2:0 JPEG with a restart marker every MCU row, the data of the intervals from 30% to 50% of its rows removed (markers kept): those rows are grey, the data resumes after them", "ok", True)
    webp = bytearray(encode(small, "WEBP", lossless=True))
    vp8l = webp.index(b"VP8L") + 8
    bits = (16383) | (16383 << 14) | (webp[vp8l + 4] >> 4 << 28)
    struct.pack_into("<I", webp, vp8l + 1, bits)
    add("webp_header_16384x16384.webp", bytes(webp), "an 8x8 lossless WebP whose VP8L header claims 16384x16384", "too_many_pixels")
    bmp = bytearray(encode(small, "BMP"))
    struct.pack_into("<ii", bmp, 18, 100000, 100000)
    add("bmp_header_100000x100000.bmp", bytes(bmp), "an 8x8 BMP whose header claims 100000x100000", "too_many_pixels")
    gif = bytearray(encode(small.convert("P"), "GIF"))
    struct.pack_into("<HH", gif, 6, 65535, 65535)
    add("gif_screen_65535x65535.gif", bytes(gif), "an 8x8 GIF whose logical screen claims 65535x65535", "too_many_pixels")

    # PIL's crops of what PIL can preprocess.
    for name, _, _, _, _, reference in TABLE:
        if not reference:
            continue
        img = ImageOps.exif_transpose(Image.open(os.path.join(OUT, name))).convert("RGB")
        crop = pil_crop(img)
        if img.width * img.height <= 40_000_000 and max(resized_size(*img.size, 255)) <= 20000:
            assert np.array_equal(np.asarray(crop), np.asarray(full_pil_crop(img))), name
        np.save(os.path.join(REF, os.path.splitext(name)[0] + ".crop.npy"), np.asarray(crop, dtype=np.uint8))

    lines = [
        "# Hostile images",
        "",
        "Written by `model/make_hostile_images.py` (Pillow 13.0.0, numpy 2.4.6; the same",
        "bytes on every run). Small files that cost a decoder or the resize far more",
        "memory than their size: extreme aspect ratios (Resize(255) of the short side",
        "makes a huge intermediate), costly pixel formats, decompression bombs and",
        "headers that lie. `reference/<stem>.crop.npy` is PIL's",
        "`Resize(255)`+`CenterCrop(224)` (after `exif_transpose` and `convert(\"RGB\")`),",
        "computed column by column so that PIL never builds the intermediate either.",
        "",
        "Expected answer of `decode_crop` with the default `DecodeLimits` (40 MP,",
        "512 MiB budget) and with `max_decode_bytes` = 64 MiB (a Worker-sized",
        "budget); `crates/classifier/tests/hostile.rs` reads this table and checks",
        "both, PIL's crop, and that the peak allocation stays within the budget's",
        "estimate.",
        "",
        "| file | bytes | what | default | 64 MiB |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, size, what, expected, tight, _ in TABLE:
        lines.append(f"| `{name}` | {size} | {what} | `{expected}` | `{tight}` |")
    with open(os.path.join(OUT, "README.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    total = sum(t[1] for t in TABLE)
    print(f"{len(TABLE)} files, {total} bytes in {OUT}")


if __name__ == "__main__":
    main()
