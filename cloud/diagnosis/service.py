"""Diagnosis requests (API) and the diagnosis job itself (worker).

A diagnosis row is the durable record: its status, attempts, last error and token use are
written by the job in short transactions around the model call. The model call itself holds
no database transaction. Only one attempt can store a verdict: the final write requires the
row to still be ``running``, so a job re-run after a stalled worker never stores twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final, Literal, Protocol, cast

import structlog
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlmodel import col

from cloud.auth.models import Hub
from cloud.db.session import raw_connection
from cloud.diagnosis import repository
from cloud.diagnosis.metrics import PipelineCounters
from cloud.diagnosis.models import Diagnosis, DiagnosisStatus, Image, ImageStatus
from cloud.diagnosis.ports import (
    AlertSummary,
    CanopyPoint,
    Diagnoser,
    DiagnosisFailed,
    DiagnosisImage,
    DiagnosisReport,
    FailureCode,
    Finding,
    PlantContext,
    TokenUsage,
)
from cloud.diagnosis.schemas import DiagnosisPublic
from cloud.errors import NotFoundError
from cloud.jobs.queue import RetryLater, backoff, defer, job_status, task_name
from cloud.notifications.ports import Subject
from cloud.notifications.preferences import DIAGNOSIS_READY
from cloud.notifications.queueing import Event, notify
from cloud.pagination import Page, PageRequest
from cloud.settings.images import ImageSettings
from cloud.storage.ports import ObjectNotFound, ObjectStore, StorageError
from shared.sync import (
    DIAGNOSES_PER_PLANT,
    AlertKind,
    DiagnosisDigest,
    DiagnosisFinding,
    ImageMetrics,
    PlantDiagnosis,
    Thresholds,
)

_log = structlog.get_logger("cloud.diagnosis")

DIAGNOSE_TASK: Final = task_name("diagnose_image")


class PipelineDeps(Protocol):
    """What the diagnosis job needs (``cloud.worker.WorkerDeps`` provides it)."""

    @property
    def engine(self) -> AsyncEngine: ...
    @property
    def store(self) -> ObjectStore: ...
    @property
    def diagnoser(self) -> Diagnoser: ...
    @property
    def settings(self) -> ImageSettings: ...
    @property
    def counters(self) -> PipelineCounters | None: ...
    def session(self) -> AsyncSession:
        """A new session; the task owns its transactions."""
        ...


CANOPY_TREND_DAYS = 30
CANOPY_TREND_POINTS = 12


class DeadLettered(Exception):
    """The diagnosis failed for good (permanent error or attempts exhausted): no retry."""


async def active_for_image(session: AsyncSession, image_id: uuid.UUID) -> Diagnosis | None:
    """The image's queued or running diagnosis, if any."""
    return await repository.active_for_image(session, image_id)


async def request_diagnosis(session: AsyncSession, image: Image) -> tuple[Diagnosis, bool]:
    """Queue a diagnosis of ``image`` unless one is already queued or running.

    Returns the active diagnosis and whether it was created now. The job is deferred in the
    caller's transaction, deduplicated by the owner and the image's hash.
    """
    active = await repository.active_for_image(session, image.id)
    if active is not None:
        return active, False
    diagnosis = Diagnosis(owner_id=image.owner_id, image_id=image.id, plant_id=image.plant_id)
    try:
        async with session.begin_nested():
            session.add(diagnosis)
            await session.flush()
    except IntegrityError:
        # A concurrent request queued one first (one active diagnosis per image): reuse it.
        active = await repository.active_for_image(session, image.id)
        if active is None:
            raise
        return active, False
    diagnosis.job_id = await defer(
        session,
        DIAGNOSE_TASK,
        {"diagnosis_id": str(diagnosis.id)},
        queueing_lock=f"diagnose:{image.owner_id}:{image.sha256}",
    )
    await session.flush()
    return diagnosis, True


