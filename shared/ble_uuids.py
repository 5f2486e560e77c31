"""Bluetooth identifiers of a Plant-Vita node (docs/protocol.md §1, §2, §3) and of the Xiaomi
sensors the hub also reads (docs/hub-ble.md)."""

from __future__ import annotations

import uuid
from typing import Final

# BTHome v2 service data UUID, as bleak / habluetooth key service data.
BTHOME_UUID16: Final = 0xFCD2
BTHOME_SERVICE_UUID: Final = "0000fcd2-0000-1000-8000-00805f9b34fb"

# Xiaomi MiBeacon service data UUID (MiFlora and the other Mi Home BLE sensors).
MIBEACON_UUID16: Final = 0xFE95
MIBEACON_SERVICE_UUID: Final = "0000fe95-0000-1000-8000-00805f9b34fb"
# The MiFlora (HHCCJCY01) GATT service and its characteristics: mode change (handle 0x33),
# real-time data (0x35), firmware and battery (0x38).
MIFLORA_SERVICE_UUID: Final = "00001204-0000-1000-8000-00805f9b34fb"
MIFLORA_MODE_UUID: Final = "00001a00-0000-1000-8000-00805f9b34fb"
MIFLORA_DATA_UUID: Final = "00001a01-0000-1000-8000-00805f9b34fb"
MIFLORA_FIRMWARE_UUID: Final = "00001a02-0000-1000-8000-00805f9b34fb"

# Plant-Vita's own 128-bit UUIDs share one random base; only the first 32 bits differ.
PLANT_VITA_SERVICE_UUID: Final = "50560001-08d6-4635-b36b-311a13153956"
INFO_UUID: Final = "50560002-08d6-4635-b36b-311a13153956"
CONFIG_UUID: Final = "50560003-08d6-4635-b36b-311a13153956"
TIME_UUID: Final = "50560004-08d6-4635-b36b-311a13153956"
CONTROL_POINT_UUID: Final = "50560005-08d6-4635-b36b-311a13153956"
RECORDS_UUID: Final = "50560006-08d6-4635-b36b-311a13153956"
IMAGE_DATA_UUID: Final = "50560007-08d6-4635-b36b-311a13153956"

# Standard SIG services the node also exposes.
BATTERY_SERVICE_UUID: Final = "0000180f-0000-1000-8000-00805f9b34fb"
BATTERY_LEVEL_UUID: Final = "00002a19-0000-1000-8000-00805f9b34fb"
DEVICE_INFORMATION_SERVICE_UUID: Final = "0000180a-0000-1000-8000-00805f9b34fb"
MANUFACTURER_NAME_UUID: Final = "00002a29-0000-1000-8000-00805f9b34fb"
MODEL_NUMBER_UUID: Final = "00002a24-0000-1000-8000-00805f9b34fb"
FIRMWARE_REVISION_UUID: Final = "00002a26-0000-1000-8000-00805f9b34fb"


def uuid_to_le_bytes(value: str) -> bytes:
    """Return a UUID as the 16 little-endian bytes used inside advertising data."""
    return uuid.UUID(value).bytes[::-1]
