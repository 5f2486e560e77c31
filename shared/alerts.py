"""The alert rules of both tiers, as one pure engine: the hub and the cloud feed it the same
readings and open and resolve the same alerts at the same times.

Thresholds are a state machine: a reading outside [low, high] starts a breach; the alert opens
once the breach has lasted ``min_duration`` (at the reading that completes it). An open alert
resolves only when a value is back inside by the metric's hysteresis band (from the metric
registry), so a value hovering at the limit does not flap. Low battery is the same machine on the
node's newest battery value with no minimum duration. Light: every night is dark, so low
illuminance never alerts by itself; the daily light integral of each completed UTC day is fed to
the machine instead, against the plant's DLI range. Stale nodes: ``shared.freshness``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal

from shared.metrics import DLI as DAILY_LIGHT
from shared.metrics import PLANT_METRICS, Metric, spec
from shared.sync import Thresholds

Breach = Literal["low", "high"]

DLI = DAILY_LIGHT.name  # daily light integral, judged once per completed UTC day


def band(metric: Metric | str, limit: float) -> float:
    """Hysteresis band for ``metric`` at ``limit``, from the metric registry."""
    if metric == DLI:
        return DAILY_LIGHT.hysteresis.band(limit)
    return spec(metric).hysteresis.band(limit)


@dataclass
class MetricState:
    """Evaluation state of one node and metric."""

    breach: Breach | None = None
    breach_since: datetime | None = None
    breach_value: float | None = None
    alert_id: object | None = None  # the open alert, when there is one
    last_evaluated_at: datetime | None = None


@dataclass(frozen=True)
class Transition:
    """An alert to open or resolve."""

    action: Literal["open", "resolve"]
    breach: Breach
    at: datetime
    since: datetime
    value: float
    threshold: float | None
    alert_id: object | None = None


@dataclass
class Evaluation:
    """Transitions produced while feeding readings, and whether the state changed."""

    transitions: list[Transition] = field(default_factory=list)
    changed: bool = False


def evaluate(
    state: MetricState,
    metric: Metric | str,
    low: float | None,
    high: float | None,
    min_duration: timedelta,
    readings: list[tuple[datetime, float]],
    new_alert_id: Callable[[], object] = lambda: "pending",
) -> Evaluation:
    """Feed ``readings`` (time-ordered, newer than the state) through the state machine.

    An alert that opens gets ``new_alert_id()`` (the caller's row id), so a resolution later
    in the same feed names it too."""
    result = Evaluation()
    for at, value in readings:
        if state.last_evaluated_at is not None and at <= state.last_evaluated_at:
            continue
        state.last_evaluated_at = at
        result.changed = True
        if state.alert_id is not None:
            cleared = (
                state.breach == "low" and (low is None or value >= low + band(metric, low))
            ) or (state.breach == "high" and (high is None or value <= high - band(metric, high)))
            if cleared:
                assert state.breach is not None
                assert state.breach_since is not None
                result.transitions.append(
                    Transition(
                        "resolve",
                        state.breach,
                        at,
                        state.breach_since,
                        value,
                        low if state.breach == "low" else high,
                        state.alert_id,
                    )
                )
                state.breach = state.breach_since = state.breach_value = state.alert_id = None
            continue
        breach: Breach | None = None
        if low is not None and value < low:
            breach = "low"
        elif high is not None and value > high:
            breach = "high"
        if breach is None:
            state.breach = state.breach_since = state.breach_value = None
            continue
        if breach != state.breach or state.breach_since is None:
            state.breach, state.breach_since, state.breach_value = breach, at, value
        if at - state.breach_since >= min_duration:
            state.alert_id = new_alert_id()
            result.transitions.append(
                Transition(
                    "open",
                    breach,
                    at,
                    state.breach_since,
                    value,
                    low if breach == "low" else high,
                    state.alert_id,
                )
            )
    return result


def limits(
    thresholds: Thresholds | None, low_battery: float
) -> dict[Metric, tuple[float | None, float | None]]:
    """Per metric (low, high) limits of a node whose plant has ``thresholds`` (None: no
    plant): the plant metrics' ranges, without low light (a daily matter), and low battery."""
    found: dict[Metric, tuple[float | None, float | None]] = {}
    if thresholds is not None:
        for metric in PLANT_METRICS:
            low, high = thresholds.bounds(metric)
            if metric is Metric.ILLUMINANCE:
                low = None  # darkness at night is normal: low light is judged by the DLI
            if low is not None or high is not None:
                found[metric] = (low, high)
    found[Metric.BATTERY] = (low_battery, None)
    return found


def min_duration_of(metric: Metric, min_duration: timedelta) -> timedelta:
    """How long a breach must last before it alerts: none for low battery."""
    return timedelta(0) if metric is Metric.BATTERY else min_duration


def day_start(day: date) -> datetime:
    """The instant a UTC day begins: the time a DLI judgement of that day carries."""
    return datetime.combine(day, time(), UTC)


def days_to_judge(state: MetricState, today: date) -> tuple[date, date]:
    """[first, today): the completed UTC days whose DLI has not been judged yet (at first,
    yesterday only)."""
    first = (
        state.last_evaluated_at.astimezone(UTC).date() + timedelta(days=1)
        if state.last_evaluated_at
        else today - timedelta(days=1)
    )
    return first, today


def judge_daily_light(
    state: MetricState,
    thresholds: Thresholds,
    days: list[tuple[date, float]],
    today: date,
    new_alert_id: Callable[[], object] = lambda: "pending",
) -> Evaluation:
    """Feed the DLI of completed days (those with enough light samples) to the machine; the
    days in between are judged for good, even without enough samples."""
    dli_min, dli_max = thresholds.daily_bounds(Metric.ILLUMINANCE)
    series = [(day_start(day), value) for day, value in days]
    outcome = evaluate(state, DLI, dli_min, dli_max, timedelta(0), series, new_alert_id)
    state.last_evaluated_at = day_start(today - timedelta(days=1))
    outcome.changed = True
    return outcome
