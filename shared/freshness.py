"""When a node's values stop being current: a few of its own sampling intervals of silence.

Both tiers judge staleness the same way: a node that samples every 10 min is stale after half
an hour, one that samples hourly after three hours. Pure: no I/O.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final

STALE_AFTER_INTERVALS: Final = 3  # missed sampling intervals before a node counts as silent
DEFAULT_SAMPLING_INTERVAL_S: Final = 600  # a node's interval before its config is known
_GRACE: Final = timedelta(seconds=60)  # advert bursts and clock jitter on short intervals


class NodeState(StrEnum):
    """How a node stands, as the gardener reads it."""

    OK = "ok"
    STALE = "stale"  # stopped reporting: its last values are not current
    WRONG_KEY = "wrong_key"  # adverts arrive but do not authenticate with the paired key
    NEVER_SEEN = "never_seen"  # paired, nothing heard yet


def stale_after(
    sampling_interval_s: float | None, intervals: int = STALE_AFTER_INTERVALS
) -> timedelta:
    """How long a node with this sampling interval may be silent before it is stale."""
    interval = sampling_interval_s or DEFAULT_SAMPLING_INTERVAL_S
    return timedelta(seconds=interval * intervals) + _GRACE


def is_stale(
    measured_at: datetime | None, now: datetime, sampling_interval_s: float | None
) -> bool:
    """True when a value measured at ``measured_at`` is no longer current (or never was)."""
    return measured_at is None or now - measured_at > stale_after(sampling_interval_s)


def node_state(
    last_seen: datetime | None,
    wrong_key_at: datetime | None,
    now: datetime,
    sampling_interval_s: float | None,
) -> NodeState:
    """The node's state from its last authenticated advert and its last failed one.

    A failed authentication newer than the last good advert is a wrong key at once: one failed
    advert is enough, since a real node never sends adverts its own key does not authenticate.
    """
    if wrong_key_at is not None and (last_seen is None or wrong_key_at > last_seen):
        return NodeState.WRONG_KEY
    if last_seen is None:
        return NodeState.NEVER_SEEN
    if is_stale(last_seen, now, sampling_interval_s):
        return NodeState.STALE
    return NodeState.OK
