"""Green-pixel metrics: ours (DCT-scaled decode, integer math) vs a full-resolution float reference.

``python -m bench.green [--quick]``. Generates procedural 12 MP (4000x3000) plant photos in a
temporary directory (leaves of varied greens over soil, a pot rim and a table, lighting and sensor
noise, cover roughly 5-80 %), encodes them as JPEG quality 90, and times both implementations on
the same bytes. Last stdout line: one JSON object of figures.
"""

from __future__ import annotations

import argparse
import io
import math
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import PIL
from PIL import Image, ImageDraw, ImageFilter

from bench._common import emit_result, machine_info, say, time_ms
from hub.images.metrics import compute_metrics

WIDTH, HEIGHT = 4000, 3000
TARGET_MS = 60.0
TARGET_SPEEDUP = 20.0
TARGET_COVER_DIFF = 0.01

_LEAF_GREENS = [
    (62, 122, 44),
    (88, 150, 52),
    (40, 92, 36),
    (118, 160, 62),
    (30, 72, 34),
    (74, 138, 82),
    (100, 128, 46),
]


def _leaf_polygon(
    cx: float, cy: float, length: float, width: float, angle: float
) -> list[tuple[float, float]]:
    """A pointed-ellipse leaf outline, rotated by ``angle``."""
    pts = []
    cos_a, sin_a = math.cos(angle), math.sin(angle)
    for i in range(48):
        t = 2 * math.pi * i / 48
        x = length / 2 * math.cos(t)
        y = width / 2 * math.sin(t) * abs(math.sin(t)) ** 0.3  # pointed tips
        pts.append((cx + x * cos_a - y * sin_a, cy + x * sin_a + y * cos_a))
    return pts


def _smooth_field(
    rng: np.random.Generator, cells: tuple[int, int], size: tuple[int, int]
) -> npt.NDArray[np.float32]:
    """Low-frequency noise in [-1, 1] at ``size`` (w, h), by upscaling a coarse random grid."""
    coarse = rng.integers(0, 256, size=(cells[1], cells[0]), dtype=np.uint8)
    field = Image.fromarray(coarse).resize(size, Image.Resampling.BICUBIC)
    return np.asarray(field, dtype=np.float32) / 127.5 - 1.0


def make_plant_photo(seed: int, target_cover: float) -> bytes:
    """One procedural 4000x3000 plant photo as JPEG quality 90."""
    rng = np.random.default_rng(seed)
    # Draw at half resolution and upscale: soft, camera-like edges between leaves and soil.
    w, h = WIDTH // 2, HEIGHT // 2
    table = np.array([150, 138, 120], np.float32) + rng.integers(-20, 20, 3)
    soil = np.array([92, 66, 46], np.float32) + rng.integers(-12, 12, 3)
    base = np.empty((h, w, 3), np.float32)
    base[:] = table
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    pcx, pcy = w * rng.uniform(0.45, 0.55), h * rng.uniform(0.45, 0.6)
    prx, pry = w * rng.uniform(0.36, 0.44), h * rng.uniform(0.38, 0.46)
    dist = ((xx - pcx) / prx) ** 2 + ((yy - pcy) / pry) ** 2
    base[dist < 1.0] = np.array([176, 92, 60], np.float32)  # terracotta rim
    inner = dist < 0.82
    soil_tex = _smooth_field(rng, (160, 120), (w, h))[..., None] * 22.0
    base[inner] = soil + soil_tex[inner]
    img = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8))

    draw = ImageDraw.Draw(img)
    mask = Image.new("L", (w, h), 0)
    mdraw = ImageDraw.Draw(mask)
    cover = 0.0
    while cover < target_cover:
        for _ in range(2):
            ang = rng.uniform(0, 2 * math.pi)
            reach = rng.uniform(0.0, 1.0) ** 0.7
            cx = pcx + math.cos(ang) * prx * reach * 1.1
            cy = pcy + math.sin(ang) * pry * reach * 1.1
            length = rng.uniform(0.06, 0.2) * w
            poly = _leaf_polygon(cx, cy, length, length * rng.uniform(0.3, 0.55), ang)
            colour = np.array(_LEAF_GREENS[rng.integers(len(_LEAF_GREENS))], np.float32)
            shade = rng.uniform(0.65, 1.3)
            fill = tuple(int(v) for v in np.clip(colour * shade + rng.integers(-8, 9, 3), 0, 255))
            draw.polygon(poly, fill=fill)
            mdraw.polygon(poly, fill=255)
            # Midrib: a lighter line along the leaf.
            dx, dy = math.cos(ang) * length * 0.45, math.sin(ang) * length * 0.45
            rib = tuple(min(255, int(c * 1.25) + 10) for c in fill)
            draw.line([(cx - dx, cy - dy), (cx + dx, cy + dy)], fill=rib, width=3)
        cover = np.count_nonzero(np.asarray(mask)) / (w * h)
        if cover > 0.97:
            break
    # A few dead (yellow-brown) leaves: plant-like but not green.
    for _ in range(int(rng.integers(1, 4))):
        poly = _leaf_polygon(
            pcx + rng.uniform(-0.3, 0.3) * prx,
            pcy + rng.uniform(-0.3, 0.3) * pry,
            0.08 * w,
            0.03 * w,
            rng.uniform(0, math.pi),
        )
        draw.polygon(poly, fill=(160, 130, 50))

    full = img.resize((WIDTH, HEIGHT), Image.Resampling.BICUBIC).filter(
        ImageFilter.GaussianBlur(0.8)
    )
    arr = np.asarray(full).astype(np.int16)
    # Lighting: a smooth brightness field (±18 %), then per-pixel sensor noise.
    light = 1.0 + 0.18 * _smooth_field(rng, (8, 6), (WIDTH, HEIGHT))
    arr = (arr * light[..., None]).astype(np.int16)
    arr += rng.integers(-9, 10, size=arr.shape, dtype=np.int16)
    out = io.BytesIO()
    Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8)).save(out, "JPEG", quality=90)
    return out.getvalue()


