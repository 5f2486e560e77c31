"""What a Plant-Vita node broadcasts: BTHome v2 adverts and the scan-response status.

Encoding is ours (the node emulator and the golden vectors use it); decoding goes through the
``bthome-ble`` library with the node's bindkey, so the hub parses adverts exactly like Home
Assistant does. Layouts: docs/protocol.md §1 and §2. Pure: no I/O.
"""

from __future__ import annotations

import enum
import math
import re
import time as _time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Final

from bleak.backends.device import BLEDevice
from bthome_ble import BTHomeBluetoothDeviceData, DeviceKey, SensorValue
from cryptography.hazmat.primitives.ciphers.aead import AESCCM
from habluetooth import BluetoothServiceInfoBleak
from sensor_state_data import BinarySensorValue

from shared.ble_uuids import BTHOME_SERVICE_UUID, BTHOME_UUID16, PLANT_VITA_SERVICE_UUID
from shared.ble_uuids import uuid_to_le_bytes as _uuid_le
from shared.mac import mac_bytes
from shared.metrics import REGISTRY, SPECS, Metric

MAX_LEGACY_ADV_LEN: Final = 31
DEVICE_INFO_PLAIN: Final = 0x40  # BTHome version 2 in bits 5-7, no encryption
DEVICE_INFO_ENCRYPTED: Final = 0x41  # version 2 + bit 0 "encrypted"
MAX_COUNTER: Final = 0xFFFF_FFFF

AD_FLAGS: Final = 0x01
AD_SHORTENED_LOCAL_NAME: Final = 0x08
AD_COMPLETE_LOCAL_NAME: Final = 0x09
AD_SERVICE_DATA_16: Final = 0x16
AD_SERVICE_DATA_128: Final = 0x21
# LE General Discoverable + BR/EDR not supported.
FLAGS_VALUE: Final = 0x06

_UUID16_LE: Final = BTHOME_UUID16.to_bytes(2, "little")
_MIC_LEN: Final = 4
_COUNTER_LEN: Final = 4


class BTHomeError(Exception):
    """Base of every error the advert decoder raises."""


class Malformed(BTHomeError):
    """The bytes are not a usable BTHome v2 advert."""


class WrongKey(BTHomeError):
    """An encrypted advert did not authenticate with the node's bindkey (or none is set)."""


class Replay(BTHomeError):
    """An encrypted advert carried a counter lower than the last one accepted."""


class Downgrade(BTHomeError):
    """A plaintext advert arrived from a node that has a bindkey."""


@dataclass(frozen=True, slots=True)
class ObjectFormat:
    """How one BTHome object stores a metric: id, byte size, signedness and scale."""

    object_id: int
    metric: Metric
    size: int
    signed: bool
    scale: int  # raw integer = round(value * scale)

    @property
    def raw_min(self) -> int:
        """Smallest raw value a node may send (the metric's physical range, in steps)."""
        return max(round(SPECS[self.metric].minimum * self.scale), self._type_min)

    @property
    def raw_max(self) -> int:
        """Largest raw value a node may send (physical range capped by the integer type)."""
        return min(round(SPECS[self.metric].maximum * self.scale), self._type_max)

    @property
    def _type_min(self) -> int:
        return -(1 << (8 * self.size - 1)) if self.signed else 0

    @property
    def _type_max(self) -> int:
        return (1 << (8 * self.size - 1)) - 1 if self.signed else (1 << (8 * self.size)) - 1


# Every object the registry lists, in ascending object id (the order BTHome v2 requires on the
# wire); a node sends each metric's first object.
OBJECT_FORMATS: Final[tuple[ObjectFormat, ...]] = tuple(
    sorted(
        (
            ObjectFormat(obj.object_id, entry.metric, obj.size, obj.signed, obj.scale)
            for entry in REGISTRY
            for obj in entry.bthome
        ),
        key=lambda fmt: fmt.object_id,
    )
)
_FORMAT_BY_ID: Final = {f.object_id: f for f in OBJECT_FORMATS}
_SENT_IDS: Final = frozenset(entry.bthome[0].object_id for entry in REGISTRY if entry.bthome)
# bthome-ble's sensor keys (its device classes) for the metrics we carry.
_METRIC_BY_LIBRARY_KEY: Final = {
    obj.key: entry.metric for entry in REGISTRY for obj in entry.bthome
}


