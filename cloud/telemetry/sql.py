"""Set-based SQL of the ingest path: the staged batch, insert, rollups, conflicts."""

from __future__ import annotations

from typing import Final

from cloud.notifications.queueing import defer_events_sql
from cloud.telemetry.models import METRICS
from shared.metrics import REGISTRY

# The batch's readings to store, as one binary array parameter per column
# (``telemetry.repository.stage_readings``): -1 stands for a missing seq and NaN for a missing
# metric (a valid reading is always finite). Used as the CTE ``s`` of the statements below.
STAGED_ELEMENT_TYPES: Final = {
    "node_id": "uuid",
    "idx": "int4",
    "measured_at": "timestamptz",
    "seq": "int8",
    "source": "int2",
    "channel": "int2",
    **{entry.name: entry.storage.sql.lower() for entry in REGISTRY},
}
STAGED: Final = tuple(STAGED_ELEMENT_TYPES)  # the staged batch's array parameters
_STAGED = f"""
s AS (
    SELECT node_id, idx, measured_at, NULLIF(seq, -1) AS seq, source, channel,
        {", ".join(f"NULLIF({m}, 'NaN') AS {m}" for m in METRICS)}
    FROM unnest({", ".join(f"%({c})b::{t}[]" for c, t in STAGED_ELEMENT_TYPES.items())})
         AS t({", ".join(STAGED_ELEMENT_TYPES)})
)"""

# The stored columns, in the table's (alignment) order; a node's owner is on ``nodes``.
_READING_COLUMNS = ("measured_at", "node_id", "seq", *METRICS, "source", "channel")
# u32 sequence numbers are stored in an int4 (two's complement): ``SEQ_READ`` gives them back.
SEQ_STORE: Final = "seq::bigint::bit(32)::integer"
SEQ_READ: Final = "(seq::bigint & 4294967295)"
_READING_VALUES = tuple(SEQ_STORE if c == "seq" else c for c in _READING_COLUMNS)


def _rollup_upsert(table: str, select_sql: str) -> str:
    columns = ", ".join(f"{m}_count, {m}_min, {m}_max, {m}_sum" for m in METRICS)
    updates = ",\n        ".join(
        f"{m}_count = r.{m}_count + excluded.{m}_count, "
        f"{m}_min = LEAST(r.{m}_min, excluded.{m}_min), "
        f"{m}_max = GREATEST(r.{m}_max, excluded.{m}_max), "
        f"{m}_sum = CASE WHEN excluded.{m}_sum IS NULL THEN r.{m}_sum "
        f"ELSE coalesce(r.{m}_sum, 0) + excluded.{m}_sum END"
        for m in METRICS
    )
    # ORDER BY keeps lock order stable across concurrent batches (no deadlocks).
    return f"""
    INSERT INTO {table} AS r (node_id, channel, bucket, owner_id, n, {columns})
    {select_sql}
    ON CONFLICT (node_id, channel, bucket) DO UPDATE SET
        n = r.n + excluded.n,
        {updates}
    RETURNING 1
    """


def _hour_aggregates(table: str = "") -> str:
    return ",\n        ".join(
        f"count({table}{m}) AS {m}_count, min({table}{m}) AS {m}_min, "
        f"max({table}{m}) AS {m}_max, sum({table}{m}::double precision) AS {m}_sum"
        for m in METRICS
    )


_HOUR_AGGREGATES = _hour_aggregates()
_DAY_AGGREGATES = ", ".join(
    f"sum({m}_count), min({m}_min), max({m}_max), sum({m}_sum)" for m in METRICS
)
_HOUR_COLUMNS = ", ".join(f"{m}_count, {m}_min, {m}_max, {m}_sum" for m in METRICS)

_AFTER_H = f"""
hourly AS ({
    _rollup_upsert(
        "readings_hourly",
        f"SELECT node_id, channel, bucket, owner_id, n, {_HOUR_COLUMNS} FROM h "
        "ORDER BY node_id, channel, bucket",
    )
}),
daily AS ({
    _rollup_upsert(
        "readings_daily",
        "SELECT node_id, channel, date_trunc('day', bucket, 'UTC') AS day, owner_id, sum(n), "
        f"{_DAY_AGGREGATES} FROM h GROUP BY node_id, channel, day, owner_id "
        "ORDER BY node_id, channel, day",
    )
}),
unstale AS (
    UPDATE alerts SET status = 'resolved', resolved_at = now()
    WHERE node_id IN (SELECT node_id FROM h) AND kind = 'stale' AND source = 'cloud'
      AND status <> 'resolved'
    RETURNING id, owner_id
),
unstale_events AS ({defer_events_sql("SELECT id, owner_id, 'alert.resolved' FROM unstale")}
),
touched AS (
    UPDATE nodes AS n SET last_reading_at = latest.at
    FROM (SELECT node_id, max(last_at) AS at FROM h GROUP BY node_id ORDER BY node_id) AS latest
    WHERE n.id = latest.node_id
      AND (n.last_reading_at IS NULL OR n.last_reading_at < latest.at)
    RETURNING 1
)
SELECT coalesce((SELECT sum(n) FROM h), 0), (SELECT count(*) FROM hourly),
       (SELECT count(*) FROM daily), (SELECT cardinality(jobs) FROM unstale_events),
       ARRAY(SELECT node_id FROM h ORDER BY node_id), ARRAY(SELECT n FROM h ORDER BY node_id)
"""

