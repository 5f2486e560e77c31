"""systemd service notifications (``sd_notify``) in pure Python, with no new dependency.

The hub's unit runs with ``Type=notify`` and ``WatchdogSec=``: systemd waits for ``READY=1``
before it counts the hub as started, and restarts it when ``WATCHDOG=1`` pings stop arriving.
The pings come from a task on the hub's event loop, so a wedged loop (not only a dead process)
triggers a restart.

Wire it into the hub's lifespan with one line::

    async with systemd_notifier():
        yield

Outside systemd (no ``NOTIFY_SOCKET``) every call is a cheap no-op.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import AsyncIterator, Mapping

__all__ = [
    "notify",
    "notify_ready",
    "notify_status",
    "notify_stopping",
    "notify_watchdog",
    "systemd_notifier",
    "watchdog_interval",
]


def _socket_address(environ: Mapping[str, str]) -> str | None:
    """The notify socket address; a leading ``@`` means Linux's abstract namespace."""
    address = environ.get("NOTIFY_SOCKET", "")
    if not address:
        return None
    if address.startswith("@"):
        return "\0" + address[1:]
    if address.startswith("/"):
        return address
    # systemd also allows vsock addresses; the hub never runs in a VM guest that needs them.
    return None


def notify(state: str, environ: Mapping[str, str] | None = None) -> bool:
    """Send one ``sd_notify`` message (``KEY=VALUE`` lines); return whether it was sent.

    Failures are swallowed on purpose: a notification must never take the hub down.
    """
    address = _socket_address(os.environ if environ is None else environ)
    if address is None:
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.connect(address)
            sock.sendall(state.encode())
    except OSError:
        return False
    return True


def notify_ready(environ: Mapping[str, str] | None = None) -> bool:
    """Tell systemd the service finished starting (``READY=1``)."""
    return notify("READY=1", environ)


def notify_watchdog(environ: Mapping[str, str] | None = None) -> bool:
    """Keep-alive ping for ``WatchdogSec=`` (``WATCHDOG=1``)."""
    return notify("WATCHDOG=1", environ)


def notify_stopping(environ: Mapping[str, str] | None = None) -> bool:
    """Tell systemd a clean shutdown has begun (``STOPPING=1``)."""
    return notify("STOPPING=1", environ)


def notify_status(text: str, environ: Mapping[str, str] | None = None) -> bool:
    """Set the one-line status shown by ``systemctl status`` (``STATUS=...``)."""
    return notify("STATUS=" + text.replace("\n", " "), environ)


def watchdog_interval(environ: Mapping[str, str] | None = None) -> float | None:
    """Seconds between watchdog pings, or ``None`` when systemd's watchdog is off for this process.

    systemd passes ``WATCHDOG_USEC`` (and ``WATCHDOG_PID``, which must be us); pinging at half the
    timeout, as sd_watchdog_enabled(3) advises, leaves room for one late ping.
    """
    env = os.environ if environ is None else environ
    try:
        usec = int(env.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    if usec <= 0:
        return None
    pid = env.get("WATCHDOG_PID")
    if pid is not None and pid.strip() != str(os.getpid()):
        return None
    return usec / 2_000_000


async def _ping_forever(interval: float, environ: Mapping[str, str] | None) -> None:
    """Ping the watchdog every ``interval`` seconds from the event loop until cancelled."""
    while True:
        notify_watchdog(environ)
        await asyncio.sleep(interval)


@contextlib.asynccontextmanager
async def systemd_notifier(environ: Mapping[str, str] | None = None) -> AsyncIterator[None]:
    """Send ``READY=1`` on entry, ping the watchdog while inside, send ``STOPPING=1`` on exit."""
    interval = watchdog_interval(environ)
    pinger: asyncio.Task[None] | None = None
    if interval is not None:
        pinger = asyncio.create_task(_ping_forever(interval, environ), name="systemd-watchdog")
    notify_ready(environ)
    try:
        yield
    finally:
        notify_stopping(environ)
        if pinger is not None:
            pinger.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pinger
