"""Telemetry queries on the raw psycopg connection under the request's transaction."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import repeat
from typing import Any

import numpy as np
import numpy.typing as npt
import psycopg
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.db.arrays import binary_array, concat_arrays
from cloud.ingest.batches import CLAIM_GROUP_SQL, STORED_SQL
from cloud.ingest.context import NodeContext
from cloud.ingest.validation import NodeReadings, ReadingColumns, utc_from_micros
from cloud.telemetry import sql
from cloud.telemetry.models import readings, readings_daily, readings_hourly
from shared.metrics import METRIC_NAMES, threshold_fields
from shared.sync import EARLIEST_TIME

Conn = psycopg.AsyncConnection[Any]


_THRESHOLD_COLUMNS = tuple(threshold_fields())


# The nodes of a group's batches, by (owner, MAC): ``keys`` are two aligned arrays.
_CONTEXTS_SQL = f"""
    SELECT n.id, n.mac, n.hub_id, n.sampling_interval_s, p.id, p.overrides, n.last_reading_at,
           s.id IS NOT NULL, {", ".join(f"s.{c}" for c in _THRESHOLD_COLUMNS)}, n.owner_id
    FROM unnest(%b::uuid[], %b::text[]) AS k(owner_id, mac)
    JOIN nodes AS n ON n.owner_id = k.owner_id AND n.mac = k.mac
    LEFT JOIN plants AS p ON p.node_id = n.id
    LEFT JOIN species AS s ON s.id = p.species_id
"""

_STATES_SQL = """
    SELECT s.node_id, s.metric, s.breach, s.breach_since, s.breach_value, s.alert_id,
           s.last_evaluated_at
    FROM unnest(%b::uuid[], %b::text[]) AS k(owner_id, mac)
    JOIN nodes AS n ON n.owner_id = k.owner_id AND n.mac = k.mac
    JOIN alert_states AS s ON s.node_id = n.id
"""


StateRows = dict[tuple[uuid.UUID, str], tuple[Any, ...]]


@dataclass(frozen=True, slots=True)
class BatchClaim:
    """One batch of an ingest group: whose it is, its id, what it held and its nodes' MACs."""

    hub_id: uuid.UUID
    owner_id: uuid.UUID
    batch_id: uuid.UUID
    digest: str
    macs: list[str]


@dataclass(frozen=True, slots=True)
class BatchContext:
    """Everything ingestion reads before writing, fetched in one round trip."""

    stored_ack: dict[str, Any] | None  # set when this batch id was already ingested
    stored_digest: str | None  # what that batch held (None: stored before digests were kept)
    nodes: dict[str, NodeContext]
    states: StateRows


_SPECIES_END = 8 + len(_THRESHOLD_COLUMNS)


def _contexts(rows: Sequence[tuple[Any, ...]]) -> dict[tuple[uuid.UUID, str], NodeContext]:
    contexts: dict[tuple[uuid.UUID, str], NodeContext] = {}
    for row in rows:
        species = (
            dict(zip(_THRESHOLD_COLUMNS, row[8:_SPECIES_END], strict=True)) if row[7] else None
        )
        contexts[row[-1], row[1]] = NodeContext(
            row[0], row[1], row[2], row[3], row[4], species, row[5], row[6]
        )
    return contexts


