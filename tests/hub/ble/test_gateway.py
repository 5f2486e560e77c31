"""The gateway with emulated nodes over the Bumble radio, storing into the real hub SQLite."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from hub.ble.emulator import EmulatedGarden
from hub.ble.gateway import Gateway
from hub.hub_store import HubStore
from shared.metrics import Metric
from tests.hub.ble.conftest import eventually, eventually_async, node_row, pair, stored_readings

pytestmark = pytest.mark.timeout(90)  # a hung radio fails fast


async def test_paired_node_readings_are_decrypted_and_stored_once(
    garden: EmulatedGarden, store: HubStore, make_gateway: Callable[..., Gateway]
) -> None:
    paired, stranger = garden.nodes
    await pair(store, [paired.mac], garden.bindkeys)
    gateway = make_gateway()
    await garden.start()
    await gateway.start()

    async def three_stored() -> bool:
        return len(await stored_readings(store, paired.mac)) >= 3

    await eventually_async(three_stored, what="three readings of the paired node")
    await gateway.flush()
    rows = await stored_readings(store)
    assert {r.mac for r in rows} == {paired.mac}, "an unpaired node's adverts were stored"
    seqs = [r.seq for r in rows]
    assert len(seqs) == len(set(seqs)), "a measurement was stored twice"
    truth = {m.seq: m for m in paired.log}
    for row in rows:
        assert row.seq in truth
        assert row.moisture == truth[row.seq].values[Metric.MOISTURE]
        assert row.temperature == truth[row.seq].values[Metric.TEMPERATURE]
        # The whole measurement does not fit one advert: humidity rides in even-counter adverts,
        # conductivity in odd ones (each measurement its own counter), and the node keeps both.
        values = truth[row.seq].values
        assert Metric.CONDUCTIVITY in values
        assert Metric.HUMIDITY in values
        if row.seq % 2:
            assert (row.humidity, row.conductivity) == (None, values[Metric.CONDUCTIVITY])
        else:
            assert (row.humidity, row.conductivity) == (values[Metric.HUMIDITY], None)
    assert gateway.stats.duplicates > 0, "burst repeats should have been seen and dropped"

    seen = {d.mac: d for d in gateway.seen_devices()}
    assert stranger.mac in seen
    assert seen[stranger.mac].encrypted
    assert seen[stranger.mac].plantvita
    assert seen[stranger.mac].name == stranger.name
    assert paired.mac not in seen


async def test_wrong_key_is_counted_then_pairing_with_the_right_key_stores(
    garden: EmulatedGarden, store: HubStore, make_gateway: Callable[..., Gateway]
) -> None:
    node = garden.nodes[0]
    await store.pair_node(node.mac, bindkey=bytes(range(16)))
    gateway = make_gateway()
    await garden.start()
    await gateway.start()
    await eventually(lambda: gateway.drops(node.mac).wrong_key >= 2, what="wrong-key drops")
    assert await stored_readings(store, node.mac) == []

    async def drops_recorded() -> bool:
        return int((await node_row(store, node.mac))["drops_wrong_key"]) >= 2

    await eventually_async(drops_recorded, what="drop counters in the node row")

    await store.pair_node(node.mac, bindkey=node.bindkey)
    await gateway.reload_nodes()

    async def stored() -> bool:
        return len(await stored_readings(store, node.mac)) >= 2

    await eventually_async(stored, what="readings after re-pairing with the right key")


async def test_garbage_replayed_and_plaintext_adverts_are_dropped_and_counted(
    garden: EmulatedGarden, store: HubStore, make_gateway: Callable[..., Gateway]
) -> None:
    node = garden.nodes[0]
    await pair(store, [node.mac], garden.bindkeys)
    gateway = make_gateway()
    await garden.start()
    await gateway.start()
    await eventually(lambda: node.counter >= 6, what="a few measurements")
    for kind in ("replay", "malformed", "plaintext"):
        await node.send_garbage(kind)  # type: ignore[arg-type]
        await eventually(lambda: gateway.drops(node.mac).total > 0, what=f"{kind} drop")
    drops = gateway.drops(node.mac)
    await eventually(
        # a plaintext advert from a node with a key does not authenticate: a wrong key
        lambda: drops.replayed >= 1 and drops.malformed >= 1 and drops.wrong_key >= 1,
        what="each kind counted",
    )
    await gateway.flush()
    truth = {m.seq: m.values for m in node.log}
    for row in await stored_readings(store, node.mac):
        assert row.seq in truth  # nothing forged or replayed was stored
