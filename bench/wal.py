"""WAL per reading: bytes of write-ahead log the cloud writes for each reading stored through
``POST /api/v1/sync/readings``, in the shape live hubs send them.

``HUBS`` hubs of ``NODES_PER_HUB`` nodes each sync every 5 minutes (the hub's
``sync_interval_s`` default), each batch holding its nodes' readings of those 5 minutes, all
hubs in turn. Time is simulated (``measured_at`` advances 5 minutes a sync round), so the
checkpoints production would take every ``checkpoint_timeout`` of wall time are taken by
hand every 5 (PostgreSQL's default) or 30 simulated minutes: after a checkpoint the first
change to every page writes a full-page image, which is most of the WAL when each node's
rows sit on pages of their own (its primary-key leaf, its hourly and daily rollup rows).
Before measuring, every node gets a day of 1-minute history in arrival order (as
``bench.history`` loads it), so each node's primary-key range already has its own leaf pages
as in production. WAL is ``pg_current_wal_lsn()`` after a phase minus before it: everything
the ingest path writes (raw rows, rollup upserts, nodes' last-seen, the batch ledger, alert
states), index changes and full-page images included. The server's WAL settings are reported
(``wal_level``, ``full_page_writes``, ``wal_compression``).

Phases, one after another on one database (``PHASES``): 1-minute readings and the firmware's
default 10-minute interval (nodes' phases spread over the 10 minutes), each with a checkpoint
every 5 and every 30 minutes, and with ``wal_compression = pglz`` at 30 (this PostgreSQL
build has no lz4). The share of the WAL that is full-page images comes from
``pg_walinspect``. The per-reading figures do not depend
on the number of nodes: each node's pages are its own, so every node costs the same per
checkpoint. ``--quick`` simulates 1 hour a phase instead of 2.

Last stdout line: ``{"wal_bytes_per_reading": {"1min_ckpt5": …, "1min_ckpt30": …, …},
"fpi_share": {…}, "readings": {…}, "settings": {…}, …}``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import psycopg

from bench._cloud import cloud_server, create_account, embedded_database, link_hub
from bench.history import GENERATE_DAY
from cloud.db.engine import libpq_url
from cloud.telemetry import sql
from shared.sync import SYNC_NODES_PATH, SYNC_READINGS_PATH

HUBS = 8  # one gardener may approve 10 hubs in 15 minutes
NODES_PER_HUB = 60
SYNC_MINUTES = 5
# Well inside the raw retention window and its partitions; midnight, so phases cross hours.
START = (datetime.now(UTC) - timedelta(days=3)).replace(hour=0, minute=0, second=0, microsecond=0)
SETTINGS = ("wal_level", "full_page_writes", "wal_compression", "checkpoint_timeout")


def _mac(hub: int, node: int) -> str:
    return f"02:3A:11:{hub:02X}:{node // 256:02X}:{node % 256:02X}"


def _body(hub: int, begin: datetime, interval_min: int) -> tuple[bytes, int]:
    """One hub's batch: its nodes' readings in [begin, begin + 5 min), gzip JSON."""
    items = []
    for node in range(NODES_PER_HUB):
        phase = (hub * NODES_PER_HUB + node) % interval_min
        for step in range(SYNC_MINUTES):
            at = begin + timedelta(minutes=step)
            minute = int((at - START).total_seconds() // 60)
            if minute % interval_min != phase:
                continue
            items.append(
                {
                    "node_mac": _mac(hub, node),
                    "measured_at": at.isoformat().replace("+00:00", "Z"),
                    "seq": 100_000 + minute,
                    "moisture": 35.0 + (minute % 40) * 0.5,
                    "temperature": 18.0 + (minute % 90) * 0.1,
                    "humidity": 50.0 + (minute % 30),
                    "illuminance": float((minute * 37) % 20_000),
                    "battery": 90.0 - (minute % 50) * 0.1,
                }
            )
    body = orjson.dumps({"batch_id": str(uuid.uuid4()), "readings": items})
    return gzip.compress(body, compresslevel=6), len(items)


def _lsn(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')").fetchone()
    return int(row[0]) if row else 0


def _lsn_text(conn: psycopg.Connection[Any]) -> str:
    row = conn.execute("SELECT pg_current_wal_lsn()::text").fetchone()
    return str(row[0]) if row else "0/0"


@dataclass(frozen=True)
class Phase:
    """One measured stretch: nodes' reading interval, minutes between checkpoints, and the
    server's ``wal_compression``."""

    interval_min: int
    checkpoint_min: int
    compression: str = "off"


PHASES = {
    "1min_ckpt5": Phase(1, 5),
    "1min_ckpt30": Phase(1, 30),
    "1min_ckpt30_pglz": Phase(1, 30, "pglz"),
    "10min_ckpt5": Phase(10, 5),
    "10min_ckpt30": Phase(10, 30),
    "10min_ckpt30_pglz": Phase(10, 30, "pglz"),
}


