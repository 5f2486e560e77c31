"""``plantvita hub emulate``: emulated garden, gateway and the real hub store in one process."""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from hub.images import service as images_service
from hub.readings import service as readings_service


def run_emulate(
    nodes: int, speed: float, duration: float | None, data_dir: str | None, passive: bool
) -> int:
    """Run until Ctrl-C (or ``duration``); returns the process exit code."""
    console = Console()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_run(console, nodes, speed, duration, data_dir, passive))
    return 0


async def _run(
    console: Console,
    nodes: int,
    speed: float,
    duration: float | None,
    data_dir: str | None,
    passive: bool,
) -> None:
    from hub.ble.emulate import emulated_hub_radio
    from hub.ble.settings import GatewaySettings
    from hub.hub_store import open_store
    from hub.settings import Environment, HubSettings

    with contextlib.ExitStack() as stack:
        root = (
            Path(data_dir) if data_dir else Path(stack.enter_context(tempfile.TemporaryDirectory()))
        )
        settings = HubSettings(
            environment=Environment.DEVELOPMENT, data_dir=root, ble_passive_scan=passive
        )
        gateway_settings = GatewaySettings.from_hub_settings(
            settings,
            watchdog_s=30.0,
            connect_timeout_s=5.0,
            session_retry_s=5.0,
            status_interval_s=2.0,
        )
        async with open_store(settings) as store:

            async def pair(mac: str, key: bytes) -> None:
                await store.pair_node(mac, bindkey=key)

            async with emulated_hub_radio(
                store, nodes, speed=speed, settings=gateway_settings, pair=pair
            ) as (garden, gateway):
                keys = Table(title=f"Emulated garden ({nodes} nodes, {speed:g}x) — data in {root}")
                keys.add_column("MAC")
                keys.add_column("name")
                keys.add_column("bindkey")
                for node in garden.nodes:
                    keys.add_row(node.mac, node.name, node.bindkey.hex())
                console.print(keys)
                started = time.monotonic()
                while duration is None or time.monotonic() - started < duration:
                    await asyncio.sleep(min(5.0, duration or 5.0))
                    async with store.read() as session:
                        readings = await readings_service.count_readings(session)
                        images = await images_service.count_images(session)
                    stats = gateway.stats
                    console.print(
                        f"[{garden.clock.now():%Y-%m-%d %H:%M} garden time] "
                        f"readings stored: {readings}, "
                        f"photos: {images}, adverts heard: {stats.adverts}, "
                        f"burst repeats dropped: {stats.duplicates}, sessions ok/failed: "
                        f"{stats.sessions_ok}/{stats.sessions_failed}"
                    )
