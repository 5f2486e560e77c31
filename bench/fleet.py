"""A realistic fleet: many hubs' 40-reading batches, interleaved in time, through the real sync API.

Fleet: ``--hubs`` hubs (full: 2,000; quick: 100) of ``--nodes-per-hub`` nodes (8), each node
with a plant of a catalog species, so every reading goes through the whole ingest path: the
batch ledger (``ingest_batches``), the partitioned raw table, the hourly and daily rollups and
the alert state machines of every metric: one node in 100 (``TROUBLED_EVERY``) is a plant that
dries out and is watered again every 40 simulated minutes, opening and resolving an alert each
time (``alerts_opened``), the others stay inside their species' ranges. Hubs are linked with
the device flow (real hub tokens) and register their nodes with ``PUT /api/v1/sync/nodes``;
one gardener owns 50 hubs, and ``LINKERS`` gardeners link theirs at once.
The clock is accelerated: every node takes one reading a simulated minute; a hub sends a batch
every 5 simulated minutes (8 nodes x 5 minutes = 40 readings, gzip JSON as the hub's sync
client encodes it), the hubs of each 5-minute round in a shuffled order, so the rows of all
nodes interleave in the heap as they do in production. ``--concurrency`` client tasks (in this
process), each on one keep-alive connection with the requests encoded before the phase, send
the batches on a schedule of ``--rate`` readings/s: hubs report on their own clocks, not when
the server has answered the hub before, so the full run offers the target load (17,000
readings/s, 2 % over 16,700: a million nodes at one reading a minute) and shows whether the
server keeps up and with how much CPU to spare; the client tasks (128) only cap the requests
in flight. The quick run sends as fast as the server answers (``--rate 0``, 64 tasks): its
throughput.

Server: uvicorn (``--workers``, default 2) in a subprocess on the embedded PostgreSQL with its
default settings (``checkpoint_timeout`` 5 min, ``full_page_writes`` on, ``synchronous_commit``
on, as production runs; ``--pg-setting`` changes one for a run, docs/scaling.md's recommended
settings for instance): the checkpoints that ran during the measured phase are reported.
Before the phase the ledger gets the hour of batches before the simulated span (a running
service's holds its dedup window) and every table is analyzed (autovacuum has done so on a
running service): a fresh schema's statistics say its tables are empty, and PostgreSQL
planned a sequential scan of the whole ledger for each ack and of ``hubs`` for each foreign-key
check, a cost growing with every batch stored. Rollups, ledger and states count in
``stored_all_bytes_per_reading`` only for what the phase added.

Figures, measured over the ingest phase only:
``readings_per_s``; ``pg_cpu_ms_per_1k`` (the postmaster and all its processes, ended backends
included) and ``api_cpu_ms_per_1k`` (the uvicorn processes only) per 1,000 readings;
``client_cpu_ms_per_1k`` (this process: the load generator, on the same 2 cores); ``cpu_busy``
(all three over wall time x cores); ``wal_bytes_per_reading`` (``pg_current_wal_lsn()`` moved,
all WAL of the phase: raw rows, rollups, ledger, alert states, full-page images after a
checkpoint); ``stored_bytes_per_reading`` (the raw partitions with their indexes, as loaded) and
``stored_all_bytes_per_reading`` (with rollups, ledger and alert states); then
``history_p95_ms`` per window: ``GET /api/v1/nodes/{id}/readings`` with ``max_points=1000`` over
loopback for random nodes, on the layout the interleaved ingest produced, for the windows the
simulated span covers (``--minutes``; the shortest, 15 min, even over a shorter span; the
year-long windows on an arrival-order layout are ``bench.history``'s).

Also ``sync_p50_ms``/``sync_p95_ms``: each batch's time from being sent to its ack.

Baseline, same run, same server, same batches, 16 connections: each 40-reading batch COPY'd
in its own transaction into a plain unpartitioned table with the same columns and primary key
(psycopg, no HTTP, no validation, ledger, rollups or alerts): ``baseline_readings_per_s``,
``baseline_pg_cpu_ms_per_1k``, ``baseline_wal_bytes_per_reading``,
``baseline_stored_bytes_per_reading``; ``ratio`` = readings_per_s / baseline_readings_per_s.

Last stdout line: one JSON object with the figures above.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import resource
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import psycopg
from psycopg import sql

from bench._cloud import cloud_server_process as cloud_server
from bench._cloud import (
    create_account,
    embedded_database,
    link_hub,
    postmaster_pid,
    raw_storage,
    tree_cpu_s,
)
from bench._common import emit_result, history_latency, machine_info, percentiles, say
from cloud.db.engine import libpq_url
from hub.sync.client import encode_json
from shared.sync import SYNC_NODES_PATH, SYNC_READINGS_PATH

MINUTES_PER_BATCH = 5
# The full run's pace, readings/s: 2 % over 16,700 (1M nodes at one reading a minute), so that
# a server that keeps up clears the target over the whole phase, ramp and last acks included.
TARGET_RATE = 17_000
BASELINE_CONNECTIONS = 16  # the COPY baseline's (PostgreSQL's max_connections is 100)
HUBS_PER_GARDENER = 50
LINKERS = 8  # gardeners linking their hubs at once
WINDOWS = {
    "15m": timedelta(minutes=15),
    "1h": timedelta(hours=1),
    "6h": timedelta(hours=6),
    "1d": timedelta(days=1),
    "1w": timedelta(weeks=1),
}
# Nothing measured here may trip the rate limits (2,000 device-flow links from one address),
# and the gardeners' access tokens, taken while linking, must outlast it (a million nodes' hubs
# take about 40 minutes) for the history phase after the ingest.
SERVER_SETTINGS = {
    "PLANTVITA_CLOUD_RATE_LIMITS_ENABLED": "false",
    "PLANTVITA_CLOUD_ACCESS_TOKEN_TTL_S": str(6 * 3600),
}

PLANTS_FOR_NODES = """
INSERT INTO plants (id, owner_id, name, species_id, node_id, revision, created_at, updated_at)
SELECT gen_random_uuid(), n.owner_id, 'fleet plant', (SELECT min(id) FROM species), n.id, 1,
       now(), now()
