"""Diagnosis API bodies."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from shared.sync import DiagnosisFinding


class DiagnosisPhoto(BaseModel):
    """The photo a diagnosis looked at, when the hub holds it."""

    image_id: str
    thumbnail_url: str | None
    file_url: str


class DiagnosisPublic(BaseModel):
    """A cloud diagnosis as the hub shows it."""

    id: str
    plant_id: str
    status: str  # queued, running, succeeded, failed
    health: str | None  # healthy, stressed, diseased, pest, not_a_plant, unclear
    confidence: float | None
    summary: str | None
    findings: list[DiagnosisFinding]
    recommended_actions: list[str]
    follow_up: str | None
    source: str | None  # "gemini" or "heuristic"
    model: str | None
    image_sha256: str | None
    image_captured_at: datetime | None
    photo: DiagnosisPhoto | None
    requested_at: datetime
    finished_at: datetime | None
    received_at: datetime  # when this hub pulled it


class DiagnosisList(BaseModel):
    """A plant's diagnoses, newest first, and when the hub last checked the cloud."""

    items: list[DiagnosisPublic]
    last_checked_at: datetime | None
    linked: bool
