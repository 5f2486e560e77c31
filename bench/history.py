"""History latency and storage: p50/p95 of ``GET /api/v1/nodes/{id}/readings`` for 1d, 1w, 1mo
and 1y windows, and the bytes each stored reading takes.

Data: ``NODES`` nodes x the last year of 1-minute readings (50 x 525,600 ≈ 26 M rows), generated
in SQL with ``generate_series`` in real arrival order: a day at a time, every node's readings
interleaved minute by minute (as many hubs' batches arrive), so each node's rows are spread
over the heap as they are in production, not laid out node by node. Hourly and daily rollups
are rebuilt from the raw rows with the ingest path's own aggregates. Storage is measured twice:
as loaded (the open month's layout: primary-key pages half full) and after the storage
maintenance compacted the closed months (``cloud.db.partitions``). Requests go over
loopback HTTP to uvicorn (a subprocess) with ``max_points=1000``, after compaction. Baseline,
same run: the naive query, ``date_bin`` over the raw rows with the bin width that gives ≤ 1,000
points, run directly with psycopg (no HTTP at all). ``--quick`` uses 8 nodes instead of 50 (the
per-node data, and so the per-query work, is the same; only the table is smaller).

Last stdout line: ``{"p95_ms": {...}, "p50_ms": {...}, "baseline_p95_ms": {...}, "rows",
"stored_bytes_per_reading", "loaded_bytes_per_reading", "heap_bytes_per_reading",
"index_bytes_per_reading", ...}``.
"""

from __future__ import annotations

import argparse
import json
import random
import time
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import psycopg

from bench._cloud import (
    cloud_server,
    create_account,
    embedded_database,
    raw_storage,
    rollup_bytes,
)
from bench._common import history_latency, percentiles
from cloud.db.engine import libpq_url
from cloud.db.partitions import RetentionPolicy, maintain
from cloud.telemetry import sql

YEAR = timedelta(days=365)
# The last year up to yesterday: inside the raw retention window (and its partitions).
START = (datetime.now(UTC) - YEAR - timedelta(days=1)).replace(
    hour=0, minute=0, second=0, microsecond=0
)
DAY_MINUTES = 1440
WINDOWS = {
    "1d": timedelta(days=1),
    "1w": timedelta(weeks=1),
    "1mo": timedelta(days=30),
    "1y": timedelta(days=365),
}

# One day of every node's readings, in arrival order: minute by minute, the nodes interleaved
# (in a fixed shuffled order, as hubs' batches come in).
GENERATE_DAY = """
INSERT INTO readings (measured_at, node_id, seq, moisture, temperature, humidity, illuminance,
                      battery, conductivity, source)
SELECT %(start)s::timestamptz + make_interval(mins => s), n.id, s,
       (45 + 20 * sin(s / 1440.0 * 2 * pi()) + (s %% 17) * 0.1)::real,
       (20 + 5 * sin(s / 1440.0 * 2 * pi() - 1))::real,
       (55 + 10 * cos(s / 720.0 * pi()))::real,
       greatest(0, 20000 * sin((s %% 1440) / 1440.0 * 2 * pi() - pi() / 2))::real,
       (100 - s / 10512.0)::real,
       (800 + 200 * sin(s / 10080.0 * 2 * pi()))::real,
       0
FROM generate_series(%(first)s::int, %(first)s::int + %(minutes)s::int - 1) AS s,
     unnest(%(nodes)s::uuid[]) WITH ORDINALITY AS n(id, position)
ORDER BY s, n.position
"""

NAIVE = """
SELECT date_bin(%(stride)s, measured_at, %(origin)s) AS t, count(*),
       avg(moisture), min(moisture), max(moisture),
       avg(temperature), min(temperature), max(temperature),
       avg(humidity), min(humidity), max(humidity),
       avg(illuminance), min(illuminance), max(illuminance),
       avg(battery), min(battery), max(battery)
FROM readings
WHERE node_id = %(node_id)s AND measured_at >= %(start)s AND measured_at < %(end)s
GROUP BY t ORDER BY t
"""


