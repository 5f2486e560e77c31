"""hub.systemd: sd_notify messages reach a real AF_UNIX datagram socket, as systemd reads them."""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.app import create_app
from hub.settings import HubSettings
from hub.systemd import (
    notify,
    notify_ready,
    notify_status,
    notify_watchdog,
    systemd_notifier,
    watchdog_interval,
)


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    """A bound datagram socket standing in for systemd's notification socket."""
    path = tmp_path / "notify"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(5)
    try:
        yield sock, str(path)
    finally:
        sock.close()


def test_messages_arrive_on_the_socket(notify_socket: tuple[socket.socket, str]) -> None:
    sock, address = notify_socket
    env = {"NOTIFY_SOCKET": address}
    assert notify_ready(env)
    assert notify_watchdog(env)
    assert notify_status("syncing\n3 batches", env)
    assert [sock.recv(4096) for _ in range(3)] == [
        b"READY=1",
        b"WATCHDOG=1",
        b"STATUS=syncing 3 batches",
    ]


def test_abstract_namespace_address() -> None:
    name = f"plantvita-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(5)
        assert notify("READY=1", {"NOTIFY_SOCKET": "@" + name})
        assert sock.recv(4096) == b"READY=1"


def test_no_socket_is_a_no_op(tmp_path: Path) -> None:
    assert not notify_ready({})
    # A socket path nobody listens on must not raise: notifications never take the hub down.
    assert not notify_ready({"NOTIFY_SOCKET": str(tmp_path / "gone")})
    assert not notify_ready({"NOTIFY_SOCKET": "vsock:2:1234"})


def test_watchdog_interval_is_half_the_timeout() -> None:
    pid = str(os.getpid())
    assert watchdog_interval({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": pid}) == 15.0
    assert watchdog_interval({"WATCHDOG_USEC": "4000000"}) == 2.0
    assert watchdog_interval({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}) is None
    assert watchdog_interval({"WATCHDOG_USEC": "0"}) is None
    assert watchdog_interval({"WATCHDOG_USEC": "soon"}) is None
    assert watchdog_interval({}) is None


async def test_notifier_reports_ready_pings_and_stopping(
    notify_socket: tuple[socket.socket, str],
) -> None:
    sock, address = notify_socket
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    env = {"NOTIFY_SOCKET": address, "WATCHDOG_USEC": "20000", "WATCHDOG_PID": str(os.getpid())}

    async def receive() -> bytes:
        return await asyncio.wait_for(loop.sock_recv(sock, 4096), timeout=5)

    async with systemd_notifier(env):
        received = {await receive() for _ in range(3)}
        # Pings keep coming while the loop runs, not just once at start.
        assert received == {b"READY=1", b"WATCHDOG=1"}
    while (message := await receive()) == b"WATCHDOG=1":
        continue
    assert message == b"STOPPING=1"


async def test_notifier_without_watchdog_sends_ready_and_stopping(
    notify_socket: tuple[socket.socket, str],
) -> None:
    sock, address = notify_socket
    async with systemd_notifier({"NOTIFY_SOCKET": address}):
        assert sock.recv(4096) == b"READY=1"
    assert sock.recv(4096) == b"STOPPING=1"


async def test_hub_app_notifies_systemd(
    notify_socket: tuple[socket.socket, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """plantvita-hub.service is Type=notify: the hub's lifespan must send READY=1 and STOPPING=1."""
    from tests.lifespan import LifespanManager

    sock, address = notify_socket
    monkeypatch.setenv("NOTIFY_SOCKET", address)
    app = create_app(HubSettings(data_dir=tmp_path, environment="test"), run_scheduler=False)
    async with LifespanManager(app):
        assert sock.recv(4096) == b"READY=1"
    assert sock.recv(4096) == b"STOPPING=1"
