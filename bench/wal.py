"""WAL per reading: bytes of write-ahead log the cloud writes for each reading stored through
``POST /api/v1/sync/readings``, in the shape live hubs send them, at production's clock.

``HUBS`` hubs of ``NODES_PER_HUB`` nodes each (every node with a plant, so every metric's
alert state is written, as in ``bench.fleet``) sync every 5 minutes (the hub's
``sync_interval_s`` default), each batch holding its nodes' readings of those 5 minutes, all
hubs in turn. Time is simulated (``measured_at`` advances 5 minutes a sync round), so the
checkpoints production would take every ``checkpoint_timeout`` of wall time are taken by
hand every 5 (PostgreSQL's default) or 30 simulated minutes: after a checkpoint the first
change to every page writes a full-page image, which is most of the WAL when each node's
rows sit on pages of their own (its primary-key leaf, its hourly and daily rollup rows, its
alert states). What sets the figure is how many readings each node stores between two
checkpoints, hardly the number of nodes: each node's pages are its own, so every node costs
about the same per checkpoint. (``bench.fleet`` runs an accelerated clock: its 60 simulated minutes
pass in a few wall minutes, so about 30 readings of each node fall between two checkpoints,
as here with 30-minute checkpoints.)

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
``pg_walinspect``.

Baseline, same run, same server: after each phase the same readings, batch by batch (one
``COPY`` a transaction), into a plain unpartitioned table with the raw table's columns and
primary key, preloaded with the same day, at the same checkpoint cadence and compression:
the WAL of the rows and their key alone (no rollups, ledger, alert states or last-seen).

Headline: ``wal_bytes_per_reading`` at the recommended settings (``RECOMMENDED``: 1-minute
readings, 30-minute checkpoints, ``wal_compression`` on; docs/scaling.md), its
``baseline_wal_bytes_per_reading`` and ``ratio`` (ours / baseline); every phase's figures in
``by_phase``. ``--quick`` simulates 1 hour a phase instead of 2, with 40 nodes a hub instead of 60.

Last stdout line: ``{"wal_bytes_per_reading": …, "baseline_wal_bytes_per_reading": …,
"ratio": …, "by_phase": {"1min_ckpt5": {"wal_bytes_per_reading": …, …}, …}, …}``.
"""

from __future__ import annotations

import argparse
import gzip
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import psycopg

from bench._cloud import cloud_server, create_account, embedded_database, link_hub
from bench._common import emit_result, machine_info, say
from bench.fleet import PLANTS_FOR_NODES
from bench.history import GENERATE_DAY
from cloud.db.engine import libpq_url
from cloud.telemetry import sql
from shared.sync import SYNC_NODES_PATH, SYNC_READINGS_PATH

HUBS = 8  # one gardener may approve 10 hubs in 15 minutes
NODES_PER_HUB = 60
QUICK_NODES_PER_HUB = 40  # the per-reading figures do not depend on it
SYNC_MINUTES = 5
# Well inside the raw retention window and its partitions; midnight, so phases cross hours.
# The preloaded day (the day before) must be in the same monthly partition as the phases, or
# the phases would write a fresh partition whose nodes share leaf pages (too few images).
_MIDNIGHT = (datetime.now(UTC) - timedelta(days=3)).replace(
    hour=0, minute=0, second=0, microsecond=0
)
START = _MIDNIGHT + timedelta(days=1) if _MIDNIGHT.day == 1 else _MIDNIGHT
SETTINGS = ("wal_level", "full_page_writes", "wal_compression", "checkpoint_timeout")
BASELINE_TABLE = """
CREATE TABLE wal_baseline (LIKE readings INCLUDING DEFAULTS);
ALTER TABLE wal_baseline ADD PRIMARY KEY (node_id, channel, measured_at);
INSERT INTO wal_baseline SELECT * FROM readings ORDER BY measured_at;
VACUUM ANALYZE wal_baseline
"""
BASELINE_COPY = (
    "COPY wal_baseline (measured_at, node_id, seq, moisture, temperature, humidity, "
    "illuminance, battery, conductivity, source) FROM STDIN"
)


