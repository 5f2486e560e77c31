"""Watering events from soil-moisture rises, and when the plant needs water next.

Both tiers call these on a plant's moisture series (the hub on its SQLite readings, the cloud on
its history), so the hub's plant page and the cloud API say the same. The forecast fits the
dry-down since the last watering with a straight line and extends it to the plant's moisture
minimum. Pure: no I/O. ``bench.watering`` measures it on emulated soil.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Final, Literal

from pydantic import BaseModel

from shared.freshness import NodeState

MIN_RISE: Final = 8.0  # percentage points: less is sensor noise, dew or a neighbour's splash
RISE_WITHIN: Final = timedelta(hours=3)  # a watering soaks in within this
SETTLE: Final = timedelta(hours=1)  # after the peak, water still drains: not dry-down yet
MIN_FIT_SPAN: Final = timedelta(hours=6)  # a shorter dry-down borrows the previous one's rate
LEVEL_WINDOW: Final = timedelta(hours=1)  # the current level is the mean of this last stretch
MIN_DRYING_PER_DAY: Final = 0.2  # slower than this the soil is not drying: no forecast

ForecastStatus = Literal["now", "today", "in_days", "unknown"]


@dataclass(frozen=True, slots=True)
class MoistureSample:
    """One soil-moisture reading (%)."""

    at: datetime
    moisture: float


@dataclass(frozen=True, slots=True)
class WateringEvent:
    """A watering: the soil rose from ``before`` to ``after`` percent starting at ``at``."""

    at: datetime
    before: float
    after: float
    peak_at: datetime

    @property
    def rise(self) -> float:
        """Percentage points the watering added."""
        return self.after - self.before


@dataclass(frozen=True, slots=True)
class WateringForecast:
    """When the soil reaches the plant's moisture minimum, and how sure we can be."""

    status: ForecastStatus
    moisture: float | None  # the current level (mean of the last hour)
    minimum: float | None
    hours_until_dry: float | None  # 0 when already at or below the minimum
    dry_at: datetime | None
    days: int | None  # "in about N days" (status ``in_days``)
    drying_per_day: float | None  # percentage points lost per day in the current dry-down
    last_watered_at: datetime | None
    reason: str | None  # why there is no forecast (status ``unknown``)

    @property
    def text(self) -> str:
        """What the gardener reads."""
        if self.status == "now":
            return "Needs water now"
        if self.status == "today":
            return "Needs water today"
        if self.status == "in_days":
            return f"Needs water in about {self.days} day{'s' if self.days != 1 else ''}"
        return f"No watering forecast: {self.reason}"


def detect_waterings(
    samples: Sequence[MoistureSample],
    min_rise: float = MIN_RISE,
    within: timedelta = RISE_WITHIN,
) -> list[WateringEvent]:
    """Waterings in a time-ordered series: a rise of at least ``min_rise`` points above the
    lowest value of the preceding ``within``, completed within ``within``."""
    events: list[WateringEvent] = []
    i, n = 1, len(samples)
    floor = 0  # no low before this index: it belongs to the previous watering's rise
    while i < n:
        now = samples[i]
        low_index = None
        j = i - 1
        while j >= floor and now.at - samples[j].at <= within:
            if low_index is None or samples[j].moisture <= samples[low_index].moisture:
                low_index = j
            j -= 1
        if low_index is None or now.moisture - samples[low_index].moisture < min_rise:
            i += 1
            continue
        low = samples[low_index]
        peak_index = i
        k = i + 1
        while k < n and samples[k].at - low.at <= within:
            if samples[k].moisture > samples[peak_index].moisture:
                peak_index = k
            k += 1
        peak = samples[peak_index]
        events.append(
            WateringEvent(
                at=samples[low_index + 1].at,
                before=low.moisture,
                after=peak.moisture,
                peak_at=peak.at,
            )
        )
        floor = peak_index
        i = peak_index + 1
    return events


def _slope_per_day(samples: Sequence[MoistureSample]) -> float | None:
    """Least-squares slope (points per day) of a series, None for fewer than 3 samples."""
    if len(samples) < 3:
        return None
    origin = samples[0].at
    xs = [(s.at - origin).total_seconds() / 86_400 for s in samples]
    ys = [s.moisture for s in samples]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return None
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx


def _dry_down(
    samples: Sequence[MoistureSample], start: datetime, end: datetime | None
) -> list[MoistureSample]:
    return [s for s in samples if s.at >= start and (end is None or s.at < end)]


