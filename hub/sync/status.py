"""The sync ledger as the API shows it."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from hub.schedule import MonotonicScheduler
from hub.store.types import from_ms
from hub.sync import repository
from hub.sync.schemas import (
    ClockStatus,
    LedgerEntry,
    RejectedRow,
    ScheduledJobStatus,
    SyncStatus,
)
from hub.sync.service import KINDS, SyncEngine

# Rejections are counted per table; both image phases share the images table.
_REJECTED_TABLE = {"image_slots": "images", "image_bytes": None, "config": None, "diagnoses": None}


def schedule_of(scheduler: MonotonicScheduler | None) -> list[ScheduledJobStatus]:
    """Each scheduled job's ledger (empty when the hub runs without its scheduler)."""
    if scheduler is None:
        return []
    now = scheduler.now_monotonic()
    stopped = not scheduler.running
    return [
        ScheduledJobStatus(
            id=job.id,
            interval_s=job.interval_s,
            runs=job.runs,
            failures=job.failures,
            skipped=job.skipped,
            running=job.running,
            running_for_s=round(job.running_for_s(now), 3),
            late_by_s=round(job.late_by_s(now), 3),
            next_run_in_s=round(max(0.0, job.next_due - now), 3),
            last_started_at=job.last_started_at,
            last_finished_at=job.last_finished_at,
            last_duration_s=job.last_duration_s,
            last_error=job.last_error,
            problem="scheduler stopped" if stopped else job.problem(now),
        )
        for job in scheduler.get_jobs()
    ]


def clock_of(scheduler: MonotonicScheduler | None) -> ClockStatus:
    """The wall clock and the steps the scheduler saw."""
    step = scheduler.last_clock_step() if scheduler is not None else None
    return ClockStatus(
        now=datetime.now(UTC),
        steps=scheduler.clock_steps_total if scheduler is not None else 0,
        last_step_at=step.at if step else None,
        last_step_s=round(step.seconds, 1) if step else None,
    )


async def status_of(
    session: AsyncSession, engine: SyncEngine, scheduler: MonotonicScheduler | None = None
) -> SyncStatus:
    """Link state, engine state, per kind pending/rejected counts and the ledger, and the
    scheduled jobs with the clock."""
    url, token, hub_id = await engine.link_state()
    pending = await repository.pending_counts(session)
    rejected = await repository.rejected_counts(session)
    ledger = await repository.ledger(session)
    oldest = await repository.oldest_pending_reading(session)
    entries = []
    for kind in KINDS:
        row = ledger.get(kind)
        table = _REJECTED_TABLE.get(kind, kind)
        entries.append(
            LedgerEntry(
                kind=kind,
                pending=pending.get(kind, 0),
                rejected=rejected.get(table, 0) if table else 0,
                last_attempt_at=row.last_attempt_at if row else None,
                last_success_at=row.last_success_at if row else None,
                last_error=row.last_error if row else None,
                last_error_at=row.last_error_at if row else None,
                items_sent=row.items_sent if row else 0,
                bytes_sent=row.bytes_sent if row else 0,
            )
        )
    return SyncStatus(
        linked=bool(url and token),
        cloud_url=url,
        hub_id=hub_id,
        running=engine.running,
        backoff_s=engine.backoff_remaining_s,
        last_run_at=engine.last_run_at,
        oldest_pending_reading_at=from_ms(oldest) if oldest is not None else None,
        ledger=entries,
        schedule=schedule_of(scheduler),
        clock=clock_of(scheduler),
    )


async def rejected(session: AsyncSession, kind: str, limit: int) -> list[RejectedRow]:
    """Rows of ``kind`` the cloud refused, newest first, with the cloud's reason."""
    rows = await repository.rejected_rows(session, kind, limit)
    return [
        RejectedRow(
            kind=kind,
            id=str(row[0]),
            node_mac=row[1],
            at=from_ms(row[2]) if row[2] is not None else None,
            reason=row[3] or "",
        )
        for row in rows
    ]
