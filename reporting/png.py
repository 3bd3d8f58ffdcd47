"""Screenshot pixels for the tests and `training-impact report --screenshot`, read with Pillow.

`read_png` gives an `Image` whose `rows` are RGB bytes (3 a pixel), whatever the file's mode
(Chromium writes RGB or RGBA); `colour_share` counts the pixels near one colour.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from PIL import Image as PILImage
from PIL import ImageChops


@dataclass
class Image:
    """An RGB image: `pil` is the Pillow image, `rows` its pixel rows as bytes (3 bytes a pixel)."""

    pil: PILImage.Image

    @property
    def width(self) -> int:
        return self.pil.width

    @property
    def height(self) -> int:
        return self.pil.height

    @cached_property
    def rows(self) -> list[bytes]:
        data, stride = self.pil.tobytes(), 3 * self.pil.width
        return [data[y * stride:(y + 1) * stride] for y in range(self.pil.height)]

    def pixel(self, x: int, y: int) -> tuple[int, int, int]:
        return self.pil.getpixel((x, y))


def png_size(path: Path) -> tuple[int, int]:
    """(width, height), read from the header without decoding the pixels."""
    with PILImage.open(path) as image:
        if image.format != "PNG":
            raise ValueError(f"{path} is not a PNG")
        return image.size


def read_png(path: Path) -> Image:
    with PILImage.open(path) as image:
        if image.format != "PNG":
            raise ValueError(f"{path} is not a PNG")
        return Image(image.convert("RGB"))


def colour_share(image: Image, colour: tuple[int, int, int], tolerance: int = 24,
                 top: int = 0, bottom: int | None = None) -> float:
    """Share of pixels within ``tolerance`` (per channel) of ``colour``, in rows [top, bottom)."""
    bottom = image.height if bottom is None else bottom
    if bottom <= top or not image.width:
        return 0.0
    region = image.pil.crop((0, top, image.width, bottom))
    # per channel 255 where |value - target| <= tolerance, else 0; a pixel matches where all three do
    masks = [band.point(lambda v, c=c: 255 if abs(v - c) <= tolerance else 0)
             for band, c in zip(region.split(), colour)]
    hits = ImageChops.multiply(ImageChops.multiply(masks[0], masks[1]), masks[2]).histogram()[255]
    return hits / (region.width * region.height)