async def on_images_attributed(
    session: AsyncSession, image_ids: Sequence[uuid.UUID], plant_id: uuid.UUID
) -> None:
    """Photos now belong to ``plant_id``: so do their diagnoses (the plant's history lists them)."""
    await repository.set_plant(session, image_ids, plant_id)


async def refresh_with_context(session: AsyncSession, image_id: uuid.UUID) -> bool:
    """Diagnose a photo again now that it has a plant, if it was diagnosed without one.

    A queued diagnosis needs nothing: the job reads the plant's context when it runs. A photo
    never diagnosed (diagnoses turned off) stays so. Returns whether a diagnosis was queued.
    """
    latest = (await repository.latest_for_images(session, [image_id])).get(image_id)
    if latest is None or latest.status == DiagnosisStatus.QUEUED:
        return False
    image = await session.get(Image, image_id)
    if image is None:
        return False
    await session.refresh(image)  # the attribution was a bulk UPDATE
    _, created = await request_diagnosis(session, image)
    return created


async def latest_for_images(
    session: AsyncSession, image_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, DiagnosisPublic]:
    """The newest diagnosis of each image, as public views."""
    rows = await repository.latest_for_images(session, image_ids)
    return {image_id: DiagnosisPublic.of(row) for image_id, row in rows.items()}


async def list_plant_diagnoses(
    session: AsyncSession, owner_id: uuid.UUID, plant_id: uuid.UUID, page: PageRequest
) -> Page[DiagnosisPublic]:
    """A page of the plant's diagnosis history, newest first."""
    if await repository.plant_of_owner(session, owner_id, plant_id) is None:
        raise NotFoundError("plant not found")
    return (await repository.list_for_plant(session, plant_id, page)).map(DiagnosisPublic.of)


async def get_diagnosis(
    session: AsyncSession, owner_id: uuid.UUID, diagnosis_id: uuid.UUID
) -> DiagnosisPublic:
    """One diagnosis with its job's state in the queue."""
    row = await repository.for_owner(session, owner_id, diagnosis_id)
    if row is None:
        raise NotFoundError("diagnosis not found")
    status = await job_status(session, row.job_id) if row.job_id is not None else None
    return DiagnosisPublic.of(row, status)


async def rediagnose(
    session: AsyncSession, owner_id: uuid.UUID, image_id: uuid.UUID
) -> tuple[DiagnosisPublic, bool]:
    """Ask for a new diagnosis of one of the owner's photos (or return the one under way)."""
    image = await repository.image_of_owner(session, owner_id, image_id)
    if image is None or image.status != ImageStatus.COMPLETE:
        raise NotFoundError("image not found")
    diagnosis, created = await request_diagnosis(session, image)
    return DiagnosisPublic.of(diagnosis), created


# --- the job ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Claim:
    diagnosis_id: uuid.UUID
    attempt: int
    image: Image