# Object bytes an encrypted advert can carry: 31 minus Flags (3), the service data AD header and
# UUID (4), device info (1), counter (4) and MIC (4).
MAX_ADVERT_OBJECTS_LEN: Final = MAX_LEGACY_ADV_LEN - 3 - 4 - 1 - _COUNTER_LEN - _MIC_LEN
ADVERT_SLOTS: Final = 2


def advert_metrics(counter: int) -> frozenset[Metric]:
    """The metrics the encrypted advert with this counter carries when a measurement does not
    fit one advert (docs/protocol.md §1.4).

    Every registry metric together does not fit one 31-byte legacy advert, so such adverts
    alternate by counter parity: metrics with an ``advert_slot`` ride only in adverts whose
    ``counter % 2`` equals it, the rest in every advert. Each measurement is still one counter
    (never reused) and one whole record in the node's flash; the hub keeps the newest value of
    each metric, so both halves stay current.
    """
    slot = counter % ADVERT_SLOTS
    return frozenset(
        entry.metric for entry in REGISTRY if entry.bthome and entry.advert_slot in (None, slot)
    )


def advert_values(values: Mapping[Metric, float], counter: int) -> dict[Metric, float]:
    """The part of a measurement the advert with ``counter`` broadcasts: all of it when its
    objects fit one advert, else this counter's half (``advert_metrics``)."""
    if len(encode_objects(values)) <= MAX_ADVERT_OBJECTS_LEN:
        return dict(values)
    carried = advert_metrics(counter)
    return {metric: value for metric, value in values.items() if metric in carried}


def encode_objects(values: Mapping[Metric, float]) -> bytes:
    """Encode readings as BTHome objects in ascending object id order.

    Raises ValueError for a value that is not finite or outside its encodable range
    (docs/protocol.md §1.3): a node must never send one.
    """
    out = bytearray()
    for fmt in OBJECT_FORMATS:
        if fmt.object_id not in _SENT_IDS or fmt.metric not in values:
            continue
        value = values[fmt.metric]
        if not math.isfinite(value):
            raise ValueError(f"{fmt.metric.value} {value!r} is not a finite number")
        raw = round(value * fmt.scale)
        if not fmt.raw_min <= raw <= fmt.raw_max:
            raise ValueError(
                f"{fmt.metric.value} {value!r} outside "
                f"{fmt.raw_min / fmt.scale:g}..{fmt.raw_max / fmt.scale:g}"
            )
        out.append(fmt.object_id)
        out += raw.to_bytes(fmt.size, "little", signed=fmt.signed)
    return bytes(out)


def decode_objects(data: bytes) -> dict[Metric, float]:
    """Decode BTHome object bytes carried in a GATT record (not an advert).

    Only the registry's objects are accepted: an unknown id has unknown length, so the rest
    could not be parsed. Raises Malformed for unknown, repeated, unordered or truncated objects.
    Ranges are not checked here: consumers validate with ``shared.metrics.out_of_range``.
    """
    values: dict[Metric, float] = {}
    pos = 0
    last_id = -1
    while pos < len(data):
        fmt = _FORMAT_BY_ID.get(data[pos])
        if fmt is None:
            raise Malformed(f"unknown BTHome object id 0x{data[pos]:02x}")
        if fmt.object_id <= last_id:
            raise Malformed(f"object 0x{fmt.object_id:02x} out of ascending order or repeated")
        end = pos + 1 + fmt.size
        if end > len(data):
            raise Malformed(f"object 0x{fmt.object_id:02x} truncated")
        raw = int.from_bytes(data[pos + 1 : end], "little", signed=fmt.signed)
        values[fmt.metric] = round(raw / fmt.scale, 2)
        last_id = fmt.object_id
        pos = end
    return values


def bthome_nonce(mac: str, device_info: int, counter: int) -> bytes:
    """The 13-byte AES-CCM nonce: MAC ‖ d2 fc ‖ device info ‖ counter (u32 LE)."""
    return mac_bytes(mac) + _UUID16_LE + bytes([device_info]) + counter.to_bytes(4, "little")


def encode_service_data(values: Mapping[Metric, float]) -> bytes:
    """Plaintext BTHome service data (device info 0x40 + objects), for tests and unpaired use."""
    return bytes([DEVICE_INFO_PLAIN]) + encode_objects(values)


