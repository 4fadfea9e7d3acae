"""A minimal baseline JPEG writer (numpy) for layouts Pillow cannot write:
any sampling factors per component (4:4:0, 4:1:1, mixed), Adobe RGB and
YCCK, 'R','G','B' component ids, sub-sampled greyscale. The pixels of each
file are then whatever PIL decodes; this writer only has to be valid."""
import math

import numpy as np

ZIGZAG = [0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20,
          13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59,
          52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63]
QLUMA = [16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
         14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
         49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99]
DC_BITS = [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0]
DC_VALS = list(range(12))
AC_BITS = [0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7D]
AC_VALS = bytes.fromhex(
    "01020300041105122131410613516107227114328191a1082342b1c11552d1f02433627282090a161718191a25262728292a"
    "3435363738393a434445464748494a535455565758595a636465666768696a737475767778797a838485868788898a92939495"
    "969798999aa2a3a4a5a6a7a8a9aab2b3b4b5b6b7b8b9bac2c3c4c5c6c7c8c9cad2d3d4d5d6d7d8d9dae1e2e3e4e5e6e7e8e9ea"
    "f1f2f3f4f5f6f7f8f9fa")


def codes(bits, vals):
    table, code, k = {}, 0, 0
    for length in range(1, 17):
        for _ in range(bits[length - 1]):
            table[vals[k]] = (code, length)
            code += 1
            k += 1
        code <<= 1
    return table


DCT = np.array([[math.sqrt((1 if u == 0 else 2) / 8) * math.cos((2 * x + 1) * u * math.pi / 16)
                 for x in range(8)] for u in range(8)])


class Bits:
    def __init__(self):
        self.out, self.acc, self.n = bytearray(), 0, 0

    def put(self, value, length):
        for i in range(length - 1, -1, -1):
            self.acc = (self.acc << 1) | ((value >> i) & 1)
            self.n += 1
            if self.n == 8:
                self.out.append(self.acc)
                if self.acc == 0xFF:
                    self.out.append(0)
                self.acc, self.n = 0, 0

    def flush(self):
        while self.n:
            self.put(1, 1)


def magnitude(v):
    n = int(abs(v)).bit_length()
    return n, (v if v >= 0 else v + (1 << n) - 1)


def segment(marker, payload):
    return bytes([0xFF, marker]) + (len(payload) + 2).to_bytes(2, "big") + payload


def write(planes, sampling, ids=None, adobe=None, jfif=False, quality_scale=0.5, separate_scans=False):
    """planes: full-size uint8 arrays (one per component); sampling: (h, v) per component.
    separate_scans: one non-interleaved scan per component (a multi-scan sequential file)."""
    height, width = planes[0].shape
    n = len(planes)
    ids = ids or list(range(1, n + 1))
    max_h, max_v = max(h for h, _ in sampling), max(v for _, v in sampling)
    mcus_x, mcus_y = math.ceil(width / (8 * max_h)), math.ceil(height / (8 * max_v))
    q = np.array([max(1, min(255, round(x * quality_scale))) for x in QLUMA]).reshape(8, 8)
    comps = []
    for plane, (h, v) in zip(planes, sampling):
        hr, vr = max_h // h, max_v // v
        ds_w, ds_h = math.ceil(width * h / max_h), math.ceil(height * v / max_v)
        p = np.pad(plane.astype(float), ((0, ds_h * vr - height), (0, ds_w * hr - width)), mode="edge")
        p = p.reshape(ds_h, vr, ds_w, hr).mean(axis=(1, 3))
        p = np.pad(p, ((0, mcus_y * v * 8 - ds_h), (0, mcus_x * h * 8 - ds_w)), mode="edge")
        comps.append((p - 128, h, v))
    dc, ac = codes(DC_BITS, DC_VALS), codes(AC_BITS, AC_VALS)
    if separate_scans:
        scans = []
        for ci, (p, h, v) in enumerate(comps):
            ds_w, ds_h = math.ceil(width * h / max_h), math.ceil(height * v / max_v)
            order = [(ci, by * 8, bx * 8) for by in range(math.ceil(ds_h / 8)) for bx in range(math.ceil(ds_w / 8))]
            scans.append(([ci], order))
    else:
        order = [(ci, (my * v + by) * 8, (mx * h + bx) * 8)
                 for my in range(mcus_y) for mx in range(mcus_x)
                 for ci, (p, h, v) in enumerate(comps) for by in range(v) for bx in range(h)]
        scans = [(list(range(n)), order)]
    out = header(width, height, n, ids, sampling, q, jfif, adobe)
    for scan_comps, order in scans:
        out += scan(comps, scan_comps, order, ids, q, dc, ac)
    return bytes(out + b"\xFF\xD9")


def scan(comps, scan_comps, order, ids, q, dc, ac):
    bits, preds = Bits(), [0] * len(comps)
    for ci, y0, x0 in order:
        p = comps[ci][0]
        coef = np.round(DCT @ p[y0:y0 + 8, x0:x0 + 8] @ DCT.T / q).astype(int).flatten()
        zz = [int(coef[z]) for z in ZIGZAG]
        size, val = magnitude(zz[0] - preds[ci])
        preds[ci] = zz[0]
        bits.put(*dc[size])
        bits.put(val, size)
        run = 0
        for c in zz[1:]:
            if c == 0:
                run += 1
                continue
            while run > 15:
                bits.put(*ac[0xF0])
                run -= 16
            size, val = magnitude(c)
            bits.put(*ac[(run << 4) | size])
            bits.put(val, size)
            run = 0
        if run:
            bits.put(*ac[0x00])
    bits.flush()
    sos = bytes([len(scan_comps)]) + b"".join(bytes([ids[ci], 0x00]) for ci in scan_comps) + bytes([0, 63, 0])
    return segment(0xDA, sos) + bits.out


def header(width, height, n, ids, sampling, q, jfif, adobe):
    out = bytearray(b"\xFF\xD8")
    if jfif:
        out += segment(0xE0, b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0")
    if adobe is not None:
        out += segment(0xEE, b"Adobe\0\x64\0\0\0\0" + bytes([adobe]))
    out += segment(0xDB, bytes([0]) + bytes(int(q.flatten()[z]) for z in ZIGZAG))
    sof = bytes([8]) + height.to_bytes(2, "big") + width.to_bytes(2, "big") + bytes([n])
    for cid, (h, v) in zip(ids, sampling):
        sof += bytes([cid, (h << 4) | v, 0])
    out += segment(0xC0, sof)
    out += segment(0xC4, bytes([0x00] + DC_BITS + DC_VALS) + bytes([0x10] + AC_BITS) + AC_VALS)
    return out