async def run_diagnosis(deps: PipelineDeps, diagnosis_id: uuid.UUID) -> str:
    """The diagnosis job: claim, call the diagnoser, record the verdict or the failure.

    Returns what happened (``succeeded``, ``skipped``); raises ``RetryLater`` to be run again
    and ``DeadLettered`` when it gives up.
    """
    settings = deps.settings
    limited = deps.diagnoser.source != "heuristic"  # the heuristic makes no paid calls
    async with deps.session() as session, session.begin():
        claim = await _claim(
            session,
            diagnosis_id,
            settings.diagnosis_rpm if limited else None,
            settings.diagnosis_max_attempts,
        )
    if isinstance(claim, str):
        return claim
    if isinstance(claim, datetime):
        _count(deps, "rate_limited")
        raise RetryLater(claim, "rate limit: this minute's model calls are used up")

    try:
        async with deps.session() as session:
            context = await build_context(session, claim.image, settings.diagnosis_context_days)
        data = await deps.store.get(claim.image.object_key)
        mime = cast(Literal["image/jpeg", "image/png"], claim.image.content_type)
        report = await deps.diagnoser.diagnose(DiagnosisImage(data, mime), context)
    except DiagnosisFailed as exc:
        return await _record_failure(deps, claim, exc)
    except ObjectNotFound:
        failure = DiagnosisFailed(
            FailureCode.IMAGE_MISSING, "the photo is gone from the store", retryable=False
        )
        return await _record_failure(deps, claim, failure)
    except StorageError as exc:
        failure = DiagnosisFailed(FailureCode.STORAGE, str(exc)[:300], retryable=True)
        return await _record_failure(deps, claim, failure)
    except Exception as exc:
        # Never leave the row "running" behind a failed job: a bounded, recorded attempt.
        _log.exception("diagnosis_attempt_crashed", diagnosis_id=str(diagnosis_id))
        failure = DiagnosisFailed(FailureCode.INTERNAL, type(exc).__name__, retryable=True)
        return await _record_failure(deps, claim, failure)
    async with deps.session() as session, session.begin():
        stored = await _record_success(session, claim, report)
        if stored:  # told in the same transaction: a stored verdict is always announced
            event = Event(claim.diagnosis_id, claim.image.owner_id, DIAGNOSIS_READY)
            await notify(await raw_connection(session), [event])
    _count(deps, "succeeded" if stored else "duplicate", report.usage)
    _log.info(
        "diagnosis_done" if stored else "diagnosis_duplicate_discarded",
        diagnosis_id=str(diagnosis_id),
        health=report.answer.health.value,
        source=report.source,
    )
    return "succeeded" if stored else "skipped"


def _count(deps: PipelineDeps, outcome: str, usage: TokenUsage | None = None) -> None:
    if deps.counters is None:
        return
    deps.counters.diagnoses.labels(outcome, deps.diagnoser.source).inc()
    if usage is not None:
        deps.counters.tokens.labels("prompt").inc(usage.prompt_tokens)
        deps.counters.tokens.labels("candidates").inc(usage.candidates_tokens)


async def _claim(
    session: AsyncSession, diagnosis_id: uuid.UUID, per_minute: int | None, max_attempts: int
) -> _Claim | datetime | str:
    """Lock the row and start an attempt; a datetime means "rate-limited until then"."""
    row = await repository.for_update(session, diagnosis_id)
    if row is None or row.status not in (DiagnosisStatus.QUEUED, DiagnosisStatus.RUNNING):
        return "skipped"  # deleted with its image, or already finished: nothing to do
    image = await session.get(Image, row.image_id)
    if image is None:
        return "skipped"
    now = datetime.now(UTC)
    if row.status == DiagnosisStatus.RUNNING and row.attempts >= max_attempts:
        # Every attempt died with its worker (a crash loop on this photo): give up for good.
        row.status = DiagnosisStatus.FAILED
        row.last_error_code = "worker_lost"
        row.last_error = f"the worker stopped during each of {row.attempts} attempts"
        row.finished_at = now
        session.add(row)
        _log.error("diagnosis_dead_lettered", diagnosis_id=str(row.id), code="worker_lost")
        return "skipped"
    if per_minute is not None and not await repository.take_rate_slot(session, per_minute, now):
        retry_at = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
        row.next_attempt_at = retry_at
        session.add(row)
        return retry_at
    # A row still "running" here was left by a worker that died: this is a new attempt.
    row.status = DiagnosisStatus.RUNNING
    row.attempts += 1
    row.started_at = now
    row.next_attempt_at = None
    session.add(row)
    return _Claim(diagnosis_id=row.id, attempt=row.attempts, image=image)


def _token_increments(usage: TokenUsage | None) -> dict[str, object]:
    if usage is None:
        return {}
    return {
        "prompt_tokens": col(Diagnosis.prompt_tokens) + usage.prompt_tokens,
        "candidates_tokens": col(Diagnosis.candidates_tokens) + usage.candidates_tokens,
        "total_tokens": col(Diagnosis.total_tokens) + usage.total_tokens,
    }


