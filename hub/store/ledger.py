"""The sync tables: persisted batches and the per-kind ledger."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from hub.store.types import EpochMs


class SyncBatch(SQLModel, table=True):
    """A batch written before it is sent, so a resend after a crash reuses its id and rows."""

    __tablename__ = "sync_batches"

    id: int | None = Field(default=None, primary_key=True)
    batch_uuid: str = Field(unique=True)
    kind: str
    created_at: datetime = Field(sa_type=EpochMs)
    item_count: int
    acked_at: datetime | None = Field(default=None, sa_type=EpochMs)


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
