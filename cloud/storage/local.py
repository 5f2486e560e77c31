"""``ObjectStore`` on the local filesystem, for the embedded demo and single-machine installs.

Objects live under ``root/objects/<key>`` with a small JSON sidecar under ``root/meta``; writes go
to a temporary file and are renamed into place so a reader never sees half an object. The cloud
itself serves this store's signed URLs (``cloud.storage.router``): each URL carries its method,
key, expiry, size limit and content type, HMAC-SHA256-signed with a server secret.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final
from urllib.parse import quote, urlencode

from cloud.storage.keys import validate_key, validate_prefix
from cloud.storage.ports import ObjectInfo, ObjectNotFound, SignedRequest, StorageError

LOCAL_OBJECTS_PATH: Final = "/api/v1/storage/objects"
_PARAM_METHOD: Final = "X-Plantvita-Method"
_PARAM_EXPIRES: Final = "X-Plantvita-Expires"
_PARAM_MAX_BYTES: Final = "X-Plantvita-Max-Bytes"
_PARAM_CONTENT_TYPE: Final = "X-Plantvita-Content-Type"
_PARAM_SIGNATURE: Final = "X-Plantvita-Signature"


class SignatureError(StorageError):
    """A signed URL that is malformed, tampered with, or for another method or key."""


class SignatureExpired(SignatureError):
    """A signed URL used after its expiry."""


@dataclass(frozen=True, slots=True)
class SignedGrant:
    """What a verified signed URL allows."""

    method: str
    key: str
    expires: int
    max_bytes: int
    content_type: str


class LocalObjectStore:
    """Objects in a directory, signed URLs served by the cloud at ``base_url``."""

    def __init__(self, root: Path, signing_key: bytes, base_url: str) -> None:
        if len(signing_key) < 16:
            raise ValueError("the URL signing key must be at least 16 bytes")
        # Folders are made on first write, so building a store never touches the disk.
        self._objects = root / "objects"
        self._meta = root / "meta"
        self._signing_key = signing_key
        self._base_url = base_url.rstrip("/")

    @property
    def backend(self) -> str:
        """Always ``"local"``."""
        return "local"

    def _object_path(self, key: str) -> Path:
        path = self._objects / validate_key(key)
        # Belt and braces: validated keys cannot escape, but a symlink planted on disk could.
        if not path.resolve().is_relative_to(self._objects.resolve(strict=False)):
            raise StorageError(f"{key!r} resolves outside the store")
        return path

    def _meta_path(self, key: str) -> Path:
        return self._meta / f"{validate_key(key)}.json"

    async def put(self, key: str, data: bytes, content_type: str) -> ObjectInfo:
        """Write the object atomically, with its SHA-256 and content type in the sidecar."""
        return await asyncio.to_thread(self._put, key, data, content_type)

    def _put(self, key: str, data: bytes, content_type: str) -> ObjectInfo:
        path = self._object_path(key)
        meta = {"content_type": content_type, "sha256": hashlib.sha256(data).hexdigest()}
        _atomic_write(path, data)
        _atomic_write(self._meta_path(key), json.dumps(meta).encode())
        return self._head(key)

    async def get(self, key: str) -> bytes:
        """The object's bytes."""
        return await asyncio.to_thread(self._get, key)

    def _get(self, key: str) -> bytes:
        try:
            return self._object_path(key).read_bytes()
        except FileNotFoundError:
            raise ObjectNotFound(key) from None

    async def head(self, key: str) -> ObjectInfo:
        """Size from the file, type and SHA-256 from the sidecar."""
        return await asyncio.to_thread(self._head, key)

    def _head(self, key: str) -> ObjectInfo:
        path = self._object_path(key)
        try:
            stat = path.stat()
        except FileNotFoundError:
            raise ObjectNotFound(key) from None
        try:
            meta = json.loads(self._meta_path(key).read_bytes())
        except (FileNotFoundError, ValueError):
            meta = {}
        return ObjectInfo(
            key=key,
            size=stat.st_size,
            content_type=meta.get("content_type"),
            sha256=meta.get("sha256"),
            updated_at=datetime.fromtimestamp(stat.st_mtime, UTC),
        )

    def path_of(self, key: str) -> Path:
        """The file holding ``key`` (for streaming responses); ``ObjectNotFound`` when absent."""
        path = self._object_path(key)
        if not path.is_file():
            raise ObjectNotFound(key)
        return path

    async def delete(self, key: str) -> bool:
        """Delete one object and its sidecar."""
        return await asyncio.to_thread(self._delete, key)

    def _delete(self, key: str) -> bool:
        self._meta_path(key).unlink(missing_ok=True)
        try:
            self._object_path(key).unlink()
        except FileNotFoundError:
            return False
        return True

    async def delete_prefix(self, prefix: str) -> int:
        """Delete the folder ``prefix`` and everything in it."""
        return await asyncio.to_thread(self._delete_prefix, prefix)

    def _delete_prefix(self, prefix: str) -> int:
        folder = self._objects / validate_prefix(prefix)
        if not folder.is_dir():
            return 0
        count = sum(1 for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))
        shutil.rmtree(folder)
        shutil.rmtree(self._meta / prefix, ignore_errors=True)
        return count

    async def signed_upload(
        self, key: str, content_type: str, max_bytes: int, expires_in: timedelta
    ) -> SignedRequest:
        """A PUT to the cloud's storage router, limited to ``max_bytes`` of ``content_type``."""
        url, expires_at = self._sign("PUT", key, expires_in, max_bytes, content_type)
        return SignedRequest(url, "PUT", expires_at, {"Content-Type": content_type})

    async def signed_download(
        self, key: str, expires_in: timedelta, filename: str | None = None
    ) -> SignedRequest:
        """A GET to the cloud's storage router."""
        url, expires_at = self._sign("GET", key, expires_in, 0, "")
        return SignedRequest(url, "GET", expires_at)

    def _sign(
        self, method: str, key: str, expires_in: timedelta, max_bytes: int, content_type: str
    ) -> tuple[str, datetime]:
        validate_key(key)
        expires = int(time.time() + expires_in.total_seconds())
        params = {
            _PARAM_METHOD: method,
            _PARAM_EXPIRES: str(expires),
            _PARAM_MAX_BYTES: str(max_bytes),
            _PARAM_CONTENT_TYPE: content_type,
        }
        params[_PARAM_SIGNATURE] = self._signature(method, key, expires, max_bytes, content_type)
        url = f"{self._base_url}{LOCAL_OBJECTS_PATH}/{quote(key)}?{urlencode(params)}"
        return url, datetime.fromtimestamp(expires, UTC)

    def _signature(
        self, method: str, key: str, expires: int, max_bytes: int, content_type: str
    ) -> str:
        message = "\n".join([method, key, str(expires), str(max_bytes), content_type])
        return hmac.new(self._signing_key, message.encode(), hashlib.sha256).hexdigest()

    def verify(self, method: str, key: str, params: dict[str, str]) -> SignedGrant:
        """Check a signed URL's parameters for ``method`` on ``key`` and return what it allows."""
        validate_key(key)
        try:
            signed_method = params[_PARAM_METHOD]
            expires = int(params[_PARAM_EXPIRES])
            max_bytes = int(params[_PARAM_MAX_BYTES])
            content_type = params[_PARAM_CONTENT_TYPE]
            signature = params[_PARAM_SIGNATURE]
        except (KeyError, ValueError):
            raise SignatureError("the URL is not a complete signed URL") from None
        expected = self._signature(signed_method, key, expires, max_bytes, content_type)
        if not hmac.compare_digest(expected, signature):
            raise SignatureError("the URL signature does not match")
        if signed_method != method:
            raise SignatureError(f"the URL is signed for {signed_method}, not {method}")
        if expires < time.time():
            raise SignatureExpired("the URL has expired")
        return SignedGrant(method, key, expires, max_bytes, content_type)

    async def check(self) -> None:
        """Raise ``StorageError`` when the data directory is not writable."""
        folder = self._objects
        while not folder.exists() and folder != folder.parent:
            folder = folder.parent  # not made yet: its nearest existing parent must be writable
        if not os.access(folder, os.W_OK):
            raise StorageError(f"{self._objects} is not writable")


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # A dot-name cannot be a key segment, so a crash never leaves a visible partial object.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
