"""Image ingestion (BLE transfer or upload): validate, store by hash, thumbnail, metrics."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, TypeVar
from uuid import uuid4

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from hub.errors import ImageTooLarge, InvalidImage, NotFound, UnsupportedImage
from hub.images import metrics as image_metrics
from hub.images import repository
from hub.images.models import Image, UploadState
from hub.nodes import service as nodes_service
from hub.plants import service as plants_service
from hub.settings import HubSettings
from hub.store.files import ImageStorage
from hub.store.types import utcnow
from hub.store.writer import WriteOp

T = TypeVar("T")


class ImageStore(Protocol):
    """The parts of the hub's store photos are written through (``HubStore`` has them)."""

    @property
    def settings(self) -> HubSettings: ...
    @property
    def images(self) -> ImageStorage: ...
    def read(self) -> AbstractAsyncContextManager[AsyncSession]:
        """A read session."""
        ...

    async def write(self, op: WriteOp[T]) -> T:
        """Run ``op`` on the single writer."""
        ...


log = structlog.get_logger(__name__)

_JPEG_MAGIC = b"\xff\xd8\xff"
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

# Photos are decoded and analysed one at a time on one thread at the lowest CPU priority: on a
# Pi the event loop (UI, BLE sessions, sync) then outranks a 12 MP decode, and two uploads never
# hold two decoded photos in memory at once.
PHOTO_WORKER_NICE = 19


def _lower_priority() -> None:
    # Linux applies a thread id's nice value to that thread alone; elsewhere this is a no-op.
    with contextlib.suppress(OSError, AttributeError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), PHOTO_WORKER_NICE)


_photo_worker = ThreadPoolExecutor(1, "photo", initializer=_lower_priority)


@dataclass(frozen=True, slots=True)
class _Prepared:
    sha256: str
    content_type: str
    width: int
    height: int
    path: str
    thumbnail_path: str | None
    metrics_json: str | None
    metrics_error: str | None


def check_image(data: bytes, max_bytes: int) -> None:
    """Refuse oversized or non-JPEG/PNG bytes before anything is stored (cheap checks)."""
    if len(data) > max_bytes:
        raise ImageTooLarge(
            f"image is {len(data)} bytes; the limit is {max_bytes}",
            details={"limit": max_bytes},
        )
    if not (data.startswith(_JPEG_MAGIC) or data.startswith(_PNG_MAGIC)):
        raise UnsupportedImage("only JPEG and PNG images are accepted")


def _prepare(storage: ImageStorage, data: bytes, thumb_side: int) -> _Prepared:
    """CPU and disk work, run in a thread: decode check, write file, thumbnail, metrics."""
    try:
        # Validated and decoded once; the metrics below reuse the decode.
        decoded = image_metrics.decode_image(data)
    except image_metrics.ImageRejected as exc:
        raise InvalidImage(str(exc) or "the image cannot be decoded") from exc
    info = decoded.info
    sha = hashlib.sha256(data).hexdigest()
    path = storage.original_path(sha, info.content_type)
    storage.write(path, data)
    thumb: str | None = storage.thumbnail_path(sha)
    metrics_json: str | None = None
    error: str | None = None
    try:
        assert thumb is not None
        # From the same decode as the metrics (before ``measure`` releases it).
        storage.write(thumb, image_metrics.thumbnail_of(decoded, data, thumb_side))
    except Exception as exc:
        log.warning("thumbnail_failed", sha256=sha, error=str(exc))
        thumb = None
    try:
        metrics_json = image_metrics.measure(decoded).model_dump_json()
    except Exception as exc:
        log.warning("image_metrics_failed", sha256=sha, error=str(exc))
        error = str(exc)[:500] or type(exc).__name__
    return _Prepared(
        sha, info.content_type, info.width, info.height, path, thumb, metrics_json, error
    )


async def ingest_image(
    store: ImageStore,
    data: bytes,
    *,
    source: str,
    node_mac: str | None = None,
    plant_id: str | None = None,
    captured_at: datetime | None = None,
    node_image_id: int | None = None,
) -> Image:
    """Store a photo once (by hash) with its thumbnail and metrics; return its row.

    Raises ImageTooLarge / UnsupportedImage / InvalidImage before anything is written.
    """
    settings = store.settings
    check_image(data, settings.image_max_bytes)
    if plant_id is not None and node_mac is None:
        async with store.read() as session:
            if await plants_service.get_plant(session, plant_id) is None:
                raise NotFound(f"plant {plant_id} not found")
    prepared = await asyncio.get_running_loop().run_in_executor(
        _photo_worker, _prepare, store.images, data, settings.thumbnail_max_side
    )
    received = utcnow()

    async def write(session: AsyncSession) -> Image:
        existing = await repository.by_sha256(session, prepared.sha256)
        if existing is not None:
            if not existing.file_present:
                existing.file_present = True
                session.add(existing)
                await session.flush()
            return existing
        node_id: int | None = None
        target_plant = plant_id
        if node_mac is not None:
            ids = await nodes_service.node_ids(session, [node_mac], paired_only=False)
            node_id = ids.get(node_mac)
            if target_plant is None:
                plant = await plants_service.plant_on_node(session, node_mac)
                target_plant = plant.id if plant else None
        elif plant_id is not None and await plants_service.get_plant(session, plant_id) is None:
            raise NotFound(f"plant {plant_id} not found")
        image = Image(
            id=str(uuid4()),
            sha256=prepared.sha256,
            node_id=node_id,
            plant_id=target_plant,
            node_image_id=node_image_id,
            source=source,
            captured_at=captured_at or received,
            received_at=received,
            content_type=prepared.content_type,
            byte_size=len(data),
            width=prepared.width,
            height=prepared.height,
            path=prepared.path,
            thumbnail_path=prepared.thumbnail_path,
            metrics=prepared.metrics_json,
            metrics_error=prepared.metrics_error,
        )
        session.add(image)
        await session.flush()
        return image

    return await store.write(write)


async def latest_for_plant(session: AsyncSession, plant_id: str, limit: int) -> Sequence[Image]:
    """A plant's photos, newest first."""
    return await repository.for_plant(session, plant_id, limit)


async def latest_for_plants(
    session: AsyncSession, plant_ids: Sequence[str], limit: int
) -> dict[str, list[Image]]:
    """Plant id -> its ``limit`` newest photos, newest first, in one query for all the plants
    (a plant without photos is left out)."""
    return await repository.for_plants(session, plant_ids, limit)


async def pending_uploads(session: AsyncSession, state: UploadState) -> Sequence[Image]:
    """Photos still to go up at this upload step (their file still here), oldest first."""
    return await repository.pending_uploads(session, state.value)


async def get_image(session: AsyncSession, image_id: str) -> Image | None:
    """One photo, or None."""
    return await repository.get(session, image_id)


async def count_images(session: AsyncSession) -> int:
    """How many photos the hub holds."""
    return await repository.count_all(session)
