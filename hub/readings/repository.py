"""Queries on readings and their hourly rollups."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.ext.asyncio import AsyncSession

from hub.readings.models import METRIC_COLUMNS

HOUR_MS = 3_600_000
_INSERT_CHUNK = 1000  # 13 columns x 1000 rows stays far below SQLite's 32766 bound variables


@dataclass(frozen=True, slots=True)
class NewReading:
    """A reading ready to insert: node row id, epoch ms and metric values by column."""

    node_id: int
    measured_at_ms: int
    seq: int | None
    source: str
    values: dict[str, float]
    seq_epoch: int = 0
    channel: int = 0


def _rollup_upsert_sql() -> str:
    columns = ["node_id", "channel", "hour", "count"]
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
    return sql + f"ON CONFLICT(node_id, channel, hour) DO UPDATE SET {', '.join(updates)}"


_ROLLUP_UPSERT = text(_rollup_upsert_sql())


_INSERT_COLUMNS = (
    "node_id",
    "channel",
    "measured_at",
    "seq",
    "seq_epoch",
    "source",
    *METRIC_COLUMNS,
)
_ROW_PLACEHOLDERS = "(" + ",".join("?" * len(_INSERT_COLUMNS)) + ")"


_INSERT_HEAD = f"INSERT INTO readings ({', '.join(_INSERT_COLUMNS)}) VALUES "  # noqa: S608
_RETURNED = ", ".join(("node_id", "channel", "measured_at", *METRIC_COLUMNS))
_INSERT_TAIL = f" ON CONFLICT DO NOTHING RETURNING {_RETURNED}"


def _insert_sql(rows: int) -> str:
    # Plain DB-API SQL: compiling a 1000-row VALUES statement through SQLAlchemy costs more
    # than running it. Only constant column names and placeholders go into the string.
    return _INSERT_HEAD + ",".join([_ROW_PLACEHOLDERS] * rows) + _INSERT_TAIL


async def insert_readings(session: AsyncSession, readings: Sequence[NewReading]) -> int:
    """Insert readings, ignoring duplicates on (node, channel, time) or (node, epoch, seq,
    channel); fold the rows
    actually inserted into the hourly rollups. Returns how many were new."""
    connection = await session.connection()
    inserted: list[Any] = []
    for start in range(0, len(readings), _INSERT_CHUNK):
        chunk = readings[start : start + _INSERT_CHUNK]
        params: list[Any] = []
        for r in chunk:
            params += (r.node_id, r.channel, r.measured_at_ms, r.seq, r.seq_epoch, r.source)
            params += (r.values.get(m) for m in METRIC_COLUMNS)
        result = await connection.exec_driver_sql(_insert_sql(len(chunk)), tuple(params))
        inserted.extend(result.all())
    if inserted:
        await session.execute(_ROLLUP_UPSERT, _rollups(inserted))
    return len(inserted)


def _rollups(rows: Sequence[Any]) -> list[dict[str, Any]]:
    acc: dict[tuple[int, int, int], dict[str, Any]] = {}
    for row in rows:
        node_id, channel, measured_at = int(row[0]), int(row[1]), int(row[2])
        key = (node_id, channel, measured_at // HOUR_MS * HOUR_MS)
        bucket = acc.get(key)
        if bucket is None:
            bucket = {"node_id": node_id, "channel": channel, "hour": key[2], "count": 0}
            for m in METRIC_COLUMNS:
                bucket.update({f"{m}_sum": None, f"{m}_n": 0, f"{m}_min": None, f"{m}_max": None})
            acc[key] = bucket
        bucket["count"] += 1
        for i, m in enumerate(METRIC_COLUMNS):
            value = row[3 + i]
            if value is None:
                continue
            bucket[f"{m}_sum"] = (bucket[f"{m}_sum"] or 0.0) + value
            bucket[f"{m}_n"] += 1
            low, high = bucket[f"{m}_min"], bucket[f"{m}_max"]
            bucket[f"{m}_min"] = value if low is None else min(low, value)
            bucket[f"{m}_max"] = value if high is None else max(high, value)
    return list(acc.values())


async def raise_last_seq(session: AsyncSession, last_seq: dict[tuple[int, int], int]) -> None:
    """Move each node's backfill position forward to the highest sequence stored, keyed by
    (node id, epoch): readings of an epoch the node has left never move its position."""
    if last_seq:
        await session.execute(
            text(
                "UPDATE nodes SET last_seq = max(coalesce(last_seq, -1), :seq) "
                "WHERE id = :node_id AND seq_epoch = :epoch"
            ),
            [{"node_id": k[0], "epoch": k[1], "seq": v} for k, v in last_seq.items()],
        )


async def start_epoch(session: AsyncSession, node_id: int, moved: Sequence[int] = ()) -> int:
    """Open a new counter epoch for a node whose counter restarted; returns its number.
    Readings of the current epoch with a seq in ``moved`` are moved to the new one."""
    if moved:
        await session.execute(
            text(
                "UPDATE readings SET seq_epoch = seq_epoch + 1 WHERE node_id = :node_id "
                "AND seq = :seq AND seq_epoch = (SELECT seq_epoch FROM nodes WHERE id = :node_id)"
            ),
            [{"node_id": node_id, "seq": seq} for seq in moved],
        )
    await session.execute(
        text(
            "UPDATE nodes SET seq_epoch = seq_epoch + 1, counter_resets = counter_resets + 1, "
            "last_seq = (SELECT max(seq) FROM readings r WHERE r.node_id = nodes.id "
            "AND r.seq_epoch = nodes.seq_epoch + 1) WHERE id = :node_id"
        ),
        {"node_id": node_id},
    )
    row = await session.execute(
        text("SELECT seq_epoch FROM nodes WHERE id = :node_id"), {"node_id": node_id}
    )
    return int(row.scalar_one())


async def earlier_epoch_values(
    session: AsyncSession, node_id: int, since_epoch: int, epoch: int, seqs: Sequence[int]
) -> dict[tuple[int, int], list[dict[str, float]]]:
    """Metric values by (seq, channel) of the node's readings with these seqs in the epochs
    from ``since_epoch`` up to (not including) ``epoch``: what a replay of their adverts
    repeats."""
    out: dict[tuple[int, int], list[dict[str, float]]] = {}
    wanted = sorted(set(seqs))
    columns = ", ".join(METRIC_COLUMNS)
    for start in range(0, len(wanted), _INSERT_CHUNK):
        chunk = wanted[start : start + _INSERT_CHUNK]
        marks = ",".join("?" * len(chunk))
        connection = await session.connection()
        result = await connection.exec_driver_sql(
            # Constant column names and placeholders only.
            f"SELECT seq, channel, {columns} FROM readings WHERE node_id = ? "  # noqa: S608
            f"AND seq_epoch >= ? AND seq_epoch < ? AND seq IN ({marks})",
            (node_id, since_epoch, epoch, *chunk),
        )
        for found in result.all():
            row: tuple[Any, ...] = tuple(found)
            values: dict[str, float] = {}
            for i, metric in enumerate(METRIC_COLUMNS):
                if row[2 + i] is not None:
                    values[metric] = float(row[2 + i])
            out.setdefault((int(row[0]), int(row[1])), []).append(values)
    return out


async def values_by_seq(
    session: AsyncSession, node_id: int, epoch: int, seqs: Sequence[int]
) -> dict[int, dict[str, float]]:
    """Metric values by seq of the node's channel-0 readings with these seqs in ``epoch``."""
    found: dict[int, dict[str, float]] = {}
    for start in range(0, len(seqs), _INSERT_CHUNK):
        chunk = seqs[start : start + _INSERT_CHUNK]
        for (seq, channel), values in (
            await earlier_epoch_values(session, node_id, epoch, epoch + 1, chunk)
        ).items():
            if channel == 0:
                found[seq] = values[0]
    return found


