"""The metric registry: consistent entries, and everything derived from it."""

from __future__ import annotations

import math

import pytest

from shared import bthome
from shared.metrics import (
    DLI,
    METRIC_NAMES,
    PLANT_METRICS,
    REGISTRY,
    SPECS,
    Metric,
    Role,
    public_metrics,
    threshold_fields,
)
from shared.sync import ReadingIn, Thresholds


def test_one_entry_per_metric_with_unique_wire_identities() -> None:
    assert [entry.metric for entry in REGISTRY] == list(Metric)
    object_ids = [obj.object_id for entry in REGISTRY for obj in entry.bthome]
    assert len(object_ids) == len(set(object_ids))
    prefixes = [entry.threshold for entry in REGISTRY if entry.threshold]
    assert len(prefixes) == len(set(prefixes))
    for entry in REGISTRY:
        assert entry.minimum < entry.maximum
        assert entry.label
        assert entry.unit
        assert (entry.threshold is not None) == (entry.role is Role.PLANT)
        assert not entry.contains(math.nan)


def test_the_wire_schemas_carry_every_metric() -> None:
    reading_fields = set(ReadingIn.model_fields)
    assert set(METRIC_NAMES) <= reading_fields
    assert list(Thresholds.model_fields) == list(threshold_fields())
    assert {"light_lux_min", "dli_max", "moisture_min"} <= set(Thresholds.model_fields)
    decoded = ReadingIn.model_validate(
        {"node_mac": "AA:BB:CC:DD:EE:FF", "measured_at": "2026-05-01T00:00:00Z", "moisture": 40}
    )
    assert decoded.values() == {Metric.MOISTURE: 40.0}


def test_bthome_objects_come_from_the_registry() -> None:
    sent = {fmt.metric for fmt in bthome.OBJECT_FORMATS}
    assert sent == set(Metric)
    values = {entry.metric: round((entry.minimum + entry.maximum) / 2, 0) for entry in REGISTRY}
    decoded = bthome.decode_objects(bthome.encode_objects(values))
    assert decoded == values


def test_hysteresis_is_one_rule_absolute_or_relative() -> None:
    moisture = SPECS[Metric.MOISTURE].hysteresis
    assert moisture.band(30.0) == 3.0  # the cloud's band, now the hub's too
    light = SPECS[Metric.ILLUMINANCE].hysteresis
    assert light.band(100.0) == 50.0
    assert light.band(5000.0) == 500.0
    assert DLI.hysteresis.band(2.0) == 0.5
    assert DLI.hysteresis.band(12.0) == pytest.approx(1.2)


def test_public_metrics_describe_every_entry_in_display_order() -> None:
    listed = public_metrics()
    assert [m.name for m in listed] == list(METRIC_NAMES)
    plant = [m.name for m in listed if m.thresholds]
    assert plant == list(PLANT_METRICS)
    light = next(m for m in listed if m.name is Metric.ILLUMINANCE)
    assert light.threshold_prefix == "light_lux"
    assert light.daily is not None
    assert light.daily.name == "dli"