FROM nodes AS n
"""
# The ledger as a running service holds it (the batches of its dedup window): here the hour of
# batches before the simulated span, acked as the phase's will be.
EARLIER_BATCHES = """
INSERT INTO ingest_batches (hub_id, kind, batch_id, owner_id, created_at, digest, ack)
SELECT h.id, 'readings', b.id, h.owner_id, %(at)s, encode(sha256(b.id::text::bytea), 'hex'),
       jsonb_build_object('batch_id', b.id, 'accepted', 40, 'duplicates', 0,
                          'rejected', '[]'::jsonb, 'replayed', false)
FROM hubs AS h CROSS JOIN LATERAL (
    -- correlated with h, so the ids are drawn anew for each hub, not once for all of them
    SELECT gen_random_uuid() AS id FROM generate_series(1, %(per_hub)s) WHERE h.id IS NOT NULL
) AS b
"""
# Everything else an ingested reading leaves: rollups (with their partitions), ledger, states.
OTHER_BYTES = """
SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class AS c
WHERE c.relkind = 'r' AND (c.relname IN ('readings_daily', 'ingest_batches', 'alert_states')
   OR c.oid IN (SELECT inhrelid FROM pg_inherits WHERE inhparent = 'readings_hourly'::regclass))
"""
CHECKPOINTS = "SELECT num_timed + num_requested FROM pg_stat_checkpointer"
SETTINGS = """
SELECT name, setting || coalesce(unit, '') FROM pg_settings
WHERE name IN ('checkpoint_timeout', 'max_wal_size', 'full_page_writes', 'synchronous_commit',
               'shared_buffers', 'wal_compression')
