"""The ``images`` table: one row per distinct photo (by content hash)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlmodel import Field, SQLModel

from hub.store.types import EpochMs, SyncState


class UploadState(StrEnum):
    """Where an image's cloud upload stands: needs a slot, needs its bytes, done."""

    SLOT = "slot"
    UPLOAD = "upload"
    COMPLETE = "complete"


class Image(SQLModel, table=True):
    """A stored photo; the file lives under ``images/`` by sha256."""

    __tablename__ = "images"

    id: str = Field(primary_key=True)
    sha256: str = Field(unique=True)
    node_id: int | None = Field(default=None, foreign_key="nodes.id")
    plant_id: str | None = None
    node_image_id: int | None = None
    source: str  # "ble" or "upload"
    captured_at: datetime = Field(sa_type=EpochMs)
    received_at: datetime = Field(sa_type=EpochMs)
    content_type: str
    byte_size: int
    width: int | None = None
    height: int | None = None
    path: str
    thumbnail_path: str | None = None
    file_present: bool = True
    metrics: str | None = None  # ImageMetrics JSON
    metrics_error: str | None = None
    sync_state: int = SyncState.PENDING
    upload_state: str = UploadState.SLOT
    cloud_image_id: str | None = None
    bytes_sent: int = 0
    reject_reason: str | None = None