async def values_after(
    session: AsyncSession, node_id: int, column: str, after_ms: int | None, limit: int
) -> list[tuple[int, float]]:
    """(measured_at ms, value) of the node's channel-0 readings of ``column`` measured after
    ``after_ms`` (all when None), oldest first, at most ``limit`` (alerts judge a node's first
    sensor of each kind)."""
    if column not in METRIC_COLUMNS:
        raise ValueError(f"not a metric column: {column}")
    rows = await session.execute(
        text(
            f"select measured_at, {column} from readings where node_id = :n "  # noqa: S608
            f"and channel = 0 and measured_at > :a and {column} is not null "
            "order by measured_at limit :l"
        ),
        {"n": node_id, "a": -1 if after_ms is None else after_ms, "l": limit},
    )
    return [(int(at), float(value)) for at, value in rows.tuples()]


async def daily_illuminance(
    session: AsyncSession, node_id: int, start_ms: int, end_ms: int
) -> list[tuple[int, float, int]]:
    """(UTC day start ms, illuminance sum, sample count) per day in [start, end), from the
    hourly rollups of the node's first light sensor (channel 0)."""
    rows = await session.execute(
        text(
            "select (hour / 86400000) * 86400000 as day, sum(illuminance_sum), "
            "sum(illuminance_n) from readings_hourly where node_id = :n and channel = 0 "
            "and hour >= :s "
            "and hour < :e and illuminance_n > 0 group by day order by day"
        ),
        {"n": node_id, "s": start_ms, "e": end_ms},
    )
    return [(int(day), float(total), int(n)) for day, total, n in rows.tuples()]


