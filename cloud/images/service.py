"""The image upload flow (slot → upload → complete) and Visual History reads.

The hub announces a photo (size, SHA-256, type); the cloud answers with a signed upload URL
for a content-addressed key under the owner's folder; after the upload the cloud checks the
stored object (size, hash, real JPEG/PNG, size limit) before recording it and queueing a
diagnosis. Anything refused is deleted from the store.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Final

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.auth.models import Hub
from cloud.diagnosis import service as diagnosis_service
from cloud.diagnosis.metrics import PipelineCounters
from cloud.diagnosis.models import Image, ImageStatus
from cloud.errors import (
    CloudError,
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    PayloadTooLargeError,
)
from cloud.images import repository
from cloud.images.pictures import NotAnImage, make_thumbnail, verify_picture
from cloud.images.schemas import ImageDetail, ImagePublic
from cloud.jobs.queue import defer, task_name
from cloud.pagination import Page, PageRequest
from cloud.settings.images import ImageSettings
from cloud.storage.keys import image_key, plant_prefix, thumbnail_key
from cloud.storage.ports import (
    IntegrityMismatch,
    ObjectNotFound,
    ObjectStore,
    StorageError,
    fetch_verified,
)
from shared.sync import ImageCompleteAck, ImageSlot, ImageSlotRequest

_log = structlog.get_logger("cloud.images")

PURGE_TASK: Final = task_name("purge_objects")


class UnknownNodeError(InvalidRequestError):
    """The announced node is not registered to the hub's owner."""

    code = "unknown_node"


class ImageTooLargeError(PayloadTooLargeError):
    """The image exceeds the configured size limit."""

    code = "image_too_large"


class UploadMissingError(ConflictError):
    """Completion was asked before the bytes reached the store."""

    code = "upload_missing"


class UploadMismatchError(InvalidRequestError):
    """The stored bytes are not the announced ones (size or SHA-256)."""

    code = "upload_mismatch"


class NotAnImageError(CloudError):
    """The stored bytes are not a readable JPEG/PNG of the announced type."""

    status_code = 415
    code = "not_an_image"


class StorageUnavailableError(CloudError):
    """The object store did not answer."""

    status_code = 503
    code = "storage_unavailable"


async def request_slot(
    session: AsyncSession,
    store: ObjectStore,
    settings: ImageSettings,
    hub: Hub,
    body: ImageSlotRequest,
) -> ImageSlot:
    """Record the announced image (once per owner and hash) and hand out an upload URL."""
    if body.byte_size > settings.image_max_bytes:
        raise ImageTooLargeError(
            f"images are limited to {settings.image_max_bytes} bytes",
            details={"byte_size": body.byte_size, "limit": settings.image_max_bytes},
        )
    owner_id = hub.owner_id
    existing = await repository.by_owner_sha(session, owner_id, body.sha256)
    if existing is None:
        node = await repository.node_by_mac(session, owner_id, body.node_mac)
        if node is None:
            raise UnknownNodeError(f"node {body.node_mac} is not registered to this account")
        if body.plant_id is not None:
            plant = await repository.plant_for_owner(session, owner_id, body.plant_id)
            if plant is None:
                raise NotFoundError("plant not found")
            plant_id: uuid.UUID | None = plant.id
        else:
            # Attributed by when it was taken, not by the node's plant at upload time.
            plant_id = await repository.plant_at(session, node.id, body.captured_at)
        metrics = body.metrics
        await repository.insert_pending(
            session,
            {
                "id": uuid.uuid4(),
                "owner_id": owner_id,
                "plant_id": plant_id,
                "node_id": node.id,
                "hub_id": hub.id,
                "object_key": image_key(owner_id, plant_id, body.sha256, body.content_type),
                "sha256": body.sha256,
                "byte_size": body.byte_size,
                "content_type": body.content_type,
                "captured_at": body.captured_at,
                "canopy_cover": metrics.canopy_cover if metrics else None,
                "excess_green_mean": metrics.excess_green_mean if metrics else None,
                "green_pixels": metrics.green_pixels if metrics else None,
                "brightness": metrics.brightness if metrics else None,
                "quality_flags": [flag.value for flag in metrics.flags] if metrics else None,
                "created_at": datetime.now(UTC),
            },
        )
        # Re-read: a concurrent announce of the same photo may have won the insert.
        existing = await repository.by_owner_sha(session, owner_id, body.sha256)
        assert existing is not None
    if existing.status == ImageStatus.COMPLETE:
        return ImageSlot(image_id=existing.id, complete=True)
    if existing.byte_size != body.byte_size or existing.content_type != body.content_type:
        raise ConflictError(
            "this photo was announced before with another size or type",
            details={"byte_size": existing.byte_size, "content_type": existing.content_type},
        )
    # Whatever sits at a pending photo's key is unverified: a new slot starts the upload over
    # (the local store's PUT is create-only, so a stale half-done upload would block it).
    try:
        await store.delete(existing.object_key)
    except StorageError:
        _log.warning("stale_upload_not_deleted", image_id=str(existing.id))
    try:
        upload = await store.signed_upload(
            existing.object_key,
            existing.content_type,
            existing.byte_size,
            timedelta(seconds=settings.upload_url_ttl_s),
        )
    except StorageError as exc:
        raise StorageUnavailableError("the image store cannot sign uploads right now") from exc
    return ImageSlot(
        image_id=existing.id,
        complete=False,
        upload_url=upload.url,
        upload_headers=upload.headers,
        expires_at=upload.expires_at,
    )


