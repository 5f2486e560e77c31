"""hub.images.metrics on synthetic images whose green fraction is known exactly."""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageFile, ImageFilter

from hub.images.metrics import (
    JPEG_MAGIC,
    MAX_PIXELS,
    PNG_MAGIC,
    ImageInfo,
    ImageRejected,
    compute_metrics,
    decode_image,
    inspect_image,
    make_thumbnail,
    thumbnail_of,
)
from shared.sync import ImageQualityFlag

pytestmark = pytest.mark.pi  # also runs under aarch64 in `make pi-check`

LEAF = (60, 160, 50)  # R/G 0.38, B/G 0.31, 2G-R-B 210: far inside the Canopeo rule
SOIL = (130, 90, 60)  # R > G, 2G-R-B = -10: far outside it
GRID = (20, 15)  # blocks across, down

# JPEG tolerance: each block is a multiple of the 16-px MCU, so DCT scaling never mixes blocks;
# only 4:2:0 chroma upsampling and quantisation ringing touch the pixels next to a block edge.
# Even if every analysed pixel on a leaf/soil edge flipped, that is < 1 px per 24-px block side,
# the measured difference is at most 0.0005 (640x480, where blocks are smallest); 0.01 is the
# benchmark's accuracy target too.
JPEG_COVER_TOLERANCE = 0.01


def _pattern(
    width: int, height: int, seed: int, p_green: float
) -> tuple[npt.NDArray[np.uint8], float]:
    """Leaf/soil blocks on a GRID, each block a multiple of 16 px; returns (pixels, exact cover)."""
    rng = np.random.default_rng(seed)
    cells = rng.random((GRID[1], GRID[0])) < p_green
    bw, bh = width // GRID[0], height // GRID[1]
    assert bw % 16 == 0
    assert bh % 16 == 0
    mask = np.kron(cells, np.ones((bh, bw), dtype=bool))
    arr = np.empty((height, width, 3), np.uint8)
    arr[:] = SOIL
    arr[mask] = LEAF
    return arr, float(cells.mean())


def _jpeg(arr: npt.NDArray[np.uint8], quality: int = 95, **kw: object) -> bytes:
    out = io.BytesIO()
    Image.fromarray(arr).save(out, "JPEG", quality=quality, **kw)
    return out.getvalue()


def _png(arr: npt.NDArray[np.uint8]) -> bytes:
    out = io.BytesIO()
    Image.fromarray(arr).save(out, "PNG", compress_level=1)
    return out.getvalue()


def _luma(rgb: tuple[int, int, int]) -> float:
    return (rgb[0] * 299 + rgb[1] * 587 + rgb[2] * 114) / 1000


def _solid(rgb: tuple[int, int, int], size: tuple[int, int] = (640, 480)) -> npt.NDArray[np.uint8]:
    arr = np.empty((size[1], size[0], 3), np.uint8)
    arr[:] = rgb
    return arr


