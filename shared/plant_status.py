"""How a plant's latest value stands against its thresholds: one rule for the hub's UI and the
cloud's app, so both say the same words (status.js shows them) for the same reading."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from shared.metrics import Metric
from shared.sync import Thresholds


class Status(StrEnum):
    """A metric against the plant's thresholds."""

    OK = "ok"
    LOW = "low"
    HIGH = "high"
    STALE = "stale"
    UNKNOWN = "unknown"


def metric_status(
    metric: Metric,
    value: float | None,
    measured_at: datetime | None,
    thresholds: Thresholds,
    now: datetime,
    stale_after: timedelta,
    light: Status | None = None,
) -> Status:
    """Unknown without a value, then stale, then too high. Too little light is a verdict on
    the day's light integral (``light``, OK when not judged), not on one reading: every night
    is below the plant's lux minimum. Battery has no plant thresholds."""
    low, high = (None, None) if metric is Metric.BATTERY else thresholds.bounds(metric)
    if value is None or measured_at is None:
        return Status.UNKNOWN
    if now - measured_at > stale_after:
        return Status.STALE
    if high is not None and value > high:
        return Status.HIGH
    if metric is Metric.ILLUMINANCE:
        return light or Status.OK
    if low is not None and value < low:
        return Status.LOW
    return Status.OK
