"""Alert routes for the signed-in user: list (all or per plant), acknowledge, resolve (the
webhook alert events are POSTed to is ``cloud.notifications.router``)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from cloud.alerts import service
from cloud.alerts.schemas import AlertPublic, AlertStatus
from cloud.auth.dependencies import CurrentUser
from cloud.db.session import SessionDep
from cloud.registry import service as registry_service
from shared.sync import API_PREFIX

router = APIRouter(prefix=API_PREFIX, tags=["alerts"])

Limit = Annotated[int, Query(ge=1, le=500)]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]


@router.get("/alerts", response_model=list[AlertPublic])
async def list_alerts(
    user: CurrentUser,
    session: SessionDep,
    status: AlertStatus | None = None,
    plant_id: uuid.UUID | None = None,
    node_id: uuid.UUID | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[AlertPublic]:
    """Your alerts, newest first."""
    return await service.list_alerts(
        session,
        user.id,
        status=status,
        plant_id=plant_id,
        node_id=node_id,
        limit=limit,
        offset=offset,
    )


@router.get("/plants/{plant_id}/alerts", response_model=list[AlertPublic])
async def plant_alerts(
    plant_id: uuid.UUID,
    user: CurrentUser,
    session: SessionDep,
    status: AlertStatus | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[AlertPublic]:
    """Alerts of one of your plants."""
    await registry_service.get_plant(session, user.id, plant_id)
    return await service.list_alerts(
        session, user.id, status=status, plant_id=plant_id, limit=limit, offset=offset
    )


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
