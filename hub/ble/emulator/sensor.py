"""A third-party BTHome sensor on the emulated radio: it broadcasts the service data it is given.

Shelly BLU, pvvx thermometers and other BTHome devices have no Plant-Vita GATT service: they
only advertise, each measurement a few times. ``EmulatedBTHomeSensor`` is such a device on the
Bumble radio, for tests that feed the hub's gateway real third-party adverts (the field vectors
of ``shared/vectors/field.json``) over the same radio path as the Plant-Vita nodes.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid as uuid_module
from typing import Final

from bumble.device import Device

from hub.ble.bumble_backend import BumbleRadio
from shared.bthome import AD_FLAGS, AD_SERVICE_DATA_16, FLAGS_VALUE, MAX_LEGACY_ADV_LEN

POWER_ON_TIMEOUT_S: Final = 10.0
_ADVERT_INTERVAL_MS: Final = 50  # Shelly BLU sends its copies about this far apart


def adv_data(service_uuid: str, service_data: bytes) -> bytes:
    """Legacy advertising data: Flags + 16-bit service data of ``service_uuid``."""
    uuid16 = uuid_module.UUID(service_uuid).bytes[2:4][::-1]  # 0000xxxx-… → little-endian xxxx
    payload = uuid16 + service_data
    adv = bytes([2, AD_FLAGS, FLAGS_VALUE, len(payload) + 1, AD_SERVICE_DATA_16]) + payload
    if len(adv) > MAX_LEGACY_ADV_LEN:
        raise ValueError(f"advertising data is {len(adv)} bytes, legacy limit is 31")
    return adv


class EmulatedBTHomeSensor:
    """One advertise-only BTHome device with its own controller on ``radio``."""

    def __init__(self, radio: BumbleRadio, mac: str, name: str = "BTHome sensor") -> None:
        self.radio = radio
        self.mac = mac.upper()
        self.name = name
        self._device: Device | None = None

    async def start(self) -> None:
        """Power the device on (it stays silent until ``broadcast``)."""
        device = self.radio.add_peripheral(self.mac, self.name)
        async with asyncio.timeout(POWER_ON_TIMEOUT_S):
            await device.power_on()
        self._device = device

    async def broadcast(self, service_uuid: str, service_data: bytes, seconds: float) -> None:
        """Advertise ``service_data`` under ``service_uuid`` for ``seconds`` (the scanner hears
        it many times, like a device's resends), then fall silent."""
        device = self._device
        if device is None:
            raise RuntimeError("start the sensor first")
        data = adv_data(service_uuid, service_data)
        await device.start_advertising(
            advertising_data=data,
            advertising_interval_min=_ADVERT_INTERVAL_MS,
            advertising_interval_max=_ADVERT_INTERVAL_MS,
        )
        try:
            await asyncio.sleep(seconds)
        finally:
            with contextlib.suppress(Exception):
                await device.stop_advertising()

    async def stop(self) -> None:
        """Take the device off the air."""
        device, self._device = self._device, None
        if device is not None:
            with contextlib.suppress(Exception):
                await device.stop_advertising()
            self.radio.remove_peripheral(device)
