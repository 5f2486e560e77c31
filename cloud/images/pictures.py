"""Checking that uploaded bytes are really a JPEG or PNG, and making thumbnails (Pillow).

Blocking functions: call them through ``asyncio.to_thread``.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from typing import Final

from PIL import Image, UnidentifiedImageError

_MAGIC: Final[dict[str, tuple[bytes, str]]] = {
    "image/jpeg": (b"\xff\xd8\xff", "JPEG"),
    "image/png": (b"\x89PNG\r\n\x1a\n", "PNG"),
}
MAX_PIXELS: Final = 40_000_000  # a photo from a plant camera is far smaller; refuse bombs


class NotAnImage(ValueError):
    """The bytes are not a readable image of the announced type."""


@dataclass(frozen=True, slots=True)
class PictureInfo:
    """What a verified picture is."""

    width: int
    height: int


def verify_picture(data: bytes, content_type: str) -> PictureInfo:
    """Check magic bytes, then let Pillow parse and verify the whole file."""
    try:
        magic, pillow_format = _MAGIC[content_type]
    except KeyError:
        raise NotAnImage(f"{content_type} is not an accepted image type") from None
    if not data.startswith(magic):
        raise NotAnImage(f"the bytes do not start like a {pillow_format} file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                if image.format != pillow_format:
                    raise NotAnImage(f"the file is {image.format}, not {pillow_format}")
                width, height = image.size
                if width * height > MAX_PIXELS:
                    raise NotAnImage(f"{width}x{height} pixels is too large")
                image.verify()
            # verify() does not decode pixel data: a truncated JPEG only shows up on load.
            with Image.open(io.BytesIO(data)) as image:
                image.load()
    except NotAnImage:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise NotAnImage(f"the {pillow_format} file is corrupt: {exc}") from exc
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
        raise NotAnImage("the image is too large to decode") from exc
    return PictureInfo(width=width, height=height)


def make_thumbnail(data: bytes, max_px: int) -> bytes:
    """A JPEG at most ``max_px`` on its longer side (DCT-scaled decode for JPEGs)."""
    with Image.open(io.BytesIO(data)) as image:
        image.draft("RGB", (max_px, max_px))
        rgb = image.convert("RGB")
    rgb.thumbnail((max_px, max_px))
    out = io.BytesIO()
    rgb.save(out, "JPEG", quality=80, optimize=True)
    return out.getvalue()
