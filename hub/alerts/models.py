"""The ``alerts`` table."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from hub.store.types import EpochMs, SyncState


class Alert(SQLModel, table=True):
    """An alert evaluated on the hub; its id is the ``local_id`` the cloud dedups on."""

    __tablename__ = "alerts"

    id: str = Field(primary_key=True)
    node_mac: str | None = None
    plant_id: str | None = None
    kind: str
    metric: str | None = None
    rule: str | None = None  # None: threshold on the latest reading; "dli": daily light integral
    message: str  # the text at opening (°C), as synced; the API writes it anew when shown
    value: float | None = None  # what it opened on (minutes silent for a stale node)
    bound: float | None = None  # the limit crossed
    opened_at: datetime = Field(sa_type=EpochMs)
    resolved_at: datetime | None = Field(default=None, sa_type=EpochMs)
    acknowledged_at: datetime | None = Field(default=None, sa_type=EpochMs)
    sync_state: int = SyncState.PENDING
    batch_id: int | None = None
    reject_reason: str | None = None


class AlertState(SQLModel, table=True):
    """Where the shared alert engine stands for one node and metric (or "dli")."""

    __tablename__ = "alert_states"

    node_id: int = Field(primary_key=True)
    metric: str = Field(primary_key=True)
    breach: str | None = None  # low / high
    breach_since: datetime | None = Field(default=None, sa_type=EpochMs)
    breach_value: float | None = None
    alert_id: str | None = None
    last_evaluated_at: datetime | None = Field(default=None, sa_type=EpochMs)