async def _refuse(store: ObjectStore, image: Image, error: CloudError) -> CloudError:
    """Delete the refused object and log why; return the error to raise."""
    try:
        await store.delete(image.object_key)
    except StorageError:
        _log.warning("refused_object_not_deleted", image_id=str(image.id))
    _log.info("image_refused", image_id=str(image.id), code=error.code, reason=error.message)
    return error


async def complete_upload(
    session: AsyncSession,
    store: ObjectStore,
    settings: ImageSettings,
    hub: Hub,
    image_id: uuid.UUID,
    counters: PipelineCounters | None = None,
) -> ImageCompleteAck:
    """Verify the uploaded object, record the image and queue its diagnosis."""
    try:
        ack = await _complete_upload(session, store, settings, hub, image_id)
    except CloudError as exc:
        if counters is not None:
            counters.images.labels(exc.code).inc()
        raise
    if counters is not None:
        counters.images.labels("recorded").inc()
    return ack


async def _complete_upload(
    session: AsyncSession,
    store: ObjectStore,
    settings: ImageSettings,
    hub: Hub,
    image_id: uuid.UUID,
) -> ImageCompleteAck:
    image = await repository.for_owner(session, hub.owner_id, image_id, lock=True)
    if image is None:
        raise NotFoundError("image not found")
    if image.status == ImageStatus.COMPLETE:
        active = await diagnosis_service.active_for_image(session, image.id)
        return ImageCompleteAck(
            image_id=image.id,
            sha256=image.sha256,
            byte_size=image.byte_size,
            diagnosis_queued=active is not None,
        )
    try:
        info = await store.head(image.object_key)
    except ObjectNotFound:
        raise UploadMissingError("the image bytes have not been uploaded yet") from None
    except StorageError as exc:
        raise StorageUnavailableError("the image store is not reachable") from exc
    if info.size > settings.image_max_bytes:
        raise await _refuse(
            store,
            image,
            ImageTooLargeError(f"images are limited to {settings.image_max_bytes} bytes"),
        )
    try:
        data = await fetch_verified(store, image.object_key, image.byte_size, image.sha256)
    except IntegrityMismatch as exc:
        raise await _refuse(
            store,
            image,
            UploadMismatchError(
                f"the uploaded {exc.what} does not match the announced one",
                details={"field": exc.what, "expected": exc.expected, "actual": exc.actual},
            ),
        ) from None
    except ObjectNotFound:
        raise UploadMissingError("the image bytes have not been uploaded yet") from None
    try:
        picture = await asyncio.to_thread(verify_picture, data, image.content_type)
    except NotAnImage as exc:
        raise await _refuse(store, image, NotAnImageError(str(exc))) from None

    thumb_key = thumbnail_key(image.owner_id, image.plant_id, image.sha256)
    thumb = await asyncio.to_thread(make_thumbnail, data, settings.thumbnail_px)
    await store.put(thumb_key, thumb, "image/jpeg")

    image.status = ImageStatus.COMPLETE
    image.width, image.height = picture.width, picture.height
    image.thumbnail_key = thumb_key
    image.completed_at = datetime.now(UTC)
    session.add(image)
    await session.flush()
    queued = False
    if settings.diagnosis_enabled:
        diagnosis, _ = await diagnosis_service.request_diagnosis(session, image)
        queued = diagnosis.status == "queued"
    _log.info("image_recorded", image_id=str(image.id), bytes=image.byte_size, queued=queued)
    return ImageCompleteAck(
        image_id=image.id, sha256=image.sha256, byte_size=image.byte_size, diagnosis_queued=queued
    )


