"""MiBeacon vectors (shared/vectors/mibeacon.json): captured and built adverts go through the
gateway's advert path and end in their one outcome with the values each must give; the encoder
reproduces the captured encrypted frame from its plaintext."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from bleak.backends.scanner import AdvertisementData
from cryptography.hazmat.primitives.ciphers.aead import AESCCM

from hub.ble import mibeacon
from hub.ble.bumble_backend import ble_device
from hub.ble.gateway import Gateway
from hub.ble.ports import OUTCOMES, DecodedReading, NodeStatus, PairedNode, ReceivedImage
from hub.ble.settings import GatewaySettings
from shared.sync import NodeKind
from shared.vectors import Vector, load_mibeacon
from tests.hub.ble import generate_mibeacon_vectors

# Part of the arm64 subset: xiaomi-ble and its crypto wheels decode on the Pi.
pytestmark = pytest.mark.pi

VECTORS = load_mibeacon()


class MemoryStore:
    """A GatewayStore in memory: the gateway's decisions only."""

    def __init__(self, nodes: Sequence[PairedNode]) -> None:
        self.nodes = list(nodes)
        self.readings: list[DecodedReading] = []

    async def paired_nodes(self) -> Sequence[PairedNode]:
        return self.nodes

    async def store_readings(self, readings: Sequence[DecodedReading]) -> None:
        self.readings.extend(readings)

    async def store_image(self, image: ReceivedImage) -> None:
        raise AssertionError("no images here")

    async def update_node_status(self, statuses: Sequence[NodeStatus]) -> None:
        pass


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
    built = generate_mibeacon_vectors.build()
    assert [(v["name"], v["hex"], v["fields"]) for v in built] == [
        (v.name, v.hex, v.fields) for v in VECTORS
    ]


def test_every_outcome_has_a_vector_and_real_captures_are_included() -> None:
    assert {v.fields["outcome"] for v in VECTORS} == set(OUTCOMES)
    captured = [v for v in VECTORS if v.fields["captured"]]
    assert {v.fields["bindkey"] is None for v in captured} == {True, False}  # plain, encrypted
    assert {m for v in captured for m in v.fields["channels"].get("0", {})} >= {
        "temperature",
        "illuminance",
        "moisture",
        "conductivity",
    }


async def test_each_vector_ends_in_its_outcome_with_its_values() -> None:
    keys: dict[str, str | None] = {v.fields["mac"]: v.fields["bindkey"] for v in VECTORS}
    store = MemoryStore(
        [
            PairedNode(mac, NodeKind.XIAOMI, bytes.fromhex(key) if key else None)
            for mac, key in keys.items()
        ]
    )
    at = datetime(2026, 6, 1, 12, tzinfo=UTC)
    gateway = Gateway(store, GatewaySettings(sessions_enabled=False), now=lambda: at)
    await gateway.reload_nodes()
    for vector in VECTORS:
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


def test_the_encoder_reproduces_the_captured_encrypted_frame() -> None:
    vector = next(v for v in VECTORS if v.name == "cgdk2-encrypted")
    data, key = vector.data, bytes.fromhex(vector.fields["bindkey"])
    # Its plaintext objects, opened with the layout's nonce (MAC reversed ‖ product id ‖ frame
    # counter ‖ ext. counter) and associated data 0x11.
    nonce = data[5:11] + data[2:5] + data[-7:-4]
    objects = AESCCM(key, tag_length=4).decrypt(nonce, data[11:-7] + data[-4:], b"\x11")
    frame = mibeacon.parse_frame(data)
    counter = frame.frame_counter | int.from_bytes(data[-7:-4], "little") << 8
    rebuilt = mibeacon.encrypted_frame(
        vector.fields["mac"], objects, bindkey=key, counter=counter, product_id=frame.product_id
    )
    assert rebuilt == data


def test_the_encoder_reproduces_the_captured_miflora_frames() -> None:
    for vector in VECTORS:
        if not (vector.fields["captured"] and vector.fields["outcome"] == "stored"):
            continue
        if vector.fields["bindkey"] is not None:
            continue
        data = vector.data
        frame = mibeacon.parse_frame(data)
        ((metric, value),) = vector.fields["channels"]["0"].items()
        object_id = {
            "temperature": mibeacon.OBJ_TEMPERATURE,
            "illuminance": mibeacon.OBJ_ILLUMINANCE,
            "moisture": mibeacon.OBJ_MOISTURE,
            "conductivity": mibeacon.OBJ_CONDUCTIVITY,
        }[metric]
        rebuilt = mibeacon.plain_frame(
            vector.fields["mac"],
            mibeacon.encode_object(object_id, value),
            frame_counter=frame.frame_counter,
        )
        assert rebuilt == data, vector.name
