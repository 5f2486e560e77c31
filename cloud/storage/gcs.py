"""``ObjectStore`` on Google Cloud Storage through the ``google-cloud-storage`` SDK.

The SDK is synchronous, so every call runs in a worker thread. Uploads up to
``resumable_threshold`` bytes go in one multipart request; larger ones use a resumable
session in ``chunk_size`` pieces. Signed URLs are V4; on Cloud Run, where the service
account has no private key, they are signed through the IAM ``signBlob`` API.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from google.api_core import exceptions as gexc
from google.auth import credentials as gcreds
from google.auth.transport import requests as grequests
from google.cloud import storage

from cloud.storage.keys import validate_key, validate_prefix
from cloud.storage.ports import ObjectInfo, ObjectNotFound, SignedRequest, StorageError

SHA256_METADATA: Final = "sha256"
LENGTH_RANGE_HEADER: Final = "x-goog-content-length-range"
CREATE_ONLY_HEADER: Final = "x-goog-if-generation-match"
_CHUNK_QUANTUM: Final = 256 * 1024  # resumable chunks must be multiples of 256 KiB
DEFAULT_RESUMABLE_THRESHOLD: Final = 8 * 1024 * 1024  # the SDK's own multipart limit


class GcsObjectStore:
    """Objects in one GCS bucket."""

    def __init__(
        self,
        client: storage.Client,
        bucket: str,
        *,
        signing_credentials: gcreds.Credentials | None = None,
        signed_url_endpoint: str | None = None,
        resumable_threshold: int = DEFAULT_RESUMABLE_THRESHOLD,
        chunk_size: int = DEFAULT_RESUMABLE_THRESHOLD,
        timeout_s: float = 60.0,
    ) -> None:
        if chunk_size <= 0 or chunk_size % _CHUNK_QUANTUM:
            raise ValueError("chunk_size must be a positive multiple of 256 KiB")
        self._client = client
        self._bucket = client.bucket(bucket)
        self._signing_credentials = signing_credentials
        self._signed_url_endpoint = signed_url_endpoint
        self._resumable_threshold = resumable_threshold
        self._chunk_size = chunk_size
        self._timeout = timeout_s

    @property
    def backend(self) -> str:
        """Always ``"gcs"``."""
        return "gcs"

    @property
    def bucket_name(self) -> str:
        """The bucket every key lives in."""
        return str(self._bucket.name)

    async def put(self, key: str, data: bytes, content_type: str) -> ObjectInfo:
        """Upload ``data``; the SDK sends a CRC32C the server checks, and we keep the SHA-256."""
        validate_key(key)
        return await asyncio.to_thread(self._put, key, data, content_type)

    def _put(self, key: str, data: bytes, content_type: str) -> ObjectInfo:
        blob = self._bucket.blob(key, chunk_size=self._chunk_size)
        blob.metadata = {SHA256_METADATA: hashlib.sha256(data).hexdigest()}
        resumable = len(data) > self._resumable_threshold
        # A stream of unknown size makes the SDK open a resumable session and send it in chunks.
        blob.upload_from_file(
            io.BytesIO(data),
            size=None if resumable else len(data),
            content_type=content_type,
            checksum="crc32c",
            timeout=self._timeout,
        )
        return _info(blob)

    async def get(self, key: str) -> bytes:
        """Download the object; the SDK checks the server's hash header against the bytes."""
        validate_key(key)
        return await asyncio.to_thread(self._get, key)

    def _get(self, key: str) -> bytes:
        try:
            data: bytes = self._bucket.blob(key).download_as_bytes(timeout=self._timeout)
        except gexc.NotFound:
            raise ObjectNotFound(key) from None
        return data

    async def head(self, key: str) -> ObjectInfo:
        """Object metadata from the JSON API."""
        validate_key(key)
        blob = await asyncio.to_thread(self._bucket.get_blob, key, timeout=self._timeout)
        if blob is None:
            raise ObjectNotFound(key)
        return _info(blob)

    async def delete(self, key: str) -> bool:
        """Delete one object."""
        validate_key(key)
        return await asyncio.to_thread(self._delete, key)

    def _delete(self, key: str) -> bool:
        try:
            self._bucket.blob(key).delete(timeout=self._timeout)
        except gexc.NotFound:
            return False
        return True

    async def delete_prefix(self, prefix: str) -> int:
        """Delete every object under ``prefix``, page by page."""
        validate_prefix(prefix)
        return await asyncio.to_thread(self._delete_prefix, prefix)

    def _delete_prefix(self, prefix: str) -> int:
        deleted = 0
        for blob in self._client.list_blobs(self._bucket, prefix=prefix, timeout=self._timeout):
            try:
                blob.delete(timeout=self._timeout)
            except gexc.NotFound:
                continue  # deleted concurrently: the goal is reached either way
            deleted += 1
        return deleted

    async def signed_upload(
        self, key: str, content_type: str, max_bytes: int, expires_in: timedelta
    ) -> SignedRequest:
        """A V4-signed, create-only PUT binding the content type and a length range."""
        validate_key(key)
        # Create-only (generation 0): a still-valid URL cannot replace a verified photo.
        signed = {LENGTH_RANGE_HEADER: f"0,{max_bytes}", CREATE_ONLY_HEADER: "0"}
        headers = {"Content-Type": content_type, **signed}
        url = await asyncio.to_thread(
            self._sign, key, "PUT", expires_in, content_type=content_type, headers=signed
        )
        return SignedRequest(url, "PUT", datetime.now(UTC) + expires_in, headers)

    async def signed_download(
        self, key: str, expires_in: timedelta, filename: str | None = None
    ) -> SignedRequest:
        """A V4-signed GET."""
        validate_key(key)
        disposition = f'inline; filename="{filename}"' if filename else None
        url = await asyncio.to_thread(
            self._sign, key, "GET", expires_in, response_disposition=disposition
        )
        return SignedRequest(url, "GET", datetime.now(UTC) + expires_in)

    def _sign(self, key: str, method: str, expires_in: timedelta, **kwargs: Any) -> str:
        credentials = self._signing_credentials or self._client._credentials
        extra: dict[str, Any] = {}
        if not isinstance(credentials, gcreds.Signing):
            # Token-only credentials (Cloud Run metadata server): sign through IAM signBlob.
            if not credentials.valid:
                credentials.refresh(grequests.Request())
            extra = {
                "service_account_email": getattr(credentials, "service_account_email", None),
                "access_token": credentials.token,
            }
        try:
            url: str = self._bucket.blob(key).generate_signed_url(
                version="v4",
                expiration=expires_in,
                method=method,
                credentials=credentials,
                api_access_endpoint=self._signed_url_endpoint,
                **extra,
                **kwargs,
            )
        except (AttributeError, ValueError) as exc:
            raise StorageError(f"cannot sign URLs with these credentials: {exc}") from exc
        return url

    async def check(self) -> None:
        """Raise ``StorageError`` when the bucket cannot be read."""
        try:
            await asyncio.to_thread(
                lambda: next(iter(self._client.list_blobs(self._bucket, max_results=1)), None)
            )
        except gexc.GoogleAPICallError as exc:
            raise StorageError(f"bucket {self.bucket_name!r} unreachable: {exc}") from exc


def _info(blob: storage.Blob) -> ObjectInfo:
    metadata = blob.metadata or {}
    updated = blob.updated
    return ObjectInfo(
        key=str(blob.name),
        size=int(blob.size or 0),
        content_type=blob.content_type,
        sha256=metadata.get(SHA256_METADATA),
        md5_b64=blob.md5_hash,
        crc32c_b64=blob.crc32c,
        updated_at=updated if isinstance(updated, datetime) else None,
    )
