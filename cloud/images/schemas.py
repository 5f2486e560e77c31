"""Visual History API bodies."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel

from cloud.diagnosis.models import Image
from cloud.diagnosis.schemas import DiagnosisPublic
from shared.sync import ImageMetrics


class ImagePublic(BaseModel):
    """A photo in a plant's Visual History, with its latest diagnosis."""

    id: uuid.UUID
    plant_id: uuid.UUID | None
    node_id: uuid.UUID | None
    captured_at: datetime
    byte_size: int
    content_type: str
    width: int | None
    height: int | None
    sha256: str
    metrics: ImageMetrics | None
    status: str
    created_at: datetime
    latest_diagnosis: DiagnosisPublic | None = None

    @classmethod
    def of(cls, row: Image, latest: DiagnosisPublic | None = None) -> ImagePublic:
        """The public view of a stored image."""
        metrics = row.metrics_dict()
        return cls(
            id=row.id,
            plant_id=row.plant_id,
            node_id=row.node_id,
            captured_at=row.captured_at,
            byte_size=row.byte_size,
            content_type=row.content_type,
            width=row.width,
            height=row.height,
            sha256=row.sha256,
            metrics=ImageMetrics.model_validate(metrics) if metrics else None,
            status=row.status,
            created_at=row.created_at,
            latest_diagnosis=latest,
        )


class ImageDetail(ImagePublic):
    """One photo with short-lived URLs for its bytes and its thumbnail."""

    download_url: str
    thumbnail_url: str | None
    urls_expire_at: datetime
