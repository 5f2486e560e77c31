"""Diagnoses of a plant, from the hub's mirror (works while the cloud is unreachable)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from hub.dependencies import ReadSessionDep
from hub.diagnoses import service
from hub.diagnoses.schemas import DiagnosisList
from hub.errors import NotFound
from hub.plants import service as plants_service

router = APIRouter(prefix="/api/v1", tags=["diagnoses"])


@router.get("/plants/{plant_id}/diagnoses", response_model=DiagnosisList)
async def plant_diagnoses(
    plant_id: str,
    session: ReadSessionDep,
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
) -> DiagnosisList:
    """The cloud's diagnoses of this plant as last synced, newest first."""
    if await plants_service.get_plant(session, plant_id) is None:
        raise NotFound(f"plant {plant_id} not found")
    return await service.for_plant(session, plant_id, limit)
