"""The seam between the diagnosis jobs and whatever looks at the photo.

A ``Diagnoser`` takes one photo and the plant's context and returns a ``DiagnosisReport`` or
raises ``DiagnosisFailed``: an answer that cannot be trusted (unparseable, truncated, blocked) is
a failed attempt, never a diagnosis. ``DiagnosisFailed.retryable`` tells the job queue whether
another attempt may succeed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from shared.metrics import Metric
from shared.sync import AlertKind, ImageMetrics, Thresholds

# --- what a diagnosis says (also the response schema Gemini must follow) ----------------------


class HealthStatus(StrEnum):
    """Overall verdict on the plant in the photo."""

    HEALTHY = "healthy"
    STRESSED = "stressed"  # abiotic stress: water, light, temperature, nutrients
    DISEASED = "diseased"  # fungal, bacterial or viral disease
    PEST = "pest"  # insects, mites, other animals
    NOT_A_PLANT = "not_a_plant"  # the photo shows no plant
    UNCLEAR = "unclear"  # the photo or the data do not allow a verdict


class CauseType(StrEnum):
    """Whether a problem comes from a living agent or from the environment."""

    BIOTIC = "biotic"
    ABIOTIC = "abiotic"


class Finding(BaseModel):
    """One problem seen, its likely cause and what points to it."""

    model_config = ConfigDict(extra="ignore")

    issue: str = Field(min_length=1, max_length=300, description="What is wrong, briefly.")
    likely_cause: str = Field(min_length=1, max_length=500, description="The most likely cause.")
    cause_type: CauseType = Field(description="biotic (pathogen, pest) or abiotic (environment).")
    evidence: str = Field(
        min_length=1,
        max_length=1000,
        description="What in the photo or the sensor history supports this finding.",
    )


class DiagnosisAnswer(BaseModel):
    """A diagnosis of one photo, as the model (or the heuristic) answers it."""

    model_config = ConfigDict(extra="ignore")

    health: HealthStatus = Field(description="Overall health verdict.")
    confidence: float = Field(ge=0, le=1, description="Confidence in the verdict, 0 to 1.")
    summary: str = Field(min_length=1, max_length=1000, description="One or two sentences.")
    findings: list[Finding] = Field(default_factory=list, max_length=10)
    recommended_actions: list[str] = Field(
        default_factory=list,
        max_length=10,
        description="Concrete steps for the gardener, most important first.",
    )
    follow_up: str = Field(
        default="",
        max_length=1000,
        description="When to check again and what to look for.",
    )


# --- what a diagnoser is given ----------------------------------------------------------------


class DailyMetricSummary(BaseModel):
    """One metric over one UTC day."""

    day: date
    metric: Metric
    min: float
    mean: float
    max: float
    count: int = Field(ge=1)


class CanopyPoint(BaseModel):
    """Canopy cover of one earlier photo of the same plant."""

    captured_at: datetime
    canopy_cover: float = Field(ge=0, le=1)


class AlertSummary(BaseModel):
    """An alert raised for the plant or its node recently."""

    kind: AlertKind
    metric: Metric | None = None
    message: str
    opened_at: datetime
    resolved_at: datetime | None = None


class PlantContext(BaseModel):
    """Everything besides the photo that a diagnosis may use."""

    plant_name: str
    species_common_name: str | None = None
    species_scientific_name: str | None = None
    location: str | None = None
    thresholds: Thresholds = Thresholds()
    captured_at: datetime
    image_metrics: ImageMetrics | None = None
    daily: list[DailyMetricSummary] = []
    canopy_trend: list[CanopyPoint] = []
    recent_alerts: list[AlertSummary] = []


@dataclass(frozen=True, slots=True)
class DiagnosisImage:
    """The photo's bytes and type."""

    data: bytes
    mime_type: Literal["image/jpeg", "image/png"]


# --- what a diagnoser returns -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TokenUsage:
    """Tokens billed for one model call."""

    prompt_tokens: int
    candidates_tokens: int
    total_tokens: int
    thoughts_tokens: int = 0


DiagnosisSource = Literal["gemini", "heuristic"]


@dataclass(frozen=True, slots=True)
class DiagnosisReport:
    """A trusted diagnosis, labelled with what produced it."""

    answer: DiagnosisAnswer
    model: str
    source: DiagnosisSource
    usage: TokenUsage | None = None


class FailureCode(StrEnum):
    """Why an attempt produced no diagnosis."""

    RATE_LIMITED = "rate_limited"  # 429 / RESOURCE_EXHAUSTED
    UNAVAILABLE = "unavailable"  # 5xx
    TIMEOUT = "timeout"
    NETWORK = "network"
    REJECTED = "rejected"  # other 4xx: bad key, bad request, unsupported model
    UNPARSEABLE = "unparseable"  # not JSON, or not the schema
    TRUNCATED = "truncated"  # finish_reason MAX_TOKENS
    BLOCKED = "blocked"  # safety or policy block, of the prompt or the answer
    EMPTY = "empty"  # no candidate, no text
    IMAGE_MISSING = "image_missing"  # the photo's object is gone from the store
    STORAGE = "storage_unavailable"  # the store did not answer
    INTERNAL = "internal"  # an unexpected error in the job (logged with its traceback)


class DiagnosisFailed(Exception):
    """An attempt that produced no diagnosis. ``retryable`` says whether to try again."""

    def __init__(
        self,
        code: FailureCode,
        message: str,
        *,
        retryable: bool,
        usage: TokenUsage | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(f"{code.value}: {message}")
        self.code = code
        self.message = message
        self.retryable = retryable
        self.usage = usage
        self.retry_after_s = retry_after_s


class Diagnoser(Protocol):
    """Looks at one photo of a plant, in the plant's context."""

    @property
    def model(self) -> str:
        """Model name recorded with each report (e.g. ``gemini-2.5-flash``, ``heuristic-v1``)."""
        ...

    @property
    def source(self) -> DiagnosisSource:
        """``"gemini"`` or ``"heuristic"``."""
        ...

    async def diagnose(self, image: DiagnosisImage, context: PlantContext) -> DiagnosisReport:
        """Diagnose the photo, or raise ``DiagnosisFailed``."""
        ...
