"""API throughput: authenticated "latest readings of my plants" under concurrent load.

Data: one gardener with ``PLANTS`` plants, each on its own node with weeks of 5-minute
readings, among other gardeners with their own plants and readings (so the tables are not one
user's). Server: the cloud app under uvicorn in a subprocess (``bench._cloud.cloud_server``)
on loopback with the embedded PostgreSQL. Load: ``--concurrency`` keep-alive HTTP/1.1
connections, each sending ``GET /api/v1/readings/latest`` with the user's bearer token as fast
as answers come, for ``--seconds``. The generator is a minimal asyncio client (httpx itself
tops out near the target on this class of machine, and would measure the client, not the
server); httpx checks that answers parse and carry every plant.
Baseline, same run and same generator: ``GET /healthz`` (no auth, no database): the ceiling of
this server process on this machine.

Last stdout line: ``{"requests_per_s", "p99_ms", "p50_ms", "baseline_requests_per_s",
"baseline_p99_ms", "ratio_to_baseline", "errors", ...}``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
import uuid
from dataclasses import dataclass, field

import httpx
import psycopg

from bench._cloud import Account, cloud_server, create_account, embedded_database
from bench._common import emit_result, machine_info, say
from cloud.db.engine import libpq_url

PLANTS = 20
READING_EVERY_S = 300

SEED_READINGS = """
INSERT INTO readings (node_id, measured_at, owner_id, seq, source, moisture, temperature,
                      humidity, illuminance, battery)
SELECT n.id, now() - make_interval(secs => s * %(every)s), n.owner_id, %(count)s - s, 0,
       (45 + 20 * sin(s / 288.0 * 2 * pi()))::real,
       (20 + 5 * sin(s / 288.0 * 2 * pi() - 1))::real,
       (55 + 10 * cos(s / 144.0 * pi()))::real,
       greatest(0, 20000 * sin((s %% 288) / 288.0 * 2 * pi() - pi() / 2))::real,
       (100 - s / 1000.0)::real
FROM nodes AS n, generate_series(0, %(count)s - 1) AS s
WHERE n.owner_id = %(owner_id)s
"""


def _garden(http: httpx.Client, plants: int) -> Account:
    """A user with ``plants`` plants, each on its own node (through the API)."""
    account = create_account(http)
    for i in range(plants):
        mac = ":".join(f"{b:02X}" for b in uuid.uuid4().bytes[:6])
        node = http.post(
            "/api/v1/nodes", json={"mac": mac, "name": f"node {i}"}, headers=account.headers
        )
        node.raise_for_status()
        http.post(
            "/api/v1/plants",
            json={"name": f"Plant {i:02d}", "node_id": node.json()["id"], "species_id": 1 + i % 20},
            headers=account.headers,
        ).raise_for_status()
    return account


def _seed_readings(database_url: str, owner: uuid.UUID, days: float) -> int:
    count = int(days * 86_400 / READING_EVERY_S)
    with psycopg.connect(libpq_url(database_url)) as conn:
        cur = conn.execute(
            SEED_READINGS, {"every": READING_EVERY_S, "count": count, "owner_id": owner}
        )
        rows = cur.rowcount
        conn.execute("ANALYZE readings")
    return rows


@dataclass
class LoadResult:
    """What one load run measured."""

    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    seconds: float = 0.0

    @property
    def requests_per_s(self) -> float:
        """Completed requests per second."""
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    def percentile_ms(self, q: float) -> float:
        """The ``q`` latency percentile in ms."""
        ordered = sorted(self.latencies)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000


async def _connection(
    host: str, port: int, request: bytes, until: float, warm_until: float, result: LoadResult
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while True:
            start = time.perf_counter()
            if start >= until:
                return
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            await reader.readexactly(length)
            elapsed = time.perf_counter() - start
            if start >= warm_until:
                if status == 200:
                    result.latencies.append(elapsed)
                else:
                    result.errors += 1
    finally:
        writer.close()


async def _load(
    base: str, path: str, token: str | None, concurrency: int, seconds: float, warmup: float
) -> LoadResult:
    url = httpx.URL(base)
    host, port = url.host, url.port or 80
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    request = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n{auth}\r\n".encode()
    result = LoadResult()
    now = time.perf_counter()
    warm_until, until = now + warmup, now + warmup + seconds
    await asyncio.gather(
        *(_connection(host, port, request, until, warm_until, result) for _ in range(concurrency))
    )
    result.seconds = time.perf_counter() - warm_until
    return result


def main() -> None:
    """Seed, run the baseline and the endpoint under the same load, print JSON figures last."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer users, shorter runs")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=None)
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="uvicorn worker processes"
    )
    args = parser.parse_args()
    seconds = args.seconds or (8.0 if args.quick else 30.0)
    others = 10 if args.quick else 100
    weeks = 2 if args.quick else 6
    say("bench.api", machine_info())
    with (
        embedded_database("bench_api") as (_server, database_url),
        cloud_server(database_url, workers=args.workers) as base,
    ):
        with httpx.Client(base_url=base, timeout=60) as http:
            started = time.perf_counter()
            gardener = _garden(http, PLANTS)
            rows = _seed_readings(database_url, gardener.user_id, weeks * 7)
            for _ in range(others):
                other = _garden(http, 5)
                rows += _seed_readings(database_url, other.user_id, 7)
            say(
                f"seeded {1 + others} gardeners, {PLANTS + 5 * others} plants, {rows:,} readings "
                f"in {time.perf_counter() - started:.1f}s"
            )
            check = http.get("/api/v1/readings/latest", headers=gardener.headers)
            check.raise_for_status()
            latest = check.json()
            assert len(latest) == PLANTS, f"expected {PLANTS} plants, got {len(latest)}"
            say(f"one answer: {len(check.content):,} bytes, {len(latest)} plants")
        baseline = asyncio.run(_load(base, "/healthz", None, args.concurrency, seconds, 1.0))
        say(
            f"baseline GET /healthz: {baseline.requests_per_s:,.0f} req/s, "
            f"p50 {baseline.percentile_ms(0.5):.1f} ms, p99 {baseline.percentile_ms(0.99):.1f} ms"
        )
        result = asyncio.run(
            _load(
                base,
                "/api/v1/readings/latest",
                gardener.access_token,
                args.concurrency,
                seconds,
                1.0,
            )
        )
        say(
            f"GET /api/v1/readings/latest: {result.requests_per_s:,.0f} req/s, "
            f"p50 {result.percentile_ms(0.5):.1f} ms, p99 {result.percentile_ms(0.99):.1f} ms, "
            f"errors {result.errors}"
        )
    emit_result(
        {
            "requests_per_s": round(result.requests_per_s, 1),
            "p99_ms": round(result.percentile_ms(0.99), 2),
            "p50_ms": round(result.percentile_ms(0.5), 2),
            "mean_ms": round(statistics.fmean(result.latencies) * 1000, 2)
            if result.latencies
            else None,
            "errors": result.errors + baseline.errors,
            "baseline_requests_per_s": round(baseline.requests_per_s, 1),
            "baseline_p99_ms": round(baseline.percentile_ms(0.99), 2),
            "ratio_to_baseline": round(result.requests_per_s / baseline.requests_per_s, 3)
            if baseline.requests_per_s
            else None,
            "concurrency": args.concurrency,
            "workers": args.workers,
            "seconds": seconds,
            "plants": PLANTS,
            "readings": rows,
        }
    )


if __name__ == "__main__":
    main()
