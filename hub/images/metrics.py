"""Green-pixel metrics, thumbnails and validation for plant photos (CPU-bound; run in a thread).

JPEGs are decoded with libjpeg's DCT scaling (Pillow ``draft``): a 1/8-scale decode skips most of
the inverse DCT, upsampling and colour conversion, leaving Huffman decoding as the main cost.
All per-pixel arithmetic is integer numpy on uint8 data widened to int16/int32; no float per pixel.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Final, Literal

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageFile, ImageOps

from shared.sync import ImageMetrics, ImageQualityFlag

ImageFormat = Literal["JPEG", "PNG"]

JPEG_MAGIC: Final = b"\xff\xd8\xff"
PNG_MAGIC: Final = b"\x89PNG\r\n\x1a\n"
_PNG_IEND: Final = b"\x00\x00\x00\x00IEND\xaeB`\x82"  # the empty IEND chunk with its CRC

# Decompression-bomb cap: well above phone cameras (48 MP = 8000x6000) and below Pillow's own
# warning threshold (~89 MP), so Pillow never needs its global warning machinery for us.
MAX_PIXELS: Final = 50_000_000

# Analyse at the coarsest DCT scale (1/2, 1/4, 1/8) that still leaves this many pixels; a 12 MP
# photo is analysed at 1/8 (500x375). bench/green.py shows cover stays within 0.01 of full res.
MIN_ANALYSIS_PIXELS: Final = 150_000
_SCALES: Final = (8, 4, 2)

# Canopeo rule (Patrignani & Ochsner 2015) as integer comparisons: R/G < 0.95 <=> 100R < 95G.
_RATIO_NUM: Final = 95
_RATIO_DEN: Final = 100
_EXG_MIN: Final = 20

# Quality thresholds on 8-bit luma (ITU-R 601: L = 0.299R + 0.587G + 0.114B).
TOO_DARK_MEAN: Final = 40
CLIPPED_LUMA: Final = 250
OVEREXPOSED_CLIPPED_FRACTION: Final = 0.25
OVEREXPOSED_MEAN: Final = 225
# Variance of a 4-neighbour Laplacian on a grayscale version with long side <= BLUR_SIDE pixels.
# bench.green's sharp 12 MP plant photos score ~140; a Gaussian blur of radius 0.25 % of the width
# brings them to ~7, 0.125 % to ~30.
BLUR_SIDE: Final = 512
BLURRED_LAPLACIAN_VAR: Final = 20.0

THUMBNAIL_QUALITY: Final = 80


class ImageRejected(ValueError):
    """The bytes are not a complete, acceptable JPEG or PNG image; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class ImageInfo:
    """What :func:`inspect_image` learned about a valid image."""

    format: ImageFormat
    width: int
    height: int
    byte_size: int

    @property
    def content_type(self) -> Literal["image/jpeg", "image/png"]:
        """The MIME type matching :attr:`format`."""
        return "image/jpeg" if self.format == "JPEG" else "image/png"


def _sniff(data: bytes) -> ImageFormat:
    if data.startswith(JPEG_MAGIC):
        return "JPEG"
    if data.startswith(PNG_MAGIC):
        return "PNG"
    raise ImageRejected("not a JPEG or PNG image")


def _open(data: bytes) -> tuple[Image.Image, ImageFormat]:
    """Open (header only) after checking magic bytes and the pixel cap."""
    fmt = _sniff(data)
    try:
        img = Image.open(io.BytesIO(data), formats=[fmt])
    except Image.DecompressionBombError as exc:
        raise ImageRejected(f"image too large: {exc}") from exc
    except Exception as exc:  # Pillow raises many exception types on hostile headers
        raise ImageRejected(f"unreadable {fmt} header") from exc
    width, height = img.size
    if width <= 0 or height <= 0:
        img.close()
        raise ImageRejected("image has no pixels")
    if width * height > MAX_PIXELS:
        img.close()
        raise ImageRejected(f"image too large: {width}x{height} exceeds {MAX_PIXELS} pixels")
    return img, fmt