def forecast(
    samples: Sequence[MoistureSample],
    minimum: float | None,
    now: datetime,
    *,
    day_end: datetime | None = None,
    latest: MoistureSample | None = None,
) -> WateringForecast:
    """When the soil reaches ``minimum`` (the plant's moisture minimum), from the dry-down since
    the last watering. ``day_end`` is the end of the gardener's today (default: UTC midnight).
    ``latest`` is the newest raw reading: the hourly means lag up to an hour, so a reading at or
    below the minimum, or ``MIN_RISE`` away from the last hour's level (a watering, a pot that
    dried out), sets the current level at once."""
    ordered = sorted((s for s in samples if s.at <= now), key=lambda s: s.at)
    events = detect_waterings(ordered)
    last = events[-1] if events else None

    def unknown(reason: str, level: float | None = None) -> WateringForecast:
        return WateringForecast(
            "unknown", level, minimum, None, None, None, None, last.at if last else None, reason
        )

    if minimum is None:
        return unknown("no moisture minimum set for this plant")
    if not ordered:
        return unknown("no soil moisture readings yet")
    level_at = ordered[-1].at
    recent = [s.moisture for s in ordered if level_at - s.at <= LEVEL_WINDOW]
    level = sum(recent) / len(recent)
    if (
        latest is not None
        and level_at < latest.at <= now
        and (latest.moisture <= minimum or abs(latest.moisture - level) >= MIN_RISE)
    ):
        level, level_at = latest.moisture, latest.at
    if level <= minimum:
        return WateringForecast(
            "now", level, minimum, 0.0, now, None, None, last.at if last else None, None
        )
    start = (last.peak_at + SETTLE) if last else ordered[0].at
    current = _dry_down(ordered, start, None)
    rate: float | None = None
    if current and current[-1].at - current[0].at >= MIN_FIT_SPAN:
        rate = _slope_per_day(current)
    elif last is not None:
        # Too early in this dry-down: the previous one's rate is the better guess.
        since = events[-2].peak_at + SETTLE if len(events) >= 2 else ordered[0].at
        previous = _dry_down(ordered, since, last.at)
        if previous and previous[-1].at - previous[0].at >= MIN_FIT_SPAN:
            rate = _slope_per_day(previous)
    if rate is None:
        return unknown("not enough dry-down since the last watering yet", level)
    drying = -rate
    if drying < MIN_DRYING_PER_DAY:
        return unknown("the soil is not drying", level)
    hours = (level - minimum) / drying * 24.0
    dry_at = level_at + timedelta(hours=hours)
    end_of_today = day_end or datetime.combine(
        now.astimezone(UTC).date() + timedelta(days=1), time(), UTC
    )
    if dry_at <= end_of_today:
        status: ForecastStatus = "today"
        days = None
    else:
        status, days = "in_days", max(1, round(hours / 24.0))
    return WateringForecast(
        status,
        round(level, 1),
        minimum,
        round(max(0.0, (dry_at - now).total_seconds() / 3600.0), 1),
        dry_at,
        days,
        round(drying, 2),
        last.at if last else None,
        None,
    )


# --- the public shape both tiers serve (GET /api/v1/plants/{id}/watering) -------------------

HISTORY: Final = timedelta(days=14)  # the window of hourly means both tiers read


class WateringEventPublic(BaseModel):
    """A detected watering."""

    at: datetime
    before: float
    after: float
    rise: float


class WateringForecastPublic(BaseModel):
    """The forecast as both APIs return it; ``text`` is what the UIs show."""

    status: ForecastStatus
    text: str
    moisture: float | None
    minimum: float | None
    hours_until_dry: float | None
    dry_at: datetime | None
    days: int | None
    drying_per_day: float | None
    last_watered_at: datetime | None
    reason: str | None


class WateringPublic(BaseModel):
    """Waterings of the last ``HISTORY`` (newest first) and when the plant needs water next."""

    events: list[WateringEventPublic]
    forecast: WateringForecastPublic


def watering_public(
    hourly: Sequence[MoistureSample],
    minimum: float | None,
    now: datetime,
    *,
    day_end: datetime | None = None,
    latest: MoistureSample | None = None,
) -> WateringPublic:
    """Events and forecast from a plant's hourly mean moisture (oldest first) and its newest
    raw reading (``latest``, see ``forecast``)."""
    predicted = forecast(hourly, minimum, now, day_end=day_end, latest=latest)
    return WateringPublic(
        events=[
            WateringEventPublic(
                at=e.at, before=round(e.before, 1), after=round(e.after, 1), rise=round(e.rise, 1)
            )
            for e in reversed(detect_waterings(hourly))
        ],
        forecast=_public(predicted),
    )


def _public(predicted: WateringForecast) -> WateringForecastPublic:
    return WateringForecastPublic(
        status=predicted.status,
        text=predicted.text,
        moisture=None if predicted.moisture is None else round(predicted.moisture, 1),
        minimum=predicted.minimum,
        hours_until_dry=predicted.hours_until_dry,
        dry_at=predicted.dry_at,
        days=predicted.days,
        drying_per_day=predicted.drying_per_day,
        last_watered_at=predicted.last_watered_at,
        reason=predicted.reason,
    )


# Why a plant gets no forecast while its node's readings are not current.
NOT_CURRENT: Final[dict[NodeState, str]] = {
    NodeState.WRONG_KEY: "the node's adverts fail authentication (wrong key), so its readings "
    "are not current",
    NodeState.STALE: "the node stopped reporting, so its readings are not current",
}


def as_of_node(watering: WateringPublic, state: NodeState | None) -> WateringPublic:
    """``watering`` with its forecast withheld while the node's readings are not current (wrong
    key, stopped reporting): a dry-down projected from old values is not the plant's state. The
    waterings seen stay, and so does the last one's time."""
    reason = NOT_CURRENT.get(state) if state is not None else None
    return watering if reason is None else withheld(watering, reason)


NO_NODE: Final = "no node watches this plant yet"


def withheld(watering: WateringPublic, reason: str) -> WateringPublic:
    """``watering`` whose forecast is "unknown" for ``reason``."""
    old = watering.forecast
    unknown = WateringForecast(
        "unknown", None, old.minimum, None, None, None, None, old.last_watered_at, reason
    )
    return watering.model_copy(update={"forecast": _public(unknown)})
