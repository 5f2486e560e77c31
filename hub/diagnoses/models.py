"""The ``diagnoses`` table: the cloud's diagnoses of this hub's plants, as last pulled."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from hub.store.types import EpochMs


class Diagnosis(SQLModel, table=True):
    """One cloud diagnosis of a plant's photo (findings and actions as JSON lists)."""

    __tablename__ = "diagnoses"

    id: str = Field(primary_key=True)  # the cloud's UUID
    plant_id: str
    image_sha256: str | None = None
    image_captured_at: datetime | None = Field(default=None, sa_type=EpochMs)
    status: str
    health: str | None = None
    confidence: float | None = None
    summary: str | None = None
    findings: str = "[]"  # JSON list of shared.sync.DiagnosisFinding
    recommended_actions: str = "[]"  # JSON list of strings
    follow_up: str | None = None
    source: str | None = None
    model: str | None = None
    requested_at: datetime = Field(sa_type=EpochMs)
    finished_at: datetime | None = Field(default=None, sa_type=EpochMs)
    received_at: datetime = Field(sa_type=EpochMs)
