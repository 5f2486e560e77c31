"""The hub's host stack across an HCI transport from its controller, as on a Pi where the
adapter is not in the hub's process: the nodes and the hub's controller on one radio
(``serve_central`` on a TCP server), the hub's host on another (``hci_transport``)."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from bleak import BleakClient

from hub.ble.bumble_backend import BumbleRadio
from hub.ble.emulator import EmulatedGarden
from hub.ble.gateway import Gateway
from hub.hub_store import HubStore
from tests.hub.ble.conftest import FAST, SPEED, eventually_async, pair, stored_readings
from tests.hub.ble.test_bumble_backend import NODE, READ_CHAR, Peripheral

pytestmark = [pytest.mark.pi, pytest.mark.timeout(120)]

ABSENT = "C0:FF:EE:00:00:01"


@dataclass
class SplitRadio:
    air: BumbleRadio  # the nodes and the hub's controller
    hub: BumbleRadio  # the hub's host stack only


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def split() -> AsyncIterator[SplitRadio]:
    port = _free_port()
    air = BumbleRadio()
    await air.serve_central(f"tcp-server:127.0.0.1:{port}")
    hub = BumbleRadio(hci_transport=f"tcp-client:127.0.0.1:{port}")
    yield SplitRadio(air, hub)
    await hub.close()
    await air.close()


def _disallowed(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "COMMAND_DISALLOWED" in r.getMessage()]


async def test_the_gateway_hears_and_fetches_every_node_across_the_transport(
    split: SplitRadio, store: HubStore
) -> None:
    garden = EmulatedGarden(4, speed=SPEED, photo_every_s=None, radio=split.air)
    gateway = Gateway(store, FAST, split.hub.backends(), now=garden.clock.now)
    await pair(store, [n.mac for n in garden.nodes], garden.bindkeys)
    try:
        await garden.start()
        await gateway.start()

        async def every_node_heard_and_fetched() -> bool:
            heard = {r.mac for r in await stored_readings(store) if r.source == "advert"}
            everyone = {n.mac for n in garden.nodes}
            return heard == everyone and all(gateway.session_reports.get(m) for m in everyone)

        await eventually_async(
            every_node_heard_and_fetched, within=60, what="adverts and a session from every node"
        )
    finally:
        await gateway.stop()
        await garden.stop()
    stored = await stored_readings(store)
    keys = [(r.mac, r.seq) for r in stored if r.seq is not None]
    assert len(keys) == len(set(keys))  # nothing stored twice
    for node in garden.nodes:
        seqs = {r.seq for r in stored if r.mac == node.mac}
        assert seqs <= {m.seq for m in node.log}  # every stored reading is one it measured


async def test_a_cancelled_attempt_across_the_transport_leaves_nothing_pending(
    split: SplitRadio, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="bumble")
    node = Peripheral(split.air)
    await node.start()
    absent = BleakClient(ABSENT, backend=split.hub.backends().client, timeout=30)
    attempt = asyncio.create_task(absent.connect())
    await asyncio.sleep(0.3)
    attempt.cancel()  # the gateway's own bound firing before Bumble's timeout
    with pytest.raises(asyncio.CancelledError):
        await attempt
    client = BleakClient(NODE, backend=split.hub.backends().client, timeout=5)
    await client.connect()  # refused with COMMAND_DISALLOWED while the cancelled one pends
    assert client.is_connected
    assert await client.read_gatt_char(READ_CHAR) == bytes(range(200))
    await client.disconnect()
    assert _disallowed(caplog) == []