def reference_metrics(data: bytes, dtype: type[np.floating[Any]] = np.float64) -> dict[str, float]:
    """The straightforward way: full-resolution decode, float arrays, ratios by division.

    float64 is what ``dtype=float`` gives; the float32 variant is timed too and printed.
    """
    with Image.open(io.BytesIO(data)) as img:
        arr = np.asarray(img.convert("RGB"), dtype=dtype)
    r, g, b = arr[..., 0], arr[..., 1], arr[..., 2]
    exg = 2.0 * g - r - b
    with np.errstate(divide="ignore", invalid="ignore"):
        green = (r / g < 0.95) & (b / g < 0.95) & (exg > 20.0)
    return {
        "canopy_cover": float(green.mean()),
        "excess_green_mean": float(exg.mean()),
        "green_pixels": float(green.sum()),
        "brightness": float((0.299 * r + 0.587 * g + 0.114 * b).mean()),
    }


def _decode_eighth(data: bytes) -> None:
    """Only the 1/8-scale JPEG decode: the part no metric arithmetic can avoid."""
    with Image.open(io.BytesIO(data)) as img:
        img.draft("RGB", (img.width // 8, img.height // 8))
        img.load()


def main() -> None:
    """Generate the photos, time both implementations, print figures."""
    parser = argparse.ArgumentParser(prog="python -m bench.green", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer images and repeats (<60 s)")
    args = parser.parse_args()
    covers = [0.05, 0.45, 0.8] if args.quick else [0.05, 0.15, 0.3, 0.45, 0.6, 0.8]
    repeats, base_repeats = (5, 1) if args.quick else (15, 3)

    say("bench.green:", machine_info(), f"numpy {np.__version__}", f"Pillow {PIL.__version__}")
    say(f"generating {len(covers)} procedural {WIDTH}x{HEIGHT} JPEGs (quality 90)...")
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-green-") as tmp:
        paths = []
        for i, target in enumerate(covers):
            path = Path(tmp) / f"plant-{i}.jpg"
            path.write_bytes(make_plant_photo(seed=1000 + i, target_cover=target))
            paths.append(path)
        for path in paths:
            data = path.read_bytes()
            ours = compute_metrics(data)
            ref = reference_metrics(data)
            ms = time_ms(lambda d=data: compute_metrics(d), repeats)
            base_ms = time_ms(lambda d=data: reference_metrics(d), base_repeats)
            f32_ms = time_ms(lambda d=data: reference_metrics(d, np.float32), base_repeats)
            floor_ms = time_ms(lambda d=data: _decode_eighth(d), repeats)
            diff = abs(ours.canopy_cover - ref["canopy_cover"])
            results.append(
                {"ms": ms, "base_ms": base_ms, "f32_ms": f32_ms, "floor_ms": floor_ms, "diff": diff}
            )
            say(
                f"  {path.name}: {len(data) / 1e6:.1f} MB  cover ours {ours.canopy_cover:.4f} "
                f"ref {ref['canopy_cover']:.4f} (diff {diff:.4f})  "
                f"ExG {ours.excess_green_mean:.1f}/{ref['excess_green_mean']:.1f}  "
                f"luma {ours.brightness:.1f}/{ref['brightness']:.1f}  "
                f"flags {[f.value for f in ours.flags]}  "
                f"{ms:.1f} ms vs {base_ms:.1f} ms (float32 ref {f32_ms:.1f} ms)"
            )

    ms_per_image = sum(r["ms"] for r in results) / len(results)
    base_per_image = sum(r["base_ms"] for r in results) / len(results)
    speedup = base_per_image / ms_per_image
    f32_per_image = sum(r["f32_ms"] for r in results) / len(results)
    decode_floor = sum(r["floor_ms"] for r in results) / len(results)
    max_diff = max(r["diff"] for r in results)
    say(
        f"ours {ms_per_image:.1f} ms/image (target <= {TARGET_MS:.0f}), reference "
        f"{base_per_image:.1f} ms/image, speedup {speedup:.1f}x (target >= {TARGET_SPEEDUP:.0f}x), "
        f"max cover diff {max_diff:.4f} (target <= {TARGET_COVER_DIFF})"
    )
    say(
        f"float32 reference {f32_per_image:.1f} ms/image: "
        f"speedup {f32_per_image / ms_per_image:.1f}x; "
        f"1/8-scale decode alone (Huffman-bound floor) {decode_floor:.1f} ms/image"
    )
    met = ms_per_image <= TARGET_MS and speedup >= TARGET_SPEEDUP and max_diff <= TARGET_COVER_DIFF
    say("targets met" if met else "TARGETS MISSED")
    emit_result(
        {
            "ms_per_image": round(ms_per_image, 2),
            "baseline_ms_per_image": round(base_per_image, 2),
            "speedup": round(speedup, 2),
            "max_cover_diff": round(max_diff, 5),
            "images": len(results),
        }
    )


if __name__ == "__main__":
    main()