def _fpi_share(conn: psycopg.Connection[Any], start: str, end: str) -> float:
    """The part of the WAL in [start, end) that is full-page images (pg_walinspect)."""
    row = conn.execute(
        "SELECT sum(fpi_size)::float8 / nullif(sum(combined_size), 0)"
        " FROM pg_get_wal_stats(%s::pg_lsn, %s::pg_lsn, false)",
        (start, end),
    ).fetchone()
    return round(float(row[0] or 0), 3) if row else 0.0


def _phase(
    clients: list[httpx.Client],
    conn: psycopg.Connection[Any],
    begin: datetime,
    minutes: int,
    phase: Phase,
) -> tuple[int, int, float]:
    """Sync rounds over [begin, begin + minutes); returns (WAL bytes, readings stored, the
    full-page images' share of the WAL)."""
    conn.execute(f"ALTER SYSTEM SET wal_compression = '{phase.compression}'")
    # Checkpoints recycle old segments; keep the phase's WAL for pg_walinspect to read.
    conn.execute("ALTER SYSTEM SET wal_keep_size = '2GB'")
    conn.execute("SELECT pg_reload_conf()")
    conn.execute("CHECKPOINT")
    before = _lsn(conn)
    start = _lsn_text(conn)
    stored = 0
    for offset in range(0, minutes, SYNC_MINUTES):
        if offset and offset % phase.checkpoint_min == 0:
            conn.execute("CHECKPOINT")
        at = begin + timedelta(minutes=offset)
        for hub, http in enumerate(clients):
            body, count = _body(hub, at, phase.interval_min)
            response = http.post(SYNC_READINGS_PATH, content=body)
            response.raise_for_status()
            accepted = response.json()["accepted"]
            assert accepted == count, (accepted, count, response.json()["rejected"][:3])
            stored += accepted
    wal = _lsn(conn) - before
    return wal, stored, _fpi_share(conn, start, _lsn_text(conn))


def main() -> None:
    """Preload a day per node, run the three phases, print JSON figures last."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="1 simulated hour a phase, not 2")
    args = parser.parse_args()
    minutes = 60 if args.quick else 120
    if args.quick:
        print("quick mode: 1 simulated hour a phase instead of 2", flush=True)

    with embedded_database("bench_wal") as (_, url), cloud_server(url) as base:
        conn = psycopg.connect(libpq_url(url), autocommit=True)
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_walinspect")
        settings = {
            name: str(row[0])
            for name in SETTINGS
            if (row := conn.execute(f"SHOW {name}").fetchone())
        }
        with httpx.Client(base_url=base, timeout=60) as http:
            account = create_account(http)
            tokens = []
            for hub in range(HUBS):
                _, token = link_hub(http, account, f"wal hub {hub}")
                inventory = {"nodes": [{"mac": _mac(hub, n)} for n in range(NODES_PER_HUB)]}
                http.put(
                    SYNC_NODES_PATH, json=inventory, headers={"Authorization": f"Bearer {token}"}
                ).raise_for_status()
                tokens.append(token)
        node_ids = [
            row[0] for row in conn.execute("SELECT id FROM nodes ORDER BY random()").fetchall()
        ]
        assert len(node_ids) == HUBS * NODES_PER_HUB, len(node_ids)
        started = time.perf_counter()
        conn.execute(
            GENERATE_DAY,
            {"start": START - timedelta(days=1), "first": 0, "minutes": 1440, "nodes": node_ids},
        )
        conn.execute(sql.REBUILD_HOURLY, {"owner_id": account.user_id})
        conn.execute(sql.REBUILD_DAILY, {"owner_id": account.user_id})
        conn.execute("VACUUM ANALYZE readings, readings_hourly, readings_daily")
        print(f"preloaded a day of {len(node_ids)} nodes in {time.perf_counter() - started:.0f} s")

        clients = [
            httpx.Client(
                base_url=base,
                timeout=120,
                headers={
                    "Authorization": f"Bearer {token}",
                    "Content-Type": "application/json",
                    "Content-Encoding": "gzip",
                },
            )
            for token in tokens
        ]
        per_reading: dict[str, float] = {}
        readings: dict[str, int] = {}
        fpi_share: dict[str, float] = {}
        begin = START
        try:
            for name, phase in PHASES.items():
                wal, stored, fpi_share[name] = _phase(clients, conn, begin, minutes, phase)
                begin += timedelta(minutes=minutes)
                per_reading[name] = round(wal / max(1, stored), 1)
                readings[name] = stored
                print(
                    f"{name}: {wal:,} B of WAL for {stored:,} readings "
                    f"({per_reading[name]:,} B each, {fpi_share[name]:.0%} full-page images)",
                    flush=True,
                )
        finally:
            for client in clients:
                client.close()
            conn.close()

    print(
        json.dumps(
            {
                "wal_bytes_per_reading": per_reading,
                "fpi_share": fpi_share,
                "readings": readings,
                "nodes": HUBS * NODES_PER_HUB,
                "simulated_minutes_per_phase": minutes,
                "settings": settings,
                "quick": bool(args.quick),
            }
        )
    )


if __name__ == "__main__":
    main()