"""
BASELINE_TABLE = """
CREATE TABLE fleet_baseline (LIKE readings INCLUDING DEFAULTS);
ALTER TABLE fleet_baseline ADD PRIMARY KEY (node_id, channel, measured_at)
"""
BASELINE_COPY = (
    "COPY fleet_baseline (measured_at, node_id, seq, moisture, temperature, humidity, "
    "illuminance, battery, conductivity, source) FROM STDIN"
)


def _mac(hub: int, node: int) -> str:
    # Up to 2**24 hubs of 256 nodes: a million nodes' 125,000 hubs fit.
    return f"02:F1:{hub >> 16:02X}:{hub >> 8 & 255:02X}:{hub & 255:02X}:{node:02X}"


# One node in this many is a plant in trouble: it dries below its species' minimum moisture
# and is watered again every 40 simulated minutes, so each cycle opens an alert (after the
# 15-minute minimum duration) and resolves it. The others stay inside their ranges.
TROUBLED_EVERY = 100


def _values(node: int, minute: int, troubled: bool) -> dict[str, float]:
    """Plausible values that move with the simulated minute, inside the catalog's first
    species' ranges (Pothos: moisture 20-50 %); a ``troubled`` node's moisture sinks to 10 %
    for half of each 40-minute cycle."""
    moisture = (10.0 if troubled else 25.0) + (minute + node * 7) % 40 * 0.5
    return {
        "moisture": moisture,
        "temperature": 18.0 + (minute + node) % 90 * 0.1,
        "humidity": 50.0 + (minute + node) % 30,
        "illuminance": float((minute * 37 + node * 101) % 20_000),
        "battery": 95.0 - minute % 50 * 0.01,
        "conductivity": 800.0 + (minute + node) % 200,
    }


@dataclass(frozen=True)
class Batch:
    """One hub's 40 readings: its token index, the gzip body and the rows for the baseline."""

    hub: int
    body: bytes
    rows: list[tuple[Any, ...]]


def _batches(
    hubs: int, nodes_per_hub: int, minutes: int, start: datetime, node_ids: dict[str, uuid.UUID]
) -> list[Batch]:
    """Every batch of the run in arrival order: 5-minute rounds, hubs shuffled in each."""
    rng = random.Random(11)
    out = []
    for first in range(0, minutes, MINUTES_PER_BATCH):
        order = list(range(hubs))
        rng.shuffle(order)
        for hub in order:
            items, rows = [], []
            for minute in range(first, min(minutes, first + MINUTES_PER_BATCH)):
                at = start + timedelta(minutes=minute)
                for node in range(nodes_per_hub):
                    troubled = (hub * nodes_per_hub + node) % TROUBLED_EVERY == 0
                    mac, values = _mac(hub, node), _values(node, minute, troubled)
                    items.append(
                        {
                            "node_mac": mac,
                            "measured_at": at.isoformat().replace("+00:00", "Z"),
                            "seq": minute,
                            **values,
                        }
                    )
                    rows.append((at, node_ids[mac], minute, *values.values(), 0))  # 0: advert
            body = encode_json({"batch_id": str(uuid.uuid4()), "readings": items}).body
            out.append(Batch(hub, body, rows))
    return out


@dataclass(frozen=True)
class Fleet:
    """The linked hubs' tokens, the gardeners' auth headers and every node's id."""

    tokens: list[str]
    gardeners: list[dict[str, str]]
    node_owner: dict[uuid.UUID, int]  # node id -> index into gardeners
    node_ids: dict[str, uuid.UUID]  # mac -> node id