def _mac(hub: int, node: int) -> str:
    return f"02:3A:11:{hub:02X}:{node // 256:02X}:{node % 256:02X}"


@dataclass(frozen=True)
class Batch:
    """One hub's sync: the gzip JSON body and the same readings as rows for the baseline."""

    body: bytes
    rows: list[tuple[Any, ...]]


def _batch(
    hub: int, begin: datetime, interval_min: int, node_ids: dict[str, uuid.UUID], per_hub: int
) -> Batch:
    """One hub's batch: its nodes' readings in [begin, begin + 5 min)."""
    items, rows = [], []
    for node in range(per_hub):
        phase = (hub * per_hub + node) % interval_min
        for step in range(SYNC_MINUTES):
            at = begin + timedelta(minutes=step)
            minute = int((at - START).total_seconds() // 60)
            if minute % interval_min != phase:
                continue
            values = {
                "moisture": 35.0 + (minute % 40) * 0.5,
                "temperature": 18.0 + (minute % 90) * 0.1,
                "humidity": 50.0 + (minute % 30),
                "illuminance": float((minute * 37) % 20_000),
                "battery": 90.0 - (minute % 50) * 0.1,
            }
            mac = _mac(hub, node)
            items.append(
                {
                    "node_mac": mac,
                    "measured_at": at.isoformat().replace("+00:00", "Z"),
                    "seq": 100_000 + minute,
                    **values,
                }
            )
            rows.append((at, node_ids[mac], 100_000 + minute, *values.values(), None, 0))
    body = orjson.dumps({"batch_id": str(uuid.uuid4()), "readings": items})
    return Batch(gzip.compress(body, compresslevel=6), rows)


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
    "1min_ckpt60_pglz": Phase(1, 60, "pglz"),
    "10min_ckpt5": Phase(10, 5),
    "10min_ckpt30": Phase(10, 30),
    "10min_ckpt30_pglz": Phase(10, 30, "pglz"),
}
# docs/scaling.md's recommended settings, at one reading a minute.
RECOMMENDED = "1min_ckpt30_pglz"


def _fpi_share(conn: psycopg.Connection[Any], start: str, end: str) -> float:
    """The part of the WAL in [start, end) that is full-page images (pg_walinspect)."""
    row = conn.execute(
        "SELECT sum(fpi_size)::float8 / nullif(sum(combined_size), 0)"
        " FROM pg_get_wal_stats(%s::pg_lsn, %s::pg_lsn, false)",
        (start, end),
    ).fetchone()
    return round(float(row[0] or 0), 3) if row else 0.0


@dataclass(frozen=True)
class Measured:
    """What one phase wrote: WAL bytes, readings stored, the full-page images' share."""

    wal: int
    stored: int
    fpi_share: float

    @property
    def per_reading(self) -> float:
        return round(self.wal / max(1, self.stored), 1)


def _measure(
    conn: psycopg.Connection[Any],
    begin: datetime,
    minutes: int,
    phase: Phase,
    send: Any,
) -> Measured:
    """Sync rounds over [begin, begin + minutes), each hub's batch through ``send`` (which
    returns the readings it stored), a checkpoint every ``phase.checkpoint_min``."""
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
        for hub in range(HUBS):
            stored += send(hub, at, phase.interval_min)
    wal = _lsn(conn) - before
    return Measured(wal, stored, _fpi_share(conn, start, _lsn_text(conn)))