def encrypt_service_data(
    values: Mapping[Metric, float], *, mac: str, bindkey: bytes, counter: int
) -> bytes:
    """Encrypted BTHome service data: device info ‖ ciphertext ‖ counter ‖ MIC.

    ``counter`` is the measurement's sequence number; the caller takes it from its
    ``EncryptionCounter`` and persists it before broadcasting. ``values`` is what this advert
    carries: a node passes ``advert_values(measurement, counter)``.
    """
    if not 0 <= counter <= MAX_COUNTER:
        raise ValueError(f"counter {counter} does not fit u32")
    if len(bindkey) != 16:
        raise ValueError("bindkey must be 16 bytes")
    nonce = bthome_nonce(mac, DEVICE_INFO_ENCRYPTED, counter)
    sealed = AESCCM(bindkey, tag_length=_MIC_LEN).encrypt(nonce, encode_objects(values), None)
    ciphertext, mic = sealed[:-_MIC_LEN], sealed[-_MIC_LEN:]
    return bytes([DEVICE_INFO_ENCRYPTED]) + ciphertext + counter.to_bytes(4, "little") + mic


def _ad(ad_type: int, payload: bytes) -> bytes:
    return bytes([len(payload) + 1, ad_type]) + payload


def build_adv_data(service_data: bytes) -> bytes:
    """Full legacy advertising data: Flags AD + BTHome service data AD.

    Raises ValueError when the result exceeds the 31-byte legacy advertisement.
    """
    adv = _ad(AD_FLAGS, bytes([FLAGS_VALUE])) + _ad(AD_SERVICE_DATA_16, _UUID16_LE + service_data)
    if len(adv) > MAX_LEGACY_ADV_LEN:
        raise ValueError(f"advertising data is {len(adv)} bytes, legacy limit is 31")
    return adv


def node_advert(
    measurement: Mapping[Metric, float], *, mac: str, bindkey: bytes, counter: int
) -> bytes:
    """The advertising data a Plant-Vita node broadcasts for the measurement with ``counter``:
    Flags + encrypted BTHome service data of the metrics this counter's advert carries."""
    values = advert_values(measurement, counter)
    return build_adv_data(encrypt_service_data(values, mac=mac, bindkey=bindkey, counter=counter))


def parse_ad_structures(data: bytes) -> list[tuple[int, bytes]]:
    """Split advertising or scan-response data into (AD type, payload) pairs.

    A zero length byte ends the data (the rest is padding). Raises Malformed when a
    structure runs past the end.
    """
    structures: list[tuple[int, bytes]] = []
    pos = 0
    while pos < len(data):
        length = data[pos]
        if length == 0:
            break
        end = pos + 1 + length
        if end > len(data):
            raise Malformed("AD structure runs past the end of the data")
        structures.append((data[pos + 1], bytes(data[pos + 2 : end])))
        pos = end
    return structures


def bthome_service_data_from_adv(adv: bytes) -> bytes:
    """Extract the BTHome service data (bytes after the UUID) from advertising data."""
    for ad_type, payload in parse_ad_structures(adv):
        if ad_type == AD_SERVICE_DATA_16 and payload[:2] == _UUID16_LE:
            return payload[2:]
    raise Malformed("no BTHome service data in advertising data")


@dataclass(slots=True)
class EncryptionCounter:
    """A node's persisted BTHome encryption counter (the measurement sequence number).

    ``next()`` advances and returns the counter for a new measurement; the caller saves
    ``last`` to storage before broadcasting so the counter never goes back after a reboot.
    """

    last: int = 0

    def next(self) -> int:
        """Advance to the next measurement's counter and return it."""
        if self.last >= MAX_COUNTER:
            raise OverflowError("BTHome counter exhausted: re-pair the node with a new bindkey")
        self.last += 1
        return self.last


class NodeStatus(enum.IntFlag):
    """Scan-response status bits telling the hub why it should connect (protocol.md §2)."""

    NONE = 0
    STORAGE_HIGH = 0x01
    IMAGE_READY = 0x02
    TIME_UNSET = 0x04


_PENDING_MASK: Final = NodeStatus.STORAGE_HIGH | NodeStatus.IMAGE_READY | NodeStatus.TIME_UNSET
_PV_SERVICE_LE: Final = _uuid_le(PLANT_VITA_SERVICE_UUID)
# 31 bytes minus the 19-byte status AD and the name AD's own 2 header bytes.
MAX_NAME_BYTES: Final = MAX_LEGACY_ADV_LEN - (2 + 16 + 1) - 2