async def list_plant_images(
    session: AsyncSession, owner_id: uuid.UUID, plant_id: uuid.UUID, page: PageRequest
) -> Page[ImagePublic]:
    """A page of the plant's Visual History with each photo's latest diagnosis."""
    if await repository.plant_for_owner(session, owner_id, plant_id) is None:
        raise NotFoundError("plant not found")
    return await _with_diagnoses(session, await repository.list_for_plant(session, plant_id, page))


async def list_node_images(
    session: AsyncSession, owner_id: uuid.UUID, node_id: uuid.UUID, page: PageRequest
) -> Page[ImagePublic]:
    """A page of every photo the node took (whichever plant each belongs to, if any)."""
    if await repository.node_for_owner(session, owner_id, node_id) is None:
        raise NotFoundError("node not found")
    return await _with_diagnoses(session, await repository.list_for_node(session, node_id, page))


async def _with_diagnoses(session: AsyncSession, rows: Page[Image]) -> Page[ImagePublic]:
    latest = await diagnosis_service.latest_for_images(session, [row.id for row in rows.items])
    return rows.map(lambda row: ImagePublic.of(row, latest.get(row.id)))


async def on_node_assigned(
    session: AsyncSession,
    owner_id: uuid.UUID,
    node_id: uuid.UUID,
    plant_id: uuid.UUID,
    since: datetime | None,
) -> int:
    """Give the plant the node's photos that had no plant yet, taken since ``since``.

    ``since`` is when the node last stopped measuring a plant (None: never did). Their
    diagnoses move to the plant's history too; a queued diagnosis reads the plant's context
    when it runs, and the newest photo, if already diagnosed without it, is diagnosed again.
    Returns how many photos were attributed.
    """
    attributed = await repository.attribute_unassigned(session, owner_id, node_id, plant_id, since)
    if not attributed:
        return 0
    image_ids = [image_id for image_id, _, _ in attributed]
    await diagnosis_service.on_images_attributed(session, image_ids, plant_id)
    complete = [row for row in attributed if row[2] == ImageStatus.COMPLETE]
    if complete:
        newest_id = max(complete, key=lambda row: row[1])[0]
        await diagnosis_service.refresh_with_context(session, newest_id)
    _log.info(
        "photos_attributed", node_id=str(node_id), plant_id=str(plant_id), count=len(attributed)
    )
    return len(attributed)


async def _owned_complete(session: AsyncSession, owner_id: uuid.UUID, image_id: uuid.UUID) -> Image:
    image = await repository.for_owner(session, owner_id, image_id)
    if image is None or image.status != ImageStatus.COMPLETE:
        raise NotFoundError("image not found")
    return image


