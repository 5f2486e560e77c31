"""Write shared/vectors/mibeacon.json: ``python -m tests.hub.ble.generate_mibeacon_vectors``.

MiBeacon adverts (service data UUID 0xFE95) with the values they must decode to and the one
outcome the hub counts for each, in the order a hub hears them (each device's decoder sees the
ones before it of that device). Two kinds: frames captured from real devices (a MiFlora
HHCCJCY01 sending one object per frame, a CGDK2 thermometer sending MiBeacon v5 encrypted with
its bindkey), and frames built here from the published layout (``hub.ble.mibeacon``) for the
outcomes real captures do not show (a replayed counter, a wrong bindkey, an unknown product, an
object the registry does not store, a truncated frame). The committed JSON is the source of
truth; ``tests/hub/ble/test_mibeacon_vectors.py`` checks this script still reproduces it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hub.ble import mibeacon
from shared.ble_uuids import MIBEACON_SERVICE_UUID

VECTOR_FILE = Path(__file__).resolve().parents[3] / "shared" / "vectors" / "mibeacon.json"

MIFLORA = "C4:7C:8D:6A:3E:7A"  # HHCCJCY01, firmware 3.x, captured
MIFLORA_2 = "C4:7C:8D:6B:4F:F3"  # another HHCCJCY01, captured
CGDK2 = "58:2D:34:12:20:89"  # Qingping CGDK2, MiBeacon v5 encrypted, captured
CGDK2_KEY = "a3bfe9853dd85a620debe3620caaa351"
BUILT = "58:2D:34:12:20:8A"  # frames built from the layout
BUILT_KEY = "5e0f3b2a9c8d7e6f101112131415161a"
OTHER_KEY = bytes(range(16))


def _vector(
    name: str,
    mac: str,
    hex_: str,
    outcome: str,
    values: dict[str, float],
    *,
    device: str,
    bindkey: str | None = None,
    captured: bool,
    note: str | None = None,
) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "device": device,
        "mac": mac,
        "uuid": MIBEACON_SERVICE_UUID,
        "bindkey": bindkey,
        "captured": captured,
        "outcome": outcome,
        "channels": {"0": values} if values else {},
    }
    if note:
        fields["note"] = note
    return {"name": name, "kind": "mibeacon_advert", "hex": hex_, "fields": fields}


def build() -> list[dict[str, Any]]:
    """Every vector, in hearing order."""
    key = bytes.fromhex(BUILT_KEY)
    temperature = mibeacon.encode_object(mibeacon.OBJ_TEMPERATURE, 21.7)
    formaldehyde = b"\x10\x10\x02\x0c\x00"  # object 0x1010 (formaldehyde), not in the registry
    flora = "Xiaomi MiFlora (HHCCJCY01)"
    cgdk2 = "Qingping CGDK2"
    built = "MiBeacon v5 sensor (frames built from the layout)"
    return [
        _vector(
            "miflora-illuminance",
            MIFLORA,
            "71209800667a3e6a8d7cc40d071003000000",
            "stored",
            {"illuminance": 0.0},
            device=flora,
            captured=True,
            note="one object per frame: 0x1007 illuminance, 0 lx at night",
        ),
        _vector(
            "miflora-conductivity",
            MIFLORA,
            "71209800687a3e6a8d7cc40d0910025702",
            "stored",
            {"conductivity": 599.0},
            device=flora,
            captured=True,
        ),
        _vector(
            "miflora-moisture",
            MIFLORA,
            "71209800477a3e6a8d7cc40d08100140",
            "stored",
            {"moisture": 64.0},
            device=flora,
            captured=True,
        ),
        _vector(
            "miflora-temperature",
            MIFLORA,
            "71209800697a3e6a8d7cc40d041002f400",
            "stored",
            {"temperature": 24.4},
            device=flora,
            captured=True,
        ),
        _vector(
            "miflora-temperature-resent",
            MIFLORA,
            "71209800697a3e6a8d7cc40d041002f400",
            "duplicate",
            {},
            device=flora,
            captured=True,
            note="a MiFlora repeats each frame many times",
        ),
        _vector(
            "miflora-2-temperature",
            MIFLORA_2,
            "7120980012f34f6b8d7cc40d041002c400",
            "stored",
            {"temperature": 19.6},
            device=flora,
            captured=True,
        ),
        _vector(
            "miflora-2-truncated",
            MIFLORA_2,
            "71209800",
            "malformed",
            {},
            device=flora,
            captured=False,
            note="cut off inside the header",
        ),
        _vector(
            "cgdk2-encrypted",
            CGDK2,
            "58586f0607892012342d585f176dd54f0200002fa453fa",
            "stored",
            {"temperature": 22.6},
            device=cgdk2,
            bindkey=CGDK2_KEY,
            captured=True,
            note="MiBeacon v5, AES-CCM with the bindkey; counter 519",
        ),
        _vector(
            "cgdk2-encrypted-resent",
            CGDK2,
            "58586f0607892012342d585f176dd54f0200002fa453fa",
            "duplicate",
            {},
            device=cgdk2,
            bindkey=CGDK2_KEY,
            captured=True,
        ),
        _vector(
            "built-encrypted",
            BUILT,
            mibeacon.encrypted_frame(BUILT, temperature, bindkey=key, counter=1000).hex(),
            "stored",
            {"temperature": 21.7},
            device=built,
            bindkey=BUILT_KEY,
            captured=False,
        ),
        _vector(
            "built-replayed-counter",
            BUILT,
            mibeacon.encrypted_frame(BUILT, temperature, bindkey=key, counter=400).hex(),
            "replayed",
            {},
            device=built,
            bindkey=BUILT_KEY,
            captured=False,
            note="counter 400 after 1000 (not below 100: no battery change)",
        ),
        _vector(
            "built-wrong-key",
            BUILT,
            mibeacon.encrypted_frame(BUILT, temperature, bindkey=OTHER_KEY, counter=1001).hex(),
            "wrong_key",
            {},
            device=built,
            bindkey=BUILT_KEY,
            captured=False,
            note="sealed with another key than the one paired",
        ),
        _vector(
            "built-unknown-product",
            BUILT,
            mibeacon.encrypted_frame(
                BUILT, temperature, bindkey=key, counter=1002, product_id=0x7FFF
            ).hex(),
            "unsupported_device",
            {},
            device=built,
            bindkey=BUILT_KEY,
            captured=False,
            note="product id 0x7fff is no device xiaomi-ble knows",
        ),
        _vector(
            "built-formaldehyde",
            BUILT,
            mibeacon.encrypted_frame(BUILT, formaldehyde, bindkey=key, counter=1003).hex(),
            "unsupported_object",
            {},
            device=built,
            bindkey=BUILT_KEY,
            captured=False,
            note="object 0x1010 decodes, but the registry stores no formaldehyde",
        ),
        _vector(
            "built-after-battery-change",
            BUILT,
            mibeacon.encrypted_frame(BUILT, temperature, bindkey=key, counter=3).hex(),
            "stored",
            {"temperature": 21.7},
            device=built,
            bindkey=BUILT_KEY,
            captured=False,
            note="a counter below 100 after a higher one: the device restarted",
        ),
    ]


def main() -> None:
    """Write the file."""
    VECTOR_FILE.write_text(json.dumps(build(), indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
