"""The cloud as the hub sees it: the sync API v1 over HTTP (httpx), gzip-compressed pushes."""

from __future__ import annotations

import asyncio
import gzip
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin, urlsplit
from uuid import UUID

import httpx
import orjson
from pydantic import BaseModel, ValidationError

from shared.sync import (
    DEVICE_CODE_GRANT,
    DEVICE_CODE_PATH,
    DEVICE_TOKEN_PATH,
    SYNC_ALERTS_PATH,
    SYNC_CONFIG_PATH,
    SYNC_DIAGNOSES_PATH,
    SYNC_IMAGE_COMPLETE_PATH,
    SYNC_IMAGE_SLOTS_PATH,
    SYNC_NODES_PATH,
    SYNC_PLANT_EDITS_PATH,
    SYNC_READINGS_PATH,
    SYNC_STATUS_PATH,
    BatchAck,
    ConfigSnapshot,
    DeviceAuthorization,
    DeviceCodeRequest,
    DiagnosisDigest,
    HubSyncStatus,
    HubToken,
    ImageCompleteAck,
    ImageSlot,
    ImageSlotRequest,
    NodeInventory,
    NodeInventoryAck,
    OAuthError,
    PlantEditAck,
    PlantEditBatch,
    config_etag,
)


class CloudError(Exception):
    """A failed exchange with the cloud. ``retryable`` failures back off and retry."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        retryable: bool = True,
        retry_after: float | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.retryable = retryable
        self.retry_after = retry_after
        self.code = code


class LinkPending(Exception):
    """The user has not approved the link yet (``authorization_pending`` / ``slow_down``)."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.slow_down = error == "slow_down"


@dataclass(frozen=True, slots=True)
class EncodedBatch:
    """A push body ready to send: gzip bytes and the uncompressed size."""

    body: bytes
    raw_bytes: int


def encode_json(payload: Any) -> EncodedBatch:
    """orjson + gzip (level 1: on a Pi the CPU, not the link, is the scarcer resource)."""
    raw = orjson.dumps(payload)
    return EncodedBatch(gzip.compress(raw, compresslevel=1), len(raw))


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _error_from(response: httpx.Response) -> CloudError:
    status = response.status_code
    code: str | None = None
    message = f"cloud answered {status}"
    try:
        body = response.json()
        if isinstance(body, dict) and isinstance(body.get("error"), dict):
            code = str(body["error"].get("code"))
            message = f"{message}: {body['error'].get('message', '')}".strip()
    except ValueError:
        pass
    retryable = status == 429 or status >= 500 or status == 408
    return CloudError(
        message, status=status, retryable=retryable, retry_after=_retry_after(response), code=code
    )


