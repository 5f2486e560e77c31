"""Xiaomi MiBeacon adverts and the MiFlora GATT poll: decoding through ``xiaomi-ble``, encoding
for the emulator and the tests.

Decoding goes through Home Assistant's own ``xiaomi-ble`` (``XiaomiBluetoothDeviceData``) with
the device's bindkey, so the hub reads a MiFlora exactly like Home Assistant does; this module
only adds what the hub needs around it: which outcome counter an advert ends in (duplicate,
replay, wrong key, unsupported device or object, malformed) and the metric each value belongs to
(the registry's library keys, shared with bthome-ble: both use sensor-state-data's device
classes). The encoder follows the published frame layout (docs/hub-ble.md) and is ours.
``xiaomi-ble`` (with the HTTP client it brings, about 9 MB of RSS) is imported at the first
MiBeacon frame, so a hub that hears no Xiaomi device does not carry it (bench.pi_budget).

MiBeacon service data (UUID 0xFE95), little-endian:

    frame control (2) | product id (2) | frame counter (1) | [MAC, reversed (6)]
    | [capability (1)] | objects: id (2), length (1), value … | [ext. counter (3) | MIC (4)]

Frame control bits: 3 encrypted, 4 MAC included, 5 capability included, 6 objects included,
12-15 version. Version 4/5 encryption is AES-CCM (4-byte tag) with the 16-byte bindkey over the
objects; nonce = MAC (reversed) ‖ product id ‖ frame counter ‖ ext. counter, associated data
0x11. The 32-bit counter of an encrypted frame is frame counter + (ext. counter << 8).
"""

from __future__ import annotations

import math
import struct
import time as _time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from bleak.backends.device import BLEDevice
from cryptography.hazmat.primitives.ciphers.aead import AESCCM
from habluetooth import BluetoothServiceInfoBleak

from shared.ble_uuids import MIBEACON_SERVICE_UUID, MIBEACON_UUID16
from shared.bthome import (
    Duplicate,
    Malformed,
    Replay,
    UnsupportedDevice,
    UnsupportedObject,
    WrongKey,
)
from shared.mac import mac_bytes
from shared.metrics import REGISTRY, Metric

# Product ids (xiaomi-ble's device table) of the plant sensors whose values the GATT poll reads.
MIFLORA_PRODUCT_ID: Final = 0x0098  # HHCCJCY01, "Flower Care"
GROW_CARE_PRODUCT_ID: Final = 0x03BC  # GCLS002, "Grow Care Garden" (same GATT layout)
POLLED_PRODUCT_IDS: Final = frozenset({MIFLORA_PRODUCT_ID, GROW_CARE_PRODUCT_ID})

# MiBeacon object ids a plant sensor sends (value layout: docs/hub-ble.md).
OBJ_TEMPERATURE: Final = 0x1004  # int16, 0.1 °C
OBJ_ILLUMINANCE: Final = 0x1007  # uint24, lx
OBJ_MOISTURE: Final = 0x1008  # uint8, %
OBJ_CONDUCTIVITY: Final = 0x1009  # uint16, µS/cm
OBJ_BATTERY: Final = 0x100A  # uint8, %

FRAME_ENCRYPTED: Final = 0x0008
FRAME_MAC: Final = 0x0010
FRAME_CAPABILITY: Final = 0x0020
FRAME_OBJECTS: Final = 0x0040
FRAME_MESH: Final = 0x0080
# What a MiFlora sends: version 2, objects, capability byte, MAC, "request timing".
MIFLORA_FRAME_CONTROL: Final = 0x2071
MIFLORA_CAPABILITY: Final = 0x0D
_AAD: Final = b"\x11"
_MIC_LEN: Final = 4
_EXT_COUNTER_LEN: Final = 3
_LOW_COUNTER: Final = 100  # a lower encrypted counter below this is a restart (battery change)

_UUID16_LE: Final = MIBEACON_UUID16.to_bytes(2, "little")

# The registry's library keys: xiaomi-ble reports values under sensor-state-data's device
# classes, the same keys bthome-ble uses (``MetricSpec.bthome[...].key``).
_METRIC_BY_LIBRARY_KEY: Final[dict[str, Metric]] = {
    obj.key: entry.metric for entry in REGISTRY for obj in entry.bthome
}
# Values xiaomi-ble derives that are no measurement of the device (never counted as objects).
_DERIVED_KEYS: Final = frozenset({"signal_strength", "voltage"})


