"""Queries of the disk budget: how much the store holds, and the chunked deletes that prune it."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from hub.store.types import SyncState, to_ms, utcnow

CHUNK_ROWS = 5_000
CHUNK_IMAGES = 50


async def live_database_bytes(session: AsyncSession) -> int:
    """Pages in use (the file's pages less its free list) times the page size."""
    page_size = (await session.execute(text("pragma page_size"))).scalar_one()
    pages = (await session.execute(text("pragma page_count"))).scalar_one()
    free = (await session.execute(text("pragma freelist_count"))).scalar_one()
    return int((pages - free) * page_size)


async def image_file_bytes(session: AsyncSession) -> int:
    """Bytes of the original photo files still on disk."""
    result = await session.execute(
        text("select coalesce(sum(byte_size), 0) from images where file_present = 1")
    )
    return int(result.scalar_one())


async def delete_readings(session: AsyncSession, synced: bool) -> int:
    """Delete the oldest chunk of synced readings (or of unsynced ones not in a batch)."""
    state = SyncState.SYNCED if synced else SyncState.PENDING
    where = f"sync_state = {state:d}" if synced else "sync_state = 0 and batch_id is null"
    result = await session.execute(
        text(
            "delete from readings where id in (select id from readings "  # noqa: S608
            f"where {where} order by id limit {CHUNK_ROWS:d})"
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def delete_rollups(session: AsyncSession) -> int:
    """Delete the oldest chunk of hourly rollups."""
    result = await session.execute(
        text(
            "delete from readings_hourly where (node_id, channel, hour) in "
            "(select node_id, channel, hour "
            "from readings_hourly order by hour limit :n)"
        ),
        {"n": CHUNK_ROWS},
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def image_files(session: AsyncSession, synced: bool) -> list[tuple[str, str, str | None]]:
    """The oldest chunk of photos whose file is still here: (id, path, thumbnail path)."""
    state = SyncState.SYNCED if synced else SyncState.PENDING
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


async def mark_files_gone(session: AsyncSession, image_ids: list[str]) -> None:
    """The photos' rows (and metrics) stay; their files are about to be removed."""
    await session.execute(
        text("update images set file_present = 0 where id = :id"), [{"id": i} for i in image_ids]
    )


async def count_dropped(session: AsyncSession, kind: str, count: int) -> None:
    """Add to the count of unsynced data of this kind dropped before the cloud had it."""
    await session.execute(
        text(
            "insert into dropped_data(kind, count, last_at) values (:k, :c, :t) "
            "on conflict(kind) do update set count = count + :c, last_at = :t"
        ),
        {"k": kind, "c": count, "t": to_ms(utcnow())},
    )


async def dropped_counts(session: AsyncSession) -> dict[str, int]:
    """Unsynced data dropped so far, per kind."""
    rows = await session.execute(text("select kind, count from dropped_data"))
    return {str(kind): int(count) for kind, count in rows.tuples()}