def _link_fleet(base: str, url: str, hubs: int, nodes_per_hub: int) -> Fleet:
    # One gardener's hubs in order per thread: a hub goes through the device flow and registers
    # its nodes; LINKERS gardeners at a time, as many hubs link at once in a real fleet.
    def gardener(first: int) -> tuple[dict[str, str], list[str]]:
        with httpx.Client(base_url=base, timeout=60) as http:
            account = create_account(http)
            tokens = []
            for hub in range(first, min(first + HUBS_PER_GARDENER, hubs)):
                _, token = link_hub(http, account, f"fleet hub {hub}")
                inventory = {"nodes": [{"mac": _mac(hub, n)} for n in range(nodes_per_hub)]}
                http.put(
                    SYNC_NODES_PATH, json=inventory, headers={"Authorization": f"Bearer {token}"}
                ).raise_for_status()
                tokens.append(token)
            return account.headers, tokens

    tokens: list[str] = []
    gardeners: list[dict[str, str]] = []
    with ThreadPoolExecutor(LINKERS) as pool:
        for headers, linked in pool.map(gardener, range(0, hubs, HUBS_PER_GARDENER)):
            gardeners.append(headers)
            tokens.extend(linked)
            if len(gardeners) % 10 == 0:
                say(f"{len(tokens)} hubs linked")
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        conn.execute(PLANTS_FOR_NODES)
        rows = conn.execute("SELECT mac, id FROM nodes").fetchall()
    node_ids = {str(mac).upper(): node_id for mac, node_id in rows}
    node_owner = {
        node_ids[_mac(h, n)]: h // HUBS_PER_GARDENER
        for h in range(hubs)
        for n in range(nodes_per_hub)
    }
    return Fleet(tokens, gardeners, node_owner, node_ids)


@dataclass(frozen=True)
class Phase:
    """What one ingest phase took: wall seconds, CPU seconds per side, WAL bytes, checkpoints."""

    wall_s: float
    pg_cpu_s: float
    api_cpu_s: float
    client_cpu_s: float
    wal_bytes: int
    checkpoints: int


def _self_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class _Meter:
    """CPU, WAL and checkpoints between ``start`` and ``stop``."""

    def __init__(self, url: str, postmaster: int, api_pid: int | None) -> None:
        self.conn = psycopg.connect(libpq_url(url), autocommit=True)
        self.postmaster, self.api_pid = postmaster, api_pid

    def _sample(self) -> tuple[float, float, float, float, int, int]:
        lsn = self.conn.execute("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn").fetchone()
        checkpoints = self.conn.execute(CHECKPOINTS).fetchone()
        return (
            time.perf_counter(),
            tree_cpu_s(self.postmaster),
            tree_cpu_s(self.api_pid) if self.api_pid else 0.0,
            _self_cpu_s(),
            int(lsn[0]) if lsn else 0,
            int(checkpoints[0]) if checkpoints else 0,
        )

    def start(self) -> None:
        self.before = self._sample()

    def stop(self) -> Phase:
        after = self._sample()
        d = [a - b for a, b in zip(after, self.before, strict=True)]
        return Phase(d[0], d[1], d[2], d[3], int(d[4]), int(d[5]))


