"""Idle and slow LAN connections cannot take the hub's UI down (issue 17).

1,100 idle TCP connections exhausted the service's 1,024 file handles: ``/`` and ``/readyz``
failed with "Too many open files", and a connection that never sent a byte was never closed.
The hub here runs as the systemd unit runs it: ``plantvita hub serve`` with the unit's
``LimitNOFILE`` (1,024, systemd's default, when the unit sets none).
"""

from __future__ import annotations

import contextlib
import os
import resource
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

UNIT = Path(__file__).resolve().parents[2] / "deploy/raspberrypi/plantvita-hub.service"
IDLE = 2000
SLOW = 300


def unit_nofile() -> int:
    """The unit's LimitNOFILE soft limit (systemd's default 1024 when it sets none)."""
    for line in UNIT.read_text().splitlines():
        if line.startswith("LimitNOFILE="):
            return int(line.split("=", 1)[1].split(":")[0])
    return 1024


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def hub_like_the_unit(tmp_path: Path) -> Iterator[str]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = IDLE + SLOW + 256  # this test's own sockets
    if hard != resource.RLIM_INFINITY and hard < needed:
        pytest.skip(f"the hard file limit ({hard}) is below the {needed} this test needs")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, needed), hard))
    limit = unit_nofile()

    def as_the_unit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, max(limit, hard)))

    port = _free_port()
    env = {
        **os.environ,
        "PLANTVITA_HUB_DATA_DIR": str(tmp_path / "hub"),
        "PLANTVITA_HUB_HOST": "127.0.0.1",
        "PLANTVITA_HUB_PORT": str(port),
        "PLANTVITA_HUB_ENVIRONMENT": "test",
        "PLANTVITA_HUB_BLE_ENABLED": "false",
    }
    plantvita = shutil.which("plantvita", path=str(Path(sys.executable).parent))
    assert plantvita is not None
    log_path = tmp_path / "hub.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [plantvita, "hub", "serve"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=as_the_unit,  # only setrlimit, before exec
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, log_path.read_text()[-3000:]
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            assert time.monotonic() < deadline, "the hub did not become ready"
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def _open(port: int, count: int) -> list[socket.socket]:
    sockets = []
    for _ in range(count):
        sock = socket.socket()
        sock.settimeout(10)
        sock.connect(("127.0.0.1", port))
        sockets.append(sock)
    return sockets


def _closed_by_server(sock: socket.socket) -> bool:
    sock.setblocking(False)
    try:
        return sock.recv(1) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


@pytest.mark.timeout(180)
def test_the_ui_answers_while_2000_idle_and_300_slow_connections_are_open(
    hub_like_the_unit: str,
) -> None:
    url = hub_like_the_unit
    port = int(url.rsplit(":", 1)[1])
    idle = _open(port, IDLE)
    slow = _open(port, SLOW)
    stop = threading.Event()

    def trickle() -> None:
        # Slowloris: a request line, then one header line a second, never the blank line.
        for sock in slow:
            with contextlib.suppress(OSError):
                sock.sendall(b"GET / HTTP/1.1\r\nHost: hub\r\n")
        while not stop.wait(1.0):
            for sock in slow:
                with contextlib.suppress(OSError):
                    sock.sendall(b"X-Slow: 1\r\n")

    sender = threading.Thread(target=trickle, daemon=True)
    sender.start()
    try:
        started = time.monotonic()
        answers = []
        while time.monotonic() - started < 8:
            with httpx.Client(timeout=5) as http:
                page = http.get(f"{url}/")
                ready = http.get(f"{url}/readyz")
            answers.append((page.status_code, ready.status_code))
            time.sleep(0.5)
        assert answers, "no request got through"
        assert all(a == (200, 200) for a in answers), answers
        # Connections that sent nothing, or never finished their headers, were closed.
        deadline = time.monotonic() + 20
        while True:
            closed_idle = sum(_closed_by_server(s) for s in idle)
            closed_slow = sum(_closed_by_server(s) for s in slow)
            if closed_idle == IDLE and closed_slow == SLOW:
                break
            assert time.monotonic() < deadline, (
                f"still open: {IDLE - closed_idle} idle, {SLOW - closed_slow} slow"
            )
            time.sleep(0.5)
    finally:
        stop.set()
        sender.join(5)
        for sock in idle + slow:
            sock.close()
