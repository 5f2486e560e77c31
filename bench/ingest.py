"""Ingest throughput: readings/s through ``POST /api/v1/sync/readings`` vs raw COPY.

The endpoint runs in uvicorn (a subprocess on loopback) on embedded PostgreSQL; clients send
gzip batches of 5,000 readings, one stream per hub, ``CONCURRENCY`` hubs at a time. The
baseline, measured in the same run on the same server and table, is raw psycopg:
``COPY`` into a staging table then ``INSERT … ON CONFLICT DO NOTHING`` into ``readings``,
one transaction per batch, same concurrency, no validation, rollups or alerts. Each hub keeps one
HTTP client and each baseline stream one connection for the whole run; one unmeasured round of
both comes first, then alternating measured rounds (median of each).

Last stdout line: ``{"readings_per_s", "baseline_readings_per_s", "ratio", ...}``.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import psycopg

from bench._cloud import cloud_server, create_account, embedded_database, link_hub
from cloud.db.engine import libpq_url
from shared.sync import SYNC_NODES_PATH, SYNC_READINGS_PATH

BATCH = 5_000
CONCURRENCY = 4
NODES_PER_HUB = 25
START = datetime(2026, 1, 1, tzinfo=UTC)


def _mac(hub: int, node: int) -> str:
    return f"02:BE:00:{hub:02X}:{node // 256:02X}:{node % 256:02X}"


def _batch_body(hub: int, index: int) -> bytes:
    """A gzip JSON batch: 25 nodes x 200 consecutive minutes, advancing with ``index``."""
    per_node = BATCH // NODES_PER_HUB
    items = []
    for node in range(NODES_PER_HUB):
        mac = _mac(hub, node)
        for step in range(per_node):
            minute = index * per_node + step
            at = START + timedelta(minutes=minute)
            items.append(
                {
                    "node_mac": mac,
                    "measured_at": at.isoformat().replace("+00:00", "Z"),
                    "seq": minute,
                    "moisture": 35.0 + (minute % 40) * 0.5,
                    "temperature": 18.0 + (minute % 90) * 0.1,
                    "humidity": 50.0 + (minute % 30),
                    "illuminance": float((minute * 37) % 20_000),
                    "battery": 90.0 - (minute % 50) * 0.1,
                }
            )
    body = orjson.dumps({"batch_id": str(uuid.uuid4()), "readings": items})
    return gzip.compress(body, compresslevel=6)


def _hub_clients(base: str, tokens: list[str]) -> list[httpx.AsyncClient]:
    """One long-lived client per hub, as a hub's sync engine keeps one."""
    return [
        httpx.AsyncClient(
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


async def _run_endpoint(clients: list[httpx.AsyncClient], bodies: list[list[bytes]]) -> float:
    async def stream(http: httpx.AsyncClient, batches: list[bytes]) -> None:
        for body in batches:
            response = await http.post(SYNC_READINGS_PATH, content=body)
            response.raise_for_status()
            ack = response.json()
            assert ack["accepted"] == BATCH, (ack["accepted"], ack["rejected"][:3])

    started = time.perf_counter()
    await asyncio.gather(*(stream(c, b) for c, b in zip(clients, bodies, strict=True)))
    return time.perf_counter() - started


def _baseline_rows(owner: uuid.UUID, stream: int, index: int) -> list[tuple[Any, ...]]:
    per_node = BATCH // NODES_PER_HUB
    rows = []
    for node in range(NODES_PER_HUB):
        node_id = uuid.UUID(int=(stream + 1) << 64 | node)
        for step in range(per_node):
            minute = index * per_node + step
            rows.append(
                (
                    node_id,
                    owner,
                    len(rows),
                    START + timedelta(minutes=minute),
                    minute,
                    0,  # source: advert
                    0,  # channel: the node's first sensor of each kind
                    35.0 + (minute % 40) * 0.5,
                    18.0 + (minute % 90) * 0.1,
                    50.0 + (minute % 30),
                    float((minute * 37) % 20_000),
                    90.0 - (minute % 50) * 0.1,
                )
            )
    return rows


BASELINE_COLUMNS = (
    "node_id",
    "owner_id",
    "idx",
    "measured_at",
    "seq",
    "source",
    "channel",
    "moisture",
    "temperature",
    "humidity",
    "illuminance",
    "battery",
)
BASELINE_STAGING = """
CREATE TEMP TABLE IF NOT EXISTS reading_staging (
    node_id uuid, owner_id uuid, idx integer, measured_at timestamptz, seq bigint,
    source smallint, channel smallint, moisture real, temperature real, humidity real,
    illuminance real, battery real
) ON COMMIT DELETE ROWS
"""
BASELINE_COPY = f"COPY reading_staging ({', '.join(BASELINE_COLUMNS)}) FROM STDIN"
BASELINE_INSERT = """
INSERT INTO readings (node_id, measured_at, seq, source, moisture, temperature,
                      humidity, illuminance, battery)
SELECT node_id, measured_at, seq::bigint::bit(32)::integer, source, moisture, temperature,
       humidity, illuminance, battery
FROM reading_staging
ON CONFLICT (node_id, channel, measured_at) DO NOTHING
"""


async def _run_baseline(
    conns: list[psycopg.AsyncConnection[Any]], owner: uuid.UUID, batches: int, offset: int
) -> float:
    prepared = [
        [_baseline_rows(owner, s, offset + i) for i in range(batches)] for s in range(len(conns))
    ]

    async def stream(
        conn: psycopg.AsyncConnection[Any], rows_per_batch: list[list[tuple[Any, ...]]]
    ) -> None:
        for rows in rows_per_batch:
            async with conn.transaction():
                await conn.execute(BASELINE_STAGING)
                async with conn.cursor() as cur:
                    async with cur.copy(BASELINE_COPY) as copy:
                        for row in rows:
                            await copy.write_row(row)
                    await cur.execute(BASELINE_INSERT)
                    assert cur.rowcount == BATCH

    started = time.perf_counter()
    await asyncio.gather(*(stream(c, p) for c, p in zip(conns, prepared, strict=True)))
    return time.perf_counter() - started


async def _measure(
    base: str, url: str, tokens: list[str], owner: uuid.UUID, batches: int, rounds: int
) -> tuple[list[float], list[float]]:
    """Readings/s of the endpoint and of the baseline, per alternating round."""
    streams = len(tokens)
    total = batches * BATCH * streams
    clients = _hub_clients(base, tokens)
    conns = [await psycopg.AsyncConnection.connect(libpq_url(url)) for _ in range(streams)]
    endpoint_rates: list[float] = []
    baseline_rates: list[float] = []
    try:
        # One unmeasured round of each first (offset past the measured ones): every uvicorn
        # worker, pool and connection warm, so the rounds measure the steady rate.
        for round_ in [rounds, *range(rounds)]:
            offset = round_ * batches
            bodies = [[_batch_body(h, offset + i) for i in range(batches)] for h in range(streams)]
            endpoint_s = await _run_endpoint(clients, bodies)
            baseline_s = await _run_baseline(conns, owner, batches, offset)
            if round_ == rounds:
                continue
            # Alternating rounds: a load swing on a shared machine hits both alike.
            endpoint_rates.append(total / endpoint_s)
            baseline_rates.append(total / baseline_s)
            print(
                f"round {round_ + 1}: endpoint {endpoint_rates[-1]:,.0f} readings/s, "
                f"baseline COPY {baseline_rates[-1]:,.0f} readings/s",
                flush=True,
            )
    finally:
        for client in clients:
            await client.aclose()
        for conn in conns:
            await conn.close()
    return endpoint_rates, baseline_rates


def main() -> None:
    """Run the benchmark and print the JSON figures last."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer batches, under a minute")
    parser.add_argument("--batches", type=int, default=None, help="batches per hub stream")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument("--concurrency", type=int, default=CONCURRENCY, help="hub streams")
    parser.add_argument("--rounds", type=int, default=5, help="alternating measurement rounds")
    args = parser.parse_args()
    batches = args.batches or (12 if args.quick else 30)
    streams = args.concurrency
    total = batches * BATCH * streams

    with embedded_database("bench_ingest") as (_, url), cloud_server(url, args.workers) as base:
        with httpx.Client(base_url=base, timeout=30) as http:
            account = create_account(http)
            tokens = []
            for hub in range(streams):
                _, token = link_hub(http, account, f"bench hub {hub}")
                inventory = {"nodes": [{"mac": _mac(hub, n)} for n in range(NODES_PER_HUB)]}
                http.put(
                    SYNC_NODES_PATH, json=inventory, headers={"Authorization": f"Bearer {token}"}
                ).raise_for_status()
                tokens.append(token)
        endpoint_rates, baseline_rates = asyncio.run(
            _measure(base, url, tokens, account.user_id, batches, args.rounds)
        )
        endpoint_rate = statistics.median(endpoint_rates)
        baseline_rate = statistics.median(baseline_rates)

    figures = {
        "readings_per_s": round(endpoint_rate),
        "baseline_readings_per_s": round(baseline_rate),
        "ratio": round(endpoint_rate / baseline_rate, 3),
        "readings_per_round": total,
        "rounds": args.rounds,
        "batch_size": BATCH,
        "concurrency": streams,
        "workers": args.workers,
        "quick": bool(args.quick),
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
