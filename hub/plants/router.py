"""Plants: list/CRUD (local while unlinked), latest status, history, species."""

from __future__ import annotations

from fastapi import APIRouter, status
from sqlalchemy.ext.asyncio import AsyncSession

from hub.auth.dependencies import AdminDep
from hub.dependencies import ReadSessionDep, StoreDep
from hub.errors import NotFound
from hub.plants import service
from hub.plants.schemas import (
    PlantCreate,
    PlantPublic,
    PlantUpdate,
    SpeciesPublic,
)
from shared.metrics import MetricPublic, public_metrics

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
