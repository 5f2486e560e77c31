"""Signing of webhook requests, and the check a receiver runs (documented in
docs/cloud.md): HMAC-SHA256 with the user's secret over ``"{timestamp}.{body}"``.

The timestamp (Unix seconds, in its own header) is inside the signed message, so a
captured request cannot be replayed with a fresh timestamp; receivers refuse timestamps
further than a tolerance from their clock, and may also drop delivery ids they have seen.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Final

TIMESTAMP_HEADER: Final = "X-PlantVita-Timestamp"
SIGNATURE_HEADER: Final = "X-PlantVita-Signature"
EVENT_HEADER: Final = "X-PlantVita-Event"
DELIVERY_HEADER: Final = "X-PlantVita-Delivery"
SIGNATURE_VERSION: Final = "v1"
DEFAULT_TOLERANCE_S: Final = 300
SECRET_PREFIX: Final = "whsec_"  # noqa: S105 - a marker, not a secret


def new_secret() -> str:
    """A fresh signing secret (256 random bits)."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header value: ``v1=`` and the hex HMAC-SHA256 of ``timestamp.body``."""
    message = str(timestamp).encode() + b"." + body
    digest = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    return f"{SIGNATURE_VERSION}={digest}"


def verify(
    secret: str,
    timestamp_header: str,
    signature_header: str,
    body: bytes,
    now: float,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
) -> bool:
    """A receiver's check: the timestamp is recent and one ``v1=`` signature matches."""
    try:
        timestamp = int(timestamp_header)
    except ValueError:
        return False
    if abs(now - timestamp) > tolerance_s:
        return False  # too old (a replay) or too far ahead
    expected = signature(secret, timestamp, body)
    return any(
        hmac.compare_digest(expected, candidate.strip())
        for candidate in signature_header.split(",")
    )
