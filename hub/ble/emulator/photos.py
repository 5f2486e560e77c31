"""Procedurally drawn plant photos: soil, a pot rim and leaves covering ``canopy`` of the frame.

The photos are what the hub's green-pixel metrics measure, so the drawn leaf area follows the
plant's canopy (growing over moist days, shrinking when it wilts) and the JPEG is a real one.
"""

from __future__ import annotations

import io
import math
import random

from PIL import Image, ImageDraw, ImageFilter


def draw_plant_photo(canopy: float, seed: int, size: tuple[int, int] = (320, 240)) -> bytes:
    """A JPEG of a potted plant seen from above with ``canopy`` (0..1) of the frame in leaves.

    Blocking (Pillow): call it through ``asyncio.to_thread``.
    """
    width, height = size
    rng = random.Random(seed)
    image = Image.new("RGB", size, (92, 64, 44))
    draw = ImageDraw.Draw(image)
    # Soil texture: darker and lighter crumbs.
    for _ in range(width * height // 60):
        x, y = rng.randrange(width), rng.randrange(height)
        shade = rng.randint(-22, 22)
        draw.point((x, y), fill=(92 + shade, 64 + shade, 44 + shade // 2))
    draw.ellipse((4, 4, width - 4, height - 4), outline=(150, 80, 50), width=6)
    target = max(0.0, min(1.0, canopy)) * width * height
    cx, cy = width / 2, height / 2
    covered = 0.0
    while covered < target:
        # Leaves radiate from the stem; each is an ellipse of a random green.
        angle = rng.uniform(0, 2 * math.pi)
        reach = rng.uniform(0, 0.45) * min(width, height) * (0.6 + canopy)
        lx, ly = cx + reach * math.cos(angle), cy + reach * math.sin(angle)
        rx, ry = rng.uniform(10, 26), rng.uniform(6, 14)
        green = (rng.randint(30, 80), rng.randint(120, 190), rng.randint(30, 70))
        draw.ellipse((lx - rx, ly - ry, lx + rx, ly + ry), fill=green)
        covered += math.pi * rx * ry * 0.55  # leaves overlap: count a bit more than half
    image = image.filter(ImageFilter.SMOOTH)
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=80)
    return out.getvalue()
