"""Threshold evaluation as a pure state machine: minimum duration to open, hysteresis to close.

A reading outside [low, high] starts a breach; the alert opens once the breach has lasted
``min_duration``. An open alert resolves only when the value is back inside by the metric's
hysteresis band, so a value hovering at the limit does not flap.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from shared.metrics import DLI as DAILY_LIGHT
from shared.metrics import Metric, spec

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
) -> Evaluation:
    """Feed ``readings`` (time-ordered, newer than the state) through the state machine."""
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
            result.transitions.append(
                Transition(
                    "open",
                    breach,
                    at,
                    state.breach_since,
                    value,
                    low if breach == "low" else high,
                )
            )
            state.alert_id = "pending"  # replaced by the stored alert's id
    return result
