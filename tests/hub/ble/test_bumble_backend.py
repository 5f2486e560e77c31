"""The Bumble-backed bleak backend: bleak's public API over a real ATT/GATT stack."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from bleak import BleakClient, BleakScanner
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData
from bleak.exc import BleakGATTProtocolError
from bumble import att, gatt
from bumble.device import Connection, Device

from hub.ble.bumble_backend import BumbleRadio

pytestmark = [pytest.mark.pi, pytest.mark.timeout(90)]  # a hung radio fails fast

SERVICE = "50560001-08d6-4635-b36b-311a13153956"
READ_CHAR = "50560002-08d6-4635-b36b-311a13153956"
WRITE_CHAR = "50560003-08d6-4635-b36b-311a13153956"
NOTIFY_CHAR = "50560006-08d6-4635-b36b-311a13153956"
INDICATE_CHAR = "50560005-08d6-4635-b36b-311a13153956"
NODE = "24:6F:28:1A:2B:3C"
ADV = bytes.fromhex("0201061b16d2fc41e0d6cbbdcd216825672bd63671f0fee8030000503db767")
SCAN_RSP = bytes.fromhex("0a0950562d314132423343")


class Peripheral:
    """A minimal GATT server on the emulated radio."""

    def __init__(self, radio: BumbleRadio) -> None:
        self.device: Device = radio.add_peripheral(NODE, "PV-1A2B3C")
        self.written: list[bytes] = []

        def on_write(_connection: Connection, value: bytes) -> None:
            if value == b"bad":
                raise att.ATT_Error(att.ErrorCode.VALUE_NOT_ALLOWED)
            self.written.append(value)

        props = gatt.Characteristic.Properties
        self.notify = gatt.Characteristic(
            NOTIFY_CHAR, props.NOTIFY, gatt.Characteristic.READABLE, b""
        )
        self.indicate = gatt.Characteristic(
            INDICATE_CHAR,
            props.WRITE | props.INDICATE,
            gatt.Characteristic.WRITEABLE,
            gatt.CharacteristicValue(write=on_write),
        )
        self.device.add_service(
            gatt.Service(
                SERVICE,
                [
                    gatt.Characteristic(
                        READ_CHAR, props.READ, gatt.Characteristic.READABLE, bytes(range(200))
                    ),
                    gatt.Characteristic(
                        WRITE_CHAR,
                        props.READ | props.WRITE,
                        gatt.Characteristic.READABLE | gatt.Characteristic.WRITEABLE,
                        gatt.CharacteristicValue(read=lambda _c: b"cfg", write=on_write),
                    ),
                    self.notify,
                    self.indicate,
                ],
            )
        )

    async def start(self) -> None:
        await self.device.power_on()
        await self.device.start_advertising(
            advertising_data=ADV,
            scan_response_data=SCAN_RSP,
            auto_restart=True,
            advertising_interval_min=20,
            advertising_interval_max=20,
        )


@pytest.fixture
async def radio() -> AsyncIterator[BumbleRadio]:
    radio = BumbleRadio()
    yield radio
    await radio.close()


async def _first_advert(radio: BumbleRadio, mode: str) -> tuple[BLEDevice, AdvertisementData]:
    found: asyncio.Future[tuple[BLEDevice, AdvertisementData]] = (
        asyncio.get_running_loop().create_future()
    )

    def on_advert(device: BLEDevice, data: AdvertisementData) -> None:
        if not found.done():
            found.set_result((device, data))

    scanner = BleakScanner(on_advert, scanning_mode=mode, backend=radio.backends().scanner)  # type: ignore[arg-type]
    await scanner.start()
    try:
        return await asyncio.wait_for(found, 5)
    finally:
        await scanner.stop()


async def test_active_scan_sees_service_data_and_the_scan_response(radio: BumbleRadio) -> None:
    node = Peripheral(radio)
    await node.start()
    radio.set_rssi(NODE, -71)
    device, data = await _first_advert(radio, "active")
    assert device.address == NODE
    assert data.local_name == "PV-1A2B3C"
    assert data.rssi == -71
    assert data.service_data["0000fcd2-0000-1000-8000-00805f9b34fb"] == ADV[7:]


async def test_passive_scan_gets_the_advert_without_scan_response(radio: BumbleRadio) -> None:
    node = Peripheral(radio)
    await node.start()
    _device, data = await _first_advert(radio, "passive")
    assert data.local_name is None
    assert data.service_data["0000fcd2-0000-1000-8000-00805f9b34fb"] == ADV[7:]


async def test_gatt_read_write_notify_indicate_over_bleak(radio: BumbleRadio) -> None:
    node = Peripheral(radio)
    await node.start()
    device, _ = await _first_advert(radio, "passive")
    client = BleakClient(device, backend=radio.backends().client, timeout=5)
    await client.connect()
    try:
        assert client.mtu_size == 247
        service = client.services.get_service(SERVICE)
        assert service is not None
        assert {c.uuid for c in service.characteristics} >= {READ_CHAR, WRITE_CHAR}
        assert await client.read_gatt_char(READ_CHAR) == bytearray(range(200))
        assert await client.read_gatt_char(WRITE_CHAR) == bytearray(b"cfg")
        await client.write_gatt_char(WRITE_CHAR, b"\x07\x00", response=True)
        assert node.written == [b"\x07\x00"]
        with pytest.raises(BleakGATTProtocolError):
            await client.write_gatt_char(WRITE_CHAR, b"bad", response=True)

        notified: asyncio.Queue[bytes] = asyncio.Queue()
        await client.start_notify(NOTIFY_CHAR, lambda _c, v: notified.put_nowait(bytes(v)))
        await client.start_notify(INDICATE_CHAR, lambda _c, v: notified.put_nowait(bytes(v)))
        big = bytes(range(244))
        await node.device.notify_subscribers(node.notify, big)
        await node.device.indicate_subscribers(node.indicate, b"\x80\x01\x00")
        assert await asyncio.wait_for(notified.get(), 5) == big
        assert await asyncio.wait_for(notified.get(), 5) == b"\x80\x01\x00"
    finally:
        await client.disconnect()
    assert not client.is_connected


async def test_peripheral_dropping_the_link_calls_the_disconnected_callback(
    radio: BumbleRadio,
) -> None:
    node = Peripheral(radio)
    await node.start()
    device, _ = await _first_advert(radio, "passive")
    dropped = asyncio.Event()
    client = BleakClient(
        device, lambda _c: dropped.set(), backend=radio.backends().client, timeout=5
    )
    await client.connect()
    connection = next(iter(node.device.connections.values()))
    await connection.disconnect()
    await asyncio.wait_for(dropped.wait(), 5)
    assert not client.is_connected


async def test_connecting_to_an_absent_node_times_out(radio: BumbleRadio) -> None:
    client = BleakClient("C0:FF:EE:00:00:01", backend=radio.backends().client, timeout=0.5)
    with pytest.raises(TimeoutError):
        await client.connect()


async def test_a_stalled_radio_recovers_when_scanning_restarts(radio: BumbleRadio) -> None:
    node = Peripheral(radio)
    await node.start()
    seen: list[str] = []
    scanner = BleakScanner(
        lambda d, _a: seen.append(d.address),
        scanning_mode="passive",
        backend=radio.backends().scanner,
    )
    await scanner.start()
    await asyncio.sleep(0.2)
    assert seen
    radio.stalled = True
    await asyncio.sleep(0.05)
    seen.clear()
    await asyncio.sleep(0.2)
    assert seen == []
    await scanner.stop()
    await scanner.start()
    await asyncio.sleep(0.2)
    await scanner.stop()
    assert seen
