"""Queries on readings and their hourly rollups."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from hub.readings.models import METRIC_COLUMNS, Reading

HOUR_MS = 3_600_000
_INSERT_CHUNK = 1000  # 13 columns x 1000 rows stays far below SQLite's 32766 bound variables

_table = Reading.__table__  # type: ignore[attr-defined]
# One statement compiled once and run as executemany (SQLAlchemy's insertmanyvalues batches it
# with RETURNING): compiling a multi-VALUES insert per batch costs ~100 us per row.
_INSERT = (
    sqlite_insert(_table)
    .on_conflict_do_nothing()
    .returning(text("node_id"), text("measured_at"), *(text(m) for m in METRIC_COLUMNS))
)


@dataclass(frozen=True, slots=True)
class NewReading:
    """A reading ready to insert: node row id, epoch ms and metric values by column."""

    node_id: int
    measured_at_ms: int
    seq: int | None
    source: str
    values: dict[str, float]


def _rollup_upsert_sql() -> str:
    columns = ["node_id", "hour", "count"]
    updates = ["count = count + excluded.count"]
    for m in METRIC_COLUMNS:
        columns += [f"{m}_sum", f"{m}_n", f"{m}_min", f"{m}_max"]
        updates += [
            f"{m}_sum = CASE WHEN excluded.{m}_n = 0 THEN {m}_sum "
            f"ELSE coalesce({m}_sum, 0) + excluded.{m}_sum END",
            f"{m}_n = {m}_n + excluded.{m}_n",
            f"{m}_min = min(coalesce({m}_min, excluded.{m}_min), "
            f"coalesce(excluded.{m}_min, {m}_min))",
            f"{m}_max = max(coalesce({m}_max, excluded.{m}_max), "
            f"coalesce(excluded.{m}_max, {m}_max))",
        ]
    names = ", ".join(columns)
    params = ", ".join(f":{c}" for c in columns)
    # Column names are constants of this module, never input.
    sql = f"INSERT INTO readings_hourly ({names}) VALUES ({params}) "  # noqa: S608
    return sql + f"ON CONFLICT(node_id, hour) DO UPDATE SET {', '.join(updates)}"


_ROLLUP_UPSERT = text(_rollup_upsert_sql())


async def insert_readings(session: AsyncSession, readings: Sequence[NewReading]) -> int:
    """Insert readings, ignoring duplicates on (node, time) or (node, seq); fold the rows
    actually inserted into the hourly rollups. Returns how many were new."""
    inserted: list[Any] = []
    for start in range(0, len(readings), _INSERT_CHUNK):
        chunk = readings[start : start + _INSERT_CHUNK]
        rows = [
            {
                "node_id": r.node_id,
                "measured_at": r.measured_at_ms,
                "seq": r.seq,
                "source": r.source,
                **{m: r.values.get(m) for m in METRIC_COLUMNS},
            }
            for r in chunk
        ]
        inserted.extend((await session.execute(_INSERT, rows)).all())
    if inserted:
        await session.execute(_ROLLUP_UPSERT, _rollups(inserted))
    return len(inserted)


def _rollups(rows: Sequence[Any]) -> list[dict[str, Any]]:
    acc: dict[tuple[int, int], dict[str, Any]] = {}
    for row in rows:
        node_id, measured_at = int(row[0]), int(row[1])
        key = (node_id, measured_at // HOUR_MS * HOUR_MS)
        bucket = acc.get(key)
        if bucket is None:
            bucket = {"node_id": key[0], "hour": key[1], "count": 0}
            for m in METRIC_COLUMNS:
                bucket.update({f"{m}_sum": None, f"{m}_n": 0, f"{m}_min": None, f"{m}_max": None})
            acc[key] = bucket
        bucket["count"] += 1
        for i, m in enumerate(METRIC_COLUMNS):
            value = row[2 + i]
            if value is None:
                continue
            bucket[f"{m}_sum"] = (bucket[f"{m}_sum"] or 0.0) + value
            bucket[f"{m}_n"] += 1
            low, high = bucket[f"{m}_min"], bucket[f"{m}_max"]
            bucket[f"{m}_min"] = value if low is None else min(low, value)
            bucket[f"{m}_max"] = value if high is None else max(high, value)
    return list(acc.values())


async def raise_last_seq(session: AsyncSession, last_seq: dict[int, int]) -> None:
    """Move each node's backfill position forward to the highest sequence stored."""
    if last_seq:
        await session.execute(
            text(
                "UPDATE nodes SET last_seq = max(coalesce(last_seq, -1), :seq) WHERE id = :node_id"
            ),
            [{"node_id": k, "seq": v} for k, v in last_seq.items()],
        )
