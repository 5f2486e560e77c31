"""A real hub for browser tests: uvicorn on a loopback port in a background thread, with the
emulated garden (Bumble radio) as its gateway, optionally beside a real cloud app.

The server thread owns its own event loop, so the test thread can drive Playwright's sync API
without clashing with the servers' loop.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import uvicorn

from hub.app import create_app
from hub.ble.emulator import EmulatedGarden
from hub.ble.ports import DecodedReading
from hub.gateways import EmulatedHubGateway
from hub.hub_store import HubStore, open_store
from hub.settings import HubSettings
from shared.metrics import Metric

T = TypeVar("T")


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def history(mac: str, now: datetime) -> list[DecodedReading]:
    """A year of readings for charts: every 3 h for a year, every 15 min for the last 2 days."""
    times = [now - timedelta(hours=3 * i) for i in range(1, 365 * 8)]
    times += [now - timedelta(minutes=15 * i) for i in range(4, 2 * 96)]
    readings = []
    for t in sorted(set(times)):
        hour = t.hour + t.minute / 60
        day = (t - now).days
        readings.append(
            DecodedReading(
                node_mac=mac,
                measured_at=t,
                values={
                    Metric.MOISTURE: 45 + 15 * ((day % 7) / 7) - 5 * ((hour % 12) / 12),
                    Metric.TEMPERATURE: 18 + 6 * abs(12 - hour) / 12,
                    Metric.HUMIDITY: 55 + 10 * (hour / 24),
                    Metric.ILLUMINANCE: max(0.0, 8000 - 1000 * abs(13 - hour)),
                    Metric.BATTERY: 80 - day / 30,
                    Metric.CONDUCTIVITY: 900 + 400 * ((day % 7) / 7),
                },
                seq=None,
            )
        )
    return readings


@dataclass
class RunningServers:
    """The hub (and cloud) servers running in a background thread."""

    hub_url: str
    settings: HubSettings
    loop: asyncio.AbstractEventLoop
    garden: EmulatedGarden
    app: Any
    cloud_url: str | None = None
    _servers: list[uvicorn.Server] = field(default_factory=list)
    _thread: threading.Thread | None = None

    def run(self, make: Callable[[], Awaitable[T]], timeout: float = 30.0) -> T:
        """Run a coroutine on the servers' loop and wait for its result."""
        future: Future[T] = asyncio.run_coroutine_threadsafe(make(), self.loop)  # type: ignore[arg-type]
        return future.result(timeout)

    @property
    def store(self) -> HubStore:
        """The running hub's store."""
        store: HubStore = self.app.state.store
        return store

    def stop(self) -> None:
        """Ask both servers to exit and wait for the thread."""
        for server in self._servers:
            server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=30)


def start_servers(
    settings: HubSettings,
    *,
    garden: EmulatedGarden,
    seed: Callable[[HubStore], Awaitable[None]],
    cloud_app: Callable[[str], Any] | None = None,
) -> RunningServers:
    """Seed the store, then serve the hub (and the cloud app ``cloud_app(its_url)`` builds, if
    given) from a new thread."""
    hub_port = free_port()
    cloud_port = free_port() if cloud_app is not None else None
    if cloud_port is not None:
        settings = settings.model_copy(update={"cloud_url": f"http://127.0.0.1:{cloud_port}"})
    ready: Future[RunningServers] = Future()

    def gateway_factory(store: HubStore, hub_settings: HubSettings) -> EmulatedHubGateway:
        # The test pairs the nodes it wants paired itself; the rest wait on the Nodes page.
        return EmulatedHubGateway(store, hub_settings, garden, pair=False)

    app = create_app(settings, gateway_factory=gateway_factory)

    async def main() -> None:
        async with open_store(settings) as store:
            await seed(store)
        servers = [
            uvicorn.Server(
                uvicorn.Config(
                    app, host="127.0.0.1", port=hub_port, log_level="warning", lifespan="on"
                )
            )
        ]
        if cloud_app is not None:
            servers.append(
                uvicorn.Server(
                    uvicorn.Config(
                        cloud_app(f"http://127.0.0.1:{cloud_port}"),
                        host="127.0.0.1",
                        port=cloud_port,
                        log_level="warning",
                        lifespan="on",
                    )
                )
            )
        for server in servers:
            server.config.timeout_graceful_shutdown = 2
        tasks = [asyncio.create_task(s.serve()) for s in servers]
        while not all(s.started for s in servers):
            if any(t.done() for t in tasks):
                for t in tasks:
                    if t.done() and t.exception():
                        ready.set_exception(t.exception())  # type: ignore[arg-type]
                        return
            await asyncio.sleep(0.05)
        running = RunningServers(
            hub_url=f"http://127.0.0.1:{hub_port}",
            settings=settings,
            loop=asyncio.get_running_loop(),
            garden=garden,
            app=app,
            cloud_url=f"http://127.0.0.1:{cloud_port}" if cloud_port else None,
            _servers=servers,
        )
        ready.set_result(running)
        await asyncio.gather(*tasks)

    def thread_main() -> None:
        try:
            asyncio.run(main())
        except BaseException as exc:
            if not ready.done():
                ready.set_exception(exc)
            raise

    thread = threading.Thread(target=thread_main, name="hub-ui-servers", daemon=True)
    thread.start()
    running = ready.result(timeout=120)
    running._thread = thread
    return running


def utc_now() -> datetime:
    """Aware UTC now."""
    return datetime.now(UTC)
