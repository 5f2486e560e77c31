"""Diagnosis API bodies."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel

from cloud.diagnosis.models import Diagnosis
from cloud.diagnosis.ports import Finding


class TokenCounts(BaseModel):
    """Tokens billed over every attempt of a diagnosis."""

    prompt: int
    candidates: int
    total: int


class DiagnosisPublic(BaseModel):
    """A diagnosis: its job state and, once it succeeded, the verdict."""

    id: uuid.UUID
    image_id: uuid.UUID
    plant_id: uuid.UUID | None
    status: str  # queued, running, succeeded, failed (dead-lettered)
    health: str | None
    confidence: float | None
    summary: str | None
    findings: list[Finding]
    recommended_actions: list[str]
    follow_up: str | None
    model: str | None
    source: str | None  # "gemini" or "heuristic"
    tokens: TokenCounts
    attempts: int
    last_error_code: str | None
    last_error: str | None
    requested_at: datetime
    started_at: datetime | None
    next_attempt_at: datetime | None
    finished_at: datetime | None
    job_id: int | None = None
    job_status: str | None = None  # the queue's own state of the job, for operators

    @classmethod
    def of(cls, row: Diagnosis, job_status: str | None = None) -> DiagnosisPublic:
        """The public view of a stored diagnosis."""
        return cls(
            id=row.id,
            image_id=row.image_id,
            plant_id=row.plant_id,
            status=row.status,
            health=row.health,
            confidence=row.confidence,
            summary=row.summary,
            findings=[Finding.model_validate(item) for item in row.findings or []],
            recommended_actions=list(row.recommended_actions or []),
            follow_up=row.follow_up,
            model=row.model,
            source=row.source,
            tokens=TokenCounts(
                prompt=row.prompt_tokens, candidates=row.candidates_tokens, total=row.total_tokens
            ),
            attempts=row.attempts,
            last_error_code=row.last_error_code,
            last_error=row.last_error,
            requested_at=row.requested_at,
            started_at=row.started_at,
            next_attempt_at=row.next_attempt_at,
            finished_at=row.finished_at,
            job_id=row.job_id,
            job_status=job_status,
        )
