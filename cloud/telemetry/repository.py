"""Telemetry queries on the raw psycopg connection under the request's transaction."""

from __future__ import annotations

import struct
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from cloud.telemetry import sql
from cloud.telemetry.validation import SOURCE_CODES, ValidReading

Conn = psycopg.AsyncConnection[Any]


@dataclass(frozen=True, slots=True)
class NodeContext:
    """What ingestion needs to know of a node: ids, sampling interval, its plant's ranges."""

    node_id: uuid.UUID
    mac: str
    hub_id: uuid.UUID | None
    sampling_interval_s: int
    plant_id: uuid.UUID | None
    species: dict[str, Any] | None
    overrides: dict[str, Any] | None


_THRESHOLD_COLUMNS = (
    "moisture_min",
    "moisture_max",
    "temperature_min",
    "temperature_max",
    "humidity_min",
    "humidity_max",
    "light_lux_min",
    "light_lux_max",
    "dli_min",
    "dli_max",
)


_CONTEXTS_SQL = f"""
    SELECT n.id, n.mac, n.hub_id, n.sampling_interval_s, p.id, p.overrides,
           s.id IS NOT NULL, {", ".join(f"s.{c}" for c in _THRESHOLD_COLUMNS)}
    FROM nodes AS n
    LEFT JOIN plants AS p ON p.node_id = n.id
    LEFT JOIN species AS s ON s.id = p.species_id
    WHERE n.owner_id = %s AND n.mac = ANY(%s)
"""

_STATES_SQL = """
    SELECT s.node_id, s.metric, s.breach, s.breach_since, s.breach_value, s.alert_id,
           s.last_evaluated_at
    FROM alert_states AS s JOIN nodes AS n ON n.id = s.node_id
    WHERE n.owner_id = %s AND n.mac = ANY(%s)
"""

_CLAIM_SQL = """
    INSERT INTO ingest_batches (hub_id, kind, batch_id, owner_id, created_at)
    VALUES (%s, %s, %s, %s, now())
    ON CONFLICT DO NOTHING
    RETURNING 1
"""

_STORED_ACK_SQL = "SELECT ack FROM ingest_batches WHERE hub_id = %s AND kind = %s AND batch_id = %s"

StateRows = dict[tuple[uuid.UUID, str], tuple[Any, ...]]


@dataclass(frozen=True, slots=True)
class BatchContext:
    """Everything ingestion reads before writing, fetched in one round trip."""

    stored_ack: dict[str, Any] | None  # set when this batch id was already ingested
    nodes: dict[str, NodeContext]
    states: StateRows


def _contexts(rows: Sequence[tuple[Any, ...]]) -> dict[str, NodeContext]:
    contexts: dict[str, NodeContext] = {}
    for row in rows:
        species = dict(zip(_THRESHOLD_COLUMNS, row[7:], strict=True)) if row[6] else None
        contexts[row[1]] = NodeContext(row[0], row[1], row[2], row[3], row[4], species, row[5])
    return contexts


async def begin_batch(
    conn: Conn,
    hub_id: uuid.UUID,
    owner_id: uuid.UUID,
    kind: str,
    batch_id: uuid.UUID,
    macs: Sequence[str],
) -> BatchContext:
    """Claim the batch id and read nodes and alert states, pipelined into one round trip.

    A concurrent twin of the batch blocks on the claim until the first commits, then reads
    its stored ack.
    """
    async with conn.pipeline():
        await conn.execute(sql.CREATE_STAGING)
        claim = conn.cursor()
        await claim.execute(_CLAIM_SQL, (hub_id, kind, batch_id, owner_id))
        stored = conn.cursor()
        await stored.execute(_STORED_ACK_SQL, (hub_id, kind, batch_id))
        nodes = conn.cursor()
        await nodes.execute(_CONTEXTS_SQL, (owner_id, list(macs)))
        states = conn.cursor()
        await states.execute(_STATES_SQL, (owner_id, list(macs)))
    if await claim.fetchone() is None:
        row = await stored.fetchone()
        return BatchContext(row[0] if row and row[0] else {}, {}, {})
    return BatchContext(
        None,
        _contexts(await nodes.fetchall()),
        {(row[0], row[1]): row for row in await states.fetchall()},
    )


