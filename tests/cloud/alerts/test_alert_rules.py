"""The threshold state machine: minimum duration before opening, hysteresis before resolving."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared.alerts import MetricState, evaluate
from shared.metrics import Metric

T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def series(*values: float, step_min: int = 5) -> list[tuple[datetime, float]]:
    return [(T0 + timedelta(minutes=i * step_min), v) for i, v in enumerate(values)]


def test_breach_shorter_than_min_duration_opens_nothing() -> None:
    state = MetricState()
    result = evaluate(state, Metric.MOISTURE, 30, 70, timedelta(minutes=15), series(25, 25, 25, 35))
    assert result.transitions == []
    assert state.breach is None
    assert state.last_evaluated_at == T0 + timedelta(minutes=15)


def test_breach_lasting_min_duration_opens_once() -> None:
    state = MetricState()
    result = evaluate(
        state, Metric.MOISTURE, 30, 70, timedelta(minutes=15), series(25, 24, 23, 22, 21, 20)
    )
    assert [(t.action, t.breach, t.at, t.since) for t in result.transitions] == [
        ("open", "low", T0 + timedelta(minutes=15), T0)
    ]


def test_hysteresis_keeps_alert_open_near_the_limit() -> None:
    state = MetricState()
    values = (75, 76, 69.5, 71, 68, 66.9)  # high limit 70, band 3 → resolves at ≤ 67
    result = evaluate(state, Metric.MOISTURE, 30, 70, timedelta(0), series(*values))
    actions = [(t.action, t.at) for t in result.transitions]
    assert actions == [("open", T0), ("resolve", T0 + timedelta(minutes=25))]


def test_value_flapping_around_the_limit_does_not_reopen() -> None:
    state = MetricState()
    flapping = (29, 31, 29, 31, 29, 31, 29, 31)  # alternates every 5 minutes around min 30
    result = evaluate(state, Metric.MOISTURE, 30, 70, timedelta(minutes=10), series(*flapping))
    assert result.transitions == []


def test_readings_at_or_before_the_watermark_are_ignored() -> None:
    state = MetricState(last_evaluated_at=T0 + timedelta(hours=1))
    result = evaluate(state, Metric.TEMPERATURE, 10, 30, timedelta(0), series(40, 45, 50))
    assert result.transitions == []
    assert result.changed is False


def test_illuminance_band_is_relative() -> None:
    state = MetricState()
    result = evaluate(
        state, Metric.ILLUMINANCE, None, 20000, timedelta(0), series(25000, 19000, 17900)
    )
    assert [t.action for t in result.transitions] == ["open", "resolve"]
    assert result.transitions[1].value == 17900