def _metric_column(column: str) -> str:
    if column not in METRIC_COLUMNS:
        raise ValueError(f"not a metric column: {column}")
    return column


async def node_row_id(session: AsyncSession, mac: str) -> int | None:
    """Row id of a node by MAC."""
    row = (await session.execute(text("select id from nodes where mac = :m"), {"m": mac})).first()
    return None if row is None else int(row[0])


async def node_channels(session: AsyncSession, node_id: int) -> list[int]:
    """The sensor channels the node has readings of, ascending."""
    rows = await session.execute(
        text("select distinct channel from readings_hourly where node_id = :n order by channel"),
        {"n": node_id},
    )
    return [int(c) for (c,) in rows.tuples()]


def _newest_values_sql() -> str:
    # One branch per metric column: each finds its newest row through the (node, channel, time)
    # index, as a lookup per node and column would, in one statement for every node.
    branches = " union all ".join(
        f"select wanted.id, '{column}', r.{column}, r.measured_at from wanted "  # noqa: S608
        f"join readings r on r.id = (select id from readings where node_id = wanted.id "
        f"and channel = :c and {column} is not null order by measured_at desc limit 1)"
        for column in METRIC_COLUMNS
    )
    return f"with wanted(id) as (select id from nodes where id in :ids) {branches}"  # noqa: S608


_NEWEST_VALUES = text(_newest_values_sql()).bindparams(bindparam("ids", expanding=True))


async def newest_values(
    session: AsyncSession, node_ids: Sequence[int], channel: int
) -> dict[int, dict[str, tuple[float, int]]]:
    """Node id -> metric column -> the newest (value, epoch ms) of the nodes' sensor
    ``channel``; a node without readings is left out."""
    if not node_ids:
        return {}
    rows = await session.execute(_NEWEST_VALUES, {"ids": list(node_ids), "c": channel})
    out: dict[int, dict[str, tuple[float, int]]] = {}
    for node_id, column, value, measured_at in rows.tuples():
        out.setdefault(int(node_id), {})[str(column)] = (float(value), int(measured_at))
    return out


