"""The ``readings`` and ``readings_hourly`` tables."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from hub.store.types import EpochMs, SyncState
from shared.metrics import METRIC_NAMES

METRIC_COLUMNS: tuple[str, ...] = METRIC_NAMES


class Reading(SQLModel, table=True):
    """One measurement of one sensor channel of a node; unique per (node, channel,
    measured_at) and per (node, seq_epoch, seq, channel). ``channel`` 0 is the node's first
    sensor of each kind, 1 the second (BTHome sends the object twice), …

    ``seq_epoch`` is the node's counter epoch when the reading was taken: it changes when the
    node's counter restarts (lost flash, re-pairing with a new key), so seqs may repeat across it.
    """

    __tablename__ = "readings"

    id: int | None = Field(default=None, primary_key=True)
    node_id: int = Field(foreign_key="nodes.id")
    channel: int = 0
    measured_at: datetime = Field(sa_type=EpochMs)
    seq: int | None = None
    seq_epoch: int = 0
    source: str
    for _name in METRIC_COLUMNS:  # one nullable column per registry metric
        __annotations__[_name] = "float | None"
        vars()[_name] = None
    del _name
    sync_state: int = SyncState.PENDING
    batch_id: int | None = None
    reject_reason: str | None = None


class ReadingHourly(SQLModel, table=True):
    """Per node, channel and hour: count and sum/n/min/max of each metric (mergeable)."""

    __tablename__ = "readings_hourly"

    node_id: int = Field(primary_key=True)
    channel: int = Field(default=0, primary_key=True)
    hour: int = Field(primary_key=True)  # epoch ms of the hour's start
    count: int
    for _name in METRIC_COLUMNS:  # sum/n/min/max per registry metric
        __annotations__.update(
            {
                f"{_name}_sum": "float | None",
                f"{_name}_n": "int",
                f"{_name}_min": "float | None",
                f"{_name}_max": "float | None",
            }
        )
        vars().update(
            {f"{_name}_sum": None, f"{_name}_n": 0, f"{_name}_min": None, f"{_name}_max": None}
        )
    del _name