async def begin_group(conn: Conn, kind: str, claims: Sequence[BatchClaim]) -> list[BatchContext]:
    """Claim the batch ids (``batches.CLAIM_GROUP_SQL``), lock all their nodes
    (``sql.LOCK_NODES``) and read them and their alert states, pipelined into one round trip;
    one context per claim, in order. The claims' nodes must not overlap.

    A concurrent twin of a batch blocks on its claim until the first commits, then reads its
    stored ack (a second round trip, for replays only).
    """
    owners = [claim.owner_id for claim in claims for _ in claim.macs]
    macs = [mac for claim in claims for mac in claim.macs]
    async with conn.pipeline():
        claimed = conn.cursor()
        await claimed.execute(
            CLAIM_GROUP_SQL,
            {
                "kind": kind,
                "hubs": [claim.hub_id for claim in claims],
                "batches": [claim.batch_id for claim in claims],
                "owners": [claim.owner_id for claim in claims],
                "digests": [claim.digest for claim in claims],
            },
        )
        await conn.execute(
            sql.LOCK_NODES, {"class": sql.INGEST_LOCK_CLASS, "owners": owners, "macs": macs}
        )
        nodes = conn.cursor()
        await nodes.execute(_CONTEXTS_SQL, (owners, macs))
        states = conn.cursor()
        await states.execute(_STATES_SQL, (owners, macs))
    new = {(row[0], row[1]) for row in await claimed.fetchall()}
    found = _contexts(await nodes.fetchall())
    states_of: dict[uuid.UUID, StateRows] = {}
    for row in await states.fetchall():
        states_of.setdefault(row[0], {})[row[0], row[1]] = row
    contexts: list[BatchContext] = []
    for claim in claims:
        if (claim.hub_id, claim.batch_id) not in new:
            async with conn.cursor() as stored:
                await stored.execute(STORED_SQL, (claim.hub_id, kind, claim.batch_id))
                row = await stored.fetchone()
            ack = row[0] if row and row[0] else {}
            contexts.append(BatchContext(ack, row[1] if row else None, {}, {}))
            continue
        nodes_of = {
            mac: found[claim.owner_id, mac] for mac in claim.macs if (claim.owner_id, mac) in found
        }
        held: StateRows = {}
        for node in nodes_of.values():
            held.update(states_of.get(node.node_id, {}))
        contexts.append(BatchContext(None, None, nodes_of, held))
    return contexts


@dataclass(frozen=True, slots=True)
class InsertOutcome:
    """How many rows went in, and which items clashed with stored values."""

    inserted: int
    conflicts: list[int]


@dataclass(slots=True)
class StagedBatch:
    """The readings to store as array parameters (``sql.STAGED_ELEMENT_TYPES``), and what was left
    out and why."""

    params: dict[str, Any]  # the arrays (``sql.STAGED``), the rows' ``first_at`` and ``last_at``
    rows: int
    unknown: list[tuple[int, str]]  # (item index, MAC) of nodes not registered to the owner
    future: list[int]  # item indexes too far ahead of the clock
    too_old: list[int]  # item indexes before shared.sync.EARLIEST_TIME (a clock never set)
    expired: list[int]  # item indexes older than the raw readings are kept (``earliest``)
    by_node: dict[str, NodeReadings]  # staged readings per MAC, time-ordered, for alerts
    node_ids: frozenset[uuid.UUID]  # the batch's known nodes


_EARLIEST_US = round(EARLIEST_TIME.timestamp() * 1e6)


def stage_readings(
    columns: ReadingColumns,
    nodes: dict[str, uuid.UUID],
    horizon: datetime,
    earliest: datetime | None = None,
) -> StagedBatch:
    """Encode the readings of known nodes not beyond ``horizon`` as binary array parameters.

    Readings before ``earliest`` (the raw retention window's start) are left out: retention
    drops raw rows older than that, and a reading's rollups must be counted once, which
    only its stored raw row (the conflict key) guarantees.

    Whole columns at a time: this is the ingest hot path, so no Python work per row.
    """
    n = len(columns)
    known = list(nodes)
    code_of = {mac: code for code, mac in enumerate(known)}
    codes = np.fromiter(map(code_of.get, columns.macs, repeat(-1)), dtype=np.int64, count=n)
    is_known = codes >= 0
    horizon_us = round(horizon.timestamp() * 1e6)
    is_future = is_known & (columns.micros > horizon_us)
    is_old = is_known & (columns.micros < _EARLIEST_US)
    earliest_us = _EARLIEST_US if earliest is None else round(earliest.timestamp() * 1e6)
    is_expired = is_known & ~is_old & (columns.micros < earliest_us)
    unknown = [(int(columns.indexes[row]), columns.macs[row]) for row in np.flatnonzero(~is_known)]
    future = [int(columns.indexes[row]) for row in np.flatnonzero(is_future)]
    too_old = [int(columns.indexes[row]) for row in np.flatnonzero(is_old)]
    expired = [int(columns.indexes[row]) for row in np.flatnonzero(is_expired)]
    staged = np.flatnonzero(is_known & ~is_future & ~is_old & ~is_expired)
    node_bytes = np.frombuffer(b"".join(nodes[mac].bytes for mac in known), dtype=np.uint8)
    params = {
        "node_id": binary_array(
            node_bytes.reshape(len(known), 16)[codes[staged]] if known else [], "uuid"
        ),
        "idx": binary_array(columns.indexes[staged], "int4"),
        "measured_at": binary_array(columns.micros[staged], "timestamptz"),
        "seq": binary_array(columns.seq[staged], "int8"),
        "source": binary_array(columns.source[staged], "int2"),
        "channel": binary_array(columns.channel[staged], "int2"),
    }
    for position, name in enumerate(METRIC_NAMES):
        params[name] = binary_array(
            columns.metrics[staged, position], sql.STAGED_ELEMENT_TYPES[name]
        )
    return StagedBatch(
        params={**params, **_span(columns.micros[staged])},
        rows=len(staged),
        unknown=unknown,
        future=future,
        too_old=too_old,
        expired=expired,
        by_node=_by_node(columns, staged, codes, known),
        node_ids=frozenset(nodes.values()),
    )


