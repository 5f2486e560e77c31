"""Image table: one row per photo an owner uploaded, deduplicated by content hash."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field

from cloud.db.base import CloudTable, timestamp, utcnow


class ImageStatus(StrEnum):
    """Where an image is in the upload flow."""

    PENDING = "pending"  # slot handed out, bytes not verified yet
    COMPLETE = "complete"  # bytes verified and recorded in Visual History


class Image(CloudTable, table=True):
    """A photo of a plant. The bytes live in the object store under ``object_key``."""

    __tablename__ = "images"
    __table_args__ = (
        UniqueConstraint("owner_id", "sha256"),
        Index("ix_images_plant_id_captured_at", "plant_id", "captured_at"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    owner_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    )
    plant_id: uuid.UUID | None = Field(
        default=None,
        sa_column=Column(ForeignKey("plants.id", ondelete="CASCADE"), nullable=True),
    )
    node_id: uuid.UUID | None = Field(
        default=None,
        sa_column=Column(ForeignKey("nodes.id", ondelete="SET NULL"), nullable=True, index=True),
    )
    hub_id: uuid.UUID | None = Field(
        default=None,
        sa_column=Column(ForeignKey("hubs.id", ondelete="SET NULL"), nullable=True),
    )
    object_key: str = Field(sa_column=Column(String(512), nullable=False))
    thumbnail_key: str | None = Field(default=None, sa_column=Column(String(512)))
    sha256: str = Field(sa_column=Column(String(64), nullable=False))
    byte_size: int = Field(sa_column=Column(BigInteger, nullable=False))
    content_type: str = Field(sa_column=Column(String(32), nullable=False))
    width: int | None = Field(default=None, sa_column=Column(Integer))
    height: int | None = Field(default=None, sa_column=Column(Integer))
    captured_at: datetime = Field(sa_column=timestamp())
    canopy_cover: float | None = Field(default=None, sa_column=Column(Float))
    excess_green_mean: float | None = Field(default=None, sa_column=Column(Float))
    green_pixels: int | None = Field(default=None, sa_column=Column(BigInteger))
    brightness: float | None = Field(default=None, sa_column=Column(Float))
    quality_flags: list[str] | None = Field(default=None, sa_column=Column(JSONB))
    status: str = Field(default=ImageStatus.PENDING, sa_column=Column(String(16), nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=timestamp())
    completed_at: datetime | None = Field(default=None, sa_column=timestamp(nullable=True))

    def metrics_dict(self) -> dict[str, Any] | None:
        """The hub's green-pixel metrics, or None when it sent none."""
        if self.canopy_cover is None:
            return None
        return {
            "canopy_cover": self.canopy_cover,
            "excess_green_mean": self.excess_green_mean,
            "green_pixels": self.green_pixels,
            "brightness": self.brightness,
            "flags": self.quality_flags or [],
        }