__all__ = [
    "Duplicate",
    "Malformed",
    "MiBeaconDecoder",
    "Replay",
    "UnsupportedDevice",
    "UnsupportedObject",
    "WrongKey",
]


@dataclass(frozen=True, slots=True)
class MiBeaconFrame:
    """The header fields of a MiBeacon frame (before decryption)."""

    frame_control: int
    product_id: int
    frame_counter: int
    encrypted: bool
    version: int

    @property
    def model(self) -> str | None:
        """xiaomi-ble's model name for the product id (None: unknown product)."""
        from xiaomi_ble.devices import DEVICE_TYPES  # at first use: see the docstring

        entry = DEVICE_TYPES.get(self.product_id)
        return entry.model if entry is not None else None


def parse_frame(service_data: bytes) -> MiBeaconFrame:
    """Read the frame header; raises Malformed for a frame too short to have one."""
    if len(service_data) < 5:
        raise Malformed("MiBeacon frame shorter than its header")
    control = int.from_bytes(service_data[0:2], "little")
    return MiBeaconFrame(
        frame_control=control,
        product_id=int.from_bytes(service_data[2:4], "little"),
        frame_counter=service_data[4],
        encrypted=bool(control & FRAME_ENCRYPTED),
        version=control >> 12,
    )


@dataclass(frozen=True, slots=True)
class MiBeaconAdvert:
    """One decoded MiBeacon advert."""

    mac: str
    values: dict[Metric, float]
    encrypted: bool
    counter: int  # the frame counter (plain: 8 bits; encrypted v4/v5: 32 bits with the ext.)
    product_id: int
    model: str
    firmware: str | None  # what xiaomi-ble calls the format, e.g. "Xiaomi (MiBeacon V2)"
    rssi: int


class MiBeaconDecoder:
    """Decode one Xiaomi device's MiBeacon adverts through xiaomi-ble.

    Each advert is parsed by a fresh ``XiaomiBluetoothDeviceData`` (the library accumulates every
    value it ever saw; a fresh one reports exactly this advert's), with the device's bindkey.
    Encrypted frames carry a 32-bit counter: one below the last accepted is a replay unless it
    is below 100 (the device restarted with a new battery, as bthome-ble allows). Raises
    Duplicate, Replay, WrongKey, UnsupportedDevice, UnsupportedObject or Malformed.
    """

    __slots__ = ("_bindkey", "_device", "_last_counter", "_last_raw", "_mac")

    def __init__(self, mac: str, bindkey: bytes | None) -> None:
        if bindkey is not None and len(bindkey) != 16:
            raise ValueError("a MiBeacon v4/v5 bindkey is 16 bytes")
        mac_bytes(mac)
        self._mac = mac.upper()
        self._bindkey = bindkey
        self._device = BLEDevice(self._mac, None, None)
        self._last_raw: bytes | None = None
        self._last_counter: int | None = None

    @property
    def last_counter(self) -> int | None:
        """The counter of the last accepted encrypted advert."""
        return self._last_counter

    def decode(
        self,
        service_data: bytes,
        *,
        rssi: int = 0,
        name: str | None = None,
        time: float | None = None,
    ) -> MiBeaconAdvert:
        """Decode MiBeacon service data (the bytes after UUID 0xFE95)."""
        if service_data == self._last_raw:
            raise Duplicate("same frame as the advert just accepted")
        frame = parse_frame(service_data)
        if frame.frame_control & FRAME_MESH:
            raise UnsupportedDevice("MiBeacon mesh frame")
        if frame.version < 2:
            raise UnsupportedDevice(f"MiBeacon version {frame.version}")
        model = frame.model
        if model is None:
            raise UnsupportedDevice(f"unknown Xiaomi product id 0x{frame.product_id:04x}")
        if not frame.frame_control & FRAME_OBJECTS:
            raise UnsupportedObject("MiBeacon frame without objects")
        counter = frame.frame_counter
        if frame.encrypted:
            if frame.version <= 3:
                raise UnsupportedDevice("legacy MiBeacon v2/v3 encryption (12-byte bindkey)")
            if len(service_data) < 5 + 3 + _EXT_COUNTER_LEN + _MIC_LEN:
                raise Malformed("encrypted MiBeacon frame too short")
            if self._bindkey is None:
                raise WrongKey("encrypted MiBeacon advert but no bindkey for this device")
            ext = service_data[-(_EXT_COUNTER_LEN + _MIC_LEN) : -_MIC_LEN]
            counter |= int.from_bytes(ext, "little") << 8
            last = self._last_counter
            if last is not None and counter == last:
                raise Duplicate(f"counter {counter} already accepted")
            if last is not None and _LOW_COUNTER <= counter < last:
                raise Replay(f"counter {counter} below last accepted {last}")

        from xiaomi_ble import XiaomiBluetoothDeviceData  # at first use: see the docstring

        parser = XiaomiBluetoothDeviceData(bindkey=self._bindkey)
        info = BluetoothServiceInfoBleak(
            name=name or self._mac,
            address=self._mac,
            rssi=rssi,
            manufacturer_data={},
            service_data={MIBEACON_SERVICE_UUID: service_data},
            service_uuids=[MIBEACON_SERVICE_UUID],
            source="plant-vita",
            device=self._device,
            advertisement=None,
            connectable=False,
            time=_time.monotonic() if time is None else time,
            tx_power=None,
        )
        parser.bindkey_verified = False
        update = parser.update(info)
        if frame.encrypted and not parser.bindkey_verified:
            raise WrongKey("MiBeacon advert did not authenticate with the device's bindkey")
        if parser.pending:
            # xiaomi-ble rejected the frame before its objects (a MAC that is not the sender's,
            # a length that runs short).
            raise Malformed("MiBeacon frame refused by xiaomi-ble")

        values: dict[Metric, float] = {}
        others = 0
        for key, sensor in update.entity_values.items():
            if key.key in _DERIVED_KEYS:
                continue
            metric = _METRIC_BY_LIBRARY_KEY.get(key.key)
            value = sensor.native_value
            if metric is None or not isinstance(value, int | float) or isinstance(value, bool):
                others += 1
                continue
            values[metric] = float(value)
        if not values:
            if others or update.binary_entity_values or parser.unhandled:
                raise UnsupportedObject("MiBeacon objects the metric registry does not store")
            raise Malformed("MiBeacon frame carries no readable object")

        self._last_raw = service_data
        if frame.encrypted:
            self._last_counter = counter
        device = update.devices.get(None)
        return MiBeaconAdvert(
            mac=self._mac,
            values=values,
            encrypted=frame.encrypted,
            counter=counter,
            product_id=frame.product_id,
            model=model,
            firmware=device.sw_version if device is not None else None,
            rssi=rssi,
        )


