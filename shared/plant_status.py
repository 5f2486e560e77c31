"""How a plant's latest value stands against its thresholds: one rule for the hub's UI and the
cloud's app, so both say the same words (status.js shows them) for the same reading.

Light is judged by the daily light integral (``shared.daylight``): both tiers feed
``daily_light`` the mean illuminance of today's and yesterday's UTC hours from their hourly
rollups and pass its verdict (``light_status``) to ``metric_status``."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from enum import StrEnum

from pydantic import BaseModel

from shared import daylight
from shared.metrics import DLI, Metric
from shared.sync import Thresholds


class Status(StrEnum):
    """A metric against the plant's thresholds."""

    OK = "ok"
    LOW = "low"
    HIGH = "high"
    STALE = "stale"
    UNKNOWN = "unknown"


class DayLightPublic(BaseModel):
    """One UTC day's daily light integral (None with too few readings) and its verdict."""

    dli: float | None
    samples: int
    hours: float  # 24 for a completed day; the hours so far for today
    status: Status


class DailyLight(BaseModel):
    """Light as plants need it: today's integral so far and yesterday's against the range."""

    unit: str
    minimum: float | None
    maximum: float | None
    today: DayLightPublic
    yesterday: DayLightPublic


def day_start(now: datetime) -> datetime:
    """Midnight UTC that began ``now``'s UTC day (the days the DLI rule judges)."""
    return datetime.combine(now.astimezone(UTC).date(), time(), UTC)


def daily_light(
    today: tuple[float | None, int],
    yesterday: tuple[float | None, int],
    thresholds: Thresholds,
    now: datetime,
) -> DailyLight:
    """Today's light integral so far and yesterday's against the plant's DLI range, from each
    UTC day's (mean illuminance, reading count)."""
    low, high = thresholds.daily_bounds(Metric.ILLUMINANCE)
    hours_today = max((now - day_start(now)).total_seconds() / 3600.0, 0.0)

    def judged(mean_count: tuple[float | None, int], hours: float) -> DayLightPublic:
        day = daylight.day(mean_count[0], mean_count[1], low, high, hours=hours)
        return DayLightPublic(
            dli=day.dli, samples=day.samples, hours=round(day.hours, 2), status=Status(day.status)
        )

    return DailyLight(
        unit=DLI.unit,
        minimum=low,
        maximum=high,
        today=judged(today, min(hours_today, 24.0)),
        yesterday=judged(yesterday, 24.0),
    )


def light_status(daily: DailyLight | None) -> Status:
    """The light verdict ``metric_status`` takes: a day too dark or too bright (today's when
    already certain, else yesterday's); OK when the day's integral says nothing."""
    if daily is None:
        return Status.OK
    for verdict in (daily.today.status, daily.yesterday.status):
        if verdict in (Status.LOW, Status.HIGH):
            return verdict
    return Status.OK


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