async def claim_batch(
    conn: Conn, hub_id: uuid.UUID, owner_id: uuid.UUID, kind: str, batch_id: uuid.UUID
) -> dict[str, Any] | None:
    """Record the batch id; return the stored ack if it was seen before (None when new).

    A concurrent twin blocks on the primary key until the first commits, then sees its ack.
    """
    async with conn.cursor() as cur:
        await cur.execute(
            """
            INSERT INTO ingest_batches (hub_id, kind, batch_id, owner_id, created_at)
            VALUES (%s, %s, %s, %s, now())
            ON CONFLICT DO NOTHING
            RETURNING 1
            """,
            (hub_id, kind, batch_id, owner_id),
        )
        if await cur.fetchone() is not None:
            return None
        await cur.execute(
            "SELECT ack FROM ingest_batches WHERE hub_id = %s AND kind = %s AND batch_id = %s",
            (hub_id, kind, batch_id),
        )
        row = await cur.fetchone()
    ack: dict[str, Any] = row[0] if row and row[0] else {}
    return ack


async def store_ack(
    conn: Conn, hub_id: uuid.UUID, kind: str, batch_id: uuid.UUID, ack: dict[str, Any]
) -> None:
    """Keep the ack so a re-sent batch gets the same answer."""
    await conn.execute(
        "UPDATE ingest_batches SET ack = %s WHERE hub_id = %s AND kind = %s AND batch_id = %s",
        (Jsonb(ack), hub_id, kind, batch_id),
    )


@dataclass(frozen=True, slots=True)
class InsertOutcome:
    """How many rows went in, and which items clashed with stored values."""

    inserted: int
    conflicts: list[int]


_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
_COPY_TRAILER = struct.pack(">h", -1)
_PG_EPOCH_US = 946_684_800_000_000  # 2000-01-01T00:00:00Z in Unix microseconds
# Binary COPY row: field count, node uuid, owner uuid (a per-node constant prefix), then
# idx int4, measured_at int8 microseconds, seq int8, source int2, five float4 metrics.
_ROW_PREFIX = struct.Struct(">hi16si16s")
_FULL_REST = struct.Struct(">iiiqiqihififififif")
_HEAD_REST = struct.Struct(">iiiq")
_INT8 = struct.Struct(">iq")
_INT2 = struct.Struct(">ih")
_FLOAT4 = struct.Struct(">if")
_NULL = struct.pack(">i", -1)