def main() -> None:
    """Generate the year, measure the API and the naive query, print JSON figures last."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="8 nodes instead of 50")
    parser.add_argument("--nodes", type=int, default=None)
    parser.add_argument("--requests", type=int, default=None, help="requests per window")
    args = parser.parse_args()
    nodes = args.nodes or (8 if args.quick else 50)
    requests = args.requests or (60 if args.quick else 200)
    minutes = int(YEAR.total_seconds() // 60)
    if args.quick:
        print(f"quick mode: {nodes} nodes x 1 year instead of 50 nodes", flush=True)

    with embedded_database("bench_history") as (_, url), cloud_server(url) as base:
        with httpx.Client(base_url=base, timeout=60) as http:
            account = create_account(http)
            node_ids = []
            for index in range(nodes):
                response = http.post(
                    "/api/v1/nodes",
                    json={"mac": f"02:B1:57:00:{index // 256:02X}:{index % 256:02X}"},
                    headers=account.headers,
                )
                response.raise_for_status()
                node_ids.append(uuid.UUID(response.json()["id"]))

            generated = time.perf_counter()
            shuffled = node_ids[:]
            random.Random(3).shuffle(shuffled)
            with psycopg.connect(libpq_url(url), autocommit=True) as conn:
                conn.execute("SET synchronous_commit = off")
                for first in range(0, minutes, DAY_MINUTES):
                    conn.execute(
                        GENERATE_DAY,
                        {
                            "start": START,
                            "first": first,
                            "minutes": min(DAY_MINUTES, minutes - first),
                            "nodes": shuffled,
                        },
                    )
                    if first % (DAY_MINUTES * 30) == 0:
                        print(f"day {first // DAY_MINUTES}/365 loaded", flush=True)
                conn.execute(sql.REBUILD_HOURLY, {"owner_id": account.user_id})
                conn.execute(sql.REBUILD_DAILY, {"owner_id": account.user_id})
                conn.execute("VACUUM ANALYZE readings, readings_hourly, readings_daily")
                rows = conn.execute("SELECT count(*) FROM readings").fetchone()
                total_rows = int(rows[0]) if rows else 0
                print(f"{total_rows:,} rows in {time.perf_counter() - generated:.0f} s")
                loaded = raw_storage(conn, total_rows)
                print(f"as loaded (arrival order): {loaded} bytes per reading", flush=True)
            # The storage maintenance as the worker runs it: closed months get packed indexes.
            report = maintain(libpq_url(url), RetentionPolicy())
            with psycopg.connect(libpq_url(url), autocommit=True) as conn:
                conn.execute("ANALYZE readings")
                stored = raw_storage(conn, total_rows)
                rollups = {
                    table: rollup_bytes(conn, table)
                    for table in ("readings_hourly", "readings_daily")
                }
            print(f"after compacting {len(report.compacted)} closed months: {stored}", flush=True)

            rng = random.Random(7)
            p50, p95, resolutions = history_latency(
                http,
                WINDOWS,
                node_ids,
                lambda _: account.headers,
                (START, YEAR),
                requests,
                rng,
            )

        baseline_p95: dict[str, float] = {}
        with psycopg.connect(libpq_url(url)) as conn:
            for name, window in WINDOWS.items():
                stride = max(window / 1000, timedelta(minutes=1))
                samples = []
                runs = 10 if name == "1y" else 30
                for _ in range(runs + 2):
                    node_id = rng.choice(node_ids)
                    end = START + window + (YEAR - window) * rng.random()
                    began = time.perf_counter()
                    conn.execute(
                        NAIVE,
                        {
                            "stride": stride,
                            "origin": START,
                            "node_id": node_id,
                            "start": end - window,
                            "end": end,
                        },
                    ).fetchall()
                    samples.append(time.perf_counter() - began)
                _, baseline_p95[name] = percentiles(samples[2:])
                print(f"naive date_bin {name}: p95 {baseline_p95[name]} ms", flush=True)

    print(
        json.dumps(
            {
                "p95_ms": p95,
                "p50_ms": p50,
                "baseline_p95_ms": baseline_p95,
                "rows": total_rows,
                "nodes": nodes,
                "stored_bytes_per_reading": stored["total"],
                "heap_bytes_per_reading": stored["heap"],
                "index_bytes_per_reading": stored["index"],
                "loaded_bytes_per_reading": loaded["total"],
                "loaded_index_bytes_per_reading": loaded["index"],
                "hourly_bytes_per_row": rollups["readings_hourly"],
                "daily_bytes_per_row": rollups["readings_daily"],
                "resolutions": resolutions,
                "quick": bool(args.quick),
            }
        )
    )


if __name__ == "__main__":
    main()
