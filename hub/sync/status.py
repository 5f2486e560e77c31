"""The sync ledger as the API shows it."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from hub.store.types import from_ms
from hub.sync import repository
from hub.sync.schemas import LedgerEntry, SyncStatus
from hub.sync.service import KINDS, SyncEngine

# Rejections are counted per table; both image phases share the images table.
_REJECTED_TABLE = {"image_slots": "images", "image_bytes": None, "config": None, "diagnoses": None}


async def status_of(session: AsyncSession, engine: SyncEngine) -> SyncStatus:
    """Link state, engine state and, per kind, pending/rejected counts and the ledger."""
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
    )
