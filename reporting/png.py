"""Just enough PNG to check a screenshot's pixels without an imaging library.

Reads 8-bit, non-interlaced greyscale / RGB / RGBA images (what Chromium writes) and
writes RGB crops (to look at a long page one screen at a time).
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

SIGNATURE = b"\x89PNG\r\n\x1a\n"
CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}


@dataclass
class Image:
    width: int
    height: int
    rows: list[bytes]  # RGB, 3 bytes a pixel

    def pixel(self, x: int, y: int) -> tuple[int, int, int]:
        row = self.rows[y]
        return row[3 * x], row[3 * x + 1], row[3 * x + 2]

    def crop(self, top: int, bottom: int) -> "Image":
        return Image(self.width, bottom - top, self.rows[top:bottom])


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) from the header alone."""
    head = Path(path).read_bytes()[:24]
    if not head.startswith(SIGNATURE):
        raise ValueError(f"{path} is not a PNG")
    return struct.unpack(">II", head[16:24])


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def read_png(path: Path) -> Image:
    data = Path(path).read_bytes()
    if not data.startswith(SIGNATURE):
        raise ValueError(f"{path} is not a PNG")
    pos, idat, header = 8, [], None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", chunk)
        elif kind == b"IDAT":
            idat.append(chunk)
        elif kind == b"IEND":
            break
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = header
    if depth != 8 or interlace or colour not in CHANNELS:
        raise ValueError(f"unsupported PNG (depth {depth}, colour type {colour}, interlace {interlace})")
    bpp = CHANNELS[colour]
    raw = zlib.decompress(b"".join(idat))
    stride = width * bpp
    rows, previous = [], bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        if kind == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 0xFF
        elif kind == 2:
            for i in range(stride):
                line[i] = (line[i] + previous[i]) & 0xFF
        elif kind == 3:
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + previous[i]) >> 1)) & 0xFF
        elif kind == 4:
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                upper_left = previous[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + _paeth(left, previous[i], upper_left)) & 0xFF
        previous = line
        if bpp == 3:
            rows.append(bytes(line))
        elif bpp == 4:
            rgb = bytearray(width * 3)
            rgb[0::3], rgb[1::3], rgb[2::3] = line[0::4], line[1::4], line[2::4]
            rows.append(bytes(rgb))
        else:
            grey = line[0::bpp]
            rgb = bytearray(width * 3)
            rgb[0::3] = rgb[1::3] = rgb[2::3] = grey
            rows.append(bytes(rgb))
    return Image(width, height, rows)


def write_png(image: Image, path: Path) -> Path:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + row for row in image.rows)
    header = struct.pack(">IIBBBBB", image.width, image.height, 8, 2, 0, 0, 0)
    Path(path).write_bytes(SIGNATURE + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 6))
                           + chunk(b"IEND", b""))
    return Path(path)


def colour_share(image: Image, colour: tuple[int, int, int], tolerance: int = 24,
                 top: int = 0, bottom: int | None = None, step: int = 2) -> float:
    """Share of pixels within ``tolerance`` (per channel) of ``colour``, in rows [top, bottom).

    Samples every ``step``-th pixel of every ``step``-th row (pure Python: keep it quick).
    """
    bottom = image.height if bottom is None else bottom
    r0, g0, b0 = colour
    hits = total = 0
    for y in range(top, bottom, step):
        row = image.rows[y]
        for x in range(0, len(row), 3 * step):
            total += 1
            if (abs(row[x] - r0) <= tolerance and abs(row[x + 1] - g0) <= tolerance
                    and abs(row[x + 2] - b0) <= tolerance):
                hits += 1
    return hits / total if total else 0.0
