#!/usr/bin/env python3
"""Writes the fuzz seeds: one small valid payload per format and a few near misses.

Run from the repository root: python3 fuzz/make_seeds.py [DIR] (default fuzz/seeds).
Deterministic, so the committed seeds are exactly what this script writes.
"""

import json
import os
import struct
import sys
import zlib


def png(width, height, samples, bit_depth=16, color_type=0, extra_chunks=()):
    """A PNG with one IDAT; `samples` are row-major integers of `bit_depth` bits."""

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    fmt = ">H" if bit_depth == 16 else ">B"
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[color_type]
    row_len = width * channels
    raw = b""
    for y in range(height):
        row = samples[y * row_len:(y + 1) * row_len]
        raw += b"\x00" + b"".join(struct.pack(fmt, s) for s in row)
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
    for kind, data in extra_chunks:
        out += chunk(kind, data)
    return out + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def tfrm(width, height, fmt, pixels, ts_ms=1732780000000):
    header = b"TFRM" + struct.pack("<BBHHQ", 1, fmt, width, height, ts_ms)
    code = "<H" if fmt == 1 else "<f"
    return header + b"".join(struct.pack(code, p) for p in pixels)


def centikelvin(c):
    return round((c + 273.15) * 100)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "fuzz/seeds"
    os.makedirs(out, exist_ok=True)
    warm = [centikelvin(20 + (i * 7) % 13) for i in range(12)]
    seeds = {
        "png_l16_4x3.png": png(4, 3, warm),
        "png_l16_hot_saturated_4x3.png": png(4, 3, warm[:11] + [65535]),
        "png_l8_4x3.png": png(4, 3, [i * 20 for i in range(12)], bit_depth=8),
        "png_l16_trns_4x3.png": png(4, 3, warm, extra_chunks=[(b"tRNS", b"\x00\x00")]),
        "png_rgb8_2x2.png": png(2, 2, list(range(12)), bit_depth=8, color_type=2),
        "tfrm_u16_4x3.tfrm": tfrm(4, 3, 1, warm),
        "tfrm_f32_flame_4x3.tfrm": tfrm(4, 3, 2, [21.5] * 11 + [950.0], ts_ms=0),
        "tfrm_u16_32x24.tfrm": tfrm(32, 24, 1, [centikelvin(25)] * (32 * 24)),
        "json_amg8833_8x8.json": json.dumps(
            {"width": 8, "height": 8, "celsius": [20.25 + i % 8 for i in range(64)],
             "ts_ms": 1732780000000}, separators=(",", ":")).encode(),
        "json_keys_reordered.json": b' \n{"celsius":[20,1e2,-5.5],"height":1,"width":3}',
        "json_null_pixel.json": b'{"width":2,"height":1,"celsius":[20,null],"ts_ms":null}',
    }
    for name, data in sorted(seeds.items()):
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
    print(f"wrote {len(seeds)} seeds to {out}")


if __name__ == "__main__":
    main()
