"""``python -m bench.sync [--quick]``: readings/s from the hub store to the cloud database.

The cloud runs as a uvicorn subprocess on loopback over embedded PostgreSQL; the hub (the full
hub app, so its RSS is honest) runs in this process and syncs through its real SyncEngine.

* throughput: readings/s of one sync pass over a backlog, and the same readings posted straight
  to the cloud as pre-encoded batches (baseline: the cloud's own ceiling) — ratio reported;
* catch-up: 50 nodes x 30 days x 1 reading/min = 2.16 M readings buffered during an outage,
  time until the cloud holds them all (``--quick``: 3 days, 216 k readings, and says so);
* RSS of this (hub) process, sampled throughout, and on its own during the catch-up
  (``catchup_rss_mb``, its growth ``catchup_rss_growth_mb``): the hub alone, as on a Pi — the
  cloud, the backlog writer and the baseline poster run in other processes, and no ``cloud``
  module is loaded here. Both stay within the Pi budget (150 MB RSS, bench/__main__.py).

The backlog is written straight into the hub's SQLite schema (the BLE path into the store is
measured by ``bench.hub_ble``). Last stdout line: ``{"readings_per_s", "catchup_s", "rss_mb",
"catchup_rss_mb", …}``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psutil

NODES = 50
MINUTE_MS = 60_000


class RssSampler:
    """Peak resident set size of this process, sampled in a thread."""

    def __init__(self, interval_s: float = 0.05) -> None:
        self._process = psutil.Process()
        self._interval = interval_s
        self._stop = threading.Event()
        self.peak = self._process.memory_info().rss
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.peak = max(self.peak, self._process.memory_info().rss)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()


def free_port() -> int:
    """A free loopback port."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def macs() -> list[str]:
    """The benchmark's node addresses."""
    return [f"02:00:00:00:{i // 256:02X}:{i % 256:02X}" for i in range(NODES)]


