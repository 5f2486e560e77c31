"""Run the hub's gateway against an emulated garden in this process (demo, ``hub emulate``).

Bumble's LocalLink is in-process, so the garden and the hub must share the process: the hub
builds its ``Gateway`` with ``gateway_for_garden`` instead of the default (BlueZ) backend.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from hub.ble.emulator import EmulatedGarden
from hub.ble.gateway import Gateway
from hub.ble.ports import GatewayStore
from hub.ble.settings import GatewaySettings


def gateway_for_garden(
    store: GatewayStore, garden: EmulatedGarden, settings: GatewaySettings | None = None
) -> Gateway:
    """A gateway whose bleak calls go over the garden's radio, on the garden's clock."""
    return Gateway(store, settings, garden.backends(), now=garden.clock.now)


@asynccontextmanager
async def emulated_hub_radio(
    store: GatewayStore,
    nodes: int,
    *,
    speed: float = 60.0,
    settings: GatewaySettings | None = None,
    pair: Callable[[str, bytes], object] | None = None,
    photo_every_s: float | None = 6 * 3600,
) -> AsyncIterator[tuple[EmulatedGarden, Gateway]]:
    """Start ``nodes`` emulated nodes and a gateway for them; stop both on exit.

    ``pair(mac, bindkey)`` (sync or async) is called for every node first, so the hub's
    ``hub run --emulate N`` can pair the garden in its store.
    """
    garden = EmulatedGarden(nodes, speed=speed, photo_every_s=photo_every_s)
    if pair is not None:
        for mac, key in garden.bindkeys.items():
            result = pair(mac, key)
            if asyncio.iscoroutine(result):
                await result
    gateway = gateway_for_garden(store, garden, settings)
    await garden.start(stagger_real_s=min(2.0, 0.05 * nodes))
    await gateway.start()
    try:
        yield garden, gateway
    finally:
        with contextlib.suppress(Exception):
            await gateway.stop()
        await garden.stop()
