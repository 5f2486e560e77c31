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
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from hub.alerts import service as alerts
from hub.store.database import Database
from hub.store.types import SyncState, to_ms, utcnow
from shared.sync import AlertKind

log = structlog.get_logger(__name__)

CHUNK_ROWS = 5_000
CHUNK_IMAGES = 50


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
        page_size = (await session.execute(text("pragma page_size"))).scalar_one()
        pages = (await session.execute(text("pragma page_count"))).scalar_one()
        free = (await session.execute(text("pragma freelist_count"))).scalar_one()
        files = (
            await session.execute(
                text("select coalesce(sum(byte_size), 0) from images where file_present = 1")
            )
        ).scalar_one()
    thumbs = await asyncio.to_thread(_thumbs_bytes, store)
    return int((pages - free) * page_size) + int(files) + thumbs


def _thumbs_bytes(store: Database) -> int:
    root = store.images.root / "thumbs"
    if not root.exists():
        return 0
    return sum(p.stat().st_size for p in root.rglob("*.jpg") if p.is_file())


async def _delete_readings(session: AsyncSession, synced: bool) -> int:
    state = SyncState.SYNCED if synced else SyncState.PENDING
    where = f"sync_state = {state:d}" if synced else "sync_state = 0 and batch_id is null"
    result = await session.execute(
        text(
            "delete from readings where id in (select id from readings "  # noqa: S608
            f"where {where} order by id limit {CHUNK_ROWS:d})"
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def _delete_rollups(session: AsyncSession) -> int:
    result = await session.execute(
        text(
            "delete from readings_hourly where (node_id, channel, hour) in "
            "(select node_id, channel, hour "
            "from readings_hourly order by hour limit :n)"
        ),
        {"n": CHUNK_ROWS},
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def _image_files(store: Database, synced: bool) -> list[tuple[str, str, str | None]]:
    state = SyncState.SYNCED if synced else SyncState.PENDING
    async with store.read() as session:
        rows = (
            await session.execute(
                text(
                    "select id, path, thumbnail_path from images where file_present = 1 "
                    "and sync_state = :s order by captured_at limit :n"
                ),
                {"s": int(state), "n": CHUNK_IMAGES},
            )
        ).all()
    return [(r[0], r[1], r[2]) for r in rows]


async def _drop_images(store: Database, rows: list[tuple[str, str, str | None]]) -> None:
    async def op(session: AsyncSession) -> None:
        await session.execute(
            text("update images set file_present = 0 where id = :id"), [{"id": r[0]} for r in rows]
        )

    await store.write(op)  # the row first: a crash then leaves a file, never a dangling row

    def remove() -> None:
        for _id, path, thumb in rows:
            store.images.delete(path)
            if thumb:
                store.images.delete(thumb)

    await asyncio.to_thread(remove)


async def _count_dropped(session: AsyncSession, kind: str, count: int) -> None:
    now = utcnow()
    await session.execute(
        text(
            "insert into dropped_data(kind, count, last_at) values (:k, :c, :t) "
            "on conflict(kind) do update set count = count + :c, last_at = :t"
        ),
        {"k": kind, "c": count, "t": to_ms(now)},
    )
    await alerts.open_alert(
        session,
        AlertKind.DATA_DROPPED,
        f"disk budget full: dropped {count} unsynced {kind} before the cloud had them",
        now,
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
                    n = await _delete_readings(session, synced)
                    if n and not synced:
                        await _count_dropped(session, "readings", n)
                    return n

                n = await store.write(op)
            elif step == "rollups":
                n = await store.write(_delete_rollups)
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
    rows = await session.execute(text("select kind, count from dropped_data"))
    return {str(kind): int(count) for kind, count in rows.tuples()}
