"""SIGTERM with a request still open: ``plantvita cloud run`` stops within its grace (Cloud Run
kills an instance 10 s after SIGTERM) instead of waiting for the client without end."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import httpx

from cloud.cli import GRACEFUL_SHUTDOWN_S


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_sigterm_stops_the_server_within_its_grace_with_a_request_in_flight(
    database_url: str,
) -> None:
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "PLANTVITA_CLOUD_LOG_LEVEL": "WARNING"}
    env.pop("PLANTVITA_CLOUD_DATABASE_URL", None)
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "plantvita",
            "cloud",
            "run",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        env=env,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the cloud did not become ready"
            assert server.poll() is None, "the cloud exited at start-up"
            time.sleep(0.2)
        # A sign-in whose body never finishes arriving: the handler waits for it.
        slow = socket.create_connection(("127.0.0.1", port))
        slow.sendall(
            b"POST /api/v1/auth/token HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\n"
            b"username=someone"
        )
        time.sleep(0.5)
        started = time.monotonic()
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=GRACEFUL_SHUTDOWN_S + 20)
        took = time.monotonic() - started
        slow.close()
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    assert took < GRACEFUL_SHUTDOWN_S + 5
