"""The ingest fast path accepts exactly what ``shared.sync.ReadingIn`` accepts, same values."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cloud.telemetry.validation import parse_fast_batch, validate_readings
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
]


def _reference(items: list[Any]) -> dict[int, tuple[Any, ...]]:
    valid, _ = parse_readings(items)
    return {
        i: (
            r.node_mac,
            r.measured_at,
            r.seq,
            r.source.value,
            r.moisture,
            r.temperature,
            r.humidity,
            r.illuminance,
            r.battery,
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
            r.moisture,
            r.temperature,
            r.humidity,
            r.illuminance,
            r.battery,
        )
        for i, r in zip(indexes, valid, strict=True)
    }


def test_variants_match_the_reference() -> None:
    assert _fast(VARIANTS) == _reference(VARIANTS)
    _, _, rejected = validate_readings(VARIANTS)
    _, reference_rejected = parse_readings(VARIANTS)
    assert rejected == reference_rejected


@pytest.mark.parametrize("index", range(len(VARIANTS)))
def test_one_pass_batch_parse_only_when_every_item_is_good(index: int) -> None:
    body = orjson.dumps({"batch_id": str(uuid.uuid4()), "readings": [GOOD, VARIANTS[index]]})
    fast = parse_fast_batch(body)
    valid, rejected = parse_readings([GOOD, VARIANTS[index]])
    if rejected:
        assert fast is None  # never accepts what the reference refuses
    if index == 0:
        assert fast is not None
    if fast is not None:
        assert [(r.node_mac, r.measured_at, r.moisture) for r in fast.readings] == [
            (r.node_mac, r.measured_at, r.moisture) for _, r in valid
        ]


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