# Taken right after the batch ids' claim, before the batches' nodes and alert states are read,
# in key order (all of a group's nodes in one statement), until the transaction ends: batches
# of the same nodes are applied one after the other, so the insert below needs no ON CONFLICT,
# a batch judges alerts on the states the previous one left, and the rollup and alert-state
# rows a batch updates are not locked in opposite orders by another. Keyed by owner and MAC (a
# node's identity within an account), so the lock goes out in the same round trip as the reads.
INGEST_LOCK_CLASS: Final = "plantvita:ingest-node"
LOCK_NODES: Final = """
SELECT count(pg_advisory_xact_lock(hashtext(%(class)s), key))
FROM (SELECT DISTINCT hashtext(owner::text || '/' || mac) AS key
      FROM unnest(%(owners)s::uuid[], %(macs)s::text[]) AS k(owner, mac) ORDER BY key) AS keys
"""

# Insert the staged rows that are not stored yet (the first of each key the batch repeats; the
# staged rows of an ingest group's batches, whose nodes do not overlap) and roll up exactly
# those rows, from what the insert returns: their hourly aggregates are upserted
# into the hourly rollup and re-aggregated per day (much smaller) into the daily rollup; each
# node's last_reading_at moves forward and the stale alerts of nodes that reported are resolved
# (queueing their notifications, ``cloud.notifications.queueing``). One statement: a 40-reading
# batch pays one parse, plan and round trip instead of two, and the rollups need no parameters
# of their own (a node's owner comes from ``nodes``). Data-modifying CTEs always run to
# completion; the first column is the count of rows inserted, the last two give it per node
# (node ids and counts, aligned; a node may repeat), which splits a group's count by batch.
# The staged rows' time span (``first_at``, ``last_at``) is a plain parameter too: the planner
# then leaves out the partitions outside it (a probe of every month's partition planned anew
# for each execution was a third of the statement's time).
# No ON CONFLICT DO NOTHING: its speculative insertion writes a confirmation WAL record after
# every row, a third of the row's own (``LOCK_NODES`` keeps other batches' rows of these nodes
# out). OFFSET 0 keeps the check a primary-key probe per staged row, as ON CONFLICT's is: as an
# anti-join the planner may hash the whole month's partition (the array has no stats).
INSERT_READINGS: Final = f"""
WITH {_STAGED},
ins AS (
    INSERT INTO readings ({", ".join(_READING_COLUMNS)})
    SELECT DISTINCT ON (node_id, channel, measured_at) {", ".join(_READING_VALUES)}
    FROM s
    WHERE NOT EXISTS (SELECT FROM readings AS r WHERE r.node_id = s.node_id
                      AND r.channel = s.channel AND r.measured_at = s.measured_at
                      AND r.measured_at BETWEEN %(first_at)s AND %(last_at)s OFFSET 0)
    ORDER BY node_id, channel, measured_at, idx
    RETURNING node_id, channel, measured_at, {", ".join(METRICS)}
),
h AS MATERIALIZED (
    SELECT g.*, nd.owner_id
    FROM (SELECT node_id, channel, date_trunc('hour', measured_at, 'UTC') AS bucket,
              count(*) AS n, max(measured_at) AS last_at, {_HOUR_AGGREGATES}
          FROM ins
          GROUP BY node_id, channel, bucket) AS g
    JOIN nodes AS nd ON nd.id = g.node_id
),
{_AFTER_H}"""

# Items that were not inserted because the stored row at that key holds different values.
FIND_CONFLICTS: Final = f"""
WITH {_STAGED}
SELECT s.idx
FROM s
JOIN readings AS r ON r.node_id = s.node_id AND r.channel = s.channel
    AND r.measured_at = s.measured_at AND r.measured_at BETWEEN %(first_at)s AND %(last_at)s
WHERE ({", ".join(f"r.{m}" for m in METRICS)}) IS DISTINCT FROM
      ({", ".join(f"s.{m}" for m in METRICS)})
ORDER BY s.idx
"""

# Rebuild both rollups of one owner from raw readings (bulk loads, repairs, tests). Uses the
# same aggregates as the ingest path, so rebuilt rollups equal incrementally maintained ones.
REBUILD_HOURLY: Final = f"""
INSERT INTO readings_hourly (node_id, channel, bucket, owner_id, n, {_HOUR_COLUMNS})
SELECT node_id, channel, date_trunc('hour', measured_at, 'UTC') AS bucket, %(owner_id)s,
    count(*), {_HOUR_AGGREGATES}
FROM readings WHERE node_id IN (SELECT id FROM nodes WHERE owner_id = %(owner_id)s)
GROUP BY node_id, channel, bucket
ON CONFLICT (node_id, channel, bucket) DO NOTHING
"""

REBUILD_DAILY: Final = f"""
INSERT INTO readings_daily (node_id, channel, bucket, owner_id, n, {_HOUR_COLUMNS})
SELECT node_id, channel, date_trunc('day', bucket, 'UTC') AS day, owner_id, sum(n),
    {_DAY_AGGREGATES}
FROM readings_hourly WHERE owner_id = %(owner_id)s
GROUP BY node_id, channel, day, owner_id
ON CONFLICT (node_id, channel, bucket) DO NOTHING
"""
