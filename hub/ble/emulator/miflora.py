"""An emulated Xiaomi MiFlora (HHCCJCY01) on the Bumble radio, built from the published layout.

It measures the same pot model as the Plant-Vita nodes (``PlantEnvironment``, plus a soil
conductivity that follows the moisture) and, like the real sensor, advertises one MiBeacon
object per frame in turn (temperature, illuminance, moisture, conductivity), each frame with
the next frame counter; ``advertised`` lets a test take objects away like older firmware does.
The battery is never advertised. With a bindkey the frames are MiBeacon v5 encrypted.

Over GATT it serves the MiFlora service 0x1204: the mode change characteristic (handle 0x33;
``A0 1F`` switches the real-time data on), the real-time data (handle 0x35, the magic
``aa bb cc …`` until the mode change was written, as on firmware 2.6.6 and later) and
firmware + battery (handle 0x38). ``log`` keeps every advert's values (by frame counter) and
``polls`` every real-time read, so tests compare what reached the hub against them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from bumble import gatt
from bumble.device import Connection, Device

from hub.ble import mibeacon
from hub.ble.bumble_backend import BumbleRadio
from hub.ble.emulator.clock import SimClock
from hub.ble.emulator.environment import PlantEnvironment
from shared import ble_uuids
from shared.metrics import Metric

logger = logging.getLogger(__name__)

MIFLORA_FIRMWARE = "3.2.1"
ADVERTISED = (
    mibeacon.OBJ_TEMPERATURE,
    mibeacon.OBJ_ILLUMINANCE,
    mibeacon.OBJ_MOISTURE,
    mibeacon.OBJ_CONDUCTIVITY,
)
_NOT_REALTIME = bytes.fromhex("aabbccddeeff99887766") + bytes(6)


@dataclass(frozen=True, slots=True)
class MiFloraAdvert:
    """One frame the emulated MiFlora advertised: its counter, object and the full values."""

    counter: int
    object_id: int
    at: datetime
    values: mibeacon.MiFloraValues


class EmulatedMiFlora:
    """A MiFlora on the emulated radio; ``start()`` / ``stop()``."""

    def __init__(
        self,
        radio: BumbleRadio,
        mac: str,
        clock: SimClock,
        *,
        seed: int = 0,
        bindkey: bytes | None = None,
        firmware: str = MIFLORA_FIRMWARE,
        advertised: Iterable[int] = ADVERTISED,
        frame_interval_real_s: float = 0.2,
        counter: int = 0,
    ) -> None:
        self.radio = radio
        self.mac = mac.upper()
        self.clock = clock
        self.bindkey = bindkey
        self.firmware = firmware
        self.advertised = tuple(advertised)
        self.frame_interval_real_s = frame_interval_real_s
        self.counter = counter  # frame counter (8 bits on air plain, 32 encrypted)
        self.name = "Flower care"
        self.environment = PlantEnvironment(seed=seed)
        self.log: list[MiFloraAdvert] = []
        self.polls: list[mibeacon.MiFloraValues] = []
        self.connections = 0
        self.realtime = False  # the mode change was written on this connection
        self._device: Device | None = None
        self._task: asyncio.Task[None] | None = None
        self._next = 0
        self._garbage: bytes | None = None
        self._running = False

    def measure(self) -> mibeacon.MiFloraValues:
        """What the sensor reads now (its own resolutions)."""
        values = self.environment.sample(self.clock.now())
        moisture = round(values[Metric.MOISTURE])
        return mibeacon.MiFloraValues(
            temperature=round(values[Metric.TEMPERATURE], 1),
            illuminance=round(values[Metric.ILLUMINANCE]),
            moisture=moisture,
            conductivity=round(60 + moisture * 9.5),  # wetter soil conducts better
            battery=round(self.environment.battery),
        )

    # --- radio --------------------------------------------------------------------------------

    async def start(self) -> None:
        """Power on and advertise."""
        device = self.radio.add_peripheral(self.mac, self.name)
        self._build_gatt(device)
        device.on(device.EVENT_CONNECTION, self._on_connection)
        async with asyncio.timeout(10.0):
            await device.power_on()
        self._device = device
        self._running = True
        self._task = asyncio.create_task(self._run(), name=f"miflora-{self.mac}")

    async def stop(self) -> None:
        """Power off."""
        self._running = False
        if self._task is not None:
            # Bumble's advertising commands can swallow a cancellation: the loop also stops on
            # ``_running``, and the wait is bounded.
            self._task.cancel()
            await asyncio.wait([self._task], timeout=2.0)
            self._task = None
        device, self._device = self._device, None
        if device is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(2.0):
                    for connection in list(device.connections.values()):
                        await connection.disconnect()
            with contextlib.suppress(Exception):
                async with asyncio.timeout(2.0):
                    await device.stop_advertising()
            with contextlib.suppress(Exception):
                async with asyncio.timeout(2.0):
                    await device.power_off()
            self.radio.remove_peripheral(device)

    def send_frame(self, service_data: bytes) -> None:
        """Advertise these exact service data bytes as the next frame (garbage, replays)."""
        self._garbage = service_data

    def frame(self, object_id: int, values: mibeacon.MiFloraValues, counter: int) -> bytes:
        """The MiBeacon service data of one object at ``counter``."""
        objects = mibeacon.miflora_objects(values)[object_id]
        if self.bindkey is None:
            return mibeacon.plain_frame(self.mac, objects, frame_counter=counter)
        return mibeacon.encrypted_frame(self.mac, objects, bindkey=self.bindkey, counter=counter)

    async def _run(self) -> None:
        while self._running:
            if self._garbage is not None:
                service_data, self._garbage = self._garbage, None
            elif self.advertised:
                object_id = self.advertised[self._next % len(self.advertised)]
                self._next += 1
                self.counter = (self.counter + 1) & (0xFF if self.bindkey is None else 0xFFFFFFFF)
                values = self.measure()
                self.log.append(MiFloraAdvert(self.counter, object_id, self.clock.now(), values))
                service_data = self.frame(object_id, values, self.counter)
            else:
                service_data = None
            if service_data is not None:
                await self._advertise(mibeacon.service_data_ad(service_data))
            await asyncio.sleep(self.frame_interval_real_s)

    async def _advertise(self, adv_data: bytes) -> None:
        device = self._device
        if device is None:
            return
        with contextlib.suppress(Exception):
            if device.is_advertising:
                await device.stop_advertising()
            # Connectable, as the real sensor: the hub polls it between frames.
            await device.start_advertising(
                advertising_data=adv_data,
                scan_response_data=bytes([len(self.name) + 1, 0x09]) + self.name.encode(),
                advertising_interval_min=50,
                advertising_interval_max=50,
            )

    # --- GATT -----------------------------------------------------------------------------------

    def _build_gatt(self, device: Device) -> None:
        props = gatt.Characteristic.Properties
        perms = gatt.Characteristic.Permissions
        service = gatt.Service(
            ble_uuids.MIFLORA_SERVICE_UUID,
            [
                gatt.Characteristic(
                    ble_uuids.MIFLORA_MODE_UUID,
                    props.READ | props.WRITE,
                    perms.READABLE | perms.WRITEABLE,
                    gatt.CharacteristicValue(read=lambda _c: b"", write=self._on_mode),
                ),
                gatt.Characteristic(
                    ble_uuids.MIFLORA_DATA_UUID,
                    props.READ | props.NOTIFY,
                    perms.READABLE,
                    gatt.CharacteristicValue(read=self._read_data),
                ),
                gatt.Characteristic(
                    ble_uuids.MIFLORA_FIRMWARE_UUID,
                    props.READ,
                    perms.READABLE,
                    gatt.CharacteristicValue(
                        read=lambda _c: mibeacon.encode_firmware_battery(
                            round(self.environment.battery), self.firmware
                        )
                    ),
                ),
            ],
        )
        device.add_services([service])

    def _on_connection(self, connection: Connection) -> None:
        self.connections += 1
        self.realtime = False

        def on_disconnection(_reason: int) -> None:
            self.realtime = False

        connection.on(connection.EVENT_DISCONNECTION, on_disconnection)

    def _on_mode(self, _connection: Connection, value: bytes) -> None:
        if bytes(value) == mibeacon.MODE_CHANGE_REALTIME:
            self.realtime = True

    def _read_data(self, _connection: Connection) -> bytes:
        if not self.realtime:
            return _NOT_REALTIME
        values = self.measure()
        self.polls.append(values)
        return mibeacon.encode_realtime_data(values)
