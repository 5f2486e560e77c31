"""Ranges, MAC normalisation and the sync schemas' partial validation."""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from shared.mac import normalize_mac
from shared.metrics import SPECS, Metric, daily_light_integral, out_of_range
from shared.sync import (
    BatchAck,
    ItemRejection,
    ReadingBatch,
    ReadingIn,
    RejectReason,
    Thresholds,
    parse_readings,
)


@pytest.mark.parametrize(
    ("metric", "good", "bad"),
    [
        (Metric.MOISTURE, 55.5, 100.01),
        (Metric.TEMPERATURE, -40.0, 85.5),
        (Metric.HUMIDITY, 0.0, -0.1),
        (Metric.ILLUMINANCE, 200_000.0, 200_000.5),
        (Metric.BATTERY, 100.0, 101.0),
    ],
)
def test_ranges_accept_limits_and_refuse_beyond(metric: Metric, good: float, bad: float) -> None:
    assert out_of_range(metric, good) is None
    reason = out_of_range(metric, bad)
    assert reason is not None
    assert metric.value in reason


def test_nan_is_never_in_range() -> None:
    assert all(not r.contains(math.nan) for r in SPECS.values())


def test_dli_of_full_sun_is_plausible() -> None:
    # 12 h of 50,000 lx is roughly 40 mol/m²/day under daylight.
    assert 35 < daily_light_integral(50_000, hours=12) < 45


@pytest.mark.parametrize(
    "raw", ["a4:c1:38:01:02:03", "A4-C1-38-01-02-03", "a4c1.3801.0203", "A4C138010203"]
)
def test_mac_normalised(raw: str) -> None:
    assert normalize_mac(raw) == "A4:C1:38:01:02:03"


@pytest.mark.parametrize("raw", ["", "A4:C1:38:01:02", "G4:C1:38:01:02:03", "A4:C1:38:01:02:03:04"])
def test_bad_mac_refused(raw: str) -> None:
    with pytest.raises(ValueError, match="not a Bluetooth MAC"):
        normalize_mac(raw)


def _item(**overrides: object) -> dict[str, object]:
    item: dict[str, object] = {
        "node_mac": "a4:c1:38:00:00:01",
        "measured_at": "2026-11-26T10:00:00Z",
        "seq": 7,
        "moisture": 41.5,
        "temperature": 21.25,
    }
    item.update(overrides)
    return item


def test_valid_batch_takes_fast_path() -> None:
    valid, rejected = parse_readings([_item(), _item(seq=8, measured_at="2026-11-26T10:10:00Z")])
    assert rejected == []
    assert [i for i, _ in valid] == [0, 1]
    assert valid[0][1].node_mac == "A4:C1:38:00:00:01"
    assert valid[0][1].measured_at == datetime(2026, 11, 26, 10, tzinfo=UTC)


def test_bad_items_are_rejected_with_reasons_and_rest_kept() -> None:
    raw = [
        _item(),
        _item(moisture=140.0),
        _item(node_mac="nope"),
        _item(measured_at="2026-11-26T10:00:00"),  # naive time is ambiguous
        {"node_mac": "a4:c1:38:00:00:01", "measured_at": "2026-11-26T10:00:00Z"},
        _item(temperature="warm"),
        _item(extra_field=1),
        _item(seq=9),
    ]
    valid, rejected = parse_readings(raw)
    assert [i for i, _ in valid] == [0, 7]
    assert [r.index for r in rejected] == [1, 2, 3, 4, 5, 6]
    assert all(r.reason is RejectReason.INVALID for r in rejected)
    assert "moisture" in rejected[0].message
    assert "at least one metric" in rejected[3].message


@given(st.lists(st.dictionaries(st.text(max_size=12), st.none() | st.integers() | st.text())))
def test_arbitrary_items_never_crash_parser(raw: list[dict[str, object]]) -> None:
    valid, rejected = parse_readings(raw)  # type: ignore[arg-type]
    assert len(valid) + len(rejected) == len(raw)


def test_batch_refuses_unknown_top_level_fields() -> None:
    with pytest.raises(ValidationError):
        ReadingBatch.model_validate({"batch_id": str(uuid.uuid4()), "readings": [], "x": 1})


def test_ack_round_trips_json() -> None:
    ack = BatchAck(
        batch_id=uuid.uuid4(),
        accepted=3,
        duplicates=1,
        rejected=[ItemRejection(index=2, reason=RejectReason.UNKNOWN_NODE, message="who?")],
    )
    assert BatchAck.model_validate_json(ack.model_dump_json()) == ack


def test_reading_needs_aware_time() -> None:
    with pytest.raises(ValidationError):
        ReadingIn.model_validate(_item(measured_at="2026-11-26T10:00:00"))


def test_threshold_overrides_take_precedence() -> None:
    species = Thresholds(moisture_min=30, moisture_max=60, light_lux_min=1000)
    merged = species.merged(Thresholds(moisture_min=40))
    assert merged.bounds(Metric.MOISTURE) == (40, 60)
    assert merged.bounds(Metric.ILLUMINANCE) == (1000, None)
