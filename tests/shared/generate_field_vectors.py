"""Write shared/vectors/field.json: ``python -m tests.shared.generate_field_vectors``.

Adverts as third-party devices send them, built byte by byte from the published layouts
(https://bthome.io/format/ for v2 objects and the device information byte, the BTHome v1
layout of control byte + object id, https://bthome.io/encryption/ for AES-CCM), with the values
they must decode to and the one outcome the hub counts for each. The vectors come in sequences:
each one is decoded by the same per-device decoder after the ones before it of that device (a
resend is only a duplicate right after the advert it repeats). The committed JSON is the source of
truth; ``tests/shared/test_field_vectors.py`` checks this script still reproduces it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESCCM

from shared.bthome import bthome_nonce
from shared.mac import mac_bytes

FIELD_FILE = Path(__file__).resolve().parents[2] / "shared" / "vectors" / "field.json"

V2 = "0000fcd2-0000-1000-8000-00805f9b34fb"
V1 = "0000181c-0000-1000-8000-00805f9b34fb"
V1_ENCRYPTED = "0000181e-0000-1000-8000-00805f9b34fb"

SHELLY_MAC = "7C:C6:B6:61:2A:05"  # Shelly BLU H&T (SBHT-003C)
SHELLY_PROBES_MAC = "7C:C6:B6:61:2A:06"  # the same layout carrying repeated objects
PVVX_MAC = "A4:C1:38:5D:9E:01"  # LYWSD03MMC with pvvx ATC_MiThermometer firmware
PVVX_KEY = bytes.fromhex("5c6fa5f37e5e4b6a8b2b84b0d6f2a917")
V1_MAC = "A4:C1:38:5D:9E:02"  # ATC firmware set to the BTHome v1 format
V1_KEY = bytes.fromhex("231d39c1d7cc1ab1aee224cd096db932")


def u(value: int, size: int) -> bytes:
    """Unsigned little-endian integer."""
    return value.to_bytes(size, "little")


def s(value: int, size: int) -> bytes:
    """Signed little-endian integer."""
    return value.to_bytes(size, "little", signed=True)


def v2_encrypt(objects: bytes, mac: str, key: bytes, counter: int, info: int = 0x41) -> bytes:
    """BTHome v2 encrypted service data: device info ‖ ciphertext ‖ counter ‖ MIC."""
    nonce = bthome_nonce(mac, info, counter)
    sealed = AESCCM(key, tag_length=4).encrypt(nonce, objects, None)
    return bytes([info]) + sealed[:-4] + u(counter, 4) + sealed[-4:]


def v1_encrypt(objects: bytes, mac: str, key: bytes, counter: int) -> bytes:
    """BTHome v1 encrypted service data (UUID 0x181E): ciphertext ‖ counter ‖ MIC; the nonce is
    MAC ‖ UUID16 (1e 18) ‖ counter and the associated data one byte 0x11."""
    nonce = mac_bytes(mac) + b"\x1e\x18" + u(counter, 4)
    sealed = AESCCM(key, tag_length=4).encrypt(nonce, objects, b"\x11")
    return sealed[:-4] + u(counter, 4) + sealed[-4:]


def vector(
    name: str,
    device: str,
    mac: str,
    uuid: str,
    data: bytes,
    outcome: str,
    channels: dict[int, dict[str, float]] | None = None,
    *,
    bindkey: bytes | None = None,
    note: str = "",
) -> dict[str, Any]:
    """One field vector: the service data bytes of ``uuid`` and what they must give."""
    fields: dict[str, Any] = {
        "device": device,
        "mac": mac,
        "uuid": uuid,
        "bindkey": bindkey.hex() if bindkey else None,
        "outcome": outcome,
        "channels": {str(c): v for c, v in (channels or {}).items()},
    }
    if note:
        fields["note"] = note
    return {"name": name, "kind": "field_advert", "hex": data.hex(), "fields": fields}


def build() -> list[dict[str, Any]]:
    """Every field vector, in decoding order."""
    shelly = (
        b"\x44"  # v2, trigger-based device (bit 2), not encrypted
        + b"\x00"
        + u(0x5B, 1)  # packet id
        + b"\x01"
        + u(100, 1)  # battery 100 %
        + b"\x2e"
        + u(53, 1)  # humidity 53 % (uint8)
        + b"\x45"
        + s(232, 2)  # temperature 23.2 °C (sint16, 0.1)
    )
    probes = (
        b"\x44"
        + b"\x00"
        + u(0x11, 1)
        + b"\x01"
        + u(96, 1)
        + b"\x2e"
        + u(61, 1)  # humidity_1
        + b"\x2e"
        + u(48, 1)  # humidity_2
        + b"\x45"
        + s(215, 2)  # temperature_1 21.5
        + b"\x45"
        + s(183, 2)  # temperature_2 18.3
        + b"\x45"
        + s(-42, 2)  # temperature_3 -4.2
    )
    pvvx_objects = (
        b"\x00"
        + u(0x7E, 1)
        + b"\x01"
        + u(87, 1)  # battery 87 %
        + b"\x02"
        + s(2153, 2)  # temperature 21.53 °C
        + b"\x03"
        + u(4820, 2)  # humidity 48.20 %
    )
    pvvx_power = (
        b"\x40"  # pvvx alternates a second advert: voltage and power state
        + b"\x00"
        + u(0x7F, 1)
        + b"\x0c"
        + u(2984, 2)  # voltage 2.984 V
        + b"\x10"
        + u(0, 1)  # power: off
    )
    v1 = (
        b"\x02\x01"  # control: uint, 2 bytes (id + 1); object 0x01 battery
        + u(97, 1)
        + b"\x23\x02"  # control: sint (1 << 5), 3 bytes; object 0x02 temperature
        + s(2506, 2)
        + b"\x03\x03"  # control: uint, 3 bytes; object 0x03 humidity
        + u(5055, 2)
    )
    return [
        vector(
            "shelly-blu-ht",
            "Shelly BLU H&T",
            SHELLY_MAC,
            V2,
            shelly,
            "stored",
            {0: {"battery": 100.0, "humidity": 53.0, "temperature": 23.2}},
        ),
        vector(
            "shelly-blu-ht-resent",
            "Shelly BLU H&T",
            SHELLY_MAC,
            V2,
            shelly,
            "duplicate",
            note="Shelly BLU sends each measurement several times with the same packet id",
        ),
        vector(
            "shelly-blu-ht-next",
            "Shelly BLU H&T",
            SHELLY_MAC,
            V2,
            shelly[:2] + u(0x5C, 1) + shelly[3:],
            "stored",
            {0: {"battery": 100.0, "humidity": 53.0, "temperature": 23.2}},
            note="a new packet id is a new measurement, even with the same values",
        ),
        vector(
            "shelly-blu-ht-repeated-objects",
            "Shelly BLU H&T with probes",
            SHELLY_PROBES_MAC,
            V2,
            probes,
            "stored",
            {
                0: {"battery": 96.0, "humidity": 61.0, "temperature": 21.5},
                1: {"humidity": 48.0, "temperature": 18.3},
                2: {"temperature": -4.2},
            },
            note="three temperatures, two humidities and a battery: channels 0, 1, 2",
        ),
        vector(
            "pvvx-bthome-encrypted",
            "pvvx ATC_MiThermometer (LYWSD03MMC)",
            PVVX_MAC,
            V2,
            v2_encrypt(pvvx_objects, PVVX_MAC, PVVX_KEY, 0x0000A1B2),
            "stored",
            {0: {"battery": 87.0, "temperature": 21.53, "humidity": 48.2}},
            bindkey=PVVX_KEY,
        ),
        vector(
            "pvvx-bthome-encrypted-resent",
            "pvvx ATC_MiThermometer (LYWSD03MMC)",
            PVVX_MAC,
            V2,
            v2_encrypt(pvvx_objects, PVVX_MAC, PVVX_KEY, 0x0000A1B2),
            "duplicate",
            bindkey=PVVX_KEY,
        ),
        vector(
            "pvvx-bthome-power",
            "pvvx ATC_MiThermometer (LYWSD03MMC), plaintext",
            "A4:C1:38:5D:9E:03",
            V2,
            pvvx_power,
            "unsupported_object",
            note="voltage and power state only: objects the metric registry does not store",
        ),
        vector(
            "pvvx-bthome-plain",
            "pvvx ATC_MiThermometer (LYWSD03MMC), plaintext",
            "A4:C1:38:5D:9E:03",
            V2,
            b"\x40" + pvvx_objects[:1] + u(0x80, 1) + pvvx_objects[2:],
            "stored",
            {0: {"battery": 87.0, "temperature": 21.53, "humidity": 48.2}},
        ),
        vector(
            "b-parasite-bthome",
            "b-parasite soil sensor, BTHome v2 firmware",
            "F0:CA:FE:00:00:01",
            V2,
            b"\x40"
            + b"\x00"
            + u(0x03, 1)
            + b"\x02"
            + s(1875, 2)  # temperature 18.75 °C
            + b"\x03"
            + u(6210, 2)  # humidity 62.10 %
            + b"\x05"
            + u(1234500, 3)  # illuminance 12345.00 lx
            + b"\x0c"
            + u(2870, 2)  # voltage 2.870 V: not in the registry, skipped
            + b"\x14"
            + u(4350, 2),  # moisture 43.50 %
            "stored",
            {
                0: {
                    "temperature": 18.75,
                    "humidity": 62.1,
                    "illuminance": 12345.0,
                    "moisture": 43.5,
                }
            },
        ),
        vector(
            "soil-probes-conductivity",
            "a BTHome soil node with two moisture probes and a conductivity probe",
            "F0:CA:FE:00:00:02",
            V2,
            b"\x40"
            + b"\x00"
            + u(0x21, 1)
            + b"\x14"
            + u(3120, 2)  # moisture_1 31.20 %
            + b"\x14"
            + u(5880, 2)  # moisture_2 58.80 %
            + b"\x56"
            + u(1250, 2),  # conductivity 1250 µS/cm
            "stored",
            {0: {"moisture": 31.2, "conductivity": 1250.0}, 1: {"moisture": 58.8}},
        ),
        vector(
            "weather-station-pressure",
            "a BTHome barometer",
            "F0:CA:FE:00:00:03",
            V2,
            b"\x40" + b"\x00" + u(0x09, 1) + b"\x04" + u(101325, 3),  # pressure 1013.25 hPa
            "unsupported_object",
            note="pressure: bthome-ble decodes it, the metric registry does not store it",
        ),
        vector(
            "bthome-v1-atc",
            "ATC thermometer, BTHome v1 format",
            V1_MAC,
            V1,
            v1,
            "stored",
            {0: {"battery": 97.0, "temperature": 25.06, "humidity": 50.55}},
        ),
        vector(
            "bthome-v1-encrypted",
            "BTHome v1 encrypted (0x181E)",
            "A4:C1:38:5D:9E:04",
            V1_ENCRYPTED,
            v1_encrypt(v1[3:], "A4:C1:38:5D:9E:04", V1_KEY, 0x00000033),
            "stored",
            {0: {"temperature": 25.06, "humidity": 50.55}},
            bindkey=V1_KEY,
        ),
        vector(
            "bthome-v2-wrong-key",
            "pvvx ATC_MiThermometer (LYWSD03MMC)",
            "A4:C1:38:5D:9E:05",
            V2,
            v2_encrypt(pvvx_objects, "A4:C1:38:5D:9E:05", V1_KEY, 0x00000101),
            "wrong_key",
            bindkey=PVVX_KEY,
        ),
        vector(
            "bthome-version-3",
            "a BTHome device announcing version 3",
            "A4:C1:38:5D:9E:06",
            V2,
            b"\x60" + pvvx_objects,
            "unsupported_device",
        ),
        vector(
            "bthome-v2-truncated",
            "a broken advert",
            "A4:C1:38:5D:9E:07",
            V2,
            b"\x40\x02\xc4",
            "malformed",
            note="a temperature object cut after its first byte",
        ),
    ]


def main() -> None:
    """Write the field vectors file."""
    text = json.dumps(build(), indent=1, ensure_ascii=False) + "\n"
    FIELD_FILE.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
