"""Per-metric status on the hub plant cards: light is judged by the day (DLI), not per reading."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hub.readings.service import status_of
from hub.store.types import to_ms
from shared.metrics import Metric
from shared.plant_status import DailyLight, DayLightPublic, Status
from shared.sync import Thresholds

pytestmark = pytest.mark.pi  # also runs under aarch64 in `make pi-check`

NOW = datetime(2026, 6, 1, 23, 0, tzinfo=UTC)
LIMITS = Thresholds(moisture_min=40, light_lux_min=1000, light_lux_max=50000, dli_min=6)
STALE = timedelta(minutes=30)


def status(metric: Metric, value: float, age: timedelta = timedelta(minutes=1)) -> Status:
    return status_of(metric, (value, to_ms(NOW - age)), LIMITS, NOW, STALE).status


def test_a_dark_night_reading_is_not_low_light() -> None:
    assert status(Metric.ILLUMINANCE, 0.0) is Status.OK


def test_light_above_the_maximum_is_still_high() -> None:
    assert status(Metric.ILLUMINANCE, 80000.0) is Status.HIGH


def test_other_metrics_below_their_minimum_are_low() -> None:
    assert status(Metric.MOISTURE, 32.0) is Status.LOW


def test_an_old_reading_is_stale_before_anything_else() -> None:
    assert status(Metric.MOISTURE, 32.0, age=timedelta(hours=2)) is Status.STALE


def _daily(yesterday: str, today: str = "ok") -> DailyLight:
    def day(verdict: str, hours: float) -> DayLightPublic:
        return DayLightPublic(dli=1.0, samples=100, hours=hours, status=Status(verdict))

    return DailyLight(
        unit="mol/m²/day",
        minimum=6,
        maximum=None,
        today=day(today, 23),
        yesterday=day(yesterday, 24),
    )


def test_light_at_a_tenth_of_the_plants_needs_yesterday_is_low_even_in_bright_sun() -> None:
    latest = (30000.0, to_ms(NOW - timedelta(minutes=1)))
    judged = status_of(Metric.ILLUMINANCE, latest, LIMITS, NOW, STALE, _daily("low"))
    assert judged.status is Status.LOW
    assert judged.daily is not None
    assert judged.daily.yesterday.status is Status.LOW


def test_a_day_inside_the_dli_range_leaves_light_ok() -> None:
    latest = (0.0, to_ms(NOW - timedelta(minutes=1)))
    assert status_of(Metric.ILLUMINANCE, latest, LIMITS, NOW, STALE, _daily("ok")).status is (
        Status.OK
    )
