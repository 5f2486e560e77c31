"""Pairing and unpairing as store operations, config pushes, passive scanning, store outages."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import pytest

from hub.ble.emulator import EmulatedGarden
from hub.ble.gateway import Gateway
from hub.ble.ports import DecodedReading
from hub.nodes import service as nodes_service
from hub.store.hub_store import HubStore
from tests.hub.ble.conftest import (
    FAST,
    eventually,
    eventually_async,
    node_row,
    pair,
    stored_readings,
)

pytestmark = pytest.mark.timeout(90)  # a hung radio fails fast


async def test_pairing_then_unpairing_starts_and_stops_storage(
    garden: EmulatedGarden, store: HubStore, make_gateway: Callable[..., Gateway]
) -> None:
    node = garden.nodes[0]
    gateway = make_gateway()
    await garden.start()
    await gateway.start()
    await eventually(
        lambda: node.mac in {d.mac for d in gateway.seen_devices()}, what="listed for pairing"
    )
    assert await stored_readings(store, node.mac) == []

    await pair(store, [node.mac], garden.bindkeys)
    await gateway.reload_nodes()
    assert node.mac not in {d.mac for d in gateway.seen_devices()}

    async def some_stored() -> bool:
        return len(await stored_readings(store, node.mac)) >= 2

    await eventually_async(some_stored, what="readings once paired")

    await store.write(lambda session: nodes_service.unpair(session, node.mac))
    await gateway.reload_nodes()
    await gateway.flush()
    count = len(await stored_readings(store, node.mac))
    await eventually(
        lambda: node.mac in {d.mac for d in gateway.seen_devices()}, what="listed again"
    )
    at = node.counter
    await eventually(lambda: node.counter >= at + 2, what="more measurements")
    await gateway.flush()
    assert len(await stored_readings(store, node.mac)) == count


async def test_a_changed_config_is_written_and_its_revision_reported(
    garden: EmulatedGarden, store: HubStore, make_gateway: Callable[..., Gateway]
) -> None:
    node = garden.nodes[0]
    await pair(store, [node.mac], garden.bindkeys)
    gateway = make_gateway()
    await garden.start()
    await gateway.start()
    await eventually(lambda: gateway.stats.sessions_ok >= 1, what="first session")

    changed = await store.write(
        lambda s: nodes_service.set_config(
            s,
            node.mac,
            {"sampling_interval_s": 900, "advert_burst": 5, "camera_interval_s": 3 * 3600},
        )
    )
    await gateway.reload_nodes()
    await eventually(
        lambda: node.flash.config.revision == changed.config_revision, what="config on the node"
    )
    assert node.flash.config.sampling_interval_s == 900
    assert node.flash.config.advert_burst_count == 5
    assert node.flash.config.camera_interval_s == 3 * 3600

    async def applied() -> bool:
        row = await node_row(store, node.mac)
        return row["config_revision_applied"] == changed.config_revision

    await eventually_async(applied, what="the applied revision in the store")


async def test_passive_scanning_still_backfills_on_a_sequence_gap(
    garden: EmulatedGarden, store: HubStore, make_gateway: Callable[..., Gateway]
) -> None:
    node = garden.nodes[0]
    await pair(store, [node.mac], garden.bindkeys)
    gateway = make_gateway(dataclasses.replace(FAST, passive_scan=True))
    await garden.start()
    await gateway.start()
    await eventually(lambda: gateway.stats.sessions_ok >= 1, what="first-contact session")
    # The hub misses a few measurements (the radio was busy), then hears the node again.
    garden.radio.stalled = True
    at = node.counter
    await eventually(lambda: node.counter >= at + 3, what="measurements the hub missed")
    garden.radio.stalled = False
    await eventually(lambda: gateway.stats.sessions_ok >= 2, what="the gap-triggered session")
    stored = {r.seq for r in await stored_readings(store, node.mac)}
    assert set(range(1, at + 3)) <= stored


class FlakyStore:
    """The real store, failing its first two commits (a locked database)."""

    def __init__(self, store: HubStore) -> None:
        self._store = store
        self.failures = 0

    def __getattr__(self, name: str) -> object:
        return getattr(self._store, name)

    async def store_readings(self, readings: Sequence[DecodedReading]) -> None:
        if self.failures < 2:
            self.failures += 1
            raise OSError("database is locked")
        await self._store.store_readings(readings)


async def test_readings_survive_a_store_outage(garden: EmulatedGarden, store: HubStore) -> None:
    node = garden.nodes[0]
    await pair(store, [node.mac], garden.bindkeys)
    flaky = FlakyStore(store)
    settings = dataclasses.replace(FAST, sessions_enabled=False)
    gateway = Gateway(flaky, settings, garden.backends(), now=garden.clock.now)  # type: ignore[arg-type]
    await garden.start()
    await gateway.start()
    try:
        await eventually(lambda: gateway.stats.store_failures >= 2, what="two failed commits")
        await eventually(lambda: node.counter >= 4, what="measurements")
        await gateway.flush()
        stored = {r.seq for r in await stored_readings(store, node.mac)}
        assert {m.seq for m in node.log if m.seq < node.counter} <= stored
    finally:
        await gateway.stop()


async def test_without_passive_scanning_support_the_gateway_scans_actively(
    garden: EmulatedGarden, store: HubStore, make_gateway: Callable[..., Gateway]
) -> None:
    node = garden.nodes[0]
    await pair(store, [node.mac], garden.bindkeys)
    garden.radio.passive_unsupported = True
    gateway = make_gateway(dataclasses.replace(FAST, passive_scan=True))
    await garden.start()
    await gateway.start()
    await eventually(lambda: gateway.stats.readings_stored >= 2, what="readings")
    assert gateway.stats.scanner_errors == 3