def _span(micros: npt.NDArray[np.int64]) -> dict[str, datetime | None]:
    """The first and last time of staged rows (None for none)."""
    if len(micros) == 0:
        return {"first_at": None, "last_at": None}
    return {
        "first_at": utc_from_micros(int(micros.min())),
        "last_at": utc_from_micros(int(micros.max())),
    }


def insert_params(batches: Sequence[StagedBatch]) -> dict[str, Any]:
    """The parameters of ``sql.INSERT_READINGS`` for staged batches with rows: their arrays
    end to end, and the span of all their rows."""
    params: dict[str, Any] = {
        name: concat_arrays([batch.params[name] for batch in batches]) for name in sql.STAGED
    }
    params["first_at"] = min(batch.params["first_at"] for batch in batches)
    params["last_at"] = max(batch.params["last_at"] for batch in batches)
    return params


def _by_node(
    columns: ReadingColumns,
    staged: npt.NDArray[np.intp],
    codes: npt.NDArray[np.int64],
    known: list[str],
) -> dict[str, NodeReadings]:
    """Staged channel-0 rows (a node's first sensor of each kind, what alerts judge) grouped
    per node and ordered by time (ties keep batch order)."""
    staged = staged[columns.channel[staged] == 0]
    if len(staged) == 0:
        return {}
    order = staged[np.lexsort((columns.micros[staged], codes[staged]))]
    bounds = np.flatnonzero(np.diff(codes[order])) + 1
    return {
        known[int(codes[rows[0]])]: NodeReadings(columns.micros[rows], columns.metrics[rows])
        for rows in np.split(order, bounds)
    }


async def insert_readings(conn: Conn, batches: Sequence[StagedBatch]) -> list[InsertOutcome]:
    """Insert the staged rows of a group's batches not stored yet and roll up exactly those, in
    one statement (the nodes are locked since ``begin_group`` and no two batches share one);
    look up conflicting items, batch by batch, only where some rows were not new. One
    outcome per batch, in order."""
    live = [batch for batch in batches if batch.rows]
    if not live:
        return [InsertOutcome(0, []) for _ in batches]
    params = insert_params(live)
    per_node: Counter[uuid.UUID] = Counter()
    async with conn.cursor() as cur:
        await cur.execute(sql.INSERT_READINGS, params)
        row = await cur.fetchone()
        assert row is not None
        for node_id, count in zip(row[4], row[5], strict=True):
            per_node[node_id] += count
    inserted = [sum(per_node[node] for node in batch.node_ids) for batch in batches]
    short = [i for i, batch in enumerate(batches) if inserted[i] < batch.rows]
    conflicts: dict[int, list[int]] = {}
    if short:
        async with conn.pipeline():
            cursors = []
            for i in short:
                cursor = conn.cursor()
                await cursor.execute(sql.FIND_CONFLICTS, batches[i].params)
                cursors.append(cursor)
        for i, cursor in zip(short, cursors, strict=True):
            conflicts[i] = [int(found[0]) for found in await cursor.fetchall()]
    return [InsertOutcome(inserted[i], conflicts.get(i, [])) for i in range(len(batches))]


POINT_KEYS: tuple[str, ...] = (
    "t",
    "count",
    *(name for m in METRIC_NAMES for name in (m, f"{m}_min", f"{m}_max")),
)

_RAW_SELECT = ", ".join(["measured_at", "1"] + [f"{m}, {m}, {m}" for m in METRIC_NAMES])
_ROLLUP_SELECT = ", ".join(
    ["bucket", "n"] + [f"{m}_sum / NULLIF({m}_count, 0), {m}_min, {m}_max" for m in METRIC_NAMES]
)
_COARSE_AGGREGATES = ", ".join(
    f"sum({m}_sum) / NULLIF(sum({m}_count), 0), min({m}_min), max({m}_max)" for m in METRIC_NAMES
)
_LATEST_COLUMNS = ", ".join(METRIC_NAMES)
_LATEST_SELECT = ", ".join(f"r.{m}" for m in METRIC_NAMES)
ROLLUP_TABLES = {"hour": "readings_hourly", "day": "readings_daily"}


