"""Registry routes: the signed-in user's hubs, nodes, plants, and the species catalog."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response, status

from cloud.auth.dependencies import CurrentUser
from cloud.conventions import CREATED_RESPONSES, PUBLIC_CACHE, created_at
from cloud.db.session import SessionDep
from cloud.pagination import LIST_RESPONSES, PageDep, respond
from cloud.registry import service
from cloud.registry.schemas import (
    HubPublic,
    HubUpdate,
    NodeCreate,
    NodePublic,
    NodeUpdate,
    PlantCreate,
    PlantPublic,
    PlantUpdate,
    SpeciesPublic,
)
from shared.sync import API_PREFIX, NodeConfig, NodeConfigUpdate

router = APIRouter(prefix=API_PREFIX)


@router.get("/hubs", response_model=list[HubPublic], tags=["hubs"], responses=LIST_RESPONSES)
async def list_hubs(
    request: Request, response: Response, user: CurrentUser, session: SessionDep, page: PageDep
) -> list[HubPublic]:
    """Your hubs, linked ones first, newest first (a page: see Pagination)."""
    return respond(request, response, await service.list_hubs(session, user.id, page))


@router.get("/hubs/{hub_id}", response_model=HubPublic, tags=["hubs"])
async def get_hub(hub_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> HubPublic:
    """One of your hubs."""
    return service.hub_public(await service.get_hub(session, user.id, hub_id))


@router.patch("/hubs/{hub_id}", response_model=HubPublic, tags=["hubs"])
async def rename_hub(
    hub_id: uuid.UUID, body: HubUpdate, user: CurrentUser, session: SessionDep
) -> HubPublic:
    """Rename a hub."""
    return await service.rename_hub(session, user.id, hub_id, body)


@router.delete("/hubs/{hub_id}", status_code=status.HTTP_204_NO_CONTENT, tags=["hubs"])
async def unlink_hub(hub_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> None:
    """Unlink a hub: its token stops working at once and its nodes are detached."""
    await service.unlink_hub(session, user.id, hub_id)


@router.get(
    "/nodes",
    response_model=list[NodePublic],
    tags=["nodes"],
    responses=LIST_RESPONSES,
)
async def list_nodes(
    request: Request, response: Response, user: CurrentUser, session: SessionDep, page: PageDep
) -> list[NodePublic]:
    """Your nodes by MAC (a page: see Pagination)."""
    return respond(request, response, await service.list_nodes(session, user.id, page))


@router.post(
    "/nodes",
    response_model=NodePublic,
    status_code=status.HTTP_201_CREATED,
    tags=["nodes"],
    responses=CREATED_RESPONSES,
)
async def create_node(
    body: NodeCreate, user: CurrentUser, session: SessionDep, response: Response
) -> NodePublic:
    """Register a node by MAC (hubs also register nodes through their inventory)."""
    node = await service.create_node(session, user.id, body)
    created_at(response, f"{API_PREFIX}/nodes/{node.id}")
    return node


@router.get("/nodes/{node_id}", response_model=NodePublic, tags=["nodes"])
async def get_node(node_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> NodePublic:
    """One of your nodes, with the config revision it applied."""
    return service.node_public(await service.get_node(session, user.id, node_id))


@router.patch("/nodes/{node_id}", response_model=NodePublic, tags=["nodes"])
async def update_node(
    node_id: uuid.UUID, body: NodeUpdate, user: CurrentUser, session: SessionDep
) -> NodePublic:
    """Rename a node or move it to another hub."""
    return await service.update_node(session, user.id, node_id, body)


@router.delete("/nodes/{node_id}", status_code=status.HTTP_204_NO_CONTENT, tags=["nodes"])
async def delete_node(node_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> None:
    """Delete a node and its readings."""
    await service.delete_node(session, user.id, node_id)


@router.get("/nodes/{node_id}/config", response_model=NodeConfig, tags=["nodes"])
async def get_node_config(node_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> NodeConfig:
    """The node's settings at their current revision."""
    return service.node_config(await service.get_node(session, user.id, node_id))


@router.put("/nodes/{node_id}/config", response_model=NodeConfig, tags=["nodes"])
async def update_node_config(
    node_id: uuid.UUID, body: NodeConfigUpdate, user: CurrentUser, session: SessionDep
) -> NodeConfig:
    """Change node settings; the hub picks them up with its next config pull."""
    return await service.update_node_config(session, user.id, node_id, body)


@router.get(
    "/plants",
    response_model=list[PlantPublic],
    tags=["plants"],
    responses=LIST_RESPONSES,
)
async def list_plants(
    request: Request, response: Response, user: CurrentUser, session: SessionDep, page: PageDep
) -> list[PlantPublic]:
    """Your plants by name (a page: see Pagination)."""
    return respond(request, response, await service.list_plants(session, user.id, page))


@router.post(
    "/plants",
    response_model=PlantPublic,
    status_code=status.HTTP_201_CREATED,
    tags=["plants"],
    responses=CREATED_RESPONSES,
)
async def create_plant(
    body: PlantCreate, user: CurrentUser, session: SessionDep, response: Response
) -> PlantPublic:
    """Add a plant."""
    plant = await service.create_plant(session, user.id, body)
    created_at(response, f"{API_PREFIX}/plants/{plant.id}")
    return plant


@router.get("/plants/{plant_id}", response_model=PlantPublic, tags=["plants"])
async def get_plant(plant_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> PlantPublic:
    """One of your plants with its effective thresholds."""
    return await service.plant_detail(session, user.id, plant_id)


@router.patch("/plants/{plant_id}", response_model=PlantPublic, tags=["plants"])
async def update_plant(
    plant_id: uuid.UUID, body: PlantUpdate, user: CurrentUser, session: SessionDep
) -> PlantPublic:
    """Change a plant (send ``null`` to clear a field)."""
    return await service.update_plant(session, user.id, plant_id, body)


@router.delete("/plants/{plant_id}", status_code=status.HTTP_204_NO_CONTENT, tags=["plants"])
async def delete_plant(plant_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> None:
    """Delete a plant (its node and readings stay)."""
    await service.delete_plant(session, user.id, plant_id)


@router.get(
    "/species", response_model=list[SpeciesPublic], tags=["species"], responses=LIST_RESPONSES
)
async def search_species(
    request: Request,
    response: Response,
    session: SessionDep,
    page: PageDep,
    q: Annotated[str | None, Query(max_length=100, description="part of a name")] = None,
    category: Literal["house", "balcony", "vegetable"] | None = None,
) -> list[SpeciesPublic]:
    """Search the species catalog by common name (public, read-only; a page: see Pagination)."""
    response.headers["Cache-Control"] = PUBLIC_CACHE
    return respond(request, response, await service.search_species(session, q, category, page))


@router.get("/species/{species_id}", response_model=SpeciesPublic, tags=["species"])
async def get_species(species_id: int, session: SessionDep, response: Response) -> SpeciesPublic:
    """One catalog species (public)."""
    response.headers["Cache-Control"] = PUBLIC_CACHE
    return await service.get_species(session, species_id)