async def _thumbnail_key(
    session: AsyncSession, store: ObjectStore, settings: ImageSettings, image: Image
) -> str:
    """The thumbnail's key, made now when missing (older images, a lost object)."""
    key = image.thumbnail_key or thumbnail_key(image.owner_id, image.plant_id, image.sha256)
    try:
        await store.head(key)
    except ObjectNotFound:
        data = await store.get(image.object_key)
        await store.put(
            key, await asyncio.to_thread(make_thumbnail, data, settings.thumbnail_px), "image/jpeg"
        )
        if image.thumbnail_key != key:
            image.thumbnail_key = key
            session.add(image)
            await session.flush()
    return key


async def image_detail(
    session: AsyncSession,
    store: ObjectStore,
    settings: ImageSettings,
    owner_id: uuid.UUID,
    image_id: uuid.UUID,
) -> ImageDetail:
    """One photo with short-lived download URLs for it and its thumbnail."""
    image = await _owned_complete(session, owner_id, image_id)
    latest = await diagnosis_service.latest_for_images(session, [image.id])
    ttl = timedelta(seconds=settings.download_url_ttl_s)
    try:
        download = await store.signed_download(
            image.object_key, ttl, f"{image.sha256[:12]}.{image.object_key.rsplit('.', 1)[-1]}"
        )
        thumb_key = await _thumbnail_key(session, store, settings, image)
        thumb = await store.signed_download(thumb_key, ttl)
    except ObjectNotFound:
        raise NotFoundError("the image bytes are gone from the store") from None
    except StorageError as exc:
        raise StorageUnavailableError("the image store is not reachable") from exc
    public = ImagePublic.of(image, latest.get(image.id))
    return ImageDetail(
        **public.model_dump(exclude={"latest_diagnosis"}),
        latest_diagnosis=public.latest_diagnosis,
        download_url=download.url,
        thumbnail_url=thumb.url,
        urls_expire_at=download.expires_at,
    )


async def thumbnail_url(
    session: AsyncSession,
    store: ObjectStore,
    settings: ImageSettings,
    owner_id: uuid.UUID,
    image_id: uuid.UUID,
) -> str:
    """A short-lived URL of the photo's thumbnail (made on demand if missing)."""
    image = await _owned_complete(session, owner_id, image_id)
    try:
        key = await _thumbnail_key(session, store, settings, image)
        signed = await store.signed_download(key, timedelta(seconds=settings.download_url_ttl_s))
    except ObjectNotFound:
        raise NotFoundError("the image bytes are gone from the store") from None
    except StorageError as exc:
        raise StorageUnavailableError("the image store is not reachable") from exc
    return signed.url


async def on_plant_deleted(session: AsyncSession, owner_id: uuid.UUID, plant_id: uuid.UUID) -> None:
    """Queue the deletion of a deleted plant's photos and thumbnails, in the caller's transaction.

    Call it before the plant row is deleted: the image rows go with the plant (foreign key
    cascade); the objects are deleted by a job so a store hiccup never blocks or undoes the
    plant's deletion.
    """
    prefix = plant_prefix(owner_id, plant_id)
    # Photos attributed after upload still live in the node's "unassigned" folder.
    strays = await repository.stray_object_keys(session, plant_id, prefix)
    await defer(session, PURGE_TASK, {"prefix": prefix, "keys": strays})


async def purge_prefix(store: ObjectStore, prefix: str, keys: Sequence[str] = ()) -> int:
    """Delete every object under ``prefix`` and the listed ``keys`` (the purge job's body)."""
    deleted = await store.delete_prefix(prefix)
    for key in keys:
        deleted += int(await store.delete(key))
    _log.info("objects_purged", prefix=prefix, deleted=deleted, keys=len(keys))
    return deleted
