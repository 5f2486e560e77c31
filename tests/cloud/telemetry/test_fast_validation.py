"""The ingest fast paths accept only what ``shared.sync.ReadingIn`` accepts, same values."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cloud.ingest.validation import fast_columns, utc_from_micros, validate_readings
from shared.metrics import METRIC_NAMES
from shared.sync import parse_readings

GOOD = {"node_mac": "AA:BB:CC:DD:EE:01", "measured_at": "2026-01-01T10:00:00Z", "moisture": 40.5}

VARIANTS: list[Any] = [
    GOOD,
    {**GOOD, "node_mac": "aa:bb:cc:dd:ee:01"},
    {**GOOD, "node_mac": "AABBCCDDEE01"},
    {**GOOD, "node_mac": "nope"},
    {**GOOD, "measured_at": "2026-01-01T10:00:00"},
    {**GOOD, "measured_at": "2026-01-01T10:00:00+02:00"},
    {**GOOD, "measured_at": "2026-02-30T10:00:00Z"},
    {**GOOD, "measured_at": 1767261600},
    {**GOOD, "moisture": "40.5"},
    {**GOOD, "moisture": 100.01},
    {**GOOD, "moisture": -0.1},
    {**GOOD, "moisture": None, "battery": 3},
    {**GOOD, "moisture": True},
    {**GOOD, "temperature": -40, "illuminance": 200000},
    {**GOOD, "temperature": 85.5},
    {**GOOD, "seq": 2**32},
    {**GOOD, "seq": -1},
    {**GOOD, "seq": 5.0},
    {**GOOD, "source": "backfill"},
    {**GOOD, "source": "radio"},
    {**GOOD, "extra": 1},
    {"node_mac": GOOD["node_mac"], "measured_at": GOOD["measured_at"]},
    {"node_mac": GOOD["node_mac"], "moisture": 3},
    [],
    "text",
    {**GOOD, "channel": 1},
    {**GOOD, "channel": 7, "temperature": 19.5},
    {**GOOD, "channel": 8},
    {**GOOD, "channel": -1},
    {**GOOD, "channel": "1"},
    {**GOOD, "channel": 1.5},
]


def _reference(items: list[Any]) -> dict[int, tuple[Any, ...]]:
    valid, _ = parse_readings(items)
    return {
        i: (
            r.node_mac,
            r.measured_at,
            r.seq,
            r.source.value,
            r.channel,
            *(getattr(r, name) for name in METRIC_NAMES),
        )
        for i, r in valid
    }


def _fast(items: list[Any]) -> dict[int, tuple[Any, ...]]:
    indexes, valid, rejected = validate_readings(items)
    assert sorted(indexes + [r.index for r in rejected]) == list(range(len(items)))
    return {
        i: (
            r.node_mac,
            r.measured_at,
            r.seq,
            r.source,
            r.channel,
            *(getattr(r, name) for name in METRIC_NAMES),
        )
        for i, r in zip(indexes, valid, strict=True)
    }


def test_variants_match_the_reference() -> None:
    assert _fast(VARIANTS) == _reference(VARIANTS)
    _, _, rejected = validate_readings(VARIANTS)
    _, reference_rejected = parse_readings(VARIANTS)
    assert rejected == reference_rejected


def _columns(items: list[Any]) -> dict[int, tuple[Any, ...]] | None:
    """What the columnar fast path makes of ``items``, shaped like ``_reference``."""
    columns = fast_columns(items)
    if columns is None:
        return None
    out: dict[int, tuple[Any, ...]] = {}
    for row, index in enumerate(columns.indexes.tolist()):
        seq = int(columns.seq[row])
        out[index] = (
            columns.macs[row],
            utc_from_micros(int(columns.micros[row])),
            None if seq < 0 else seq,
            "backfill" if columns.source[row] else "advert",
            int(columns.channel[row]),
            *(None if math.isnan(v) else v for v in columns.metrics[row].tolist()),
        )
    return out


@pytest.mark.parametrize("index", range(len(VARIANTS)))
def test_columnar_path_only_when_every_item_is_good(index: int) -> None:
    items = [GOOD, VARIANTS[index]]
    fast = _columns(items)
    _, rejected = parse_readings(items)
    if rejected:
        assert fast is None  # never accepts what the reference refuses
    if index in (0, 11, 13, 18, 25, 26):  # plain good readings take the fast path
        assert fast is not None
    if fast is not None:
        assert fast == _reference(items)


@pytest.mark.parametrize(
    "stamp",
    [
        "2026-03-01T00:00:00Z",
        "2024-02-29T23:59:59.999Z",  # a hub's SQLite strftime('%f') form
        "2026-12-31T12:34:56.123456Z",
        "1999-01-01T00:00:00Z",
        "2100-03-01T00:00:00.5Z",
    ],
)
def test_columnar_timestamps_equal_pydantic(stamp: str) -> None:
    items = [{**GOOD, "measured_at": stamp}]
    fast = _columns(items)
    if stamp.endswith(".5Z"):
        assert fast is None  # one fraction digit: left to pydantic
        return
    assert fast is not None
    assert fast == _reference(items)
    assert fast[0][1].tzinfo is UTC


def test_columnar_timestamps_of_several_dates_in_one_batch() -> None:
    stamps = [
        "2024-02-28T23:59:59.500Z",
        "2024-02-29T00:00:00.000Z",
        "2024-02-29T23:59:59.999Z",
        "2024-03-01T00:00:00.001Z",
        "2024-02-29T00:00:00.000Z",
    ]
    items = [{**GOOD, "measured_at": stamp} for stamp in stamps]
    fast = _columns(items)
    assert fast is not None
    assert fast == _reference(items)
    assert [fast[i][1] for i in range(len(stamps))] == [
        datetime.fromisoformat(stamp) for stamp in stamps
    ]


@pytest.mark.parametrize(
    "stamp",
    [
        "2025-02-29T00:00:00Z",
        "2026-04-31T00:00:00Z",
        "2026-01-01T24:00:00Z",
        "2026-01-01T10:60:00Z",
        "2026-13-01T00:00:00Z",
        "2026-00-10T00:00:00Z",
        "2026-01-01 10:00:00Z",
        "2026-01-01T10:00:00+00:00",
        "2026-01-01T10:00:0aZ",
        "2026-01-01T10:00:0\u0663Z",  # an Arabic-Indic digit
        "2026-01-01T29:00:00Z",
        "1970-12-31T00:00:00Z",
    ],
)
def test_columnar_path_leaves_odd_timestamps_to_pydantic(stamp: str) -> None:
    assert fast_columns([{**GOOD, "measured_at": stamp}]) is None


_values = st.one_of(
    st.none(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-50, 300),
    st.text(max_size=6),
    st.booleans(),
)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.fixed_dictionaries(
            {
                "node_mac": st.sampled_from(["AA:BB:CC:DD:EE:01", "aa-bb-cc-dd-ee-02", "x"]),
                "measured_at": st.sampled_from(
                    ["2026-01-01T10:00:00Z", "2026-01-01T10:00:00.5+01:00", "2026-01-01", "no"]
                ),
            },
            optional={
                "moisture": _values,
                "temperature": _values,
                "humidity": _values,
                "illuminance": _values,
                "battery": _values,
                "seq": st.one_of(st.none(), st.integers(-2, 2**33)),
                "source": st.sampled_from(["advert", "backfill", "x"]),
            },
        ),
        max_size=8,
    )
)
def test_random_items_match_the_reference(items: list[dict[str, Any]]) -> None:
    assert _fast(items) == _reference(items)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.fixed_dictionaries(
            {
                "node_mac": st.sampled_from(["AA:BB:CC:DD:EE:01", "AA:BB:CC:DD:EE:02", "x"]),
                "measured_at": st.one_of(
                    st.datetimes(
                        min_value=datetime(1960, 1, 1), max_value=datetime(2300, 1, 1)
                    ).map(lambda at: at.isoformat(timespec="milliseconds") + "Z"),
                    st.sampled_from(["2026-01-01T10:00:00Z", "2026-02-29T10:00:00.000Z"]),
                ),
            },
            optional={
                "moisture": _values,
                "temperature": _values,
                "battery": _values,
                "seq": st.one_of(st.none(), st.integers(-2, 2**33)),
                "source": st.sampled_from(["advert", "backfill", "x"]),
            },
        ),
        min_size=1,
        max_size=6,
    )
)
def test_columnar_path_matches_the_reference(items: list[dict[str, Any]]) -> None:
    fast = _columns(items)
    _, rejected = parse_readings(items)
    if rejected:
        assert fast is None
    if fast is not None:
        assert fast == _reference(items)
