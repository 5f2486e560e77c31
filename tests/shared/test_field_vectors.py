"""Field vectors (shared/vectors/field.json): adverts as third-party devices send them go
through the hub's advert path and end in the one outcome, and the channels, each must give."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from bleak.backends.scanner import AdvertisementData

from hub.ble.bumble_backend import ble_device
from hub.ble.gateway import Gateway
from hub.ble.ports import OUTCOMES, DecodedReading, NodeStatus, PairedNode, ReceivedImage
from hub.ble.settings import GatewaySettings
from shared.bthome import BTHomeNodeDecoder
from shared.metrics import Metric
from shared.sync import NodeKind
from shared.vectors import Vector, load_field
from tests.shared import generate_field_vectors

FIELD = load_field()


class MemoryStore:
    """A GatewayStore in memory: the gateway's decisions only."""

    def __init__(self, nodes: Sequence[PairedNode]) -> None:
        self.nodes = list(nodes)
        self.readings: list[DecodedReading] = []
        self.statuses: list[NodeStatus] = []

    async def paired_nodes(self) -> Sequence[PairedNode]:
        return self.nodes

    async def store_readings(self, readings: Sequence[DecodedReading]) -> None:
        self.readings.extend(readings)

    async def store_image(self, image: ReceivedImage) -> None:
        raise AssertionError("no images here")

    async def update_node_status(self, statuses: Sequence[NodeStatus]) -> None:
        self.statuses.extend(statuses)


def _advert(vector: Vector) -> AdvertisementData:
    return AdvertisementData(
        local_name=None,
        manufacturer_data={},
        service_data={vector.fields["uuid"]: vector.data},
        service_uuids=[vector.fields["uuid"]],
        tx_power=None,
        rssi=-60,
        platform_data=(),
    )


def test_the_script_reproduces_the_committed_vectors() -> None:
    built = generate_field_vectors.build()
    assert [(v["name"], v["hex"], v["fields"]) for v in built] == [
        (v.name, v.hex, v.fields) for v in FIELD
    ]


def test_every_outcome_and_each_device_kind_has_a_vector() -> None:
    assert {v.fields["outcome"] for v in FIELD} == set(OUTCOMES) - {"replayed"}
    uuids = {v.fields["uuid"] for v in FIELD}
    assert len(uuids) == 3  # BTHome v2, v1 plaintext, v1 encrypted
    assert any(len(v.fields["channels"]) > 2 for v in FIELD)  # repeated objects


async def test_each_field_advert_ends_in_its_outcome_with_its_channels() -> None:
    macs: dict[str, bytes | None] = {}
    for vector in FIELD:
        key = vector.fields["bindkey"]
        macs[vector.fields["mac"]] = bytes.fromhex(key) if key else None
    store = MemoryStore([PairedNode(mac, NodeKind.BTHOME, key) for mac, key in macs.items()])
    at = datetime(2026, 6, 1, 12, tzinfo=UTC)
    gateway = Gateway(store, GatewaySettings(sessions_enabled=False), now=lambda: at)
    await gateway.reload_nodes()
    for vector in FIELD:
        mac = vector.fields["mac"]
        before = replace(gateway.drops(mac))
        queued = len(store.readings)
        gateway.on_advertisement(ble_device(mac), _advert(vector))
        await gateway.flush()
        after = gateway.drops(mac).minus(before)
        counted = {name: getattr(after, name) for name in OUTCOMES if getattr(after, name)}
        assert counted == {vector.fields["outcome"]: 1}, vector.name
        got = {
            str(r.channel): {m.value: v for m, v in r.values.items()}
            for r in store.readings[queued:]
        }
        assert got == vector.fields["channels"], vector.name
        assert all(isinstance(m, Metric) for r in store.readings for m in r.values)


@pytest.mark.parametrize("vector", [v for v in FIELD if v.fields["outcome"] == "stored"])
def test_stored_vectors_decode_alone_through_bthome_ble(vector: Vector) -> None:
    key = vector.fields["bindkey"]
    decoder = BTHomeNodeDecoder(
        vector.fields["mac"], bytes.fromhex(key) if key else None, strict_counter=False
    )
    advert = decoder.decode(vector.data, uuid=vector.fields["uuid"])
    assert {
        str(c): {m.value: v for m, v in values.items()} for c, values in advert.by_channel().items()
    } == vector.fields["channels"]
