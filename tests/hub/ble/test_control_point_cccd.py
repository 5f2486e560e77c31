"""The emulated node refuses Control Point requests whose answer nobody subscribed to, like the
firmware (ATT error 0xFD, CCCD improperly configured), instead of sending into the void."""

from __future__ import annotations

import asyncio

import pytest
from bleak import BleakClient, BleakScanner
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData
from bleak.exc import BleakGATTProtocolError

from hub.ble.emulator import EmulatedGarden
from shared import ble_uuids
from shared import gatt as pv

pytestmark = [pytest.mark.pi, pytest.mark.timeout(60)]

CCCD_IMPROPER = 0xFD


async def _connectable(garden: EmulatedGarden, mac: str) -> BLEDevice:
    found: asyncio.Future[BLEDevice] = asyncio.get_running_loop().create_future()

    def on_advert(device: BLEDevice, _data: AdvertisementData) -> None:
        if device.address == mac and not found.done():
            found.set_result(device)

    scanner = BleakScanner(on_advert, backend=garden.backends().scanner)  # type: ignore[arg-type]
    await scanner.start()
    try:
        return await asyncio.wait_for(found, 20)
    finally:
        await scanner.stop()


async def test_requests_without_the_subscriptions_they_answer_on_get_att_error_0xfd(
    garden: EmulatedGarden,
) -> None:
    node = garden.nodes[0]
    await garden.start()
    device = await _connectable(garden, node.mac)
    client = BleakClient(device, backend=garden.backends().client, timeout=10, pair=True)
    await client.connect()
    report_since = pv.encode_request(pv.ReportSince(1))
    try:
        # Nothing subscribed: not even the answer's indication would arrive.
        with pytest.raises(BleakGATTProtocolError) as refused:
            await client.write_gatt_char(ble_uuids.CONTROL_POINT_UUID, report_since, response=True)
        assert int(refused.value.code) == CCCD_IMPROPER

        answers: asyncio.Queue[pv.ControlResponse] = asyncio.Queue()
        await client.start_notify(
            ble_uuids.CONTROL_POINT_UUID,
            lambda _c, value: answers.put_nowait(pv.ControlResponse.decode(bytes(value))),
        )
        # Indications on, Records off: REPORT_SINCE's records would go nowhere.
        with pytest.raises(BleakGATTProtocolError) as refused:
            await client.write_gatt_char(ble_uuids.CONTROL_POINT_UUID, report_since, response=True)
        assert int(refused.value.code) == CCCD_IMPROPER
        # A request answered by the indication alone is served.
        await client.write_gatt_char(
            ble_uuids.CONTROL_POINT_UUID, pv.encode_request(pv.Count()), response=True
        )
        counted = await asyncio.wait_for(answers.get(), 10)
        assert counted.opcode is pv.Opcode.COUNT
        assert counted.status is pv.Status.SUCCESS

        records: asyncio.Queue[bytes] = asyncio.Queue()
        await client.start_notify(
            ble_uuids.RECORDS_UUID, lambda _c, value: records.put_nowait(bytes(value))
        )
        await client.write_gatt_char(ble_uuids.CONTROL_POINT_UUID, report_since, response=True)
        done = await asyncio.wait_for(answers.get(), 10)
        assert done.opcode is pv.Opcode.REPORT_SINCE
        assert done.status is pv.Status.SUCCESS
    finally:
        await client.disconnect()