async def _record_success(session: AsyncSession, claim: _Claim, report: DiagnosisReport) -> bool:
    answer = report.answer
    result = await session.execute(
        update(Diagnosis)
        .where(
            col(Diagnosis.id) == claim.diagnosis_id,
            col(Diagnosis.status) == DiagnosisStatus.RUNNING.value,
        )
        .values(
            status=DiagnosisStatus.SUCCEEDED.value,
            health=answer.health.value,
            confidence=answer.confidence,
            summary=answer.summary,
            findings=[finding.model_dump(mode="json") for finding in answer.findings],
            recommended_actions=answer.recommended_actions,
            follow_up=answer.follow_up,
            model=report.model,
            source=report.source,
            finished_at=datetime.now(UTC),
            **_token_increments(report.usage),
        )
    )
    return bool(getattr(result, "rowcount", 0))


async def _record_failure(deps: PipelineDeps, claim: _Claim, exc: DiagnosisFailed) -> str:
    settings = deps.settings
    exhausted = claim.attempt >= settings.diagnosis_max_attempts
    final = not exc.retryable or exhausted
    now = datetime.now(UTC)
    retry_at = None
    if not final:
        retry_at = now + backoff(
            claim.attempt,
            settings.diagnosis_backoff_base_s,
            settings.diagnosis_backoff_max_s,
            exc.retry_after_s,
        )
    async with deps.session() as session, session.begin():
        await session.execute(
            update(Diagnosis)
            .where(
                col(Diagnosis.id) == claim.diagnosis_id,
                col(Diagnosis.status) == DiagnosisStatus.RUNNING.value,
            )
            .values(
                status=(DiagnosisStatus.FAILED if final else DiagnosisStatus.QUEUED).value,
                last_error_code=exc.code.value,
                last_error=exc.message[:2000],
                model=deps.diagnoser.model,
                source=deps.diagnoser.source,
                next_attempt_at=retry_at,
                finished_at=now if final else None,
                **_token_increments(exc.usage),
            )
        )
    _log.warning(
        "diagnosis_attempt_failed",
        diagnosis_id=str(claim.diagnosis_id),
        attempt=claim.attempt,
        code=exc.code.value,
        retryable=exc.retryable,
        dead_lettered=final,
    )
    _count(deps, "dead_letter" if final else "retry", exc.usage)
    if final:
        why = "permanent error" if not exc.retryable else f"{claim.attempt} attempts"
        raise DeadLettered(f"{exc.code.value} after {why}: {exc.message[:300]}")
    assert retry_at is not None
    raise RetryLater(retry_at, exc.code.value)


async def build_context(session: AsyncSession, image: Image, days: int) -> PlantContext:
    """The plant's context for a diagnosis of ``image``: species, ranges, week, trend, alerts."""
    until = image.captured_at
    since = until - timedelta(days=days)
    plant, species = (
        await repository.plant_and_species(session, image.plant_id)
        if image.plant_id
        else (None, None)
    )
    thresholds = Thresholds()
    if species is not None:
        thresholds = Thresholds.model_validate(
            {name: getattr(species, name) for name in Thresholds.model_fields}
        )
    if plant is not None and plant.overrides:
        overrides = {k: v for k, v in plant.overrides.items() if k in Thresholds.model_fields}
        thresholds = thresholds.merged(Thresholds.model_validate(overrides))
    # The node that took the photo measured the plant then; the plant's node may have changed.
    node_id = image.node_id or (plant.node_id if plant is not None else None)
    daily = await repository.daily_summaries(session, node_id, since, until) if node_id else []
    trend = (
        await repository.canopy_trend(
            session,
            image.plant_id,
            until - timedelta(days=CANOPY_TREND_DAYS),
            until,
            CANOPY_TREND_POINTS,
        )
        if image.plant_id
        else []
    )
    alerts = await repository.recent_alerts(session, image.owner_id, image.plant_id, node_id, since)
    metrics = image.metrics_dict()
    return PlantContext(
        plant_name=plant.name if plant is not None else "Unassigned plant",
        species_common_name=species.common_name if species is not None else None,
        species_scientific_name=species.scientific_name if species is not None else None,
        location=plant.location if plant is not None else None,
        thresholds=thresholds,
        captured_at=image.captured_at,
        image_metrics=ImageMetrics.model_validate(metrics) if metrics else None,
        daily=daily,
        canopy_trend=[CanopyPoint(captured_at=at, canopy_cover=cover) for at, cover in trend],
        recent_alerts=[
            AlertSummary(
                kind=AlertKind(alert.kind),
                metric=repository.metric_or_none(alert.metric),
                message=alert.message,
                opened_at=alert.opened_at,
                resolved_at=alert.resolved_at,
            )
            for alert in alerts
            if alert.kind in AlertKind.__members__.values()
        ],
    )