def seed_backlog(db: Path, start: datetime, minutes: int) -> int:
    """Write the backlog from a child process: in real life the gateway wrote it over days, so
    the bulk insert must not count against the syncing hub's RSS."""
    code = (
        "import sys\nfrom datetime import datetime\nfrom pathlib import Path\n"
        "from bench.sync import write_backlog\n"
        "print(write_backlog(Path(sys.argv[1]), datetime.fromisoformat(sys.argv[2]), "
        "int(sys.argv[3])))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(db), start.isoformat(), str(minutes)],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(out.stdout.strip().splitlines()[-1])


def write_backlog(db: Path, start: datetime, minutes: int) -> int:
    """Write ``minutes`` readings per node, pending sync, straight into the hub's schema."""
    conn = sqlite3.connect(db, isolation_level=None, timeout=60)
    ids = [row[0] for row in conn.execute("select id from nodes order by id")]
    base = int(start.timestamp() * 1000)
    first_seq = base // MINUTE_MS  # the minute number: a counter that only grows
    conn.execute("BEGIN IMMEDIATE")
    total = 0
    for node_id in ids:
        rows = (
            (
                node_id,
                base + m * MINUTE_MS,
                first_seq + m,
                "backfill",
                30 + m % 40,
                21.5,
                55.0,
                800.0,
                90.0,
            )
            for m in range(minutes)
        )
        conn.executemany(
            "insert into readings(node_id, measured_at, seq, source, moisture, temperature, "
            "humidity, illuminance, battery) values (?,?,?,?,?,?,?,?,?)",
            rows,
        )
        total += minutes
    conn.execute("COMMIT")
    conn.close()
    return total


def start_cloud(pgdata: Path) -> tuple[subprocess.Popen[bytes], str]:
    """uvicorn serving the cloud app in a subprocess, on embedded PostgreSQL it starts and
    migrates itself in ``pgdata`` (so no cloud code loads into the hub process)."""
    port = free_port()
    env = {
        **os.environ,
        "PLANTVITA_CLOUD_PGDATA_DIR": str(pgdata),
        "PLANTVITA_CLOUD_STALE_CHECK_ENABLED": "false",
        "PLANTVITA_CLOUD_DEVICE_POLL_INTERVAL_S": "0",
        "PLANTVITA_CLOUD_LOG_LEVEL": "WARNING",
        "PLANTVITA_CLOUD_WORKER_INLINE": "false",
        "PLANTVITA_CLOUD_STORAGE_DIR": str(pgdata.parent / "objects"),
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "cloud.app:create_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise SystemExit("the cloud did not start")
        time.sleep(0.2)
    proc.kill()
    raise SystemExit("the cloud did not become healthy")


def cloud_count(pgdata: Path) -> int:
    """Readings in the cloud database (asked in a subprocess, after the RSS sampling)."""
    code = (
        "import sys, psycopg\n"
        "with psycopg.connect(dbname='plantvita', user='postgres', host=sys.argv[1]) as c:\n"
        "    print(c.execute('select count(*) from readings').fetchone()[0])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(pgdata)], capture_output=True, text=True, check=True
    )
    return int(out.stdout.strip())


async def link(app: Any, cloud_url: str) -> None:
    """Create a cloud user and link the hub through the device flow; pair the nodes."""
    from shared.sync import DEVICE_APPROVE_PATH

    async with httpx.AsyncClient(base_url=cloud_url, timeout=60) as http:
        email = f"bench-{uuid.uuid4().hex[:8]}@example.org"
        password = "bench password 123"
        created = await http.post(
            "/api/v1/auth/register", json={"email": email, "password": password}
        )
        created.raise_for_status()
        token = await http.post(
            "/api/v1/auth/token", data={"username": email, "password": password}
        )
        token.raise_for_status()
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        pending = await app.state.link.start(cloud_url)
        approved = await http.post(
            DEVICE_APPROVE_PATH, json={"user_code": pending.user_code}, headers=headers
        )
        approved.raise_for_status()
        if not await app.state.link.poll():
            raise SystemExit("link not approved")
    for mac in macs():
        await app.state.store.pair_node(mac, bindkey=bytes(16))


async def baseline(app: Any, cloud_url: str, start: datetime, minutes: int) -> float:
    """Readings/s posting pre-encoded batches straight to the cloud: the cloud's own ceiling.
    Runs in a child process so its buffers do not count against the hub's RSS."""
    _url, token, _hub = await app.state.sync.link_state()
    args = [cloud_url, str(token), start.isoformat(), str(minutes)]
    args.append(str(app.state.settings.sync_batch_items))
    code = "import sys\nfrom bench.sync import baseline_main\nbaseline_main(sys.argv[1:])\n"
    out = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(out.stdout.strip().splitlines()[-1])


def baseline_main(argv: list[str]) -> None:
    """Child process of ``baseline``: encode every batch first, then time posting them."""
    from hub.sync.client import CloudClient, encode_json

    cloud_url, token, start_iso, minutes_s, per_batch_s = argv
    minutes, per_batch = int(minutes_s), int(per_batch_s)
    base = int(datetime.fromisoformat(start_iso).timestamp() * 1000)

    def reading(mac: str, m: int) -> dict[str, Any]:
        return {
            "node_mac": mac,
            "measured_at": datetime.fromtimestamp((base + m * MINUTE_MS) / 1000, UTC).isoformat(),
            "seq": base // MINUTE_MS + m,
            "source": "backfill",
            "moisture": 30 + m % 40,
            "temperature": 21.5,
            "humidity": 55.0,
            "illuminance": 800.0,
            "battery": 90.0,
        }

    keys = [(mac, m) for mac in macs() for m in range(minutes)]
    batches = [
        encode_json(
            {
                "batch_id": str(uuid.uuid4()),
                "readings": [reading(mac, m) for mac, m in keys[i : i + per_batch]],
            }
        )
        for i in range(0, len(keys), per_batch)
    ]

    async def post_all() -> float:
        async with httpx.AsyncClient(timeout=300) as http:
            client = CloudClient(http, cloud_url, token)
            started = time.perf_counter()
            for batch in batches:
                await client.push_readings(batch)
            return time.perf_counter() - started

    elapsed = asyncio.run(post_all())
    print(len(keys) / elapsed)


async def run(quick: bool) -> dict[str, Any]:
    """The whole benchmark; returns the figures."""
    from asgi_lifespan import LifespanManager

    from hub.app import create_app
    from hub.settings import Environment, HubSettings

    outage_days = 3 if quick else 30
    throughput_minutes = 2000 if quick else 6000  # per node: 100 k / 300 k readings
    tmp = Path(tempfile.mkdtemp(prefix="bench-sync-"))
    pgdata = tmp / "pg"
    cloud, cloud_url = await asyncio.to_thread(start_cloud, pgdata)
    settings = HubSettings(
        environment=Environment.TEST,
        data_dir=tmp / "hub",
        ble_enabled=False,
        cloud_url=cloud_url,
        sync_timeout_s=300,
    )
    app = create_app(settings, run_scheduler=False)
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    try:
        with RssSampler() as rss:
            async with LifespanManager(app):
                await link(app, cloud_url)
                engine = app.state.sync
                db = settings.database_path

                # A first pass registers the nodes and pulls the config (not timed).
                warmup = await engine.run(force=True)
                if warmup.error:
                    raise SystemExit(f"sync failed: {warmup.error}")

                # Throughput over a backlog, then the cloud-only baseline on other readings.
                tp_start = now - timedelta(days=90)
                count = await asyncio.to_thread(seed_backlog, db, tp_start, throughput_minutes)
                started = time.perf_counter()
                report = await engine.run(force=True)
                tp_elapsed = time.perf_counter() - started
                if report.error:
                    raise SystemExit(f"sync failed: {report.error}")
                readings_per_s = count / tp_elapsed
                base_rate = await baseline(
                    app, cloud_url, now - timedelta(days=120), throughput_minutes
                )

                # Catch-up after an outage.
                outage_start = now - timedelta(days=outage_days)
                backlog = await asyncio.to_thread(
                    seed_backlog, db, outage_start, outage_days * 24 * 60
                )
                with RssSampler() as catchup_rss:
                    catchup_start_rss = catchup_rss.peak
                    started = time.perf_counter()
                    report = await engine.run(force=True)
                    catchup_s = time.perf_counter() - started
                if report.error:
                    raise SystemExit(f"catch-up failed: {report.error}")
        leaked = sorted(name for name in sys.modules if name.split(".")[0] == "cloud")
        if leaked:
            raise SystemExit(f"the hub's process loaded cloud modules: {leaked[:5]}")
        total = await asyncio.to_thread(cloud_count, pgdata)
        expected = count + backlog + NODES * throughput_minutes
        if total != expected:
            raise SystemExit(f"cloud holds {total} readings, expected {expected}")
        rss_mb = rss.peak / 2**20
        catchup_rss_mb = catchup_rss.peak / 2**20
        catchup_growth_mb = (catchup_rss.peak - catchup_start_rss) / 2**20
        print(
            f"throughput: {count} readings in {tp_elapsed:.2f}s = {readings_per_s:,.0f}/s "
            f"(cloud-only baseline {base_rate:,.0f}/s, ratio {readings_per_s / base_rate:.2f})"
        )
        scale = " (--quick: outage scaled to 3 days)" if quick else ""
        print(f"catch-up: {backlog} readings of {NODES} nodes in {catchup_s:.1f}s{scale}")
        print(f"hub RSS peak: {rss_mb:.0f} MB")
        print(
            f"hub RSS during the catch-up alone: peak {catchup_rss_mb:.0f} MB "
            f"(+{catchup_growth_mb:.0f} MB over its start)"
        )
        return {
            "readings_per_s": round(readings_per_s),
            "catchup_s": round(catchup_s, 2),
            "rss_mb": round(rss_mb, 1),
            "catchup_rss_mb": round(catchup_rss_mb, 1),
            "catchup_rss_growth_mb": round(catchup_growth_mb, 1),
            "baseline_readings_per_s": round(base_rate),
            "ratio_vs_baseline": round(readings_per_s / base_rate, 3),
            "catchup_readings": backlog,
            "quick": quick,
        }
    finally:
        cloud.terminate()  # its lifespan stops the embedded PostgreSQL
        cloud.wait(timeout=60)
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    """CLI entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3-day outage instead of 30")
    args = parser.parse_args()
    figures = asyncio.run(run(args.quick))
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