def decode_node_status(data: bytes) -> NodeStatus:
    """Decode the status service data value (bytes after the Plant-Vita UUID).

    Reserved bits are dropped and extra trailing bytes ignored, for forward compatibility.
    """
    if not data:
        raise Malformed("empty node status")
    return NodeStatus(data[0] & _PENDING_MASK)


def default_node_name(mac: str) -> str:
    """The name a node advertises until the gardener renames it: ``PV-`` + last 3 MAC bytes."""
    return "PV-" + mac_bytes(mac)[3:].hex().upper()


def build_scan_response(name: str, status: NodeStatus) -> bytes:
    """Scan response: local name (shortened to fit) + Plant-Vita status service data."""
    encoded = name.encode()
    ad_type = AD_COMPLETE_LOCAL_NAME
    if len(encoded) > MAX_NAME_BYTES:
        # Cut on a character boundary so the shortened name is still valid UTF-8.
        encoded = encoded[:MAX_NAME_BYTES].decode(errors="ignore").encode()
        ad_type = AD_SHORTENED_LOCAL_NAME
    return _ad(ad_type, encoded) + _ad(AD_SERVICE_DATA_128, _PV_SERVICE_LE + bytes([status]))


@dataclass(frozen=True, slots=True)
class ScanResponse:
    """A parsed Plant-Vita scan response."""

    name: str | None
    status: NodeStatus | None
    name_complete: bool = True  # False when the node had to shorten its name to fit

    @property
    def pending(self) -> bool:
        """True when the node asks the hub to connect."""
        return bool(self.status and self.status & _PENDING_MASK)


def parse_scan_response(data: bytes) -> ScanResponse:
    """Parse a scan response into name and status (each None when absent)."""
    name: str | None = None
    status: NodeStatus | None = None
    complete = True
    for ad_type, payload in parse_ad_structures(data):
        if ad_type in (AD_COMPLETE_LOCAL_NAME, AD_SHORTENED_LOCAL_NAME):
            name = payload.decode(errors="replace")
            complete = ad_type == AD_COMPLETE_LOCAL_NAME
        elif ad_type == AD_SERVICE_DATA_128 and payload[:16] == _PV_SERVICE_LE:
            status = decode_node_status(payload[16:])
    return ScanResponse(name, status, complete)


@dataclass(frozen=True, slots=True)
class NodeAdvert:
    """One decoded advert from a node.

    ``channels`` holds the values by channel (sensor index): a device that sends an object
    more than once (two temperatures) has channel 0 for the first, 1 for the second, and so on.
    ``values`` is channel 0, the node's first sensor of each kind.
    """

    mac: str
    sequence: int | None  # the encryption counter; None for a plaintext advert
    values: dict[Metric, float]
    encrypted: bool
    rssi: int
    status: NodeStatus | None  # None when no scan response was seen (passive scanning)
    channels: Mapping[int, Mapping[Metric, float]] = field(default_factory=dict)
    version: int = 2  # BTHome 1 or 2

    @property
    def pending(self) -> bool:
        """True when the node asks the hub to connect (any status bit set)."""
        return bool(self.status and self.status & _PENDING_MASK)

    def by_channel(self) -> Mapping[int, Mapping[Metric, float]]:
        """Values by channel (channel 0 alone when the advert named no other)."""
        return self.channels or {0: self.values}


class Duplicate(BTHomeError):
    """A resent advert: same packet id as the one just decoded (Shelly BLU sends each
    measurement several times), or the same encrypted bytes again."""


class UnsupportedDevice(BTHomeError):
    """An advert in a format this hub cannot decode (a BTHome version it does not know)."""


class UnsupportedObject(BTHomeError):
    """A well-formed advert whose objects are all ones the metric registry does not store
    (pressure, voltage, CO2, a button press, …)."""