class _Keepalive:
    """One HTTP/1.1 keep-alive connection that sends pre-encoded requests: the load generator
    shares the 2 cores with the server, so it does no more per request than a hub's sync
    client must (httpx's request building and response model cost about 1 ms a batch)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, base: str) -> _Keepalive:
        url = httpx.URL(base)
        reader, writer = await asyncio.open_connection(url.host, url.port)
        return cls(reader, writer)

    async def send(self, request: bytes, timeout_s: float = 120) -> tuple[int, bytes]:
        """The status and body of the answer to one request (TimeoutError past ``timeout_s``,
        as httpx's timeout did)."""
        async with asyncio.timeout(timeout_s):
            return await self._exchange(request)

    async def _exchange(self, request: bytes) -> tuple[int, bytes]:
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        length = next(
            int(line.split(":", 1)[1])
            for line in lines[1:]
            if line.lower().startswith("content-length:")
        )
        return status, await self.reader.readexactly(length)

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()


def _request(host: str, token: str, body: bytes) -> bytes:
    head = (
        f"POST {SYNC_READINGS_PATH} HTTP/1.1\r\nHost: {host}\r\n"
        f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
        f"Content-Encoding: gzip\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("ascii") + body


async def _send_all(
    base: str, tokens: list[str], batches: list[Batch], concurrency: int, rate: float
) -> list[float]:
    """Send every batch (on the ``rate`` schedule, unless 0); each one's seconds to its ack."""
    host = httpx.URL(base).netloc.decode("ascii")
    requests = [_request(host, tokens[batch.hub], batch.body) for batch in batches]
    queue = iter(enumerate(batches))
    latencies: list[float] = []
    started = time.perf_counter()

    async def worker() -> None:
        connection = await _Keepalive.open(base)
        try:
            for index, batch in queue:
                if rate:
                    delay = started + index * len(batch.rows) / rate - time.perf_counter()
                    if delay > 0:
                        await asyncio.sleep(delay)
                sent = time.perf_counter()
                status, body = await connection.send(requests[index])
                latencies.append(time.perf_counter() - sent)
                if status != 200:
                    raise RuntimeError(f"batch {index}: HTTP {status}: {body[:300]!r}")
                ack = orjson.loads(body)
                if ack["accepted"] != len(batch.rows):
                    raise RuntimeError(f"batch not fully accepted: {ack}")
        finally:
            await connection.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies


async def _copy_all(url: str, batches: list[Batch], concurrency: int) -> None:
    queue = iter(batches)

    async def worker() -> None:
        async with await psycopg.AsyncConnection.connect(libpq_url(url)) as conn:
            for batch in queue:
                async with (
                    conn.transaction(),
                    conn.cursor() as cur,
                    cur.copy(BASELINE_COPY) as copy,
                ):
                    for row in batch.rows:
                        await copy.write_row(row)

    await asyncio.gather(*(worker() for _ in range(concurrency)))


def _configure(conn: psycopg.Connection[Any], settings: dict[str, str]) -> None:
    """``settings`` for the rest of the run; one that needs a restart is refused."""
    if not settings:
        return
    for name, value in settings.items():
        conn.execute(sql.SQL("ALTER SYSTEM SET {} = {}").format(sql.Identifier(name), value))
    # pg_file_settings parses the configuration files as it is read: no wait for the reload.
    pending = conn.execute(
        "SELECT DISTINCT name FROM pg_file_settings WHERE NOT applied AND name = ANY(%s)",
        [list(settings)],
    ).fetchall()
    if pending:
        raise SystemExit(f"needs a restart, not set for this run: {[row[0] for row in pending]}")
    loaded = conn.execute("SELECT pg_conf_load_time()").fetchone()
    conn.execute("SELECT pg_reload_conf()")
    # The postmaster signals every process, this session included, which reloads between two
    # commands: wait until it has, so that the settings reported are the run's.
    for _ in range(100):
        if conn.execute("SELECT pg_conf_load_time()").fetchone() != loaded:
            return
        time.sleep(0.05)
    raise SystemExit("PostgreSQL did not reload its configuration within 5 s")


def _per_1k(seconds: float, readings: int) -> float:
    return round(seconds * 1000 / readings * 1000, 1)


def main() -> None:
    """Link the fleet, ingest through the API, then the baseline; print JSON figures last."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="100 hubs, under a minute")
    parser.add_argument("--hubs", type=int, default=None, help="hubs (full: 2,000)")
    parser.add_argument("--nodes-per-hub", type=int, default=8)
    parser.add_argument("--minutes", type=int, default=None, help="simulated minutes (full: 60)")
    parser.add_argument(
        "--concurrency", type=int, default=None, help="client tasks (full: 128, quick: 64)"
    )
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument(
        "--rate",
        type=float,
        default=None,
        help=f"readings/s to pace to, 0: as fast as answered (full: {TARGET_RATE:,}, quick: 0)",
    )
    parser.add_argument("--requests", type=int, default=None, help="history requests/window")
    parser.add_argument(
        "--pg-setting",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a PostgreSQL setting for the run (ALTER SYSTEM, reloaded; repeatable), e.g. "
        "docs/scaling.md's recommended checkpoint_timeout=1800 max_wal_size=40960 "
        "wal_compression=pglz",
    )
    args = parser.parse_args()
    pg_settings = dict(setting.partition("=")[::2] for setting in args.pg_setting)
    if not all(name.isidentifier() and value for name, value in pg_settings.items()):
        parser.error("--pg-setting takes NAME=VALUE, e.g. checkpoint_timeout=1800")
    hubs = args.hubs if args.hubs is not None else (100 if args.quick else 2_000)
    if not (0 < hubs <= 1 << 24 and 0 < args.nodes_per_hub <= 256):
        parser.error("--hubs must be 1 to 16,777,216 and --nodes-per-hub 1 to 256 (their MACs)")
    minutes = args.minutes if args.minutes is not None else 60
    if minutes < MINUTES_PER_BATCH:
        parser.error(f"--minutes must be at least {MINUTES_PER_BATCH} (one batch a hub)")
    requests = args.requests or (40 if args.quick else 200)
    concurrency = args.concurrency or (64 if args.quick else 128)
    pace = args.rate if args.rate is not None else (0 if args.quick else TARGET_RATE)
    span = timedelta(minutes=minutes)
    # The simulated span ends a few minutes ago (inside the ingest's future tolerance).
    start = (datetime.now(UTC) - span - timedelta(minutes=5)).replace(second=0, microsecond=0)
    readings = hubs * args.nodes_per_hub * minutes
    say("bench.fleet", machine_info())
    say(f"{hubs} hubs x {args.nodes_per_hub} nodes x {minutes} simulated minutes = {readings:,}")
    load_before = os.getloadavg()[0]

    with (
        embedded_database("bench_fleet") as (postgres, url),
        cloud_server(url, args.workers, SERVER_SETTINGS) as server,
    ):
        began = time.perf_counter()
        fleet = _link_fleet(server.base, url, hubs, args.nodes_per_hub)
        batches = _batches(hubs, args.nodes_per_hub, minutes, start, fleet.node_ids)
        say(f"linked and encoded {len(batches):,} batches in {time.perf_counter() - began:.0f} s")
        with psycopg.connect(libpq_url(url), autocommit=True) as conn:
            _configure(conn, pg_settings)
            settings = {str(k): str(v) for k, v in conn.execute(SETTINGS).fetchall()}
            conn.execute(
                EARLIER_BATCHES, {"at": start - span, "per_hub": minutes // MINUTES_PER_BATCH}
            )
            # What autovacuum has done on a running service: plans from real table sizes, not
            # from the empty tables of a fresh schema (a sequential scan of the ledger per ack).
            conn.execute("ANALYZE")
            size = conn.execute(OTHER_BYTES).fetchone()
            extra_before = int(size[0]) if size else 0
            conn.execute("CHECKPOINT")  # the phase starts from a clean slate
        say(f"server settings: {settings}")

        meter = _Meter(url, postmaster_pid(postgres), server.process.pid)
        meter.start()
        latencies = asyncio.run(_send_all(server.base, fleet.tokens, batches, concurrency, pace))
        api = meter.stop()
        rate = readings / api.wall_s
        ack_p50, ack_p95 = percentiles(latencies)
        say(
            f"API: {rate:,.0f} readings/s; CPU per 1k: PostgreSQL {_per_1k(api.pg_cpu_s, readings)}"
            f" ms, API {_per_1k(api.api_cpu_s, readings)} ms, client "
            f"{_per_1k(api.client_cpu_s, readings)} ms; WAL {api.wal_bytes / readings:.0f} B per "
            f"reading; {api.checkpoints} checkpoints; ack p50 {ack_p50} ms,"
            f" p95 {ack_p95} ms"
            + (f" (offered {pace:,.0f}/s)" if pace else " (as fast as answered)")
        )
        with psycopg.connect(libpq_url(url), autocommit=True) as conn:
            conn.execute("ANALYZE readings, readings_hourly, readings_daily")
            count = conn.execute("SELECT count(*) FROM readings").fetchone()
            stored_rows = int(count[0]) if count else 0
            if stored_rows != readings:
                raise RuntimeError(f"{stored_rows} rows stored, {readings} sent")
            stored = raw_storage(conn, readings)
            opened = conn.execute("SELECT count(*) FROM alerts").fetchone()
            alerts_opened = int(opened[0]) if opened else 0
            size = conn.execute(OTHER_BYTES).fetchone()
            extra = (int(size[0]) if size else 0) - extra_before
        say(f"stored per reading: {stored} (+ {extra / readings:.1f} B rollups, ledger, states)")
        say(f"alerts opened: {alerts_opened:,}")
        with httpx.Client(base_url=server.base, timeout=60) as http:
            p50, p95, resolutions = history_latency(
                http,
                WINDOWS,
                list(fleet.node_owner),
                lambda node: fleet.gardeners[fleet.node_owner[node]],
                (start, span),
                requests,
                random.Random(7),
            )

        with psycopg.connect(libpq_url(url), autocommit=True) as conn:
            for statement in BASELINE_TABLE.split(";"):
                conn.execute(statement)
            conn.execute("CHECKPOINT")
        baseline_meter = _Meter(url, postmaster_pid(postgres), None)
        baseline_meter.start()
        asyncio.run(_copy_all(url, batches, BASELINE_CONNECTIONS))
        baseline = baseline_meter.stop()
        baseline_rate = readings / baseline.wall_s
        with psycopg.connect(libpq_url(url), autocommit=True) as conn:
            baseline_stored = raw_storage(conn, readings, "fleet_baseline")
        say(
            f"baseline COPY: {baseline_rate:,.0f} readings/s; PostgreSQL "
            f"{_per_1k(baseline.pg_cpu_s, readings)} ms per 1k; WAL "
            f"{baseline.wal_bytes / readings:.0f} B; stored {baseline_stored['total']} B"
        )
    cores = os.cpu_count() or 1
    busy = (api.pg_cpu_s + api.api_cpu_s + api.client_cpu_s) / (api.wall_s * cores)
    emit_result(
        {
            "readings_per_s": round(rate),
            "offered_readings_per_s": round(pace) if pace else None,
            "sync_p50_ms": ack_p50,
            "sync_p95_ms": ack_p95,
            "pg_cpu_ms_per_1k": _per_1k(api.pg_cpu_s, readings),
            "api_cpu_ms_per_1k": _per_1k(api.api_cpu_s, readings),
            "client_cpu_ms_per_1k": _per_1k(api.client_cpu_s, readings),
            "cpu_busy": round(busy, 3),
            # Cores the server side (API + PostgreSQL) would need for 1M nodes at 1/min.
            "cores_for_16700_per_s": round((api.pg_cpu_s + api.api_cpu_s) / readings * 16_700, 2),
            "wal_bytes_per_reading": round(api.wal_bytes / readings, 1),
            "checkpoints": api.checkpoints,
            "stored_bytes_per_reading": stored["total"],
            "heap_bytes_per_reading": stored["heap"],
            "index_bytes_per_reading": stored["index"],
            "stored_all_bytes_per_reading": round(stored["total"] + extra / readings, 1),
            "alerts_opened": alerts_opened,
            "history_p95_ms": p95,
            "history_p50_ms": p50,
            "history_resolutions": resolutions,
            "baseline_readings_per_s": round(baseline_rate),
            "baseline_pg_cpu_ms_per_1k": _per_1k(baseline.pg_cpu_s, readings),
            "baseline_wal_bytes_per_reading": round(baseline.wal_bytes / readings, 1),
            "baseline_checkpoints": baseline.checkpoints,
            "baseline_stored_bytes_per_reading": baseline_stored["total"],
            "ratio": round(rate / baseline_rate, 3),
            "readings": readings,
            "hubs": hubs,
            "nodes": hubs * args.nodes_per_hub,
            "simulated_minutes": minutes,
            "batch_size": args.nodes_per_hub * MINUTES_PER_BATCH,
            "concurrency": concurrency,
            "workers": args.workers,
            "pg_settings": settings,
            "loadavg_before": round(load_before, 2),
            "quick": bool(args.quick),
        }
    )


if __name__ == "__main__":
    main()