class StagingEncoder:
    """Encodes valid readings of known nodes, not in the future, as binary COPY rows.

    Fed in slices so the COPY streams while later slices are encoded; counts what it
    stages, which items it leaves out, and groups staged readings by node for alerts.
    """

    SLICE = 1000

    def __init__(self, nodes: dict[str, uuid.UUID], owner: uuid.UUID, horizon: datetime) -> None:
        self.prefixes = {
            mac: _ROW_PREFIX.pack(11, 16, node.bytes, 16, owner.bytes)
            for mac, node in nodes.items()
        }
        self.horizon = horizon
        self.rows = 0
        self.unknown: list[tuple[int, str]] = []
        self.future: list[int] = []
        self.by_node: dict[str, list[ValidReading]] = {mac: [] for mac in nodes}

    def encode(self, indexes: Sequence[int], readings: Sequence[ValidReading]) -> bytes:
        """One slice of COPY data; this loop is the ingest hot path."""
        prefixes, horizon, by_node = self.prefixes, self.horizon, self.by_node
        full = _FULL_REST.pack
        codes = SOURCE_CODES
        out: list[bytes] = []
        append = out.append
        for index, r in zip(indexes, readings, strict=True):
            prefix = prefixes.get(r.node_mac)
            if prefix is None:
                self.unknown.append((index, r.node_mac))
                continue
            at = r.measured_at
            if at > horizon:
                self.future.append(index)
                continue
            by_node[r.node_mac].append(r)
            # Exact: microsecond counts below 2**52 survive the float round trip.
            micros = round(at.timestamp() * 1e6) - _PG_EPOCH_US
            seq, m, t, h, lx, b = (
                r.seq,
                r.moisture,
                r.temperature,
                r.humidity,
                r.illuminance,
                r.battery,
            )
            if (
                seq is not None
                and m is not None
                and t is not None
                and h is not None
                and lx is not None
                and b is not None
            ):
                append(
                    prefix
                    + full(
                        4,
                        index,
                        8,
                        micros,
                        8,
                        seq,
                        2,
                        codes[r.source],
                        4,
                        m,
                        4,
                        t,
                        4,
                        h,
                        4,
                        lx,
                        4,
                        b,
                    )
                )
                continue
            parts = [
                prefix,
                _HEAD_REST.pack(4, index, 8, micros),
                _NULL if seq is None else _INT8.pack(8, seq),
                _INT2.pack(2, codes[r.source]),
            ]
            parts += [
                _NULL if value is None else _FLOAT4.pack(4, value) for value in (m, t, h, lx, b)
            ]
            append(b"".join(parts))
        self.rows += len(out)
        return b"".join(out)

    def staged_by_node(self) -> dict[str, list[ValidReading]]:
        """Staged readings per node MAC (nodes with none left out)."""
        return {mac: readings for mac, readings in self.by_node.items() if readings}


async def insert_readings(
    conn: Conn,
    encoder: StagingEncoder,
    indexes: Sequence[int],
    readings: Sequence[ValidReading],
) -> InsertOutcome:
    """Stream binary COPY into the staging table (created by ``begin_batch``) slice by slice,
    then insert + roll up in one statement."""
    async with conn.cursor() as cur:
        async with cur.copy(sql.COPY_STAGING_BINARY) as copy:
            await copy.write(_COPY_HEADER)
            for start in range(0, len(readings), encoder.SLICE):
                end = start + encoder.SLICE
                await copy.write(encoder.encode(indexes[start:end], readings[start:end]))
            await copy.write(_COPY_TRAILER)
        if encoder.rows == 0:
            return InsertOutcome(0, [])
        await cur.execute(sql.INSERT_AND_ROLL_UP)
        counts = await cur.fetchone()
        inserted = int(counts[0]) if counts else 0
        conflicts: list[int] = []
        if inserted < encoder.rows:
            await cur.execute(sql.FIND_CONFLICTS)
            conflicts = [int(row[0]) for row in await cur.fetchall()]
    return InsertOutcome(inserted, conflicts)


POINT_KEYS: tuple[str, ...] = (
    "t",
    "count",
    *(
        name
        for m in ("moisture", "temperature", "humidity", "illuminance", "battery")
        for name in (m, f"{m}_min", f"{m}_max")
    ),
)

_RAW_SELECT = ", ".join(
    ["measured_at", "1"]
    + [f"{m}, {m}, {m}" for m in ("moisture", "temperature", "humidity", "illuminance", "battery")]
)
_ROLLUP_SELECT = ", ".join(
    ["bucket", "n"]
    + [
        f"{m}_sum / NULLIF({m}_count, 0), {m}_min, {m}_max"
        for m in ("moisture", "temperature", "humidity", "illuminance", "battery")
    ]
)
ROLLUP_TABLES = {"hour": "readings_hourly", "day": "readings_daily"}


async def count_points(
    conn: Conn, resolution: str, node_id: uuid.UUID, start: datetime, end: datetime, cap: int
) -> int:
    """How many points the window holds at ``resolution``, counting at most ``cap``."""
    if resolution == "raw":
        query = """SELECT count(*) FROM (SELECT 1 FROM readings WHERE node_id = %s
                   AND measured_at >= %s AND measured_at < %s LIMIT %s) AS s"""
    else:
        query = f"""SELECT count(*) FROM (SELECT 1 FROM {ROLLUP_TABLES[resolution]}
                    WHERE node_id = %s AND bucket >= date_trunc('{resolution}', %s, 'UTC')
                    AND bucket < %s LIMIT %s) AS s"""
    async with conn.cursor() as cur:
        await cur.execute(query, (node_id, start, end, cap))
        row = await cur.fetchone()
    return int(row[0]) if row else 0


