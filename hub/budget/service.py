"""Disk budget: keep the database plus image files under ``disk_budget_mb``, and the filesystem
at least ``disk_reserve_mb`` free (whatever else fills the card).

Pruning order, oldest first within each step: synced raw readings, synced image files (their
metrics rows stay), hourly rollups, and only then unsynced data — which is counted in
``dropped_data`` and raised as a DATA_DROPPED alert, never dropped silently.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from functools import partial

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from hub.alerts import service as alerts
from hub.budget import repository
from hub.store.database import Database
from hub.store.types import utcnow
from shared.sync import AlertKind

log = structlog.get_logger(__name__)


@dataclass(slots=True)
class PruneReport:
    """What a pass removed."""

    used_before: int = 0
    used_after: int = 0
    removed: dict[str, int] = field(default_factory=dict)
    dropped_unsynced: dict[str, int] = field(default_factory=dict)
    budget: int = 0  # what the pass pruned to: the configured budget or less (free space)


async def used_bytes(store: Database) -> int:
    """Live database pages plus stored image files (originals and thumbnails)."""
    async with store.read() as session:
        database = await repository.live_database_bytes(session)
        files = await repository.image_file_bytes(session)
    thumbs = await asyncio.to_thread(_thumbs_bytes, store)
    return database + files + thumbs


def _thumbs_bytes(store: Database) -> int:
    root = store.images.root / "thumbs"
    if not root.exists():
        return 0
    return sum(p.stat().st_size for p in root.rglob("*.jpg") if p.is_file())


async def _image_files(store: Database, synced: bool) -> list[tuple[str, str, str | None]]:
    async with store.read() as session:
        return await repository.image_files(session, synced)


async def _drop_images(store: Database, rows: list[tuple[str, str, str | None]]) -> None:
    # The rows first: a crash then leaves a file, never a dangling row.
    await store.write(partial(repository.mark_files_gone, image_ids=[r[0] for r in rows]))

    def remove() -> None:
        for _id, path, thumb in rows:
            store.images.delete(path)
            if thumb:
                store.images.delete(thumb)

    await asyncio.to_thread(remove)


async def _count_dropped(session: AsyncSession, kind: str, count: int) -> None:
    await repository.count_dropped(session, kind, count)
    await alerts.open_alert(
        session,
        AlertKind.DATA_DROPPED,
        f"disk budget full: dropped {count} unsynced {kind} before the cloud had them",
        utcnow(),
    )


async def enforce(store: Database) -> PruneReport:
    """Prune until the store fits its budget and the filesystem keeps its reserve free (or
    nothing more can go)."""
    report = PruneReport(used_before=await used_bytes(store))
    used = report.used_before
    # The budget is only a ceiling: a card filled by something else leaves less room. Freed
    # pages stay in the database file and take new rows without it growing.
    room = used + store.free_bytes() - store.settings.disk_reserve_bytes
    budget = min(store.settings.disk_budget_bytes, max(0, room))
    report.budget = budget

    def add(bucket: dict[str, int], key: str, n: int) -> None:
        bucket[key] = bucket.get(key, 0) + n

    steps = ("readings", "image_files", "rollups", "unsynced_readings", "unsynced_image_files")
    for step in steps:
        while used > budget:
            if step in ("readings", "unsynced_readings"):
                synced = step == "readings"

                async def op(session: AsyncSession, synced: bool = synced) -> int:
                    n = await repository.delete_readings(session, synced)
                    if n and not synced:
                        await _count_dropped(session, "readings", n)
                    return n

                n = await store.write(op)
            elif step == "rollups":
                n = await store.write(repository.delete_rollups)
            else:
                synced = step == "image_files"
                rows = await _image_files(store, synced)
                n = len(rows)
                if rows:
                    await _drop_images(store, rows)
                    if not synced:
                        await store.write(partial(_count_dropped, kind="image files", count=n))
            if n == 0:
                break
            add(report.dropped_unsynced if step.startswith("unsynced") else report.removed, step, n)
            used = await used_bytes(store)
    report.used_after = used
    if report.removed or report.dropped_unsynced:
        log.info("disk_budget_pruned", **report.removed, dropped=report.dropped_unsynced, used=used)
    if used > budget:
        log.warning("disk_budget_exceeded", used=used, budget=budget)
    return report


async def dropped_counts(session: AsyncSession) -> dict[str, int]:
    """Unsynced data dropped so far, per kind."""
    return await repository.dropped_counts(session)