def _load(img: Image.Image, fmt: ImageFormat) -> None:
    """Decode the whole image; any decoder failure (truncation included) becomes a rejection."""
    if ImageFile.LOAD_TRUNCATED_IMAGES:  # a truncated file would be padded with grey and accepted
        raise RuntimeError("PIL.ImageFile.LOAD_TRUNCATED_IMAGES must stay False")
    try:
        img.load()
    except Exception as exc:  # decoders raise OSError, SyntaxError, ValueError, EOFError, ...
        raise ImageRejected(f"corrupt or truncated {fmt}: {exc}") from exc


def _analysis_scale(width: int, height: int) -> int:
    for scale in _SCALES:
        if (width // scale) * (height // scale) >= MIN_ANALYSIS_PIXELS:
            return scale
    return 1


def inspect_image(data: bytes) -> ImageInfo:
    """Validate that ``data`` is a complete JPEG or PNG within the pixel cap.

    The whole compressed stream is decoded (JPEGs at 1/8 DCT scale, which still reads every
    entropy-coded byte), so truncated or corrupt files are refused.

    Raises:
        ImageRejected: not JPEG/PNG by magic bytes, unreadable, truncated, corrupt, or too large.
    """
    img, fmt = _open(data)
    with img:
        width, height = img.size
        if fmt == "PNG":
            # Pillow decodes pixels without reading IEND, so a file cut inside it would pass.
            if _PNG_IEND not in data[-4096:]:
                raise ImageRejected("truncated PNG: no IEND chunk")
            # verify() checks chunk CRCs without decoding; it leaves the image unusable afterwards.
            try:
                img.verify()
            except Exception as exc:
                raise ImageRejected(f"corrupt PNG: {exc}") from exc
    img, fmt = _open(data)
    with img:
        if fmt == "JPEG":
            img.draft(img.mode, (max(1, width // 8), max(1, height // 8)))
        _load(img, fmt)
    return ImageInfo(format=fmt, width=width, height=height, byte_size=len(data))


_EXIF_ORIENTATION: Final = 0x0112
# EXIF orientation -> the transpose that shows the photo upright (as ``ImageOps.exif_transpose``).
_UPRIGHT: Final = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def _orientation(img: Image.Image) -> int:
    try:
        value = img.getexif().get(_EXIF_ORIENTATION, 1)
    except Exception:  # a hostile EXIF block is no reason to refuse the photo
        return 1
    return value if isinstance(value, int) else 1


def _decode_for_analysis(data: bytes) -> tuple[Image.Image, ImageFormat, int, int, int]:
    """An RGB image at analysis resolution, the format, the full image's size and its EXIF
    orientation."""
    img, fmt = _open(data)
    with img:
        width, height = img.size
        orientation = _orientation(img)
        scale = _analysis_scale(width, height)
        if fmt == "JPEG":
            if scale > 1:
                # libjpeg picks the largest reduction whose output still covers the requested size.
                img.draft("RGB", (width // scale, height // scale))
            _load(img, fmt)
            small = img
        else:
            _load(img, fmt)
            small = img
        # Convert first: ``reduce`` refuses palette, 1-bit and 16-bit modes ("wrong mode"), and
        # reducing RGBA would average transparent pixels' hidden colours into the result.
        rgb = _to_rgb(small)
        if fmt == "PNG" and scale > 1:
            rgb = rgb.reduce(scale)
    return rgb, fmt, width, height, orientation


@dataclass(frozen=True, slots=True)
class DecodedImage:
    """A validated image, decoded once at analysis resolution (:func:`decode_image`)."""

    info: ImageInfo
    rgb: Image.Image
    full_pixels: int
    orientation: int = 1  # EXIF orientation of the original


def decode_image(data: bytes) -> DecodedImage:
    """Validate ``data`` as :func:`inspect_image` does and keep the analysis-resolution decode
    for :func:`measure`: one decode of the compressed stream instead of two (a 12 MP JPEG's
    entropy decoding is most of either's cost, and on a Pi every upload pays it).

    Raises:
        ImageRejected: as :func:`inspect_image`.
    """
    if _sniff(data) == "PNG":
        inspect_image(data)  # chunk CRCs and IEND, which a pixel decode does not check
    rgb, fmt, width, height, orientation = _decode_for_analysis(data)
    info = ImageInfo(format=fmt, width=width, height=height, byte_size=len(data))
    return DecodedImage(info, rgb, width * height, orientation)


def _has_alpha(img: Image.Image) -> bool:
    return img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info


def _to_rgb(img: Image.Image) -> Image.Image:
    """8-bit RGB for analysis and thumbnails alike. One transparency rule: transparent pixels
    are background, laid on white (never the colour hidden under them). 16-bit greyscale is
    scaled down (Pillow's own conversion clips it at 255)."""
    if img.mode == "RGB":
        return img
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        img = Image.fromarray((np.asarray(img).astype(np.uint16) >> 8).astype(np.uint8))
    elif img.mode == "I":
        img = Image.fromarray((np.clip(np.asarray(img), 0, 65_535) >> 8).astype(np.uint8))
    if _has_alpha(img):
        rgba = img.convert("RGBA")
        rgb = Image.new("RGB", rgba.size, (255, 255, 255))
        rgb.paste(rgba, mask=rgba.getchannel("A"))
        return rgb
    return img.convert("RGB")


def _laplacian_variance(gray: npt.NDArray[np.uint8]) -> float:
    """Variance of the 4-neighbour Laplacian, in integer arithmetic until the final division."""
    if gray.shape[0] < 3 or gray.shape[1] < 3:
        return 0.0
    g = gray.astype(np.int16)
    lap = (
        4 * g[1:-1, 1:-1] - g[:-2, 1:-1] - g[2:, 1:-1] - g[1:-1, :-2] - g[1:-1, 2:]
    )  # |lap| <= 1020
    n = lap.size
    total = int(lap.sum(dtype=np.int64))
    squares = lap.astype(np.int32)
    squares *= squares  # <= 1020**2: fits int32
    return (int(squares.sum(dtype=np.int64)) - total * total / n) / n


def compute_metrics(data: bytes) -> ImageMetrics:
    """Green-pixel metrics for one photo (synchronous, CPU-bound: call it in a thread).

    - ``canopy_cover``: fraction of analysed pixels passing the Canopeo rule
      (R/G < 0.95, B/G < 0.95, 2G-R-B > 20).
    - ``excess_green_mean``: mean of 2G-R-B over all analysed pixels.
    - ``green_pixels``: estimated count at FULL resolution, i.e. the analysed green fraction times
      the original width x height (the analysis itself runs on a 1/2-1/8 scaled version).
    - ``brightness``: mean ITU-R 601 luma, 0-255.
    - ``flags``: TOO_DARK, OVEREXPOSED, BLURRED (blur is only judged when exposure is fine, since
      a black or blown-out frame has no texture to measure).

    Raises:
        ImageRejected: the bytes are not a decodable JPEG/PNG within the pixel cap.
    """
    rgb, _fmt, width, height, _orientation = _decode_for_analysis(data)
    return _measure(rgb, width * height)


def measure(decoded: DecodedImage) -> ImageMetrics:
    """:func:`compute_metrics` of an image :func:`decode_image` already decoded (it releases
    the decode: make the thumbnail first)."""
    return _measure(decoded.rgb, decoded.full_pixels)


def _measure(rgb: Image.Image, full_pixels: int) -> ImageMetrics:
    with rgb:
        arr = np.asarray(rgb)
        gray_img = rgb.convert("L")  # Pillow's integer ITU-R 601 luma, in C
    r = arr[..., 0].astype(np.int16)
    g = arr[..., 1].astype(np.int16)
    b = arr[..., 2].astype(np.int16)
    n = r.size

    exg = 2 * g - r - b  # in [-510, 510]: fits int16
    g95 = g * _RATIO_NUM  # <= 24225: fits int16
    green = (r * _RATIO_DEN < g95) & (b * _RATIO_DEN < g95) & (exg > _EXG_MIN)
    green_count = int(np.count_nonzero(green))
    exg_sum = int(exg.sum(dtype=np.int64))

    gray = np.asarray(gray_img)
    brightness = int(gray.sum(dtype=np.int64)) / n
    clipped = int(np.count_nonzero(gray >= CLIPPED_LUMA)) / n

    flags: list[ImageQualityFlag] = []
    if brightness < TOO_DARK_MEAN:
        flags.append(ImageQualityFlag.TOO_DARK)
    if clipped > OVEREXPOSED_CLIPPED_FRACTION or brightness > OVEREXPOSED_MEAN:
        flags.append(ImageQualityFlag.OVEREXPOSED)
    if not flags:
        long_side = max(gray_img.size)
        factor = -(-long_side // BLUR_SIDE)  # ceil division
        small_gray = gray_img.reduce(factor) if factor > 1 else gray_img
        if _laplacian_variance(np.asarray(small_gray)) < BLURRED_LAPLACIAN_VAR:
            flags.append(ImageQualityFlag.BLURRED)
    gray_img.close()

    cover = green_count / n
    return ImageMetrics(
        canopy_cover=cover,
        excess_green_mean=exg_sum / n,
        green_pixels=round(cover * full_pixels),
        brightness=brightness,
        flags=flags,
    )


def make_thumbnail(data: bytes, max_side: int = 320) -> bytes:
    """A JPEG whose longer side is at most ``max_side``, upright per EXIF orientation.

    JPEGs are decoded at the coarsest DCT scale that still exceeds twice the target size.

    Raises:
        ImageRejected: the bytes are not a decodable JPEG/PNG within the pixel cap.
        ValueError: ``max_side`` is not positive.
    """
    if max_side <= 0:
        raise ValueError("max_side must be positive")
    img, fmt = _open(data)
    with img:
        if fmt == "JPEG":
            img.draft("RGB", (2 * max_side, 2 * max_side))
        _load(img, fmt)
        upright = ImageOps.exif_transpose(img)
    rgb = _to_rgb(upright)
    rgb.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    rgb.save(out, "JPEG", quality=THUMBNAIL_QUALITY, optimize=True)
    return out.getvalue()


def thumbnail_of(decoded: DecodedImage, data: bytes, max_side: int = 320) -> bytes:
    """:func:`make_thumbnail` of ``data`` from the analysis decode :func:`decode_image` made,
    when that is large enough: a 12 MP JPEG is then entropy-decoded once per upload, not twice
    (the thumbnail's own 1/4-scale decode and its resize from 1000x750 cost more CPU than the
    analysis). Upright per EXIF orientation, transparent pixels on white, never upscaled.

    Raises:
        ImageRejected: (only on the fallback) the bytes are not a decodable JPEG/PNG.
        ValueError: ``max_side`` is not positive.
    """
    if max_side <= 0:
        raise ValueError("max_side must be positive")
    rgb = decoded.rgb
    full_side = max(decoded.info.width, decoded.info.height)
    if max(rgb.size) < min(max_side, full_side):
        return make_thumbnail(data, max_side)  # the analysis decode is smaller than the thumbnail
    upright = _UPRIGHT.get(decoded.orientation)
    thumb = rgb.transpose(upright) if upright is not None else rgb.copy()
    thumb.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    thumb.save(out, "JPEG", quality=THUMBNAIL_QUALITY, optimize=True)
    return out.getvalue()