def main() -> None:
    """Preload a day per node, run the phases and their baselines, print JSON figures last."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", help="40 nodes a hub, 1 simulated hour a phase"
    )
    args = parser.parse_args()
    minutes = 60 if args.quick else 120
    per_hub = QUICK_NODES_PER_HUB if args.quick else NODES_PER_HUB
    say("bench.wal", machine_info())
    if args.quick:
        say(f"quick mode: {per_hub} nodes a hub, 1 simulated hour a phase instead of 2")

    with embedded_database("bench_wal") as (_, url), cloud_server(url) as base:
        conn = psycopg.connect(libpq_url(url), autocommit=True)
        copier = psycopg.connect(libpq_url(url))
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
                inventory = {"nodes": [{"mac": _mac(hub, n)} for n in range(per_hub)]}
                http.put(
                    SYNC_NODES_PATH, json=inventory, headers={"Authorization": f"Bearer {token}"}
                ).raise_for_status()
                tokens.append(token)
        conn.execute(PLANTS_FOR_NODES)
        node_ids = {
            str(mac).upper(): node_id
            for mac, node_id in conn.execute("SELECT mac, id FROM nodes").fetchall()
        }
        assert len(node_ids) == HUBS * per_hub, len(node_ids)
        started = time.perf_counter()
        shuffled = [
            row[0] for row in conn.execute("SELECT id FROM nodes ORDER BY random()").fetchall()
        ]
        conn.execute(
            GENERATE_DAY,
            {"start": START - timedelta(days=1), "first": 0, "minutes": 1440, "nodes": shuffled},
        )
        conn.execute(sql.REBUILD_HOURLY, {"owner_id": account.user_id})
        conn.execute(sql.REBUILD_DAILY, {"owner_id": account.user_id})
        conn.execute("VACUUM ANALYZE readings, readings_hourly, readings_daily")
        for statement in BASELINE_TABLE.split(";"):
            conn.execute(statement)
        say(f"preloaded a day of {len(node_ids)} nodes in {time.perf_counter() - started:.0f} s")

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

        def through_api(hub: int, at: datetime, interval_min: int) -> int:
            batch = _batch(hub, at, interval_min, node_ids, per_hub)
            response = clients[hub].post(SYNC_READINGS_PATH, content=batch.body)
            response.raise_for_status()
            accepted = int(response.json()["accepted"])
            assert accepted == len(batch.rows), (accepted, response.json()["rejected"][:3])
            return accepted

        def copied(hub: int, at: datetime, interval_min: int) -> int:
            batch = _batch(hub, at, interval_min, node_ids, per_hub)
            with copier.transaction(), copier.cursor() as cur, cur.copy(BASELINE_COPY) as copy:
                for row in batch.rows:
                    copy.write_row(row)
            return len(batch.rows)

        by_phase: dict[str, dict[str, Any]] = {}
        begin = START
        try:
            for name, phase in PHASES.items():
                ours = _measure(conn, begin, minutes, phase, through_api)
                plain = _measure(conn, begin, minutes, phase, copied)
                begin += timedelta(minutes=minutes)
                by_phase[name] = {
                    "wal_bytes_per_reading": ours.per_reading,
                    "baseline_wal_bytes_per_reading": plain.per_reading,
                    "ratio": round(ours.per_reading / max(0.1, plain.per_reading), 2),
                    "fpi_share": ours.fpi_share,
                    "baseline_fpi_share": plain.fpi_share,
                    "readings": ours.stored,
                }
                say(
                    f"{name}: {ours.wal:,} B of WAL for {ours.stored:,} readings "
                    f"({ours.per_reading:,} B each, {ours.fpi_share:.0%} full-page images); "
                    f"baseline {plain.per_reading:,} B each ({plain.fpi_share:.0%})"
                )
        finally:
            for client in clients:
                client.close()
            copier.close()
            conn.close()

    headline = by_phase[RECOMMENDED]
    emit_result(
        {
            "wal_bytes_per_reading": headline["wal_bytes_per_reading"],
            "baseline_wal_bytes_per_reading": headline["baseline_wal_bytes_per_reading"],
            "ratio": headline["ratio"],
            "recommended_phase": RECOMMENDED,
            "wal_bytes_per_reading_default_checkpoints": by_phase["1min_ckpt5"][
                "wal_bytes_per_reading"
            ],
            "by_phase": by_phase,
            "nodes": HUBS * per_hub,
            "simulated_minutes_per_phase": minutes,
            "settings": settings,
            "quick": bool(args.quick),
        }
    )


if __name__ == "__main__":
    main()
