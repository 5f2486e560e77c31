"""Per-metric status on the hub plant cards: light is judged by the day (DLI), not per reading."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hub.readings.service import status_of
from hub.store.types import to_ms
from shared.metrics import Metric
from shared.plant_status import Status
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