# BTHome v1 service data UUIDs: plaintext and encrypted (bthome-ble decodes both).
BTHOME_V1_UUID: Final = "0000181c-0000-1000-8000-00805f9b34fb"
BTHOME_V1_ENCRYPTED_UUID: Final = "0000181e-0000-1000-8000-00805f9b34fb"
BTHOME_UUIDS: Final = (BTHOME_SERVICE_UUID, BTHOME_V1_UUID, BTHOME_V1_ENCRYPTED_UUID)
_CHANNEL_KEY: Final = re.compile(r"^(?P<key>[a-z0-9_]+?)(?:_(?P<n>[1-9][0-9]?))?$")
MAX_CHANNEL: Final = 7
# What bthome-ble reports as sensors besides the advert's measurements.
_METADATA_KEYS: Final = frozenset(("packet_id", "signal_strength"))


def library_key_channel(key: str) -> tuple[Metric, int] | None:
    """The registry metric and channel of a bthome-ble sensor key, or None when the registry
    does not store it: ``temperature`` and ``temperature_1`` are channel 0, ``temperature_2``
    channel 1, … up to channel 7."""
    metric = _METRIC_BY_LIBRARY_KEY.get(key)
    if metric is not None:
        return metric, 0
    match = _CHANNEL_KEY.match(key)
    if match is None or match["n"] is None:
        return None
    metric = _METRIC_BY_LIBRARY_KEY.get(match["key"])
    channel = int(match["n"]) - 1
    if metric is None or channel > MAX_CHANNEL:
        return None
    return metric, channel


class _Parser(BTHomeBluetoothDeviceData):
    """bthome-ble's parser, telling when it skipped an advert for its packet id."""

    skipped_duplicate = False

    def _skip_old_or_duplicated_advertisement(self, new_packet_id: float, adv_time: float) -> bool:
        skip = bool(super()._skip_old_or_duplicated_advertisement(new_packet_id, adv_time))
        self.skipped_duplicate = self.skipped_duplicate or skip
        return skip


