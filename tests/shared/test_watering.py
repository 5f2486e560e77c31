"""Watering events from moisture rises and the dry-down forecast (shared by both tiers)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from shared.watering import (
    MoistureSample,
    detect_waterings,
    forecast,
    watering_public,
)

pytestmark = pytest.mark.pi

T0 = datetime(2026, 6, 1, 0, tzinfo=UTC)


def dry_down(
    start: datetime, level: float, per_day: float, hours: int, noise: float = 0.0, seed: int = 1
) -> list[MoistureSample]:
    rng = random.Random(seed)
    return [
        MoistureSample(start + timedelta(hours=h), level - per_day * h / 24 + rng.gauss(0, noise))
        for h in range(hours)
    ]


def test_a_rise_of_eight_points_within_three_hours_is_a_watering() -> None:
    before = dry_down(T0, 50, 10, 48, noise=0.4)
    after = dry_down(T0 + timedelta(hours=48), 75, 10, 48, noise=0.4, seed=2)
    (event,) = detect_waterings(before + after)
    assert event.at == T0 + timedelta(hours=48)
    assert event.before == pytest.approx(30, abs=1.5)
    assert event.after == pytest.approx(75, abs=1.5)
    assert event.rise > 40


def test_noise_and_a_slow_drift_up_are_not_waterings() -> None:
    noisy = dry_down(T0, 50, 3, 96, noise=1.5)
    assert detect_waterings(noisy) == []
    drifting = [MoistureSample(T0 + timedelta(hours=h), 30 + h * 0.5) for h in range(48)]
    assert detect_waterings(drifting) == []  # 24 points in two days: dew, not a watering can


def test_two_waterings_are_two_events() -> None:
    series = (
        dry_down(T0, 70, 12, 72)
        + dry_down(T0 + timedelta(hours=72), 72, 12, 72)
        + dry_down(T0 + timedelta(hours=144), 68, 12, 24)
    )
    events = detect_waterings(series)
    assert [e.at for e in events] == [T0 + timedelta(hours=72), T0 + timedelta(hours=144)]


def test_forecast_extends_the_dry_down_to_the_minimum() -> None:
    watered = dry_down(T0, 30, 10, 10) + dry_down(T0 + timedelta(hours=10), 70, 12, 48, noise=0.3)
    now = watered[-1].at
    predicted = forecast(watered, 30.0, now)
    # 70 - 12 * 47/24 ≈ 46.5 now; 16.5 points at 12 a day ≈ 33 h.
    assert predicted.status == "in_days"
    assert predicted.drying_per_day == pytest.approx(12, abs=0.5)
    assert predicted.hours_until_dry == pytest.approx(33, abs=2)
    assert predicted.days == 1
    assert predicted.text == "Needs water in about 1 day"
    assert predicted.last_watered_at == T0 + timedelta(hours=10)


def test_forecast_today_now_and_unknown() -> None:
    series = dry_down(T0, 70, 12, 80)  # 70 → 30.5 at hour 79
    near = forecast(series, 28.0, series[-1].at, day_end=series[-1].at + timedelta(hours=6))
    assert near.status == "today"
    assert near.text == "Needs water today"
    assert forecast(series, 35.0, series[-1].at).status == "now"
    assert forecast(series, None, series[-1].at).reason == "no moisture minimum set for this plant"
    assert forecast([], 30.0, T0).status == "unknown"
    flat = [MoistureSample(T0 + timedelta(hours=h), 50.0) for h in range(30)]
    assert forecast(flat, 30.0, flat[-1].at).reason == "the soil is not drying"


def test_just_after_a_watering_the_previous_dry_down_gives_the_rate() -> None:
    series = dry_down(T0, 70, 10, 96) + dry_down(T0 + timedelta(hours=96), 72, 10, 3)
    predicted = forecast(series, 30.0, series[-1].at)
    assert predicted.status == "in_days"
    assert predicted.drying_per_day == pytest.approx(10, abs=0.3)


def test_the_newest_reading_moves_the_forecast_before_its_hour_closes() -> None:
    series = dry_down(T0, 70, 10, 72)  # 70 → 40.4 over three days, minimum 30
    hour_later = series[-1].at + timedelta(minutes=50)
    dried_out = forecast(series, 30.0, hour_later, latest=MoistureSample(hour_later, 2.0))
    assert dried_out.status == "now"
    assert dried_out.moisture == 2.0
    watered = forecast(series, 30.0, hour_later, latest=MoistureSample(hour_later, 75.0))
    assert watered.status == "in_days"
    assert watered.moisture == 75.0
    assert watered.hours_until_dry == pytest.approx(45 / 10 * 24, abs=3)
    # A reading within sensor noise of the hourly mean leaves the mean as the level.
    noisy = forecast(series, 30.0, hour_later, latest=MoistureSample(hour_later, 41.5))
    assert noisy == forecast(series, 30.0, hour_later)


def test_public_view_lists_events_newest_first() -> None:
    series = (
        dry_down(T0, 70, 12, 72)
        + dry_down(T0 + timedelta(hours=72), 72, 12, 72)
        + dry_down(T0 + timedelta(hours=144), 68, 12, 24)
    )
    public = watering_public(series, 30.0, series[-1].at)
    assert [e.at for e in public.events] == [T0 + timedelta(hours=144), T0 + timedelta(hours=72)]
    assert public.forecast.text.startswith("Needs water")
