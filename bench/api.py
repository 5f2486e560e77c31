"""API throughput: authenticated "latest readings of my plants" under concurrent load.

Data: one gardener with ``PLANTS`` plants, each on its own node with weeks of 5-minute
readings, among other gardeners with their own plants and readings (so the tables are not one
user's). Server: the cloud app under uvicorn (uvloop + httptools, one worker per core, access
log off) in a subprocess (``bench._cloud.cloud_server``) on loopback with the embedded
PostgreSQL, on its default settings. Load: ``--concurrency`` keep-alive HTTP/1.1 connections,
each sending ``GET /api/v1/readings/latest`` with the user's bearer token as fast as answers
come, for ``--seconds`` after a one-second warm-up.

Generator: Debian's ``wrk`` (one C thread) when installed; it leaves the two cores to the
server and PostgreSQL. Without it a minimal asyncio client stands in (``--client python``),
which takes a good share of a core itself and so reads lower; ``--client wrk`` refuses to
run without wrk. httpx checks first that the answer parses and carries every plant.

Baseline, same run, same server, same generator: ``GET /healthz`` (no auth, no database), the
ceiling of this uvicorn + FastAPI stack on this machine. ``ratio_to_baseline`` is the share of
that ceiling the endpoint keeps after token checks, the query and its JSON.

Last stdout line: ``{"requests_per_s", "p99_ms", "p50_ms", "errors",
"baseline_requests_per_s", "baseline_p99_ms", "ratio_to_baseline", "client", ...}``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import psycopg

from bench._cloud import (
    Account,
    CloudProcess,
    cloud_server_process,
    create_account,
    embedded_database,
    postmaster_pid,
    tree_cpu_s,
)
from bench._common import emit_result, machine_info, say
from cloud.db.engine import libpq_url

PLANTS = 20
LATEST = "/api/v1/readings/latest"
READING_EVERY_S = 300

SEED_READINGS = """
INSERT INTO readings (node_id, measured_at, seq, source, moisture, temperature,
                      humidity, illuminance, battery)
SELECT n.id, now() - make_interval(secs => s * %(every)s), %(count)s - s, 0,
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


@dataclass(frozen=True)
class LoadResult:
    """What one load run measured (latencies of successful answers only)."""

    requests_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int
    client: str


# wrk reports through this Lua hook: one JSON line, latencies in microseconds.
WRK_REPORT = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "status_errors": %d, '
    .. '"socket_errors": %d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.status, e.connect + e.read + e.write + e.timeout))
