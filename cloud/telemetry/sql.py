"""Set-based SQL of the ingest path: staging table, insert + rollups from RETURNING, conflicts."""

from __future__ import annotations

from typing import Final

from cloud.telemetry.models import METRICS

STAGING_TABLE: Final = "reading_staging"

CREATE_STAGING: Final = f"""
CREATE TEMP TABLE IF NOT EXISTS {STAGING_TABLE} (
    idx integer NOT NULL,
    node_id uuid NOT NULL,
    owner_id uuid NOT NULL,
    measured_at timestamptz NOT NULL,
    seq bigint,
    source smallint NOT NULL,
    moisture real,
    temperature real,
    humidity real,
    illuminance real,
    battery real
) ON COMMIT DELETE ROWS
"""

STAGING_COLUMNS: Final = (
    "idx",
    "node_id",
    "owner_id",
    "measured_at",
    "seq",
    "source",
    *METRICS,
)

COPY_STAGING: Final = f"COPY {STAGING_TABLE} ({', '.join(STAGING_COLUMNS)}) FROM STDIN"

_READING_COLUMNS = ("node_id", "measured_at", "owner_id", "seq", "source", *METRICS)


def _rollup_upsert(table: str, bucket_sql: str) -> str:
    aggregates = ",\n        ".join(
        f"count({m}), min({m}), max({m}), sum({m}::double precision)" for m in METRICS
    )
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
    INSERT INTO {table} AS r (node_id, bucket, owner_id, n, {columns})
    SELECT node_id, {bucket_sql} AS bucket, owner_id, count(*),
        {aggregates}
    FROM ins
    GROUP BY node_id, bucket, owner_id
    ORDER BY node_id, bucket
    ON CONFLICT (node_id, bucket) DO UPDATE SET
        n = r.n + excluded.n,
        {updates}
    RETURNING 1
    """


# One statement: insert new rows, fold exactly those rows into both rollups, move each node's
# last_reading_at forward. Data-modifying CTEs always run to completion.
INSERT_AND_ROLL_UP: Final = f"""
WITH ins AS (
    INSERT INTO readings ({", ".join(_READING_COLUMNS)})
    SELECT {", ".join(_READING_COLUMNS)} FROM {STAGING_TABLE}
    ON CONFLICT (node_id, measured_at) DO NOTHING
    RETURNING node_id, measured_at, owner_id, {", ".join(METRICS)}
),
hourly AS ({_rollup_upsert("readings_hourly", "date_trunc('hour', measured_at, 'UTC')")}),
daily AS ({_rollup_upsert("readings_daily", "date_trunc('day', measured_at, 'UTC')")}),
touched AS (
    UPDATE nodes AS n SET last_reading_at = latest.at
    FROM (SELECT node_id, max(measured_at) AS at FROM ins GROUP BY node_id ORDER BY node_id)
        AS latest
    WHERE n.id = latest.node_id
      AND (n.last_reading_at IS NULL OR n.last_reading_at < latest.at)
    RETURNING 1
)
SELECT (SELECT count(*) FROM ins), (SELECT count(*) FROM hourly), (SELECT count(*) FROM daily)
"""

# Items that were not inserted because the stored row at that key holds different values.
FIND_CONFLICTS: Final = f"""
SELECT s.idx
FROM {STAGING_TABLE} AS s
JOIN readings AS r ON r.node_id = s.node_id AND r.measured_at = s.measured_at
WHERE ({", ".join(f"r.{m}" for m in METRICS)}) IS DISTINCT FROM
      ({", ".join(f"s.{m}" for m in METRICS)})
ORDER BY s.idx
"""
