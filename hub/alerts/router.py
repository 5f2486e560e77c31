"""Alerts: list, acknowledge."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy.ext.asyncio import AsyncSession

from hub.alerts import service
from hub.alerts.schemas import AlertPublic
from hub.auth.dependencies import AdminDep
from hub.dependencies import ReadSessionDep, StoreDep
from hub.store.types import utcnow

router = APIRouter(prefix="/api/v1/alerts", tags=["alerts"])


@router.get("", response_model=list[AlertPublic])
async def list_alerts(
    session: ReadSessionDep,
    open_only: bool = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[AlertPublic]:
    """Alerts, newest first."""
    return await service.public_alerts(
        session, await service.list_alerts(session, open_only, limit)
    )


@router.post("/{alert_id}/acknowledge", response_model=AlertPublic)
async def acknowledge(alert_id: str, store: StoreDep, _admin: AdminDep) -> AlertPublic:
    """Mark an alert seen."""

    async def op(session: AsyncSession) -> AlertPublic:
        alert = await service.acknowledge(session, alert_id, utcnow())
        return (await service.public_alerts(session, [alert]))[0]

    return await store.write(op)
