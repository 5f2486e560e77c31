"""The seam between the cloud and its object storage.

Image bytes never pass through the database: the cloud hands a hub a signed upload URL, the hub
uploads straight to the store, and the cloud checks the stored object before recording it.
``GcsObjectStore`` talks to Google Cloud Storage; ``LocalObjectStore`` keeps files under a data
directory and serves its signed URLs through ``cloud.storage.router``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol, runtime_checkable


class StorageError(Exception):
    """Base class of object-storage failures."""


class ObjectNotFound(StorageError):
    """No object is stored under the key."""

    def __init__(self, key: str) -> None:
        super().__init__(f"no object at {key!r}")
        self.key = key


class InvalidObjectKey(StorageError, ValueError):
    """The key is not a safe relative object name."""


class IntegrityMismatch(StorageError):
    """The stored object is not the one announced (size or hash differ)."""

    def __init__(self, key: str, what: str, expected: str | int, actual: str | int) -> None:
        super().__init__(f"{key!r}: {what} is {actual}, expected {expected}")
        self.key = key
        self.what = what
        self.expected = expected
        self.actual = actual


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    """What the store knows of one object without downloading it.

    GCS computes ``md5_b64``/``crc32c_b64`` itself; ``sha256`` is present when the object was
    written through ``put`` (GCS custom metadata) or lives in the local store (computed).
    """

    key: str
    size: int
    content_type: str | None
    sha256: str | None = None
    md5_b64: str | None = None
    crc32c_b64: str | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """A pre-authorised HTTP request: the caller sends ``method`` to ``url`` with ``headers``."""

    url: str
    method: str
    expires_at: datetime
    headers: dict[str, str] = field(default_factory=dict)


@runtime_checkable
class ObjectStore(Protocol):
    """Bytes by key. Every method is safe on the event loop (blocking work runs in threads)."""

    @property
    def backend(self) -> str:
        """``"gcs"`` or ``"local"``: shown by readiness checks and logs."""
        ...

    async def put(self, key: str, data: bytes, content_type: str) -> ObjectInfo:
        """Store ``data`` under ``key`` (replacing any object there) and describe it."""
        ...

    async def get(self, key: str) -> bytes:
        """The object's bytes; ``ObjectNotFound`` when absent."""
        ...

    async def head(self, key: str) -> ObjectInfo:
        """The object's size, type and hashes; ``ObjectNotFound`` when absent."""
        ...

    async def delete(self, key: str) -> bool:
        """Delete one object; False when there was none."""
        ...

    async def delete_prefix(self, prefix: str) -> int:
        """Delete every object whose key starts with ``prefix`` (a folder ending in ``/``)."""
        ...

    async def signed_upload(
        self, key: str, content_type: str, max_bytes: int, expires_in: timedelta
    ) -> SignedRequest:
        """A PUT the holder may send once to store at most ``max_bytes`` of ``content_type``."""
        ...

    async def signed_download(
        self, key: str, expires_in: timedelta, filename: str | None = None
    ) -> SignedRequest:
        """A short-lived GET for the object's bytes."""
        ...

    async def check(self) -> None:
        """Raise ``StorageError`` when the store cannot be reached (readiness probe)."""
        ...


async def fetch_verified(store: ObjectStore, key: str, size: int, sha256: str) -> bytes:
    """Download ``key`` and check it is exactly ``size`` bytes hashing to ``sha256``.

    The size is checked from the object's metadata first so an oversized upload is refused
    without being downloaded.
    """
    info = await store.head(key)
    if info.size != size:
        raise IntegrityMismatch(key, "size", size, info.size)
    data = await store.get(key)
    if len(data) != size:
        raise IntegrityMismatch(key, "size", size, len(data))
    actual = hashlib.sha256(data).hexdigest()
    if actual != sha256:
        raise IntegrityMismatch(key, "sha256", sha256, actual)
    return data