class BTHomeNodeDecoder:
    """Decode one node's adverts through bthome-ble, raising BTHomeError subclasses.

    Keeps one ``BTHomeBluetoothDeviceData`` per node (it holds the bindkey and the library's
    replay and downgrade state). Plant-Vita nodes persist their counter, so on top of the
    library's check (which lets counters below 100 and counters after two failed decryptions
    through, for Home Assistant devices that restart from zero) any counter lower than the last
    accepted one is refused. ``last_sequence`` lets the hub restore that state after a restart.
    ``strict_counter=False`` keeps only the library's rule, for third-party BTHome sensors whose
    counter restarts after a battery change.
    """

    __slots__ = (
        "_bindkey",
        "_device",
        "_last",
        "_last_raw",
        "_last_sequence",
        "_mac",
        "_parser",
        "_previous",
        "_previous_binary",
        "_strict",
    )

    def __init__(
        self,
        mac: str,
        bindkey: bytes | None,
        *,
        last_sequence: int | None = None,
        strict_counter: bool = True,
    ) -> None:
        """Create a decoder for the node at ``mac`` with its 16-byte bindkey (None if unpaired)."""
        if bindkey is not None and len(bindkey) != 16:
            raise ValueError("bindkey must be 16 bytes")
        mac_bytes(mac)  # validate early: the library would fail later with a vaguer error
        self._mac = mac.upper()
        self._bindkey = bindkey
        self._parser = _Parser(bindkey=bindkey)
        self._device = BLEDevice(self._mac, None, None)
        self._last_sequence = last_sequence
        self._strict = strict_counter
        self._last_raw: bytes | None = None
        self._last: NodeAdvert | None = None
        self._previous: dict[DeviceKey, SensorValue] = {}
        self._previous_binary: dict[DeviceKey, BinarySensorValue] = {}

    @property
    def last_sequence(self) -> int | None:
        """The counter of the last accepted advert (what the hub persists)."""
        return self._last_sequence

    def reset_sequence(self) -> None:
        """Forget the counter, e.g. after the node was re-flashed and re-paired."""
        self._last_sequence = None
        self._last_raw = None
        self._last = None
        self._parser.reset_encryption_counter()

    def decode(
        self,
        service_data: bytes,
        *,
        rssi: int = 0,
        name: str | None = None,
        status: bytes | None = None,
        time: float | None = None,
        uuid: str = BTHOME_SERVICE_UUID,
    ) -> NodeAdvert:
        """Decode BTHome service data: the bytes after UUID 0xFCD2 (v2), or after 0x181C /
        0x181E (v1, plaintext / encrypted) when ``uuid`` says so.

        ``status`` is the Plant-Vita service data from the scan response, when seen.
        Raises Malformed, WrongKey, Replay, Downgrade, Duplicate, UnsupportedObject or
        UnsupportedDevice.
        """
        node_status = decode_node_status(status) if status is not None else None
        if self._last is not None and service_data == self._last_raw:
            # A burst or connectable-window repeat of the advert just accepted: same seq,
            # already authenticated, so skip the library (most adverts heard are repeats).
            return replace(self._last, rssi=rssi, status=node_status)
        if not service_data:
            raise Malformed("empty service data")
        if uuid == BTHOME_SERVICE_UUID:
            version = 2
            device_info = service_data[0]
            announced = (device_info >> 5) & 0x07
            if announced > 2:
                raise UnsupportedDevice(f"BTHome version {announced}: this hub decodes 1 and 2")
            if announced != 2:
                raise Malformed("not BTHome v2 under UUID 0xFCD2")
            encrypted = bool(device_info & 0x01)
            minimum = 1 + 2 + _COUNTER_LEN + _MIC_LEN  # device info, an object, counter, MIC
        elif uuid in (BTHOME_V1_UUID, BTHOME_V1_ENCRYPTED_UUID):
            version = 1
            encrypted = uuid == BTHOME_V1_ENCRYPTED_UUID
            minimum = 2 + _COUNTER_LEN + _MIC_LEN
        else:
            raise Malformed(f"not a BTHome service data UUID: {uuid}")
        counter: int | None = None
        if encrypted:
            if len(service_data) < minimum:
                raise Malformed("encrypted advert too short")
            if self._bindkey is None:
                raise WrongKey("encrypted advert but no bindkey for this node")
            counter = int.from_bytes(service_data[-8:-4], "little")
            last = self._last_sequence
            if self._strict and last is not None and counter < last:
                raise Replay(f"counter {counter} below last accepted {last}")

        info = BluetoothServiceInfoBleak(
            name=name or self._mac,
            address=self._mac,
            rssi=rssi,
            manufacturer_data={},
            service_data={uuid: service_data},
            service_uuids=[uuid],
            source="plant-vita",
            device=self._device,
            advertisement=None,
            connectable=False,
            time=_time.monotonic() if time is None else time,
            tx_power=None,
        )
        parser = self._parser
        parser.skipped_duplicate = False
        update = parser.update(info)
        if parser.downgrade_detected:
            raise Downgrade("plaintext advert from a node with a bindkey")
        if encrypted and parser.decryption_failed:
            raise WrongKey("advert did not authenticate with the node's bindkey")
        if encrypted and parser.encryption_counter != counter:
            # The library skipped the advert without trying the key: its own replay check.
            raise Replay(f"counter {counter} refused by bthome-ble's replay check")
        if parser.skipped_duplicate:
            raise Duplicate("same packet id as the advert just decoded")

        # bthome-ble's updates accumulate every sensor ever seen; this advert's values are the
        # ones it just (re)created, recognisable by identity against the previous update.
        current = update.entity_values
        previous, self._previous = self._previous, dict(current)
        fresh = [
            (key.key, sensor) for key, sensor in current.items() if previous.get(key) is not sensor
        ]
        binary = update.binary_entity_values
        previous_binary, self._previous_binary = self._previous_binary, dict(binary)
        other = bool(update.events) or any(
            previous_binary.get(key) is not value for key, value in binary.items()
        )
        channels: dict[int, dict[Metric, float]] = {}
        for key, sensor in fresh:
            found = library_key_channel(key)
            if found is None or not isinstance(sensor.native_value, int | float):
                # Metadata bthome-ble reports as sensors (packet id, signal strength) is not
                # an object of the advert's measurements.
                other = other or key not in _METADATA_KEYS
                continue
            metric, channel = found
            channels.setdefault(channel, {})[metric] = float(sensor.native_value)
        if not channels:
            if other:
                raise UnsupportedObject("advert carries no object the metric registry stores")
            raise Malformed("advert carries no readable BTHome object")

        ordered = dict(sorted(channels.items()))
        advert = NodeAdvert(
            self._mac,
            counter,
            ordered.get(0, {}),
            encrypted,
            rssi,
            node_status,
            channels=ordered if len(ordered) > 1 or 0 not in ordered else {},
            version=version,
        )
        if counter is not None:
            self._last_sequence = counter
            self._last_raw = service_data
            self._last = advert
        return advert
