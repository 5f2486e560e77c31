"""Bluetooth device addresses: validation and the one normal form both tiers store."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

_HEX12 = re.compile(r"^[0-9A-F]{12}$")


def normalize_mac(value: str) -> str:
    """Return ``value`` as ``AA:BB:CC:DD:EE:FF``; accepts ``:``, ``-``, ``.`` or no separators.

    Raises ValueError for anything that is not 48 bits of hex.
    """
    digits = re.sub(r"[:\-.\s]", "", value.strip()).upper()
    if not _HEX12.match(digits):
        raise ValueError(f"not a Bluetooth MAC address: {value[:40]!r}")
    return ":".join(digits[i : i + 2] for i in range(0, 12, 2))


def mac_bytes(value: str) -> bytes:
    """The 6 address bytes in the order they are written (most significant first)."""
    return bytes.fromhex(normalize_mac(value).replace(":", ""))


MacAddress = Annotated[str, AfterValidator(normalize_mac)]
