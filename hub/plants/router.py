"""Plants: list/CRUD (local while unlinked), latest status, history, species."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, status
from sqlalchemy.ext.asyncio import AsyncSession

from hub.dependencies import AdminDep, ReadSessionDep, StoreDep
from hub.errors import BadRequest, NotFound
from hub.nodes import service as nodes_service
from hub.plants import service
from hub.plants.schemas import (
    History,
    PlantCreate,
    PlantPublic,
    PlantStatus,
    PlantUpdate,
    SpeciesPublic,
)
from hub.readings import service as readings
from hub.store.types import utcnow
from shared.freshness import NodeState
from shared.metrics import Metric, MetricPublic, public_metrics
from shared.sync import MAX_CHANNEL
from shared.watering import WateringPublic

router = APIRouter(prefix="/api/v1", tags=["plants"])


@router.get("/metrics", response_model=list[MetricPublic], tags=["metrics"])
async def list_metrics() -> list[MetricPublic]:
    """What nodes measure (name, label, unit, range, display digits, thresholds), from the
    metric registry: the UI builds its labels and charts from this list."""
    return public_metrics()


@router.get("/species", response_model=list[SpeciesPublic])
async def list_species(session: ReadSessionDep) -> list[SpeciesPublic]:
    """Species mirrored from the cloud catalog."""
    species = await service.species_map(session)
    return [service.species_public(s) for s in sorted(species.values(), key=lambda s: s.id)]


@router.get("/plants", response_model=list[PlantPublic])
async def list_plants(session: ReadSessionDep) -> list[PlantPublic]:
    """Every plant with its effective thresholds."""
    species = await service.species_map(session)
    return [service.to_public(p, species) for p in await service.list_plants(session)]


@router.post("/plants", response_model=PlantPublic, status_code=status.HTTP_201_CREATED)
async def create_plant(data: PlantCreate, store: StoreDep, _admin: AdminDep) -> PlantPublic:
    """Create a plant (only while the hub is not linked)."""

    async def op(session: AsyncSession) -> PlantPublic:
        plant = await service.create(session, data)
        return service.to_public(plant, await service.species_map(session))

    return await store.write(op)


@router.get("/plants/{plant_id}", response_model=PlantPublic)
async def get_plant(plant_id: str, session: ReadSessionDep) -> PlantPublic:
    """One plant."""
    plant = await service.get_plant(session, plant_id)
    if plant is None:
        raise NotFound(f"plant {plant_id} not found")
    return service.to_public(plant, await service.species_map(session))


@router.patch("/plants/{plant_id}", response_model=PlantPublic)
async def update_plant(
    plant_id: str, data: PlantUpdate, store: StoreDep, _admin: AdminDep
) -> PlantPublic:
    """Change a plant; on a linked hub the edit also goes up at the next sync."""

    async def op(session: AsyncSession) -> PlantPublic:
        plant = await service.update(session, plant_id, data)
        return service.to_public(plant, await service.species_map(session))

    return await store.write(op)


@router.delete("/plants/{plant_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_plant(plant_id: str, store: StoreDep, _admin: AdminDep) -> None:
    """Delete a plant (only while the hub is not linked)."""
    await store.write(lambda session: service.delete(session, plant_id))


@router.get("/plants/{plant_id}/status", response_model=PlantStatus)
async def plant_status(plant_id: str, session: ReadSessionDep) -> PlantStatus:
    """Latest value of each metric with ok / low / high / stale / unknown."""
    plant = await service.get_plant(session, plant_id)
    if plant is None:
        raise NotFound(f"plant {plant_id} not found")
    thresholds = service.thresholds_for(plant, await service.species_map(session))
    node = await nodes_service.node_by_mac(session, plant.node_mac) if plant.node_mac else None
    now = utcnow()
    metrics = await readings.plant_metrics(
        session,
        node.id if node else None,
        thresholds,
        now,
        node.sampling_interval_s if node else None,
        superseded=node is not None and nodes_service.state_of(node, now) is NodeState.WRONG_KEY,
    )
    extra = await readings.channel_metrics(
        session,
        node.id if node else None,
        thresholds,
        now,
        node.sampling_interval_s if node else None,
        superseded=node is not None and nodes_service.state_of(node, now) is NodeState.WRONG_KEY,
    )
    return PlantStatus(plant_id=plant.id, node_mac=plant.node_mac, metrics=metrics, channels=extra)


@router.get("/plants/{plant_id}/watering", response_model=WateringPublic)
async def plant_watering(plant_id: str, session: ReadSessionDep) -> WateringPublic:
    """Waterings detected from moisture rises (two weeks, newest first) and when the plant
    needs water next: the same shared forecast the cloud API returns."""
    plant = await service.get_plant(session, plant_id)
    if plant is None:
        raise NotFound(f"plant {plant_id} not found")
    thresholds = service.thresholds_for(plant, await service.species_map(session))
    node = await nodes_service.node_by_mac(session, plant.node_mac) if plant.node_mac else None
    return await readings.watering(session, node.id if node else None, thresholds, utcnow())


@router.get("/plants/{plant_id}/history", response_model=History)
async def plant_history(
    plant_id: str,
    session: ReadSessionDep,
    metric: Metric,
    start: datetime | None = None,
    end: datetime | None = None,
    max_points: Annotated[int, Query(ge=2, le=5000)] = 500,
    channel: Annotated[int, Query(ge=0, le=MAX_CHANNEL)] = 0,
) -> History:
    """A metric over a window (default: the last 24 h), raw or rolled up to fit max_points;
    ``channel`` picks which of the node's sensors of the kind (0 the first, 1 the second…)."""
    plant = await service.get_plant(session, plant_id)
    if plant is None:
        raise NotFound(f"plant {plant_id} not found")
    end = end or utcnow()
    start = start or end - timedelta(days=1)
    if start.tzinfo is None or end.tzinfo is None:
        raise BadRequest("start and end need a timezone (e.g. 2026-05-01T00:00:00Z)")
    if start >= end:
        raise BadRequest("start must be before end")
    node = await readings.node_id(session, plant.node_mac) if plant.node_mac else None
    if node is None:
        return History(
            metric=metric, resolution="raw", start=start, end=end, points=[], channel=channel
        )
    return await readings.history(session, node, metric, start, end, max_points, channel)
