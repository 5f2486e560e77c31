"""Alert routes for the signed-in user: list (all or per plant), acknowledge, resolve (the
webhook alert events are POSTed to is ``cloud.notifications.router``)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response

from cloud.alerts import service
from cloud.alerts.schemas import AlertPublic, AlertStatus
from cloud.auth.dependencies import CurrentUser
from cloud.db.session import SessionDep
from cloud.pagination import LIST_RESPONSES, PageDep, respond
from cloud.registry import service as registry_service
from shared.sync import API_PREFIX

router = APIRouter(prefix=API_PREFIX, tags=["alerts"])


@router.get("/alerts", response_model=list[AlertPublic], responses=LIST_RESPONSES)
async def list_alerts(
    request: Request,
    response: Response,
    user: CurrentUser,
    session: SessionDep,
    page: PageDep,
    status: AlertStatus | None = None,
    plant_id: uuid.UUID | None = None,
    node_id: uuid.UUID | None = None,
) -> list[AlertPublic]:
    """Your alerts, newest first (a page: see Pagination)."""
    alerts = await service.list_alerts(
        session, user.id, status=status, plant_id=plant_id, node_id=node_id, page=page
    )
    return respond(request, response, alerts)


@router.get("/plants/{plant_id}/alerts", response_model=list[AlertPublic], responses=LIST_RESPONSES)
async def plant_alerts(
    plant_id: uuid.UUID,
    request: Request,
    response: Response,
    user: CurrentUser,
    session: SessionDep,
    page: PageDep,
    status: AlertStatus | None = None,
) -> list[AlertPublic]:
    """Alerts of one of your plants, newest first (a page: see Pagination)."""
    await registry_service.get_plant(session, user.id, plant_id)
    alerts = await service.list_alerts(
        session, user.id, status=status, plant_id=plant_id, page=page
    )
    return respond(request, response, alerts)


@router.get("/alerts/{alert_id}", response_model=AlertPublic)
async def get_alert(alert_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> AlertPublic:
    """One of your alerts."""
    return service.alert_public(await service.get_alert(session, user.id, alert_id))


@router.post("/alerts/{alert_id}/acknowledge", response_model=AlertPublic)
async def acknowledge(alert_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> AlertPublic:
    """Mark an alert as seen."""
    return await service.acknowledge(session, user.id, alert_id)


@router.post("/alerts/{alert_id}/resolve", response_model=AlertPublic)
async def resolve(alert_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> AlertPublic:
    """Resolve an alert by hand."""
    return await service.resolve(session, user.id, alert_id)
