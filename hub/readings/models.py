"""The ``readings`` table (``hub.readings.repository`` writes and reads its hourly rollups)."""

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
