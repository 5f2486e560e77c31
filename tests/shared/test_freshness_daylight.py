"""Staleness by the node's own interval, node states, and the daily light integral verdicts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared import daylight
from shared.freshness import NodeState, is_stale, node_state, stale_after
from shared.metrics import DLI, daily_light_integral

pytestmark = pytest.mark.pi

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)


def test_stale_follows_the_nodes_own_interval() -> None:
    assert stale_after(600) == timedelta(minutes=31)
    assert stale_after(3600) == timedelta(hours=3, minutes=1)
    assert not is_stale(NOW - timedelta(minutes=25), NOW, 600)
    assert is_stale(NOW - timedelta(minutes=40), NOW, 600)
    assert not is_stale(NOW - timedelta(minutes=40), NOW, 3600)  # an hourly node is not late
    assert is_stale(None, NOW, 600)


def test_an_unknown_interval_uses_the_nodes_default() -> None:
    assert stale_after(None) == stale_after(600)


def test_one_failed_advert_newer_than_the_last_good_one_is_a_wrong_key() -> None:
    seen = NOW - timedelta(seconds=5)
    assert node_state(seen, NOW, NOW, 600) is NodeState.WRONG_KEY
    assert node_state(None, NOW, NOW, 600) is NodeState.WRONG_KEY
    # Re-paired with the right key: the next good advert wins.
    assert node_state(NOW, seen, NOW, 600) is NodeState.OK


def test_never_heard_and_silent_nodes() -> None:
    assert node_state(None, None, NOW, 600) is NodeState.NEVER_SEEN
    assert node_state(NOW - timedelta(hours=1), None, NOW, 600) is NodeState.STALE
    assert node_state(NOW - timedelta(minutes=5), None, NOW, 600) is NodeState.OK


def test_day_integral_needs_enough_readings() -> None:
    assert daylight.integral(20000.0, DLI.min_samples - 1) is None
    assert daylight.integral(5400.0, DLI.min_samples) == round(daily_light_integral(5400.0), 2)


def test_a_completed_day_is_judged_against_both_limits() -> None:
    assert daylight.day(1000.0, 100, 6.0, 20.0).status == "low"  # 1.6 mol/m²/day
    assert daylight.day(8000.0, 100, 6.0, 20.0).status == "ok"  # 12.8
    assert daylight.day(20000.0, 100, 6.0, 20.0).status == "high"  # 32
    assert daylight.day(None, 0, 6.0, 20.0).status == "unknown"


def test_today_so_far_is_never_low_before_the_day_ends() -> None:
    morning = daylight.day(1000.0, 30, 6.0, 20.0, hours=6.0)
    assert morning.dli == round(daily_light_integral(1000.0, 6.0), 2)
    assert morning.status == "ok"
    assert daylight.day(40000.0, 30, 6.0, 20.0, hours=12.0).status == "high"