async def count_points(
    conn: Conn,
    resolution: str,
    node_id: uuid.UUID,
    start: datetime,
    end: datetime,
    cap: int,
    channel: int = 0,
) -> int:
    """How many points the window holds at ``resolution``, counting at most ``cap``."""
    if resolution == "raw":
        query = """SELECT count(*) FROM (SELECT 1 FROM readings WHERE node_id = %s
                   AND channel = %s AND measured_at >= %s AND measured_at < %s LIMIT %s) AS s"""
    else:
        query = f"""SELECT count(*) FROM (SELECT 1 FROM {ROLLUP_TABLES[resolution]}
                    WHERE node_id = %s AND channel = %s
                    AND bucket >= date_trunc('{resolution}', %s, 'UTC')
                    AND bucket < %s LIMIT %s) AS s"""
    async with conn.cursor() as cur:
        await cur.execute(query, (node_id, channel, start, end, cap))
        row = await cur.fetchone()
    return int(row[0]) if row else 0


async def count_raw_and_hourly(
    conn: Conn, node_id: uuid.UUID, start: datetime, end: datetime, cap: int, channel: int = 0
) -> tuple[int, int]:
    """``count_points`` of the window at raw and at hourly resolution, in one statement."""
    query = """SELECT
        (SELECT count(*) FROM (SELECT 1 FROM readings WHERE node_id = %(node)s
         AND channel = %(channel)s AND measured_at >= %(start)s AND measured_at < %(end)s
         LIMIT %(cap)s) AS r),
        (SELECT count(*) FROM (SELECT 1 FROM readings_hourly WHERE node_id = %(node)s
         AND channel = %(channel)s AND bucket >= date_trunc('hour', %(start)s, 'UTC')
         AND bucket < %(end)s LIMIT %(cap)s) AS h)"""
    params = {"node": node_id, "channel": channel, "start": start, "end": end, "cap": cap}
    async with conn.cursor() as cur:
        await cur.execute(query, params)
        row = await cur.fetchone()
    return (int(row[0]), int(row[1])) if row else (0, 0)


async def series(
    conn: Conn,
    resolution: str,
    node_id: uuid.UUID,
    start: datetime,
    end: datetime,
    limit: int,
    channel: int = 0,
) -> list[tuple[Any, ...]]:
    """Points of the window at ``resolution`` (columns as ``POINT_KEYS``) of one channel."""
    if resolution == "raw":
        query = f"""SELECT {_RAW_SELECT} FROM readings WHERE node_id = %s AND channel = %s
                    AND measured_at >= %s AND measured_at < %s ORDER BY measured_at LIMIT %s"""
    else:
        query = f"""SELECT {_ROLLUP_SELECT} FROM {ROLLUP_TABLES[resolution]}
                    WHERE node_id = %s AND channel = %s
                    AND bucket >= date_trunc('{resolution}', %s, 'UTC')
                    AND bucket < %s ORDER BY bucket LIMIT %s"""
    async with conn.cursor() as cur:
        await cur.execute(query, (node_id, channel, start, end, limit))
        return await cur.fetchall()


async def coarse_series(
    conn: Conn,
    node_id: uuid.UUID,
    start: datetime,
    end: datetime,
    stride_days: int,
    channel: int = 0,
) -> list[tuple[Any, ...]]:
    """Daily rollups merged into ``stride_days`` bins, for windows longer than max_points days."""
    query = f"""
        SELECT date_bin(make_interval(days => %s), bucket, TIMESTAMPTZ '2000-01-01 00:00Z') AS t,
               sum(n), {_COARSE_AGGREGATES}
        FROM readings_daily
        WHERE node_id = %s AND channel = %s AND bucket >= date_trunc('day', %s, 'UTC')
        AND bucket < %s
        GROUP BY t ORDER BY t"""
    async with conn.cursor() as cur:
        await cur.execute(query, (stride_days, node_id, channel, start, end))
        return await cur.fetchall()