def _textured(size: tuple[int, int] = (1280, 960), seed: int = 3) -> npt.NDArray[np.uint8]:
    """Mid-grey-green random texture: sharp detail everywhere, well exposed."""
    rng = np.random.default_rng(seed)
    small = rng.integers(40, 200, size=(size[1] // 4, size[0] // 4, 3), dtype=np.uint8)
    return np.asarray(Image.fromarray(small).resize(size, Image.Resampling.NEAREST))


# --- compute_metrics ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("width", "height"),
    [(640, 480), (1280, 960), (2560, 1920), (3840, 2880)],
    ids=["full-res", "1/2-scale", "1/4-scale", "1/8-scale"],
)
@pytest.mark.parametrize("p_green", [0.2, 0.55, 0.85])
def test_jpeg_cover_matches_drawn_area(width: int, height: int, p_green: float) -> None:
    arr, exact = _pattern(width, height, seed=width + int(p_green * 100), p_green=p_green)
    metrics = compute_metrics(_jpeg(arr))
    assert abs(metrics.canopy_cover - exact) <= JPEG_COVER_TOLERANCE
    # green_pixels is the analysed fraction scaled to the full pixel count
    assert metrics.green_pixels == round(metrics.canopy_cover * width * height)
    exact_exg = exact * (2 * LEAF[1] - LEAF[0] - LEAF[2]) + (1 - exact) * (
        2 * SOIL[1] - SOIL[0] - SOIL[2]
    )
    assert metrics.excess_green_mean == pytest.approx(exact_exg, abs=3.0)


@pytest.mark.parametrize(("width", "height"), [(640, 480), (1280, 960)])
def test_png_cover_is_exact(width: int, height: int) -> None:
    arr, exact = _pattern(width, height, seed=7, p_green=0.4)
    metrics = compute_metrics(_png(arr))
    # Lossless, and reduce() boxes never straddle a block edge: the count is exact.
    assert metrics.canopy_cover == pytest.approx(exact, abs=1e-12)
    assert metrics.green_pixels == round(exact * width * height)
    assert metrics.brightness == pytest.approx(
        exact * _luma(LEAF) + (1 - exact) * _luma(SOIL), abs=1
    )


@pytest.mark.parametrize("encode", [_png, _jpeg], ids=["png", "jpeg"])
def test_extremes_and_exg_sign(encode: Callable[[npt.NDArray[np.uint8]], bytes]) -> None:
    all_leaf = compute_metrics(encode(_solid(LEAF)))
    assert all_leaf.canopy_cover == 1.0
    assert all_leaf.green_pixels == 640 * 480
    assert all_leaf.excess_green_mean > 200

    all_soil = compute_metrics(encode(_solid(SOIL)))
    assert all_soil.canopy_cover == 0.0
    assert all_soil.green_pixels == 0
    assert all_soil.excess_green_mean < 0

    magenta = compute_metrics(encode(_solid((200, 40, 200))))
    assert magenta.canopy_cover == 0.0
    assert magenta.excess_green_mean < -200


def test_rule_boundaries_in_integer_math() -> None:
    """R/G exactly 0.95 is not green; a hair below is; 2G-R-B must exceed 20, not equal it."""
    cases = {
        (95, 100, 10): False,  # R/G == 0.95
        (94, 100, 10): True,
        (10, 100, 95): False,  # B/G == 0.95
        (90, 100, 90): False,  # 2G-R-B == 20
        (89, 100, 90): True,  # 2G-R-B == 21, R/G 0.89, B/G 0.90
        (0, 0, 0): False,  # G == 0: no ratio passes
    }
    for rgb, expected in cases.items():
        cover = compute_metrics(_png(_solid(rgb, (64, 48)))).canopy_cover
        assert cover == (1.0 if expected else 0.0), rgb


def test_greyscale_and_palette_pngs_are_analysed() -> None:
    grey = Image.new("L", (200, 100), 128)
    out = io.BytesIO()
    grey.save(out, "PNG")
    assert compute_metrics(out.getvalue()).canopy_cover == 0.0

    pal = Image.fromarray(_solid(LEAF, (200, 100))).convert("P")
    out = io.BytesIO()
    pal.save(out, "PNG")
    assert compute_metrics(out.getvalue()).canopy_cover == 1.0


def test_sixteen_bit_greyscale_png_keeps_its_brightness() -> None:
    out = io.BytesIO()
    Image.fromarray(np.full((48, 64), 30_000, np.uint16)).save(out, "PNG")
    metrics = compute_metrics(out.getvalue())
    assert metrics.brightness == pytest.approx(30_000 / 256, abs=1)
    assert ImageQualityFlag.OVEREXPOSED not in metrics.flags


def _png_of(img: Image.Image) -> bytes:
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


# Large enough (> 600k pixels) that the analysis reduces the image: the reduction used to run
# before the conversion to RGB and failed on these modes ("image has wrong mode").
@pytest.mark.parametrize("mode", ["P", "1", "I;16", "L", "LA", "P+tRNS"])
def test_large_pngs_of_every_mode_get_metrics(mode: str) -> None:
    leaf = Image.fromarray(_solid(LEAF, (1200, 800)))
    if mode == "1":
        img = Image.new("1", (1200, 800), 1)
    elif mode == "I;16":
        img = Image.fromarray(np.full((800, 1200), 30_000, np.uint16))
    elif mode == "P+tRNS":
        img = leaf.convert("P")
        img.info["transparency"] = 255  # an unused palette entry: nothing transparent
    else:
        img = leaf.convert(mode)
    metrics = compute_metrics(_png_of(img))
    if mode == "P":
        assert metrics.canopy_cover == 1.0
    elif mode == "I;16":
        assert metrics.brightness == pytest.approx(30_000 / 256, abs=1)
    elif mode == "1":
        assert metrics.brightness == 255
    assert make_thumbnail(_png_of(img), 100)


def _half_transparent(width: int, height: int) -> bytes:
    # Left half opaque leaf; right half fully transparent over leaf-coloured pixels.
    arr = np.zeros((height, width, 4), np.uint8)
    arr[..., :3] = LEAF
    arr[:, : width // 2, 3] = 255
    return _png_of(Image.fromarray(arr, "RGBA"))


def test_transparency_has_one_rule_at_every_size_and_in_the_thumbnail() -> None:
    # Transparent pixels are background (white, as the thumbnail shows them), never plant.
    small = compute_metrics(_half_transparent(400, 300))  # analysed at full size
    large = compute_metrics(_half_transparent(1600, 1200))  # analysed reduced
    assert small.canopy_cover == pytest.approx(0.5, abs=0.01)
    assert large.canopy_cover == pytest.approx(small.canopy_cover, abs=0.01)
    assert large.brightness == pytest.approx(small.brightness, abs=1)
    thumb = np.asarray(Image.open(io.BytesIO(make_thumbnail(_half_transparent(1600, 1200), 160))))
    assert thumb[:, -10:].min() > 245, "transparent side shows white in the thumbnail"
    assert thumb[:, :10, 1].mean() > thumb[:, :10, 0].mean() + 50, "opaque side stays green"


# --- quality flags -----------------------------------------------------------------------


def test_black_image_is_too_dark() -> None:
    metrics = compute_metrics(_jpeg(_solid((0, 0, 0))))
    assert metrics.brightness < 2
    assert metrics.flags == [ImageQualityFlag.TOO_DARK]


def test_white_image_is_overexposed() -> None:
    metrics = compute_metrics(_jpeg(_solid((255, 255, 255))))
    assert metrics.brightness > 253
    assert metrics.flags == [ImageQualityFlag.OVEREXPOSED]


def test_mostly_clipped_image_is_overexposed_even_with_moderate_mean() -> None:
    arr = _solid((60, 60, 60))
    arr[:, : arr.shape[1] // 2] = 255  # half the frame blown out, mean luma ~157
    metrics = compute_metrics(_png(arr))
    assert 100 < metrics.brightness < 225
    assert ImageQualityFlag.OVEREXPOSED in metrics.flags


def test_blurred_photo_is_flagged_and_sharp_one_is_not() -> None:
    sharp = _textured()
    blurred = np.asarray(Image.fromarray(sharp).filter(ImageFilter.GaussianBlur(12)))
    sharp_metrics = compute_metrics(_jpeg(sharp))
    blurred_metrics = compute_metrics(_jpeg(blurred))
    assert sharp_metrics.flags == []
    assert blurred_metrics.flags == [ImageQualityFlag.BLURRED]
    # Same scene, so the exposure figures barely move.
    assert abs(sharp_metrics.brightness - blurred_metrics.brightness) < 5


# --- thumbnails --------------------------------------------------------------------------


def _from_the_analysis_decode(data: bytes, max_side: int) -> bytes:
    # What an upload stores: the thumbnail from the decode the metrics use.
    return thumbnail_of(decode_image(data), data, max_side)


THUMBNAILERS = pytest.mark.parametrize(
    "thumbnail", [make_thumbnail, _from_the_analysis_decode], ids=["own-decode", "shared-decode"]
)


@pytest.mark.parametrize(
    ("size", "max_side", "expected"),
    [
        ((4000, 3000), 320, (320, 240)),
        ((3000, 4000), 320, (240, 320)),
        ((1280, 720), 200, (200, 112)),
        ((100, 80), 320, (100, 80)),  # never upscaled
    ],
)
@THUMBNAILERS
def test_thumbnail_size_and_aspect(
    size: tuple[int, int],
    max_side: int,
    expected: tuple[int, int],
    thumbnail: Callable[[bytes, int], bytes],
) -> None:
    arr, _ = _pattern(size[0] - size[0] % 320, size[1] - size[1] % 240, seed=1, p_green=0.5)
    src = Image.fromarray(arr).resize(size)
    out = io.BytesIO()
    src.save(out, "JPEG", quality=90)
    thumb = Image.open(io.BytesIO(thumbnail(out.getvalue(), max_side)))
    assert thumb.format == "JPEG"
    assert thumb.mode == "RGB"
    assert abs(thumb.width - expected[0]) <= 1
    assert abs(thumb.height - expected[1]) <= 1
    assert max(thumb.size) <= max_side


def test_the_shared_decode_thumbnail_shows_what_the_own_decode_shows() -> None:
    # A 12 MP photo's thumbnail from the 1/8-scale analysis decode (500x375) looks like the one
    # from its own 1/4-scale decode: same size, same picture (mean difference of a few levels).
    arr, _ = _pattern(3840, 2880, seed=3, p_green=0.4)
    data = _jpeg(np.asarray(Image.fromarray(arr).resize((4000, 3000))))
    own = np.asarray(Image.open(io.BytesIO(make_thumbnail(data, 320))), dtype=np.int16)
    shared = np.asarray(
        Image.open(io.BytesIO(_from_the_analysis_decode(data, 320))), dtype=np.int16
    )
    assert own.shape == shared.shape == (240, 320, 3)
    assert float(np.abs(own - shared).mean()) < 6.0
    # A thumbnail larger than the analysis decode comes from the photo's own decode.
    big = Image.open(io.BytesIO(_from_the_analysis_decode(data, 800)))
    assert big.size == (800, 600)


@THUMBNAILERS
def test_thumbnail_follows_exif_orientation(thumbnail: Callable[[bytes, int], bytes]) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display": a portrait shot stored landscape
    data = _jpeg(_solid(LEAF, (640, 480)), exif=exif.tobytes())
    thumb = Image.open(io.BytesIO(thumbnail(data, 160)))
    assert thumb.size == (120, 160)


@THUMBNAILERS
def test_thumbnail_of_transparent_png_is_on_white(thumbnail: Callable[[bytes, int], bytes]) -> None:
    rgba = Image.new("RGBA", (400, 200), (0, 0, 0, 0))
    out = io.BytesIO()
    rgba.save(out, "PNG")
    thumb = Image.open(io.BytesIO(thumbnail(out.getvalue(), 100)))
    assert thumb.size == (100, 50)
    assert int(np.asarray(thumb.convert("L")).min()) > 245


def test_thumbnail_rejects_bad_input() -> None:
    with pytest.raises(ImageRejected):
        make_thumbnail(b"GIF89a not accepted")
    with pytest.raises(ValueError, match="positive"):
        make_thumbnail(_jpeg(_solid(LEAF)), 0)


# --- inspect_image -----------------------------------------------------------------------


def test_inspect_accepts_jpeg_and_png() -> None:
    jpeg = _jpeg(_solid(LEAF, (640, 480)))
    png = _png(_solid(SOIL, (33, 17)))
    assert inspect_image(jpeg) == ImageInfo("JPEG", 640, 480, len(jpeg))
    assert inspect_image(png) == ImageInfo("PNG", 33, 17, len(png))
    assert inspect_image(jpeg).content_type == "image/jpeg"
    assert inspect_image(png).content_type == "image/png"


def test_inspect_accepts_progressive_and_greyscale_jpegs() -> None:
    prog = _jpeg(_textured((320, 240)), progressive=True)
    assert inspect_image(prog).width == 320
    grey = io.BytesIO()
    Image.new("L", (50, 40), 90).save(grey, "JPEG")
    assert inspect_image(grey.getvalue()).height == 40
    assert compute_metrics(grey.getvalue()).canopy_cover == 0.0


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"hello, world",
        b"GIF89a\x01\x00\x01\x00\x00\x00\x00;",
        b"BM" + bytes(60),
        b"%PDF-1.7\n",
        JPEG_MAGIC,
        PNG_MAGIC,
    ],
    ids=["empty", "text", "gif", "bmp", "pdf", "jpeg-magic-only", "png-magic-only"],
)
def test_inspect_refuses_non_images(data: bytes) -> None:
    with pytest.raises(ImageRejected):
        inspect_image(data)


def test_inspect_refuses_gif_even_though_pillow_reads_it() -> None:
    out = io.BytesIO()
    Image.new("RGB", (10, 10)).save(out, "GIF")
    with pytest.raises(ImageRejected, match="not a JPEG or PNG"):
        inspect_image(out.getvalue())


@pytest.mark.parametrize("keep", [0.1, 0.5, 0.9, 0.999])
def test_inspect_refuses_truncated_jpeg(keep: float) -> None:
    data = _jpeg(_textured((640, 480)), quality=90)
    cut = data[: int(len(data) * keep)]
    with pytest.raises(ImageRejected, match=r"truncated|header"):
        inspect_image(cut)
    with pytest.raises(ImageRejected):
        compute_metrics(cut)
    with pytest.raises(ImageRejected):
        make_thumbnail(cut)


def test_truncation_tolerance_switched_on_globally_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    data = _jpeg(_textured((320, 240)), quality=90)
    with pytest.raises(RuntimeError, match="LOAD_TRUNCATED_IMAGES"):
        inspect_image(data[: len(data) // 2])


@pytest.mark.parametrize("drop", [1, 12, 100])
def test_inspect_refuses_truncated_png(drop: int) -> None:
    data = _png(_textured((320, 240)))
    with pytest.raises(ImageRejected):
        inspect_image(data[:-drop])


def test_inspect_refuses_png_with_bad_crc() -> None:
    data = bytearray(_png(_textured((320, 240))))
    data[40] ^= 0xFF  # inside the first IDAT chunk
    with pytest.raises(ImageRejected):
        inspect_image(bytes(data))


def _png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG whose IHDR claims ``width`` x ``height`` (the classic decompression bomb)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1024, 9)
    return PNG_MAGIC + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


@pytest.mark.parametrize(
    ("width", "height"), [(100_000, 100_000), (8_000, 8_000)], ids=["huge", "over-cap"]
)
def test_png_bomb_header_is_refused_before_decoding(width: int, height: int) -> None:
    assert width * height > MAX_PIXELS
    bomb = _png_header_only(width, height)
    assert len(bomb) < 200
    for fn in (inspect_image, compute_metrics, make_thumbnail):
        with pytest.raises(ImageRejected, match="too large"):
            fn(bomb)


# --- hostile input -----------------------------------------------------------------------

_VALID_SMALL = [_jpeg(_textured((64, 48))), _png(_textured((64, 48)))]


def _inspect_returns_or_rejects(data: bytes) -> None:
    try:
        info = inspect_image(data)
    except ImageRejected as exc:
        reason = exc.reason
        assert reason, "a rejection must say why"
        return
    assert info.format in ("JPEG", "PNG")
    assert info.width * info.height <= MAX_PIXELS
    assert info.byte_size == len(data)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(
        st.binary(max_size=512),
        st.builds(lambda m, b: m + b, st.sampled_from([JPEG_MAGIC, PNG_MAGIC]), st.binary()),
    )
)
def test_arbitrary_bytes_return_or_reject(data: bytes) -> None:
    _inspect_returns_or_rejects(data)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(_VALID_SMALL),
    st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=8),
    st.integers(1, 10_000),
)
def test_mutated_images_return_or_reject(
    base: bytes, edits: list[tuple[int, int]], keep: int
) -> None:
    data = bytearray(base)
    for pos, value in edits:
        data[pos % len(data)] = value
    _inspect_returns_or_rejects(bytes(data[:keep]))
