"""Gateway decisions driven straight through its detection callback (no radio)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest
from bleak.backends.scanner import AdvertisementData

from hub.ble.bumble_backend import ble_device
from hub.ble.gateway import Gateway
from hub.ble.ports import DecodedReading, NodeStatus, PairedNode, ReceivedImage
from hub.ble.settings import GatewaySettings
from shared import ble_uuids
from shared.bthome import (
    BTHOME_V1_ENCRYPTED_UUID,
    BTHOME_V1_UUID,
    encode_service_data,
    encrypt_service_data,
)
from shared.metrics import Metric
from shared.sync import NodeKind

pytestmark = [pytest.mark.pi, pytest.mark.timeout(90)]  # a hung radio fails fast

SENSOR = "A4:C1:38:00:00:01"  # a third-party BTHome thermometer, plaintext
NODE = "24:6F:28:00:00:09"
KEY = bytes(range(16))


class MemoryStore:
    """A GatewayStore in memory, for the gateway's own logic only."""

    def __init__(self, nodes: Sequence[PairedNode]) -> None:
        self.nodes = list(nodes)
        self.readings: list[DecodedReading] = []
        self.statuses: list[NodeStatus] = []

    async def paired_nodes(self) -> Sequence[PairedNode]:
        return self.nodes

    async def store_readings(self, readings: Sequence[DecodedReading]) -> None:
        self.readings.extend(readings)

    async def store_image(self, image: ReceivedImage) -> None:
        raise AssertionError("no images in these tests")

    async def update_node_status(self, statuses: Sequence[NodeStatus]) -> None:
        self.statuses.extend(statuses)


def advert(service_data: bytes, name: str | None = None, rssi: int = -70) -> AdvertisementData:
    return AdvertisementData(
        local_name=name,
        manufacturer_data={},
        service_data={ble_uuids.BTHOME_SERVICE_UUID: service_data},
        service_uuids=[],
        tx_power=None,
        rssi=rssi,
        platform_data=(),
    )


