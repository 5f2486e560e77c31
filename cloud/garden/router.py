"""Garden routes: the overview the apps open with, and one plant's status."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from cloud.auth.dependencies import CurrentUser
from cloud.db.session import SessionDep, SessionReadsDep
from cloud.dependencies import SettingsDep
from cloud.garden import service
from cloud.garden.schemas import Garden, PlantStatus
from shared.sync import API_PREFIX

router = APIRouter(prefix=API_PREFIX, tags=["garden"])


@router.get("/garden", response_model=Garden)
async def garden(
    user: CurrentUser, session: SessionDep, database: SessionReadsDep, settings: SettingsDep
) -> Garden:
    """Your hubs with sync health and every plant with its latest values, status and alerts."""
    return await service.overview(session, database, settings, user.id)


@router.get("/plants/{plant_id}/status", response_model=PlantStatus)
async def plant_status(
    plant_id: uuid.UUID,
    user: CurrentUser,
    session: SessionDep,
    database: SessionReadsDep,
    settings: SettingsDep,
) -> PlantStatus:
    """The plant's latest values against its thresholds, metric by metric."""
    return await service.plant_status(session, database, settings, user.id, plant_id)