async def series(
    conn: Conn, resolution: str, node_id: uuid.UUID, start: datetime, end: datetime, limit: int
) -> list[tuple[Any, ...]]:
    """Points of the window at ``resolution`` (columns as ``POINT_KEYS``)."""
    if resolution == "raw":
        query = f"""SELECT {_RAW_SELECT} FROM readings WHERE node_id = %s
                    AND measured_at >= %s AND measured_at < %s ORDER BY measured_at LIMIT %s"""
    else:
        query = f"""SELECT {_ROLLUP_SELECT} FROM {ROLLUP_TABLES[resolution]}
                    WHERE node_id = %s AND bucket >= date_trunc('{resolution}', %s, 'UTC')
                    AND bucket < %s ORDER BY bucket LIMIT %s"""
    async with conn.cursor() as cur:
        await cur.execute(query, (node_id, start, end, limit))
        return await cur.fetchall()


async def coarse_series(
    conn: Conn, node_id: uuid.UUID, start: datetime, end: datetime, stride_days: int
) -> list[tuple[Any, ...]]:
    """Daily rollups merged into ``stride_days`` bins, for windows longer than max_points days."""
    metrics = ("moisture", "temperature", "humidity", "illuminance", "battery")
    aggregates = ", ".join(
        f"sum({m}_sum) / NULLIF(sum({m}_count), 0), min({m}_min), max({m}_max)" for m in metrics
    )
    query = f"""
        SELECT date_bin(make_interval(days => %s), bucket, TIMESTAMPTZ '2000-01-01 00:00Z') AS t,
               sum(n), {aggregates}
        FROM readings_daily
        WHERE node_id = %s AND bucket >= date_trunc('day', %s, 'UTC') AND bucket < %s
        GROUP BY t ORDER BY t"""
    async with conn.cursor() as cur:
        await cur.execute(query, (stride_days, node_id, start, end))
        return await cur.fetchall()


async def latest_for_plants(
    conn: Conn, owner_id: uuid.UUID, plant_id: uuid.UUID | None
) -> list[tuple[Any, ...]]:
    """Newest reading of each of the owner's plants (or one plant) that has a node."""
    query = """
        SELECT p.id, p.node_id, r.measured_at, r.moisture, r.temperature, r.humidity,
               r.illuminance, r.battery
        FROM plants AS p
        JOIN LATERAL (
            SELECT * FROM readings WHERE node_id = p.node_id ORDER BY measured_at DESC LIMIT 1
        ) AS r ON true
        WHERE p.owner_id = %s AND (%s::uuid IS NULL OR p.id = %s::uuid)
        ORDER BY p.name"""
    async with conn.cursor() as cur:
        await cur.execute(query, (owner_id, plant_id, plant_id))
        return await cur.fetchall()


async def latest_of_plant(
    conn: Conn, owner_id: uuid.UUID, plant_id: uuid.UUID
) -> list[tuple[Any, ...]] | None:
    """Newest reading of one of the owner's plants, checking ownership in the same statement:
    None when the plant is not the owner's, an empty list when it has no reading yet."""
    query = """
        SELECT p.id, p.node_id, r.measured_at, r.moisture, r.temperature, r.humidity,
               r.illuminance, r.battery
        FROM plants AS p
        LEFT JOIN LATERAL (
            SELECT measured_at, moisture, temperature, humidity, illuminance, battery
            FROM readings WHERE node_id = p.node_id ORDER BY measured_at DESC LIMIT 1
        ) AS r ON true
        WHERE p.owner_id = %s AND p.id = %s"""
    async with conn.cursor() as cur:
        await cur.execute(query, (owner_id, plant_id))
        row = await cur.fetchone()
    if row is None:
        return None
    return [] if row[2] is None else [row]
