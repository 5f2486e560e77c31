"""Golden byte vectors of the BLE protocol, shared by Python tests and firmware host tests.

The JSON files next to this module are the source of truth (format: docs/protocol.md §5).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

VECTOR_FILES: tuple[str, ...] = ("bthome.json", "gatt.json")
# Adverts as third-party devices send them, with the outcome the hub counts (docs/hub-ble.md).
FIELD_FILES: tuple[str, ...] = ("field.json",)
# Xiaomi MiBeacon adverts (captured and built from the layout), with values and outcomes.
MIBEACON_FILES: tuple[str, ...] = ("mibeacon.json",)


@dataclass(frozen=True, slots=True)
class Vector:
    """One golden vector: exact bytes and the values they decode to."""

    name: str
    kind: str
    hex: str
    fields: dict[str, Any]

    @property
    def data(self) -> bytes:
        """The vector's bytes."""
        return bytes.fromhex(self.hex)


def load(filename: str) -> list[Vector]:
    """Load the vectors of one file, e.g. ``"bthome.json"``."""
    text = resources.files(__package__).joinpath(filename).read_text(encoding="utf-8")
    return [Vector(v["name"], v["kind"], v["hex"], v["fields"]) for v in json.loads(text)]


def load_all() -> list[Vector]:
    """Load every vector of every file."""
    return [vector for filename in VECTOR_FILES for vector in load(filename)]


def load_field() -> list[Vector]:
    """The field vectors, in the order a hub hears them (kind ``field_advert``)."""
    return [vector for filename in FIELD_FILES for vector in load(filename)]


def load_mibeacon() -> list[Vector]:
    """The MiBeacon vectors, in the order a hub hears them (kind ``mibeacon_advert``)."""
    return [vector for filename in MIBEACON_FILES for vector in load(filename)]


def by_kind(kind: str) -> list[Vector]:
    """All vectors of one kind, e.g. ``"cp_request"``."""
    return [vector for vector in load_all() if vector.kind == kind]
