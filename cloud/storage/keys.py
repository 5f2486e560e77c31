"""Object keys: where each owner's images live, and what a safe key looks like.

Keys carry the owner first, so two owners can never address the same object and deleting a
plant (or an owner) is one prefix delete.
"""

from __future__ import annotations

import re
from typing import Final
from uuid import UUID

from cloud.storage.ports import InvalidObjectKey

MAX_KEY_LENGTH: Final = 512
# Segments start with a letter or digit, so "", "." and ".." cannot appear; no backslashes.
_SEGMENT = r"[A-Za-z0-9][A-Za-z0-9._=-]{0,127}"
_KEY_RE: Final = re.compile(rf"^{_SEGMENT}(?:/{_SEGMENT})*$")
_PREFIX_RE: Final = re.compile(rf"^(?:{_SEGMENT}/)+$")
_SHA256_RE: Final = re.compile(r"^[0-9a-f]{64}$")

EXTENSIONS: Final[dict[str, str]] = {"image/jpeg": "jpg", "image/png": "png"}
UNASSIGNED: Final = "unassigned"


def validate_key(key: str) -> str:
    """Return ``key`` when it is a safe relative object name, else raise ``InvalidObjectKey``."""
    if len(key) > MAX_KEY_LENGTH or not _KEY_RE.fullmatch(key):
        raise InvalidObjectKey(f"invalid object key {key[:80]!r}")
    return key


def validate_prefix(prefix: str) -> str:
    """Return ``prefix`` when it is one or more key segments ending in ``/``."""
    if len(prefix) > MAX_KEY_LENGTH or not _PREFIX_RE.fullmatch(prefix):
        raise InvalidObjectKey(f"invalid key prefix {prefix[:80]!r}")
    return prefix


def plant_prefix(owner_id: UUID, plant_id: UUID | None) -> str:
    """Folder of every object of one plant (``unassigned`` for photos of a plant-less node)."""
    plant = str(plant_id) if plant_id is not None else UNASSIGNED
    return f"owners/{owner_id}/plants/{plant}/"


def owner_prefix(owner_id: UUID) -> str:
    """Folder of every object of one owner."""
    return f"owners/{owner_id}/"


def image_key(owner_id: UUID, plant_id: UUID | None, sha256: str, content_type: str) -> str:
    """Content-addressed key of a photo: ``owners/{owner}/plants/{plant}/{sha256}.{ext}``."""
    if not _SHA256_RE.fullmatch(sha256):
        raise InvalidObjectKey("sha256 must be 64 lowercase hex digits")
    try:
        ext = EXTENSIONS[content_type]
    except KeyError:
        raise InvalidObjectKey(f"unsupported content type {content_type!r}") from None
    return f"{plant_prefix(owner_id, plant_id)}{sha256}.{ext}"


def thumbnail_key(owner_id: UUID, plant_id: UUID | None, sha256: str) -> str:
    """Key of a photo's JPEG thumbnail, beside the photo so plant deletion removes both."""
    if not _SHA256_RE.fullmatch(sha256):
        raise InvalidObjectKey("sha256 must be 64 lowercase hex digits")
    return f"{plant_prefix(owner_id, plant_id)}thumbs/{sha256}.jpg"