_ILLUMINANCE_TOTALS = text(
    "select node_id, sum(illuminance_sum), sum(illuminance_n) from readings_hourly "
    "where node_id in :ids and channel = 0 and hour >= :s and hour < :e "
    "and illuminance_n > 0 group by node_id"
).bindparams(bindparam("ids", expanding=True))


async def illuminance_totals(
    session: AsyncSession, node_ids: Sequence[int], start_ms: int, end_ms: int
) -> dict[int, tuple[float, int]]:
    """Node id -> sum and count of its first light sensor's readings in [start, end), from the
    rollups; a node with none is left out."""
    if not node_ids:
        return {}
    rows = await session.execute(
        _ILLUMINANCE_TOTALS, {"ids": list(node_ids), "s": start_ms, "e": end_ms}
    )
    return {
        int(node_id): (float(total or 0.0), int(samples or 0))
        for node_id, total, samples in rows.tuples()
    }


async def raw_count(
    session: AsyncSession, node_id: int, column: str, channel: int, start_ms: int, end_ms: int
) -> int:
    """How many raw readings of a metric column the window holds."""
    column = _metric_column(column)
    return int(
        (
            await session.execute(
                text(
                    f"select count({column}) from readings "  # noqa: S608
                    "where node_id = :n and channel = :c and measured_at >= :s "
                    "and measured_at < :e"
                ),
                {"n": node_id, "c": channel, "s": start_ms, "e": end_ms},
            )
        ).scalar_one()
    )


async def raw_points(
    session: AsyncSession, node_id: int, column: str, channel: int, start_ms: int, end_ms: int
) -> list[tuple[int, float]]:
    """(epoch ms, value) of the raw readings of a metric column in the window, oldest first."""
    column = _metric_column(column)
    rows = await session.execute(
        text(
            f"select measured_at, {column} from readings "  # noqa: S608
            f"where node_id = :n and channel = :c and measured_at >= :s "
            f"and measured_at < :e and {column} is not null order by measured_at"
        ),
        {"n": node_id, "c": channel, "s": start_ms, "e": end_ms},
    )
    return [(int(t), float(v)) for t, v in rows.tuples()]


async def hourly_points(
    session: AsyncSession, node_id: int, column: str, channel: int, start_ms: int, end_ms: int
) -> list[tuple[int, float, int, float, float]]:
    """(hour ms, sum, count, min, max) of a metric column's hourly rollups in the window."""
    found = await hourly_points_of(session, [node_id], column, channel, start_ms, end_ms)
    return found.get(node_id, [])


async def hourly_points_of(
    session: AsyncSession,
    node_ids: Sequence[int],
    column: str,
    channel: int,
    start_ms: int,
    end_ms: int,
) -> dict[int, list[tuple[int, float, int, float, float]]]:
    """Node id -> (hour ms, sum, count, min, max) of a metric column's hourly rollups in the
    window, oldest first; a node with none is left out."""
    column = _metric_column(column)
    if not node_ids:
        return {}
    rows = await session.execute(
        text(
            f"select node_id, hour, {column}_sum, {column}_n, {column}_min, "  # noqa: S608
            f"{column}_max from readings_hourly where node_id in :ids and channel = :c "
            f"and hour >= :s and hour < :e and {column}_n > 0 order by node_id, hour"
        ).bindparams(bindparam("ids", expanding=True)),
        {"ids": list(node_ids), "c": channel, "s": start_ms, "e": end_ms},
    )
    out: dict[int, list[tuple[int, float, int, float, float]]] = {}
    for node_id, h, total, n, low, high in rows.tuples():
        out.setdefault(int(node_id), []).append(
            (int(h), float(total), int(n), float(low), float(high))
        )
    return out


async def count_all(session: AsyncSession) -> int:
    """How many readings the hub holds."""
    return int((await session.execute(text("select count(*) from readings"))).scalar_one())