async def channels(conn: Conn, node_id: uuid.UUID) -> list[int]:
    """The sensor channels the node has readings of, from its daily rollups (0 always)."""
    async with conn.cursor() as cur:
        await cur.execute(
            "SELECT DISTINCT channel FROM readings_daily WHERE node_id = %s ORDER BY channel",
            (node_id,),
        )
        found = [int(row[0]) for row in await cur.fetchall()]
    return found if found and found[0] == 0 else [0, *found]


async def latest_for_plants(
    conn: Conn, owner_id: uuid.UUID, limit: int | None = None, after: Sequence[Any] | None = None
) -> list[tuple[Any, ...]]:
    """Newest reading of each of the owner's plants that has a node (its first sensors,
    channel 0), by plant name then id, after the plant (name, id) ``after``; each row ends
    with the plant's name (the page key)."""
    seek = "AND (p.name, p.id) > (%s, %s)" if after is not None else ""
    query = f"""
        SELECT p.id, p.node_id, r.measured_at, r.channel, {_LATEST_SELECT}, p.name
        FROM plants AS p
        JOIN LATERAL (
            SELECT * FROM readings WHERE node_id = p.node_id AND channel = 0
            ORDER BY measured_at DESC LIMIT 1
        ) AS r ON true
        WHERE p.owner_id = %s {seek}
        ORDER BY p.name, p.id
        LIMIT %s"""  # LIMIT NULL: all
    async with conn.cursor() as cur:
        await cur.execute(query, (owner_id, *(after or ()), limit))
        return await cur.fetchall()


async def latest_of_plant(
    conn: Conn, owner_id: uuid.UUID, plant_id: uuid.UUID
) -> list[tuple[Any, ...]] | None:
    """Newest reading of each sensor channel of one of the owner's plants, by channel,
    checking ownership in the same statement: None when the plant is not the owner's, an
    empty list when it has no reading yet. The channels come from the daily rollups (a few
    rows per node), each newest reading from the primary key."""
    query = f"""
        SELECT p.id, p.node_id, r.measured_at, r.channel, {_LATEST_SELECT}
        FROM plants AS p
        LEFT JOIN LATERAL (
            SELECT l.* FROM (
                SELECT DISTINCT channel FROM readings_daily WHERE node_id = p.node_id
            ) AS c
            CROSS JOIN LATERAL (
                SELECT measured_at, channel, {_LATEST_COLUMNS}
                FROM readings WHERE node_id = p.node_id AND channel = c.channel
                ORDER BY measured_at DESC LIMIT 1
            ) AS l
        ) AS r ON true
        WHERE p.owner_id = %s AND p.id = %s
        ORDER BY r.channel"""
    async with conn.cursor() as cur:
        await cur.execute(query, (owner_id, plant_id))
        rows = await cur.fetchall()
    if not rows:
        return None
    return [row for row in rows if row[2] is not None]


async def illuminance_by_day(
    conn: Conn, owner_id: uuid.UUID, since: datetime, today: datetime, plant_id: uuid.UUID | None
) -> list[tuple[Any, ...]]:
    """(node id, is today, illuminance sum, count) of the first light sensor (channel 0) of
    the owner's plants' nodes over the UTC days [``since``, ``today`` + 1 day) from the hourly
    rollups, ``today`` apart from the rest; one plant's node only with ``plant_id``."""
    plant = "AND id = %(plant)s" if plant_id is not None else ""
    query = f"""
        SELECT node_id, bucket >= %(today)s AS is_today,
               sum(illuminance_sum), sum(illuminance_count)
        FROM readings_hourly
        WHERE channel = 0 AND node_id IN (SELECT node_id FROM plants
                          WHERE owner_id = %(owner)s AND node_id IS NOT NULL {plant})
          AND bucket >= %(since)s AND bucket < %(today)s + interval '1 day'
          AND illuminance_count > 0
        GROUP BY node_id, is_today"""
    async with conn.cursor() as cur:
        await cur.execute(
            query, {"owner": owner_id, "plant": plant_id, "since": since, "today": today}
        )
        return await cur.fetchall()


async def delete_node_readings(session: AsyncSession, node_id: uuid.UUID) -> None:
    """Readings and rollups of a node (the hot tables carry no foreign keys)."""
    await session.execute(delete(readings).where(readings.c.node_id == node_id))
    await session.execute(delete(readings_hourly).where(readings_hourly.c.node_id == node_id))
    await session.execute(delete(readings_daily).where(readings_daily.c.node_id == node_id))
