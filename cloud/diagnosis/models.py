"""Diagnosis tables: one row per diagnosis request of an image, and the shared call budget."""

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
    Uuid,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field

from cloud.db.base import CloudTable, timestamp, utcnow


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