# --- encoding (the emulator and the tests) ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class MiFloraValues:
    """What a MiFlora measures, in its own units and resolutions."""

    temperature: float  # °C, 0.1 steps
    illuminance: int  # lx
    moisture: int  # %
    conductivity: int  # µS/cm
    battery: int  # %


def encode_object(object_id: int, value: float) -> bytes:
    """One MiBeacon object (id, length, value) of a plant sensor."""
    if not math.isfinite(value):
        raise ValueError(f"object 0x{object_id:04x}: {value!r} is not a finite number")
    if object_id == OBJ_TEMPERATURE:
        payload = struct.pack("<h", round(value * 10))
    elif object_id == OBJ_ILLUMINANCE:
        payload = int(value).to_bytes(3, "little")
    elif object_id in (OBJ_MOISTURE, OBJ_BATTERY):
        payload = bytes([int(value)])
    elif object_id == OBJ_CONDUCTIVITY:
        payload = struct.pack("<H", int(value))
    else:
        raise ValueError(f"no encoding for MiBeacon object 0x{object_id:04x}")
    return object_id.to_bytes(2, "little") + bytes([len(payload)]) + payload


def miflora_objects(values: MiFloraValues) -> dict[int, bytes]:
    """Each MiBeacon object a MiFlora advertises for these values, by object id."""
    return {
        OBJ_TEMPERATURE: encode_object(OBJ_TEMPERATURE, values.temperature),
        OBJ_ILLUMINANCE: encode_object(OBJ_ILLUMINANCE, values.illuminance),
        OBJ_MOISTURE: encode_object(OBJ_MOISTURE, values.moisture),
        OBJ_CONDUCTIVITY: encode_object(OBJ_CONDUCTIVITY, values.conductivity),
        OBJ_BATTERY: encode_object(OBJ_BATTERY, values.battery),
    }


def plain_frame(
    mac: str,
    objects: bytes,
    *,
    frame_counter: int,
    product_id: int = MIFLORA_PRODUCT_ID,
    frame_control: int = MIFLORA_FRAME_CONTROL,
    capability: int = MIFLORA_CAPABILITY,
) -> bytes:
    """An unencrypted MiBeacon frame, laid out as a MiFlora sends it."""
    out = bytearray(frame_control.to_bytes(2, "little"))
    out += product_id.to_bytes(2, "little") + bytes([frame_counter & 0xFF])
    if frame_control & FRAME_MAC:
        out += mac_bytes(mac)[::-1]
    if frame_control & FRAME_CAPABILITY:
        out.append(capability)
    return bytes(out) + objects


