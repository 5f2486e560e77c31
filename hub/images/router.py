"""Images: upload (phones, Wi-Fi nodes), list per plant, file and thumbnail."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, File, Form, Query, Request, UploadFile, status
from fastapi.responses import Response

from hub.auth.dependencies import AdminDep
from hub.dependencies import ReadSessionDep, StoreDep
from hub.errors import BadRequest, ImageTooLarge, NotFound
from hub.images import service
from hub.images.models import Image
from hub.images.schemas import ImagePublic
from hub.store.types import SyncState
from shared.mac import normalize_mac
from shared.sync import ImageMetrics

router = APIRouter(prefix="/api/v1", tags=["images"])


def to_public(image: Image) -> ImagePublic:
    """The API view of an image."""
    return ImagePublic(
        id=image.id,
        sha256=image.sha256,
        plant_id=image.plant_id,
        source=image.source,
        captured_at=image.captured_at,
        received_at=image.received_at,
        content_type=image.content_type,
        byte_size=image.byte_size,
        width=image.width,
        height=image.height,
        file_present=image.file_present,
        metrics=ImageMetrics.model_validate_json(image.metrics) if image.metrics else None,
        metrics_error=image.metrics_error,
        sync_state=SyncState(image.sync_state).name.lower(),
        upload_state=image.upload_state,
        reject_reason=image.reject_reason,
        file_url=f"/api/v1/images/{image.id}/file",
        thumbnail_url=f"/api/v1/images/{image.id}/thumbnail" if image.thumbnail_path else None,
    )


@router.post("/images", response_model=ImagePublic, status_code=status.HTTP_201_CREATED)
async def upload_image(
    request: Request,
    store: StoreDep,
    _admin: AdminDep,
    file: Annotated[UploadFile, File(description="a JPEG or PNG photo")],
    plant_id: Annotated[str | None, Form()] = None,
    node_mac: Annotated[str | None, Form()] = None,
    captured_at: Annotated[datetime | None, Form()] = None,
) -> ImagePublic:
    """Store an uploaded photo (413 when too large, 415 when not JPEG/PNG, 422 when broken)."""
    limit = store.settings.image_max_bytes
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > limit + 64 * 1024:
        raise ImageTooLarge(f"upload exceeds {limit} bytes", details={"limit": limit})
    data = await file.read(limit + 1)
    if plant_id is None and node_mac is None:
        raise BadRequest("say which plant (plant_id) or node (node_mac) the photo shows")
    mac = None
    if node_mac is not None:
        try:
            mac = normalize_mac(node_mac)
        except ValueError as exc:
            raise BadRequest(str(exc)) from None
    if captured_at is not None and captured_at.tzinfo is None:
        raise BadRequest("captured_at needs a timezone")
    image = await service.ingest_image(
        store, data, source="upload", node_mac=mac, plant_id=plant_id, captured_at=captured_at
    )
    return to_public(image)


@router.get("/plants/{plant_id}/images", response_model=list[ImagePublic])
async def plant_images(
    plant_id: str, session: ReadSessionDep, limit: Annotated[int, Query(ge=1, le=500)] = 100
) -> list[ImagePublic]:
    """A plant's photos with metrics, newest first (the canopy trend reads these)."""
    return [to_public(i) for i in await service.latest_for_plant(session, plant_id, limit)]


@router.get("/images/{image_id}", response_model=ImagePublic)
async def get_image(image_id: str, session: ReadSessionDep) -> ImagePublic:
    """One image's metadata."""
    image = await service.get_image(session, image_id)
    if image is None:
        raise NotFound(f"image {image_id} not found")
    return to_public(image)


async def _file(
    store_read: ReadSessionDep, store: StoreDep, image_id: str, thumb: bool
) -> Response:
    image = await service.get_image(store_read, image_id)
    if image is None:
        raise NotFound(f"image {image_id} not found")
    path = image.thumbnail_path if thumb else image.path
    if path is None or not image.file_present:
        raise NotFound("the file was pruned to stay within the disk budget")
    try:
        data = await asyncio.to_thread(store.images.read, path)
    except FileNotFoundError:
        raise NotFound("the file is missing") from None
    media = "image/jpeg" if thumb else image.content_type
    return Response(data, media_type=media, headers={"Cache-Control": "max-age=86400"})


@router.get("/images/{image_id}/file")
async def image_file(image_id: str, session: ReadSessionDep, store: StoreDep) -> Response:
    """The original photo."""
    return await _file(session, store, image_id, thumb=False)


@router.get("/images/{image_id}/thumbnail")
async def image_thumbnail(image_id: str, session: ReadSessionDep, store: StoreDep) -> Response:
    """A small JPEG for galleries."""
    return await _file(session, store, image_id, thumb=True)
