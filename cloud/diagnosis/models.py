"""The image pipeline's tables: one row per photo an owner uploaded (deduplicated by content
hash), one per diagnosis request of a photo, and the shared call budget. The photo table lives
here, below ``cloud.images`` (which stores, lists and serves photos), because diagnosing reads it;
``cloud.images`` calls the diagnosis service, never the other way round."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
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


class DiagnosisStatus(StrEnum):
    """Lifecycle of a diagnosis request."""

    QUEUED = "queued"  # waiting for a worker (first attempt or a retry)
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # dead-lettered: attempts exhausted or a permanent error


ACTIVE_STATUSES = (DiagnosisStatus.QUEUED.value, DiagnosisStatus.RUNNING.value)


class Diagnosis(CloudTable, table=True):
    """A diagnosis of one image: its job state, then the verdict and what it cost."""

    __tablename__ = "diagnoses"
    __table_args__ = (
        Index("ix_diagnoses_plant_id_requested_at", "plant_id", "requested_at"),
        Index("ix_diagnoses_image_id_requested_at", "image_id", "requested_at"),
        # One queued/running diagnosis per image: requests while one is active reuse it.
        Index(
            "uq_diagnoses_image_id_active",
            "image_id",
            unique=True,
            postgresql_where="status IN ('queued', 'running')",
        ),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    owner_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    image_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("images.id", ondelete="CASCADE"), nullable=False)
    )
    plant_id: uuid.UUID | None = Field(default=None, sa_column=Column(Uuid, nullable=True))
    status: str = Field(
        default=DiagnosisStatus.QUEUED, sa_column=Column(String(16), nullable=False)
    )
    health: str | None = Field(default=None, sa_column=Column(String(16)))
    confidence: float | None = Field(default=None, sa_column=Column(Float))
    summary: str | None = Field(default=None, sa_column=Column(Text))
    findings: list[dict[str, Any]] | None = Field(default=None, sa_column=Column(JSONB))
    recommended_actions: list[str] | None = Field(default=None, sa_column=Column(JSONB))
    follow_up: str | None = Field(default=None, sa_column=Column(Text))
    model: str | None = Field(default=None, sa_column=Column(String(64)))
    source: str | None = Field(default=None, sa_column=Column(String(16)))
    # Tokens billed over every attempt (failed attempts cost tokens too).
    prompt_tokens: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    candidates_tokens: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    total_tokens: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    attempts: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    last_error_code: str | None = Field(default=None, sa_column=Column(String(32)))
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    job_id: int | None = Field(default=None, sa_column=Column(BigInteger))
    requested_at: datetime = Field(default_factory=utcnow, sa_column=timestamp())
    started_at: datetime | None = Field(default=None, sa_column=timestamp(nullable=True))
    next_attempt_at: datetime | None = Field(default=None, sa_column=timestamp(nullable=True))
    finished_at: datetime | None = Field(default=None, sa_column=timestamp(nullable=True))


class DiagnosisRateWindow(CloudTable, table=True):
    """Model calls started in one minute, shared by every worker (the rate limit's counter)."""

    __tablename__ = "diagnosis_rate_windows"

    window_start: datetime = Field(sa_column=Column(DateTime(timezone=True), primary_key=True))
    calls: int = Field(default=0, sa_column=Column(Integer, nullable=False))