class CloudClient:
    """Calls the sync API with the hub token. Build one per linked session."""

    def __init__(self, http: httpx.AsyncClient, base_url: str, token: str | None) -> None:
        self._http = http
        self.base_url = base_url.rstrip("/") + "/"
        self._token = token

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token}"} if self._token else {}

    def _url(self, path: str) -> str:
        return urljoin(self.base_url, path.lstrip("/"))

    async def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            response = await self._http.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            raise CloudError(f"cloud unreachable: {type(exc).__name__}: {exc}") from exc
        return response

    async def _json(self, method: str, path: str, model: type[Any], **kwargs: Any) -> Any:
        headers = {**self._headers(), **kwargs.pop("headers", {})}
        response = await self._send(method, self._url(path), headers=headers, **kwargs)
        if response.status_code >= 400:
            raise _error_from(response)
        try:
            return model.model_validate_json(response.content)
        except ValidationError as exc:
            raise CloudError(
                f"unexpected answer from the cloud: {exc.error_count()} errors"
            ) from exc

    async def _push(self, path: str, batch: EncodedBatch, model: type[Any]) -> Any:
        headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
        return await self._json("POST", path, model, content=batch.body, headers=headers)

    async def push_readings(self, batch: EncodedBatch) -> BatchAck:
        """POST a readings batch (body from ``encode_json``)."""
        ack: BatchAck = await self._push(SYNC_READINGS_PATH, batch, BatchAck)
        return ack

    async def push_alerts(self, batch: EncodedBatch) -> BatchAck:
        """POST an alerts batch."""
        ack: BatchAck = await self._push(SYNC_ALERTS_PATH, batch, BatchAck)
        return ack

    async def push_nodes(self, inventory: NodeInventory) -> NodeInventoryAck:
        """PUT the full node inventory (small: plain JSON)."""
        ack: NodeInventoryAck = await self._json(
            "PUT", SYNC_NODES_PATH, NodeInventoryAck, json=inventory.model_dump(mode="json")
        )
        return ack

    async def push_plant_edits(self, batch: PlantEditBatch) -> PlantEditAck:
        """POST plant edits made on the hub (small: plain JSON)."""
        ack: PlantEditAck = await self._json(
            "POST",
            SYNC_PLANT_EDITS_PATH,
            PlantEditAck,
            # Only the fields the gardener changed: an unset field is no change.
            json=batch.model_dump(mode="json", exclude_unset=True),
        )
        return ack

    async def push_status(self, status: HubSyncStatus) -> bool:
        """PUT what is still pending after a pass; False when the cloud has no such route yet
        (an older cloud: the pass itself is not affected)."""
        response = await self._send(
            "PUT",
            self._url(SYNC_STATUS_PATH),
            headers=self._headers(),
            json=status.model_dump(mode="json"),
        )
        if response.status_code in (404, 405):
            return False
        if response.status_code >= 400:
            raise _error_from(response)
        return True

    async def pull_config(self, since_revision: int | None) -> ConfigSnapshot | None:
        """The config snapshot when newer than ``since_revision``; None when unchanged (304)."""
        headers = self._headers()
        if since_revision is not None:
            headers["If-None-Match"] = config_etag(since_revision)
        response = await self._send("GET", self._url(SYNC_CONFIG_PATH), headers=headers)
        if response.status_code == 304:
            return None
        if response.status_code >= 400:
            raise _error_from(response)
        snapshot = ConfigSnapshot.model_validate_json(response.content)
        if since_revision is not None and snapshot.revision <= since_revision:
            return None
        return snapshot

    async def pull_diagnoses(self, etag: str | None) -> tuple[DiagnosisDigest, str | None] | None:
        """The diagnoses of the hub's plants and their version; None when ``etag`` is current."""
        headers = self._headers()
        if etag:
            headers["If-None-Match"] = etag
        response = await self._send("GET", self._url(SYNC_DIAGNOSES_PATH), headers=headers)
        if response.status_code == 304:
            return None
        if response.status_code >= 400:
            raise _error_from(response)
        try:
            digest = DiagnosisDigest.model_validate_json(response.content)
        except ValidationError as exc:
            raise CloudError(
                f"unexpected answer from the cloud: {exc.error_count()} errors"
            ) from exc
        return digest, response.headers.get("etag")

    async def image_slot(self, request: ImageSlotRequest) -> ImageSlot:
        """Ask where to upload an image (the cloud dedups by hash)."""
        slot: ImageSlot = await self._json(
            "POST", SYNC_IMAGE_SLOTS_PATH, ImageSlot, json=request.model_dump(mode="json")
        )
        return slot

    async def upload(
        self, slot: ImageSlot, data: bytes, content_type: str, chunks: AsyncIterator[bytes]
    ) -> None:
        """PUT the image bytes to the slot's URL (object store or the cloud itself)."""
        assert slot.upload_url is not None
        url = self._url(slot.upload_url)
        headers = {"Content-Type": content_type, "Content-Length": str(len(data))}
        headers.update(slot.upload_headers)
        if urlsplit(url).netloc == urlsplit(self.base_url).netloc:
            headers.update(self._headers())  # uploading to the cloud itself, not a signed URL
        response = await self._send(slot.upload_method, url, content=chunks, headers=headers)
        if response.status_code >= 400:
            raise _error_from(response)

    async def complete_image(self, image_id: UUID) -> ImageCompleteAck:
        """Tell the cloud the bytes are there; it verifies size and hash."""
        path = SYNC_IMAGE_COMPLETE_PATH.format(image_id=image_id)
        ack: ImageCompleteAck = await self._json("POST", path, ImageCompleteAck)
        return ack

    async def device_code(self, hub_name: str) -> DeviceAuthorization:
        """Start the device flow (RFC 8628 §3.1)."""
        body = DeviceCodeRequest(hub_name=hub_name).model_dump(mode="json")
        auth: DeviceAuthorization = await self._json(
            "POST", DEVICE_CODE_PATH, DeviceAuthorization, json=body
        )
        return auth

    async def device_token(self, device_code: str) -> HubToken:
        """Poll for the hub token (RFC 8628 §3.4); raises LinkPending while not approved."""
        form = {"grant_type": DEVICE_CODE_GRANT, "device_code": device_code}
        response = await self._send("POST", self._url(DEVICE_TOKEN_PATH), data=form)
        if response.status_code == 200:
            return HubToken.model_validate_json(response.content)
        if response.status_code == 400:
            try:
                error = OAuthError.model_validate_json(response.content)
            except ValidationError:
                raise _error_from(response) from None
            if error.error in ("authorization_pending", "slow_down"):
                raise LinkPending(error.error)
            raise CloudError(
                f"link refused: {error.error}", status=400, retryable=False, code=error.error
            )
        raise _error_from(response)


async def throttled(data: bytes, chunk: int, bytes_per_s: int | None) -> AsyncIterator[bytes]:
    """Yield ``data`` in chunks no faster than ``bytes_per_s`` (None: as fast as possible)."""
    started = time.monotonic()
    sent = 0
    for offset in range(0, len(data), chunk):
        piece = data[offset : offset + chunk]
        if bytes_per_s:
            ahead = sent / bytes_per_s - (time.monotonic() - started)
            if ahead > 0:
                await asyncio.sleep(ahead)
        sent += len(piece)
        yield piece


def model_json(model: BaseModel) -> dict[str, Any]:
    """A wire model as JSON-ready dict."""
    return model.model_dump(mode="json")
