"""The MiFlora GATT poll: the values a MiFlora's firmware does not advertise.

A MiFlora (HHCCJCY01, and the GCLS002 with the same service 0x1204) never advertises its battery,
and older firmware leaves other values out of its MiBeacon adverts. Home Assistant's xiaomi-ble
polls it over GATT for the battery and firmware (handle 0x38); the hub reads the same and the
real-time values (handle 0x35, after writing the mode change ``A0 1F`` to handle 0x33, which
firmware 2.6.6 and later need). The gateway runs it through bleak-retry-connector under the
same connection semaphore, connect lock and time bounds as the Plant-Vita node sessions; every
GATT operation here is bounded by ``op_timeout_s``. Layouts: docs/hub-ble.md.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from bleak import BleakClient

from hub.ble.mibeacon import (
    MODE_CHANGE_REALTIME,
    decode_firmware_battery,
    decode_realtime_data,
    metric_values,
)
from shared import ble_uuids
from shared.metrics import Metric

MODE_CHANGE_SINCE = (2, 6, 6)  # firmware from this version on serves 0x35 only after A0 1F


@dataclass(frozen=True, slots=True)
class PollReport:
    """What one poll read: the values (registry metrics incl. battery) and the firmware."""

    values: dict[Metric, float]
    firmware: str
    battery: int


def firmware_tuple(version: str) -> tuple[int, ...]:
    """``"3.2.1"`` → (3, 2, 1); parts that are no number count as 0."""
    return tuple(int(part) if part.isdigit() else 0 for part in version.split("."))


class MiFloraPoll:
    """One poll over a connected client (the gateway connects and disconnects)."""

    def __init__(self, client: BleakClient, *, op_timeout_s: float) -> None:
        self.client = client
        self.op_timeout_s = op_timeout_s

    async def run(self) -> PollReport:
        """Read firmware and battery, switch to real-time mode if needed, read the values."""
        async with asyncio.timeout(self.op_timeout_s):
            raw = await self.client.read_gatt_char(ble_uuids.MIFLORA_FIRMWARE_UUID)
        battery, firmware = decode_firmware_battery(bytes(raw))
        if firmware_tuple(firmware) >= MODE_CHANGE_SINCE:
            async with asyncio.timeout(self.op_timeout_s):
                await self.client.write_gatt_char(
                    ble_uuids.MIFLORA_MODE_UUID, MODE_CHANGE_REALTIME, response=True
                )
        async with asyncio.timeout(self.op_timeout_s):
            data = await self.client.read_gatt_char(ble_uuids.MIFLORA_DATA_UUID)
        values = metric_values(decode_realtime_data(bytes(data)))
        values[Metric.BATTERY] = float(battery)
        return PollReport(values=values, firmware=firmware, battery=battery)
