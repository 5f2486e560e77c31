"""Sync queries: persisted batches, the rows they hold, acks and the ledger."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from hub.plants.models import PlantEdit
from hub.store.ledger import SyncLedger
from hub.store.types import SyncState, to_ms
from shared.metrics import METRIC_NAMES
from shared.sync import BatchAck


@dataclass(frozen=True, slots=True)
class PersistedBatch:
    """A batch whose id and rows are on disk: resending it sends the same id and items."""

    db_id: int
    batch_uuid: UUID
    row_ids: list[int]
    rows: Sequence[Any]


# Each reading's wire JSON (shared.sync.ReadingIn) is built by SQLite's C JSON functions:
# about ten times cheaper than building dicts in Python, which matters on a Pi catching up.
# One key per registry metric, so a new metric is synced as soon as the hub stores it.
_METRIC_KEYS = ", ".join(f"'{m}', r.{m}" for m in METRIC_NAMES)
_READING_SELECT = (
    "select r.id, json_object('node_mac', n.mac, "  # noqa: S608
    "'measured_at', strftime('%Y-%m-%dT%H:%M:%fZ', r.measured_at / 1000.0, 'unixepoch'), "
    f"'channel', r.channel, 'seq', r.seq, 'source', r.source, {_METRIC_KEYS}) "
    "from readings r join nodes n on n.id = r.node_id "
)
_ALERT_SELECT = (
    "select id, node_mac, plant_id, kind, metric, message, opened_at, resolved_at, value, bound, "
    "rule from alerts "
)
_SELECTS = {"readings": _READING_SELECT, "alerts": _ALERT_SELECT}
_ORDER = {"readings": "r.id", "alerts": "opened_at, id"}


async def open_batch(
    session: AsyncSession, kind: str, after: int | None = None
) -> PersistedBatch | None:
    """The oldest batch of ``kind`` (newer than batch ``after`` when given) persisted but
    never acked, with its rows: what a resend must send again, unchanged."""
    row = (
        await session.execute(
            text(
                "select id, batch_uuid from sync_batches where kind = :k and acked_at is null "
                "and id > :after order by id limit 1"
            ),
            {"k": kind, "after": after if after is not None else -1},
        )
    ).first()
    if row is None:
        return None
    rows = (
        await session.execute(
            text(
                f"{_SELECTS[kind]} where {_alias(kind)}sync_state = 0 "
                f"and {_alias(kind)}batch_id = :b order by {_ordered(kind)}"
            ),
            {"b": row[0]},
        )
    ).all()
    return PersistedBatch(int(row[0]), UUID(row[1]), [r[0] for r in rows], rows)


def _alias(kind: str) -> str:
    return "r." if kind == "readings" else ""


def _ordered(kind: str) -> str:
    return _ORDER[kind]


async def pending_rows(session: AsyncSession, kind: str, limit: int) -> Sequence[Any]:
    """The oldest pending rows of ``kind`` not yet in a batch."""
    return (
        await session.execute(
            text(
                f"{_SELECTS[kind]} where {_alias(kind)}sync_state = 0 "
                f"and {_alias(kind)}batch_id is null order by {_ordered(kind)} limit :n"
            ),
            {"n": limit},
        )
    ).all()


async def create_batch(
    session: AsyncSession, kind: str, batch_uuid: UUID, row_ids: Sequence[Any], now: datetime
) -> int:
    """Persist a batch id and tie the rows to it (before anything is sent)."""
    result = await session.execute(
        text(
            "insert into sync_batches(batch_uuid, kind, created_at, item_count) "
            "values (:u, :k, :t, :n) returning id"
        ),
        {"u": str(batch_uuid), "k": kind, "t": to_ms(now), "n": len(row_ids)},
    )
    db_id = int(result.scalar_one())
    if kind == "readings":
        # The rows are the first pending ones by id, so one range update ties them all.
        await session.execute(
            text(
                "update readings set batch_id = :b where sync_state = 0 and batch_id is null "
                "and id <= :last"
            ),
            {"b": db_id, "last": max(row_ids)},
        )
    else:
        await session.execute(
            text(f"update {kind} set batch_id = :b where id = :id"),  # noqa: S608
            [{"b": db_id, "id": i} for i in row_ids],
        )
    return db_id


async def apply_ack(
    session: AsyncSession, kind: str, batch: PersistedBatch, ack: BatchAck, now: datetime
) -> int:
    """Mark the batch's rows synced, except those the cloud rejected (kept, with the reason).
    Returns how many were rejected."""
    rejected = [
        {"id": batch.row_ids[r.index], "reason": f"{r.reason.value}: {r.message}"[:500]}
        for r in ack.rejected
        if 0 <= r.index < len(batch.row_ids)
    ]
    if rejected:
        await session.execute(
            text(
                f"update {kind} set sync_state = {SyncState.REJECTED:d}, "  # noqa: S608
                "reject_reason = :reason where id = :id and sync_state = 0"
            ),
            rejected,
        )
    await session.execute(
        text(
            f"update {kind} set sync_state = {SyncState.SYNCED:d} "  # noqa: S608
            "where batch_id = :b and sync_state = 0"
        ),
        {"b": batch.db_id},
    )
    await session.execute(
        text("update sync_batches set acked_at = :t where id = :b"),
        {"t": to_ms(now), "b": batch.db_id},
    )
    return len(rejected)


async def record(
    session: AsyncSession,
    kind: str,
    now: datetime,
    *,
    error: str | None = None,
    items: int = 0,
    rejected: int = 0,
    sent_bytes: int = 0,
) -> None:
    """Update the ledger of ``kind`` after an attempt."""
    params = {
        "k": kind,
        "t": to_ms(now),
        "e": error[:1000] if error else None,
        "i": items,
        "r": rejected,
        "b": sent_bytes,
    }
    await session.execute(
        text(
            "insert into sync_ledger(kind, last_attempt_at, items_sent, items_rejected, bytes_sent)"
            " values (:k, :t, 0, 0, 0) on conflict(kind) do update set last_attempt_at = :t"
        ),
        params,
    )
    if error is None:
        await session.execute(
            text(
                "update sync_ledger set last_success_at = :t, items_sent = items_sent + :i, "
                "items_rejected = items_rejected + :r, bytes_sent = bytes_sent + :b "
                "where kind = :k"
            ),
            params,
        )
    else:
        await session.execute(
            text(
                "update sync_ledger set last_error = :e, last_error_at = :t, "
                "bytes_sent = bytes_sent + :b where kind = :k"
            ),
            params,
        )


async def pending_counts(session: AsyncSession) -> dict[str, int]:
    """Rows waiting for the cloud, per kind."""
    counts: dict[str, int] = {}
    queries = {
        "alerts": "select count(*) from alerts where sync_state = 0",
        "readings": "select count(*) from readings where sync_state = 0",
        "nodes": "select count(*) from nodes where sync_state = 0",
        "image_slots": "select count(*) from images where sync_state = 0 and upload_state = 'slot'",
        "image_bytes": "select count(*) from images where sync_state = 0 "
        "and upload_state = 'upload'",
        "plant_edits": "select count(*) from plant_edits where sync_state = 0",
    }
    for kind, sql in queries.items():
        counts[kind] = int((await session.execute(text(sql))).scalar_one())
    return counts


async def pending_plant_edits(
    session: AsyncSession, plant_id: str | None = None
) -> Sequence[PlantEdit]:
    """Edits of cloud plants made on the hub that the cloud has not settled, oldest first."""
    stmt = select(PlantEdit).where(col(PlantEdit.sync_state) == SyncState.PENDING)
    if plant_id is not None:
        stmt = stmt.where(col(PlantEdit.plant_id) == plant_id)
    return (await session.execute(stmt.order_by(col(PlantEdit.edited_at)))).scalars().all()


async def rejected_counts(session: AsyncSession) -> dict[str, int]:
    """Rows the cloud refused, per kind."""
    out: dict[str, int] = {}
    for kind in ("alerts", "readings", "nodes", "images", "plant_edits"):
        sql = f"select count(*) from {kind} where sync_state = {SyncState.REJECTED:d}"  # noqa: S608
        out[kind] = int((await session.execute(text(sql))).scalar_one())
    return out


_REJECTED_SQL = {
    "readings": "select cast(r.id as text), n.mac, r.measured_at, r.reject_reason from readings r "
    "join nodes n on n.id = r.node_id where r.sync_state = 2 order by r.id desc limit :n",
    "alerts": "select id, node_mac, opened_at, reject_reason from alerts where sync_state = 2 "
    "order by opened_at desc limit :n",
    "nodes": "select mac, mac, last_seen, reject_reason from nodes where sync_state = 2 "
    "order by mac limit :n",
    "images": "select i.id, n.mac, i.captured_at, i.reject_reason from images i "
    "left join nodes n on n.id = i.node_id where i.sync_state = 2 "
    "order by i.captured_at desc limit :n",
    # A lost edit: what the gardener changed, and why the cloud's version stayed.
    "plant_edits": "select e.id, p.node_mac, e.edited_at, e.summary || ' — ' || e.reject_reason "
    "from plant_edits e left join plants p on p.id = e.plant_id where e.sync_state = 2 "
    "order by e.edited_at desc limit :n",
}
REJECTED_KINDS = tuple(_REJECTED_SQL)


async def rejected_rows(session: AsyncSession, kind: str, limit: int) -> Sequence[Any]:
    """The newest rows of ``kind`` the cloud refused: (id, node mac, time ms, reason)."""
    return (await session.execute(text(_REJECTED_SQL[kind]), {"n": limit})).all()


async def ledger(session: AsyncSession) -> dict[str, SyncLedger]:
    """The ledger rows by kind."""
    rows = (await session.execute(select(SyncLedger))).scalars().all()
    return {row.kind: row for row in rows}


async def oldest_pending_reading(session: AsyncSession) -> int | None:
    """Epoch ms of the oldest reading the cloud has not acknowledged."""
    value = (
        await session.execute(text("select min(measured_at) from readings where sync_state = 0"))
    ).scalar_one()
    return None if value is None else int(value)


async def unsynced_counts(session: AsyncSession) -> dict[str, int]:
    """Readings, alerts and images not yet acknowledged by the cloud (for /metrics)."""
    rows = await session.execute(
        text(
            "select 'readings', count(*) from readings where sync_state = 0 union all "
            "select 'alerts', count(*) from alerts where sync_state = 0 union all "
            "select 'images', count(*) from images where sync_state = 0"
        )
    )
    return {str(kind): int(count) for kind, count in rows.tuples()}


async def mark_nodes_synced(session: AsyncSession, refused: dict[str, str | None]) -> None:
    """The cloud's answer to the node inventory: each node synced and registered, or refused
    with its reason (``refused[mac]`` None for a node it accepted)."""
    for mac, reason in refused.items():
        await session.execute(
            text(
                "update nodes set sync_state = :s, reject_reason = :r, "
                "cloud_registered = :g where mac = :m"
            ),
            {
                "s": SyncState.REJECTED if reason else SyncState.SYNCED,
                "r": reason,
                "g": reason is None,
                "m": mac,
            },
        )