def encrypted_frame(
    mac: str,
    objects: bytes,
    *,
    bindkey: bytes,
    counter: int,
    product_id: int = MIFLORA_PRODUCT_ID,
    version: int = 5,
) -> bytes:
    """A MiBeacon v4/v5 frame with AES-CCM encrypted objects and a 32-bit ``counter``."""
    if len(bindkey) != 16:
        raise ValueError("bindkey must be 16 bytes")
    if not 0 <= counter <= 0xFFFF_FFFF:
        raise ValueError(f"counter {counter} does not fit u32")
    control = (version << 12) | 0x0800 | FRAME_OBJECTS | FRAME_MAC | FRAME_ENCRYPTED
    frame_counter = counter & 0xFF
    ext = (counter >> 8).to_bytes(_EXT_COUNTER_LEN, "little")
    mac_le = mac_bytes(mac)[::-1]
    header = (
        control.to_bytes(2, "little")
        + product_id.to_bytes(2, "little")
        + bytes([frame_counter])
        + mac_le
    )
    nonce = mac_le + header[2:5] + ext
    sealed = AESCCM(bindkey, tag_length=_MIC_LEN).encrypt(nonce, objects, _AAD)
    return header + sealed[:-_MIC_LEN] + ext + sealed[-_MIC_LEN:]


def service_data_ad(service_data: bytes) -> bytes:
    """Advertising data: Flags AD + MiBeacon service data AD (legacy, at most 31 bytes)."""
    body = _UUID16_LE + service_data
    adv = bytes([2, 0x01, 0x06, len(body) + 1, 0x16]) + body
    if len(adv) > 31:
        raise ValueError(f"advertising data is {len(adv)} bytes, legacy limit is 31")
    return adv


# --- the MiFlora GATT poll --------------------------------------------------------------------

MODE_CHANGE_REALTIME: Final = b"\xa0\x1f"  # written to handle 0x33 before reading 0x35
REALTIME_DATA_LEN: Final = 16


def encode_realtime_data(values: MiFloraValues) -> bytes:
    """The 16-byte real-time data (handle 0x35): temperature int16 ×0.1, 1 byte pad, lux
    uint32, moisture uint8, conductivity uint16, 6 bytes the firmware leaves unused."""
    return struct.pack(
        "<hxIBH6x",
        round(values.temperature * 10),
        values.illuminance,
        values.moisture,
        values.conductivity,
    )


def decode_realtime_data(data: bytes) -> dict[str, float]:
    """Decode the real-time data (by the device's own value names); Malformed if too short.

    A MiFlora that was not switched to real-time mode first answers ``aa bb cc dd ee ff 99 88
    77 66 00 00 00 00 00 00``: that is refused as Malformed too.
    """
    if len(data) < 10:
        raise Malformed(f"MiFlora real-time data is {len(data)} bytes, expected 16")
    if data[:10] == bytes.fromhex("aabbccddeeff99887766"):
        raise Malformed("MiFlora answered without real-time mode (mode change not applied)")
    temperature, lux, moisture, conductivity = struct.unpack_from("<hxIBH", data)
    return {
        "temperature": temperature / 10,
        "illuminance": float(lux),
        "moisture": float(moisture),
        "conductivity": float(conductivity),
    }


def encode_firmware_battery(battery: int, firmware: str) -> bytes:
    """Handle 0x38: battery %, a separator byte, firmware version in ASCII."""
    return bytes([battery, 0x13]) + firmware.encode()


def decode_firmware_battery(data: bytes) -> tuple[int, str]:
    """(battery %, firmware version) from handle 0x38, read as xiaomi-ble's poll reads it."""
    if len(data) < 2:
        raise Malformed("MiFlora firmware/battery characteristic too short")
    return data[0], data[2:].decode("ascii", errors="replace").strip("\x00 ")


def metric_values(named: Mapping[str, float]) -> dict[Metric, float]:
    """Values keyed by library name (``decode_realtime_data``) → the registry's metrics; names
    the registry does not know (conductivity before it is a metric) are left out."""
    return {
        _METRIC_BY_LIBRARY_KEY[name]: value
        for name, value in named.items()
        if name in _METRIC_BY_LIBRARY_KEY
    }