end
"""


def _wrk(wrk: str, url: str, token: str | None, concurrency: int, seconds: float) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_REPORT)
    try:
        command = [wrk, "-t1", f"-c{concurrency}", f"-d{seconds:g}s", "--timeout", "5s"]
        if token:
            command += ["-H", f"Authorization: Bearer {token}"]
        out = subprocess.run(
            [*command, "-s", script.name, url], capture_output=True, text=True, check=True
        ).stdout
    finally:
        os.unlink(script.name)
    report: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return report


def load_wrk(
    wrk: str, base: str, path: str, token: str | None, concurrency: int, seconds: float
) -> LoadResult:
    """Drive the server with wrk (one C thread) for ``seconds``."""
    report = _wrk(wrk, base + path, token, concurrency, seconds)
    good = report["requests"] - report["status_errors"]
    return LoadResult(
        requests_per_s=good / (report["duration_us"] / 1e6),
        p50_ms=report["p50_us"] / 1000,
        p99_ms=report["p99_us"] / 1000,
        errors=report["status_errors"] + report["socket_errors"],
        client="wrk",
    )


@dataclass
class _Samples:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0


def _percentile_ms(ordered: list[float], q: float) -> float:
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000


async def _connection(
    host: str, port: int, request: bytes, until: float, warm_until: float, samples: _Samples
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
                    samples.latencies.append(elapsed)
                else:
                    samples.errors += 1
    finally:
        writer.close()


async def _load_python(
    base: str, path: str, token: str | None, concurrency: int, seconds: float
) -> LoadResult:
    url = httpx.URL(base)
    host, port = url.host, url.port or 80
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    request = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n{auth}\r\n".encode()
    samples = _Samples()
    now = time.perf_counter()
    warm_until, until = now, now + seconds
    await asyncio.gather(
        *(_connection(host, port, request, until, warm_until, samples) for _ in range(concurrency))
    )
    elapsed = time.perf_counter() - warm_until
    ordered = sorted(samples.latencies)
    return LoadResult(
        requests_per_s=len(ordered) / elapsed,
        p50_ms=_percentile_ms(ordered, 0.5),
        p99_ms=_percentile_ms(ordered, 0.99),
        errors=samples.errors,
        client="python",
    )


def load_python(
    base: str, path: str, token: str | None, concurrency: int, seconds: float
) -> LoadResult:
    """Fallback generator: a minimal asyncio HTTP/1.1 client (it competes with the server for
    the same cores, so it reads lower than wrk on a small machine)."""
    return asyncio.run(_load_python(base, path, token, concurrency, seconds))


def pick_client(choice: str) -> str | None:
    """The wrk binary to use, or None for the Python generator; fail clearly if wrk is demanded."""
    wrk = shutil.which("wrk")
    if choice == "wrk" and wrk is None:
        raise SystemExit("bench.api: --client wrk but `wrk` is not installed (apt-get install wrk)")
    if choice == "python":
        return None
    if wrk is None:
        say("wrk not found (apt-get install wrk): falling back to the Python load generator")
    return wrk


@dataclass(frozen=True)
class Measured:
    """A load run with the CPU the server and PostgreSQL spent per answered request."""

    load: LoadResult
    server_cpu_ms: float
    postgres_cpu_ms: float


def _load(
    wrk: str | None,
    server: CloudProcess,
    postmaster: int,
    path: str,
    token: str | None,
    concurrency: int,
    seconds: float,
) -> Measured:
    """Warm up for a second, then measure under load. CPU per request is what the uvicorn
    processes and the PostgreSQL backends used: unlike rates, it barely moves when the
    machine's other tenants take cores. Backends that ended during the run count too
    (``bench._cloud.tree_cpu_s``)."""

    def run(duration: float) -> LoadResult:
        if wrk is not None:
            return load_wrk(wrk, server.base, path, token, concurrency, duration)
        return load_python(server.base, path, token, concurrency, duration)

    run(1.0)
    server_before = tree_cpu_s(server.process.pid)
    postgres_before = tree_cpu_s(postmaster)
    load = run(seconds)
    answered = max(1.0, load.requests_per_s * seconds)
    return Measured(
        load,
        server_cpu_ms=(tree_cpu_s(server.process.pid) - server_before) * 1000 / answered,
        postgres_cpu_ms=(tree_cpu_s(postmaster) - postgres_before) * 1000 / answered,
    )


def _describe(name: str, measured: Measured) -> None:
    result = measured.load
    say(
        f"{name}: {result.requests_per_s:,.0f} req/s, p50 {result.p50_ms:.1f} ms, "
        f"p99 {result.p99_ms:.1f} ms, errors {result.errors} ({result.client}); CPU per "
        f"request: server {measured.server_cpu_ms:.3f} ms, PostgreSQL "
        f"{measured.postgres_cpu_ms:.3f} ms"
    )


def main() -> None:
    """Seed, run the baseline and the endpoint under the same load, print JSON figures last."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer users, shorter runs")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=None)
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="uvicorn worker processes"
    )
    parser.add_argument(
        "--client",
        choices=("auto", "wrk", "python"),
        default="auto",
        help="load generator: wrk when installed (auto), or the asyncio fallback",
    )
    args = parser.parse_args()
    seconds = args.seconds or (8.0 if args.quick else 30.0)
    others = 10 if args.quick else 100
    weeks = 2 if args.quick else 6
    say("bench.api", machine_info())
    wrk = pick_client(args.client)
    load_before = os.getloadavg()[0]
    with (
        embedded_database("bench_api") as (postgres, database_url),
        cloud_server_process(database_url, workers=args.workers) as server,
    ):
        postmaster = postmaster_pid(postgres)
        with httpx.Client(base_url=server.base, timeout=60) as http:
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
            check = http.get(LATEST, headers=gardener.headers)
            check.raise_for_status()
            latest = check.json()
            assert len(latest) == PLANTS, f"expected {PLANTS} plants, got {len(latest)}"
            say(f"one answer: {len(check.content):,} bytes, {len(latest)} plants")
        base_run = _load(wrk, server, postmaster, "/healthz", None, args.concurrency, seconds)
        _describe("baseline GET /healthz", base_run)
        run = _load(
            wrk, server, postmaster, LATEST, gardener.access_token, args.concurrency, seconds
        )
        _describe(f"GET {LATEST}", run)
    baseline, result = base_run.load, run.load
    emit_result(
        {
            "requests_per_s": round(result.requests_per_s, 1),
            "p99_ms": round(result.p99_ms, 2),
            "p50_ms": round(result.p50_ms, 2),
            "errors": result.errors + baseline.errors,
            "baseline_requests_per_s": round(baseline.requests_per_s, 1),
            "baseline_p99_ms": round(baseline.p99_ms, 2),
            "ratio_to_baseline": round(result.requests_per_s / baseline.requests_per_s, 3)
            if baseline.requests_per_s
            else None,
            "server_cpu_ms_per_request": round(run.server_cpu_ms, 3),
            "postgres_cpu_ms_per_request": round(run.postgres_cpu_ms, 3),
            "baseline_server_cpu_ms_per_request": round(base_run.server_cpu_ms, 3),
            # Other tenants of this shared machine (1-minute load average before the run).
            "loadavg_before": round(load_before, 2),
            "client": result.client,
            "concurrency": args.concurrency,
            "workers": args.workers,
            "seconds": seconds,
            "plants": PLANTS,
            "readings": rows,
        }
    )


if __name__ == "__main__":
    main()