async def hub_digest(session: AsyncSession, hub: Hub) -> DiagnosisDigest:
    """The newest diagnoses of the hub's plants, for the hub to show offline."""
    plant_ids = await repository.hub_plant_ids(session, hub)
    rows = await repository.newest_for_plants(session, plant_ids, DIAGNOSES_PER_PLANT)
    items = []
    for row, sha256, captured_at in rows:
        if row.plant_id is None:
            continue
        items.append(
            PlantDiagnosis(
                id=row.id,
                plant_id=row.plant_id,
                image_sha256=sha256,
                image_captured_at=captured_at,
                status=cast(Literal["queued", "running", "succeeded", "failed"], row.status),
                health=row.health,
                confidence=row.confidence,
                summary=row.summary,
                findings=[
                    DiagnosisFinding(**Finding.model_validate(f).model_dump(mode="json"))
                    for f in row.findings or []
                ],
                recommended_actions=list(row.recommended_actions or []),
                follow_up=row.follow_up or None,
                source=row.source,
                model=row.model,
                requested_at=row.requested_at,
                finished_at=row.finished_at,
            )
        )
    return DiagnosisDigest(diagnoses=items)


# --- notifications ------------------------------------------------------------------------------

_HEALTH_WORDS = {
    "healthy": "healthy",
    "stressed": "stressed",
    "diseased": "diseased",
    "pest": "pests",
    "not_a_plant": "no plant in the photo",
    "unclear": "unclear",
}


async def diagnosis_subject(session: AsyncSession, diagnosis_id: uuid.UUID) -> Subject | None:
    """A finished diagnosis as notifications tell it (None when it was deleted since)."""
    row = await session.get(Diagnosis, diagnosis_id)
    if row is None:
        return None
    image = await session.get(Image, row.image_id)
    if image is None:
        return None
    plant = (
        await repository.plant_of_owner(session, image.owner_id, row.plant_id)
        if row.plant_id
        else None
    )
    name = plant.name if plant is not None else "your plant"
    verdict = _HEALTH_WORDS.get(row.health or "", row.health or "done")
    actions = row.recommended_actions or []
    text = f"{name}: {verdict}. {row.summary or ''}".strip()
    if actions:
        text += f" First step: {actions[0]}"
    return Subject(
        kind="diagnosis",
        owner_id=image.owner_id,
        title=f"Plant-Vita: diagnosis of {name} — {verdict}",
        text=text[:1000],
        payload=DiagnosisPublic.of(row).model_dump(mode="json"),
    )


async def finished_between(
    session: AsyncSession, owner_id: uuid.UUID, start: datetime, end: datetime, limit: int = 50
) -> Sequence[Diagnosis]:
    """The owner's diagnoses that came out in [start, end) (the daily digest's)."""
    return await repository.finished_in_window(session, owner_id, start, end, limit)


def verdict_words(health: str | None) -> str:
    """A diagnosis's health status in the gardener's words."""
    return _HEALTH_WORDS.get(health or "", health or "done")
