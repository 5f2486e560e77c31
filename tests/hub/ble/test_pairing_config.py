"""Pairing and unpairing as store operations, config pushes, passive scanning, store outages."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from uuid import UUID

import pytest

from hub.ble.emulator import EmulatedGarden
from hub.ble.gateway import Gateway
from hub.ble.ports import DecodedReading
from hub.hub_store import HubStore
from hub.nodes import service as nodes_service
from hub.sync.service import apply_snapshot
from shared.sync import ConfigSnapshot, PlantConfig, SpeciesThresholds, Thresholds
from tests.hub.ble.conftest import (
    FAST,
    eventually,
    eventually_async,
    node_row,
    pair,
    stored_readings,
)

pytestmark = pytest.mark.timeout(90)  # a hung radio fails fast

HUB_ID = UUID("00000000-0000-4000-8000-000000000001")
PLANT_ID = UUID("00000000-0000-4000-8000-000000000002")


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


def snapshot(
    revision: int, mac: str, *, override_min: float, species_temp_max: float
) -> ConfigSnapshot:
    """A cloud config snapshot: one species, one plant on the node with a moisture override."""
    return ConfigSnapshot(
        revision=revision,
        hub_id=HUB_ID,
        generated_at=datetime(2026, 6, 1, tzinfo=UTC),
        species=[
            SpeciesThresholds(
                id=7,
                common_name="Basil",
                scientific_name="Ocimum basilicum",
                thresholds=Thresholds(
                    moisture_min=30,
                    moisture_max=70,
                    temperature_min=10,
                    temperature_max=species_temp_max,
                ),
            )
        ],
        plants=[
            PlantConfig(
                id=PLANT_ID,
                name="Basil",
                species_id=7,
                node_mac=mac,
                overrides=Thresholds(moisture_min=override_min),
            )
        ],
    )


async def test_plant_thresholds_follow_each_config_revision_onto_the_node(
    garden: EmulatedGarden, store: HubStore, make_gateway: Callable[..., Gateway]
) -> None:
    node = garden.nodes[0]
    await pair(store, [node.mac], garden.bindkeys)
    first = snapshot(1, node.mac, override_min=40.0, species_temp_max=30.0)
    await store.write(lambda s: apply_snapshot(s, first))
    gateway = make_gateway()
    await garden.start()
    await gateway.start()
    outcome = await gateway.session_outcome(node.mac, 0)
    assert outcome.report is not None
    assert outcome.report.config_written
    config = node.flash.config
    # Species limits with the plant's override on top, as the node alarms on them.
    assert (config.moisture_low, config.moisture_high) == (40.0, 70.0)
    assert (config.temperature_low, config.temperature_high) == (10.0, 30.0)
    revision = config.revision  # no node setting changed: the node's revision is left alone

    # A new revision: the override and the species change. The sync engine reloads the gateway
    # and asks for a session with each node whose thresholds changed.
    second = snapshot(2, node.mac, override_min=45.0, species_temp_max=28.0)
    changed = await store.write(lambda s: apply_snapshot(s, second))
    assert changed == [node.mac]
    number = gateway.sessions_ended(node.mac)
    await gateway.reload_nodes()
    await gateway.request_session(node.mac)
    while True:  # a session already under way may still carry the old limits
        outcome = await gateway.session_outcome(node.mac, number)
        number += 1
        report = outcome.report
        if report and report.node_config and report.node_config.moisture_low == 45.0:
            break
    assert report.config_written
    config = node.flash.config
    assert (config.moisture_low, config.moisture_high) == (45.0, 70.0)
    assert (config.temperature_low, config.temperature_high) == (10.0, 28.0)
    assert config.revision == revision
    # The same snapshot again changes nothing, and a session then writes nothing.
    assert await store.write(lambda s: apply_snapshot(s, second)) == []
    await gateway.request_session(node.mac)
    again = await gateway.session_outcome(node.mac, number)
    assert again.report is not None
    assert not again.report.config_written
