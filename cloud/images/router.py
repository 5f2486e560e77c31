"""Image routes: the hub's upload flow (sync API) and the gardener's Visual History."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from cloud.auth.dependencies import CurrentHub, CurrentUser
from cloud.db.session import SessionDep
from cloud.dependencies import SettingsDep
from cloud.diagnosis.metrics import CountersDep
from cloud.images import service
from cloud.images.schemas import ImageDetail, ImagePublic
from cloud.pagination import LIST_RESPONSES, PageDep, respond
from cloud.storage.dependencies import ObjectStoreDep
from shared.sync import (
    API_PREFIX,
    SYNC_IMAGE_COMPLETE_PATH,
    SYNC_IMAGE_SLOTS_PATH,
    ImageCompleteAck,
    ImageSlot,
    ImageSlotRequest,
)

router = APIRouter(tags=["images"])


@router.post(SYNC_IMAGE_SLOTS_PATH, response_model=ImageSlot)
async def request_image_slot(
    body: ImageSlotRequest,
    hub: CurrentHub,
    session: SessionDep,
    store: ObjectStoreDep,
    settings: SettingsDep,
) -> ImageSlot:
    """Announce a photo; get where to upload it (or ``complete`` when it is already stored)."""
    return await service.request_slot(session, store, settings, hub, body)


@router.post(SYNC_IMAGE_COMPLETE_PATH, response_model=ImageCompleteAck)
async def complete_image_upload(
    image_id: uuid.UUID,
    hub: CurrentHub,
    session: SessionDep,
    store: ObjectStoreDep,
    settings: SettingsDep,
    counters: CountersDep,
) -> ImageCompleteAck:
    """Verify the uploaded photo, record it and queue its diagnosis."""
    return await service.complete_upload(session, store, settings, hub, image_id, counters)


@router.get(
    f"{API_PREFIX}/plants/{{plant_id}}/images",
    response_model=list[ImagePublic],
    responses=LIST_RESPONSES,
)
async def list_plant_images(
    plant_id: uuid.UUID,
    request: Request,
    response: Response,
    user: CurrentUser,
    session: SessionDep,
    page: PageDep,
) -> list[ImagePublic]:
    """The plant's photos, newest first, with metrics and each one's latest diagnosis (a page:
    see Pagination)."""
    images = await service.list_plant_images(session, user.id, plant_id, page)
    return respond(request, response, images)


@router.get(
    f"{API_PREFIX}/nodes/{{node_id}}/images",
    response_model=list[ImagePublic],
    responses=LIST_RESPONSES,
)
async def list_node_images(
    node_id: uuid.UUID,
    request: Request,
    response: Response,
    user: CurrentUser,
    session: SessionDep,
    page: PageDep,
) -> list[ImagePublic]:
    """Every photo the node took, newest first, whichever plant each belongs to (a page: see
    Pagination)."""
    images = await service.list_node_images(session, user.id, node_id, page)
    return respond(request, response, images)


@router.get(f"{API_PREFIX}/images/{{image_id}}", response_model=ImageDetail)
async def get_image(
    image_id: uuid.UUID,
    user: CurrentUser,
    session: SessionDep,
    store: ObjectStoreDep,
    settings: SettingsDep,
) -> ImageDetail:
    """One photo, with short-lived URLs for its bytes and its thumbnail."""
    return await service.image_detail(session, store, settings, user.id, image_id)


@router.get(f"{API_PREFIX}/images/{{image_id}}/thumbnail", response_class=RedirectResponse)
async def get_image_thumbnail(
    image_id: uuid.UUID,
    user: CurrentUser,
    session: SessionDep,
    store: ObjectStoreDep,
    settings: SettingsDep,
) -> RedirectResponse:
    """Redirect to a short-lived URL of the photo's thumbnail (made on demand if missing)."""
    url = await service.thumbnail_url(session, store, settings, user.id, image_id)
    return RedirectResponse(url, status_code=307, headers={"Cache-Control": "no-store"})