class Clock:
    def __init__(self) -> None:
        self.at = datetime(2026, 6, 1, 12, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.at


async def test_a_paired_plaintext_bthome_sensor_is_stored_without_repeats() -> None:
    store = MemoryStore([PairedNode(SENSOR, NodeKind.BTHOME, None)])
    clock = Clock()
    gateway = Gateway(store, GatewaySettings(sessions_enabled=False), now=clock)
    await gateway.reload_nodes()
    device = ble_device(SENSOR)
    first = encode_service_data({Metric.TEMPERATURE: 21.5, Metric.HUMIDITY: 40.0})
    second = encode_service_data({Metric.TEMPERATURE: 21.7, Metric.HUMIDITY: 40.5})
    for data in (first, first, first, second):
        gateway.on_advertisement(device, advert(data))
    await gateway.flush()
    assert [r.values[Metric.TEMPERATURE] for r in store.readings] == [21.5, 21.7]
    assert all(r.seq is None for r in store.readings)


async def test_a_third_party_counter_may_restart_but_a_plant_vita_counter_may_not() -> None:
    store = MemoryStore(
        [PairedNode(SENSOR, NodeKind.BTHOME, KEY), PairedNode(NODE, NodeKind.PLANTVITA, KEY)]
    )
    gateway = Gateway(store, GatewaySettings(sessions_enabled=False), now=Clock())
    await gateway.reload_nodes()
    values = {Metric.MOISTURE: 40.0}
    for mac in (SENSOR, NODE):
        for counter in (500, 3):  # a new battery / a lost counter
            data = encrypt_service_data(values, mac=mac, bindkey=KEY, counter=counter)
            gateway.on_advertisement(ble_device(mac), advert(data))
    await gateway.flush()
    assert [(r.node_mac, r.seq) for r in store.readings] == [
        (SENSOR, 500),
        (SENSOR, 3),
        (NODE, 500),
    ]
    assert gateway.drops(NODE).replayed == 1


async def test_unpaired_devices_are_listed_then_expire() -> None:
    store = MemoryStore([])
    clock = Clock()
    gateway = Gateway(store, GatewaySettings(seen_ttl_s=60), now=clock)
    await gateway.reload_nodes()
    data = encrypt_service_data({Metric.MOISTURE: 40.0}, mac=NODE, bindkey=KEY, counter=1)
    gateway.on_advertisement(ble_device(NODE), advert(data, name="PV-000009", rssi=-55))
    plain = encode_service_data({Metric.TEMPERATURE: 20.0})
    clock.at += timedelta(seconds=30)
    gateway.on_advertisement(ble_device(SENSOR), advert(plain, name="ATC_000001"))
    seen = gateway.seen_devices()
    assert [d.mac for d in seen] == [SENSOR, NODE]  # newest first
    assert seen[1].encrypted
    assert seen[1].rssi == -55
    assert not seen[0].encrypted
    clock.at += timedelta(seconds=45)
    assert [d.mac for d in gateway.seen_devices()] == [SENSOR]
    await gateway.flush()
    assert store.readings == []  # never stored while unpaired


async def test_a_wrong_key_advert_is_reported_at_once_without_faking_a_sighting() -> None:
    store = MemoryStore([PairedNode(NODE, NodeKind.PLANTVITA, KEY)])
    clock = Clock()
    gateway = Gateway(store, GatewaySettings(sessions_enabled=False), now=clock)
    await gateway.reload_nodes()
    wrong = encrypt_service_data({Metric.MOISTURE: 40.0}, mac=NODE, bindkey=bytes(16), counter=7)
    gateway.on_advertisement(ble_device(NODE), advert(wrong))
    await gateway.push_statuses()
    assert len(store.statuses) == 1
    status = store.statuses[0]
    assert status.wrong_key_at == clock.at
    assert status.last_seen is None  # heard failing is not seen as itself
    assert status.drops.wrong_key == 1
    clock.at += timedelta(seconds=30)
    good = encrypt_service_data({Metric.MOISTURE: 41.0}, mac=NODE, bindkey=KEY, counter=8)
    gateway.on_advertisement(ble_device(NODE), advert(good))
    await gateway.push_statuses()
    assert store.statuses[-1].last_seen == clock.at
    assert store.statuses[-1].wrong_key_at == clock.at - timedelta(seconds=30)


async def test_no_adapter_is_one_status_line_not_a_log_per_retry(
    caplog: pytest.LogCaptureFixture,
) -> None:
    tried_often = asyncio.Event()

    class NoAdapterScanner:
        starts = 0

        def __init__(self, *_args: object, **_kwargs: object) -> None:
            pass

        async def start(self) -> None:
            NoAdapterScanner.starts += 1
            if NoAdapterScanner.starts >= 5:
                tried_often.set()
            raise FileNotFoundError("No Bluetooth adapters found.")

        async def stop(self) -> None:
            pass

    gateway = Gateway(
        MemoryStore([]),
        GatewaySettings(sessions_enabled=False, scan_backoff_s=0.01, scan_backoff_max_s=0.01),
        now=Clock(),
    )
    gateway._make_scanner = lambda: NoAdapterScanner()  # type: ignore[assignment,method-assign,return-value]
    caplog.set_level("DEBUG", logger="hub.ble.gateway")
    await gateway.start()
    try:
        await asyncio.wait_for(tried_often.wait(), 10)
    finally:
        await gateway.stop()
    assert gateway.radio_problem is not None
    assert gateway.radio_problem.startswith("no Bluetooth adapter available")
    warnings = [r for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1
    assert not any(r.exc_info for r in caplog.records)


def test_a_missing_adapter_is_told_apart_from_a_missing_passive_scan_monitor() -> None:
    from bleak.exc import (
        BleakBluetoothNotAvailableError,
        BleakBluetoothNotAvailableReason,
        BleakError,
    )

    from hub.ble.gateway import NO_ADAPTER, radio_problem

    assert radio_problem(BleakError("No Bluetooth adapters found.")).startswith(NO_ADAPTER)
    off = BleakBluetoothNotAvailableError(
        "No powered Bluetooth adapters found. Turn on Bluetooth and try again.",
        BleakBluetoothNotAvailableReason.POWERED_OFF,
    )
    assert radio_problem(off).startswith(NO_ADAPTER)
    assert radio_problem(BleakError("adapter 'hci1' not found")).startswith(NO_ADAPTER)
    assert not radio_problem(BleakError("device 'dev_AA' not found")).startswith(NO_ADAPTER)
    # Answered by scanning actively: the emulated radio's words and bleak's on BlueZ.
    for passive in (
        BleakError("passive scanning needs org.bluez.AdvertisementMonitorManager1"),
        BleakError(
            "passive scanning on Linux requires BlueZ >= 5.56 with --experimental enabled"
            " and Linux kernel >= 5.10"
        ),
    ):
        assert not radio_problem(passive).startswith(NO_ADAPTER)


async def test_unpaired_bthome_v1_devices_are_listed_with_their_encryption() -> None:
    store = MemoryStore([])
    gateway = Gateway(store, GatewaySettings(), now=Clock())
    await gateway.reload_nodes()
    for mac, uuid, data in (
        ("A4:C1:38:00:00:11", BTHOME_V1_UUID, bytes.fromhex("0201612302ca09")),
        ("A4:C1:38:00:00:12", BTHOME_V1_ENCRYPTED_UUID, bytes(12)),
    ):
        gateway.on_advertisement(
            ble_device(mac),
            AdvertisementData(
                local_name=None,
                manufacturer_data={},
                service_data={uuid: data},
                service_uuids=[uuid],
                tx_power=None,
                rssi=-66,
                platform_data=(),
            ),
        )
    seen = {d.mac: d.encrypted for d in gateway.seen_devices()}
    assert seen == {"A4:C1:38:00:00:11": False, "A4:C1:38:00:00:12": True}
