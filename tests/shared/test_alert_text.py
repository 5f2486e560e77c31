"""Alert texts written when shown: the plant's current name, the gardener's unit."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shared.alert_text import describe, in_unit
from shared.metrics import Metric

pytestmark = pytest.mark.pi

AT = datetime(2026, 6, 2, 6, tzinfo=UTC)


def text(kind: str, metric: Metric | None, value: float, bound: float | None, **kw: object) -> str:
    return describe(
        kind,
        subject=str(kw.get("subject", "Sweet basil")),
        metric=metric,
        rule=kw.get("rule"),  # type: ignore[arg-type]
        value=value,
        bound=bound,
        opened_at=AT,
        unit=kw.get("unit", "C"),  # type: ignore[arg-type]
        fallback="stored",
    )


def test_temperature_follows_the_gardeners_unit() -> None:
    assert text("high", Metric.TEMPERATURE, 30.5, 30.0) == (
        "Sweet basil: temperature 30.5 °C above 30.0 °C"
    )
    assert text("high", Metric.TEMPERATURE, 30.5, 30.0, unit="F") == (
        "Sweet basil: temperature 86.9 °F above 86.0 °F"
    )
    assert in_unit(Metric.MOISTURE, 40.0, "F") == (40.0, "%")


def test_a_value_just_past_its_limit_never_reads_as_equal_to_it() -> None:
    assert text("high", Metric.HUMIDITY, 50.3, 50.0) == (
        "Sweet basil: air humidity 50.3 % above 50.0 %"
    )
    assert text("low", Metric.MOISTURE, 34.96, 35.0) == (
        "Sweet basil: soil moisture 34.96 % below 35.00 %"
    )
    assert text("high", Metric.HUMIDITY, 51.0, 50.0) == "Sweet basil: air humidity 51 % above 50 %"


def test_other_kinds_and_the_daily_light_integral() -> None:
    assert text("low", Metric.MOISTURE, 31.6, 35.0) == "Sweet basil: soil moisture 32 % below 35 %"
    assert text("low", Metric.ILLUMINANCE, 0.51, 6.0, rule="dli") == (
        "Sweet basil: daily light integral 0.51 mol/m²/day on 2026-06-01 below the plant's "
        "minimum 6"
    )
    assert text("stale", None, 45, None) == "Sweet basil: no data for 45 min"
    assert text("low_battery", Metric.BATTERY, 9, None) == "Sweet basil: battery at 9 %"
    assert text("data_dropped", None, 3, None) == "stored"
