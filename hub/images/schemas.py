"""API models for images."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from shared.sync import ImageMetrics


class ImagePublic(BaseModel):
    """A stored photo with its green-pixel metrics."""

    id: str
    sha256: str
    plant_id: str | None
    source: str
    captured_at: datetime
    received_at: datetime
    content_type: str
    byte_size: int
    width: int | None
    height: int | None
    file_present: bool
    metrics: ImageMetrics | None
    metrics_error: str | None
    sync_state: str
    upload_state: str
    reject_reason: str | None
    file_url: str
    thumbnail_url: str | None
