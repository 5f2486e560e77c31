"""The ``readings`` and ``readings_hourly`` tables."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from hub.store.types import EpochMs, SyncState
from shared.units import Metric

METRIC_COLUMNS: tuple[str, ...] = tuple(m.value for m in Metric)


class Reading(SQLModel, table=True):
    """One measurement of one node; unique per (node, measured_at) and per (node, seq_epoch, seq).

    ``seq_epoch`` is the node's counter epoch when the reading was taken: it changes when the
    node's counter restarts (lost flash, re-pairing with a new key), so seqs may repeat across it.
    """

    __tablename__ = "readings"

    id: int | None = Field(default=None, primary_key=True)
    node_id: int = Field(foreign_key="nodes.id")
    measured_at: datetime = Field(sa_type=EpochMs)
    seq: int | None = None
    seq_epoch: int = 0
    source: str
    moisture: float | None = None
    temperature: float | None = None
    humidity: float | None = None
    illuminance: float | None = None
    battery: float | None = None
    sync_state: int = SyncState.PENDING
    batch_id: int | None = None
    reject_reason: str | None = None


class ReadingHourly(SQLModel, table=True):
    """Per node and hour: count and sum/n/min/max of each metric (mergeable)."""

    __tablename__ = "readings_hourly"

    node_id: int = Field(primary_key=True)
    hour: int = Field(primary_key=True)  # epoch ms of the hour's start
    count: int
    moisture_sum: float | None = None
    moisture_n: int = 0
    moisture_min: float | None = None
    moisture_max: float | None = None
    temperature_sum: float | None = None
    temperature_n: int = 0
    temperature_min: float | None = None
    temperature_max: float | None = None
    humidity_sum: float | None = None
    humidity_n: int = 0
    humidity_min: float | None = None
    humidity_max: float | None = None
    illuminance_sum: float | None = None
    illuminance_n: int = 0
    illuminance_min: float | None = None
    illuminance_max: float | None = None
    battery_sum: float | None = None
    battery_n: int = 0
    battery_min: float | None = None
    battery_max: float | None = None
