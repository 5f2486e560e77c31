"""The sync ledger: what happened last for each kind of data (written by the sync, read by the
diagnoses page for when they were last pulled)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from hub.store.types import EpochMs


class SyncLedger(SQLModel, table=True):
    """What happened last for one kind of data."""

    __tablename__ = "sync_ledger"

    kind: str = Field(primary_key=True)
    last_attempt_at: datetime | None = Field(default=None, sa_type=EpochMs)
    last_success_at: datetime | None = Field(default=None, sa_type=EpochMs)
    last_error: str | None = None
    last_error_at: datetime | None = Field(default=None, sa_type=EpochMs)
    items_sent: int = 0
    items_rejected: int = 0
    bytes_sent: int = 0
