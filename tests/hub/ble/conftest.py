"""Fixtures for the gateway over the emulated radio: a fast garden, the real hub store."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass

import pytest
from sqlalchemy import text

from hub.ble.emulator import EmulatedGarden
from hub.ble.gateway import Gateway
from hub.ble.settings import GatewaySettings
from hub.hub_store import HubStore

# 600 garden seconds per real second: a node sampling every 10 minutes wakes every second.
SPEED = 600.0

FAST = GatewaySettings(
    passive_scan=False,
    watchdog_s=1.5,
    connect_timeout_s=1.0,
    connect_attempts=1,
    session_timeout_s=10.0,
    op_timeout_s=3.0,
    max_connections=2,
    session_interval_s=3600.0,
    session_retry_s=0.3,
    status_interval_s=0.2,
    flush_interval_s=0.05,
    scan_backoff_s=0.05,
    scan_backoff_max_s=0.2,
    counter_check_interval_s=0.5,
)


async def eventually(
    predicate: Callable[[], object], within: float = 15.0, what: str = "condition"
) -> None:
    """Wait until ``predicate()`` is truthy (the garden runs in real time, fast-forwarded)."""
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def eventually_async(
    predicate: Callable[[], object], within: float = 15.0, what: str = "condition"
) -> None:
    """Like ``eventually`` for a coroutine predicate."""
    deadline = time.monotonic() + within
    while not await predicate():  # type: ignore[misc]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


@dataclass(frozen=True)
class StoredReading:
    mac: str
    seq: int | None
    source: str
    moisture: float | None
    temperature: float | None
    humidity: float | None = None
    conductivity: float | None = None


async def stored_readings(store: HubStore, mac: str | None = None) -> list[StoredReading]:
    """Readings committed in the hub's SQLite."""
    sql = (
        "SELECT n.mac, r.seq, r.source, r.moisture, r.temperature, r.humidity, r.conductivity "
        "FROM readings r "
        "JOIN nodes n ON n.id = r.node_id"
    )
    params: dict[str, str] = {}
    if mac is not None:
        sql += " WHERE n.mac = :mac"
        params["mac"] = mac
    async with store.read() as session:
        rows = (await session.execute(text(sql + " ORDER BY r.seq"), params)).all()
    return [StoredReading(*row) for row in rows]


async def node_row(store: HubStore, mac: str) -> dict[str, object]:
    """The node's row in the hub's SQLite."""
    async with store.read() as session:
        row = (
            (await session.execute(text("SELECT * FROM nodes WHERE mac = :mac"), {"mac": mac}))
            .mappings()
            .one()
        )
    return dict(row)


async def image_rows(store: HubStore, mac: str) -> list[dict[str, object]]:
    """Photos the store holds for a node."""
    sql = (
        "SELECT i.* FROM images i JOIN nodes n ON n.id = i.node_id WHERE n.mac = :mac "
        "ORDER BY i.node_image_id"
    )
    async with store.read() as session:
        return [dict(r) for r in (await session.execute(text(sql), {"mac": mac})).mappings()]


@pytest.fixture
async def garden() -> AsyncIterator[EmulatedGarden]:
    """Two emulated nodes, no photos unless a test takes them, 10-minute sampling."""
    emulated = EmulatedGarden(2, speed=SPEED, photo_every_s=None, photo_size=(160, 120))
    yield emulated
    await emulated.stop()


@pytest.fixture
async def make_gateway(
    store: HubStore, garden: EmulatedGarden
) -> AsyncIterator[Callable[..., Gateway]]:
    """Build gateways on the garden's radio with the fast settings; all stopped at teardown."""
    made: list[Gateway] = []

    def make(settings: GatewaySettings = FAST) -> Gateway:
        gateway = Gateway(store, settings, garden.backends(), now=garden.clock.now)
        made.append(gateway)
        return gateway

    yield make
    for gateway in made:
        await gateway.stop()


async def pair(store: HubStore, macs: Sequence[str], keys: dict[str, bytes]) -> None:
    """Pair nodes in the real store."""
    for mac in macs:
        await store.pair_node(mac, bindkey=keys[mac])
