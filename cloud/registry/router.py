"""Registry routes: the signed-in user's hubs, nodes, plants, and the species catalog."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response, status

from cloud.auth.dependencies import CurrentUser
from cloud.db.session import SessionDep
from cloud.registry import service
from cloud.registry.schemas import (
    HubPublic,
    HubUpdate,
    NodeConfigUpdate,
    NodeCreate,
    NodePublic,
    NodeUpdate,
    Page,
    PlantCreate,
    PlantPublic,
    PlantUpdate,
    SpeciesPublic,
)
from shared.sync import API_PREFIX, NodeConfig

router = APIRouter(prefix=API_PREFIX)


@router.get("/hubs", response_model=list[HubPublic], tags=["hubs"])
async def list_hubs(user: CurrentUser, session: SessionDep) -> list[HubPublic]:
    """Your hubs."""
    return await service.list_hubs(session, user.id)


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


ListLimit = Annotated[int, Query(ge=1, le=500, description="items per page")]
Cursor = Annotated[
    str | None,
    Query(max_length=400, description="the `next` cursor of the previous page (Link header)"),
]
_NEXT_PAGE_DOC = {
    "headers": {
        "Link": {
            "description": 'RFC 8288 `<url>; rel="next"` when there is another page',
            "schema": {"type": "string"},
        }
    }
}


def _link_next(request: Request, response: Response, next_cursor: str | None) -> None:
    """Point the client at the next page, keeping its other query parameters."""
    if next_cursor is not None:
        url = request.url.include_query_params(cursor=next_cursor)
        response.headers["Link"] = f'<{url}>; rel="next"'


@router.get(
    "/nodes",
    response_model=list[NodePublic],
    tags=["nodes"],
    responses={200: _NEXT_PAGE_DOC},
)
async def list_nodes(
    request: Request,
    response: Response,
    user: CurrentUser,
    session: SessionDep,
    limit: ListLimit = 100,
    cursor: Cursor = None,
) -> list[NodePublic]:
    """Your nodes by MAC, a page at a time (follow the Link header's `next`)."""
    nodes, next_cursor = await service.list_nodes(session, user.id, limit, cursor)
    _link_next(request, response, next_cursor)
    return nodes


@router.post(
    "/nodes", response_model=NodePublic, status_code=status.HTTP_201_CREATED, tags=["nodes"]
)
async def create_node(body: NodeCreate, user: CurrentUser, session: SessionDep) -> NodePublic:
    """Register a node by MAC (hubs also register nodes through their inventory)."""
    return await service.create_node(session, user.id, body)


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
    responses={200: _NEXT_PAGE_DOC},
)
async def list_plants(
    request: Request,
    response: Response,
    user: CurrentUser,
    session: SessionDep,
    limit: ListLimit = 100,
    cursor: Cursor = None,
) -> list[PlantPublic]:
    """Your plants by name, a page at a time (follow the Link header's `next`)."""
    plants, next_cursor = await service.list_plants(session, user.id, limit, cursor)
    _link_next(request, response, next_cursor)
    return plants


@router.post(
    "/plants", response_model=PlantPublic, status_code=status.HTTP_201_CREATED, tags=["plants"]
)
async def create_plant(body: PlantCreate, user: CurrentUser, session: SessionDep) -> PlantPublic:
    """Add a plant."""
    return await service.create_plant(session, user.id, body)


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


@router.get("/species", response_model=Page[SpeciesPublic], tags=["species"])
async def search_species(
    session: SessionDep,
    q: Annotated[str | None, Query(max_length=100, description="part of a name")] = None,
    category: Literal["house", "balcony", "vegetable"] | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Page[SpeciesPublic]:
    """Search the species catalog (public, read-only)."""
    return await service.search_species(session, q, category, limit, offset)


@router.get("/species/{species_id}", response_model=SpeciesPublic, tags=["species"])
async def get_species(species_id: int, session: SessionDep) -> SpeciesPublic:
    """One catalog species."""
    return await service.get_species(session, species_id)
