"""Registry queries. Every user-facing lookup filters by owner, so another user's row is absent."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from cloud.auth.models import Hub
from cloud.pagination import Keyset, Page, PageRequest, SortKey, page_of
from cloud.registry.models import PLANT_ORDER, Node, NodeAssignment, Plant, Species, plants_of_hub

# Hubs: linked ones first, newest first.
HUB_ORDER = Keyset(
    (
        SortKey(col(Hub.revoked_at).is_not(None), bool),
        SortKey(col(Hub.created_at), datetime, "desc"),
        SortKey(col(Hub.id), uuid.UUID),
    )
)
NODE_ORDER = Keyset((SortKey(col(Node.mac), str),))
SPECIES_ORDER = Keyset((SortKey(col(Species.common_name), str), SortKey(col(Species.id), int)))


async def hubs_of(session: AsyncSession, owner_id: uuid.UUID, page: PageRequest) -> Page[Hub]:
    """A page of the owner's hubs, linked ones first, newest first."""
    statement = HUB_ORDER.page(select(Hub).where(col(Hub.owner_id) == owner_id), page)
    rows = (await session.scalars(statement)).all()
    return page_of(rows, page, HUB_ORDER, lambda h: (h.revoked_at is not None, h.created_at, h.id))


async def hub_of(session: AsyncSession, owner_id: uuid.UUID, hub_id: uuid.UUID) -> Hub | None:
    """One of the owner's hubs."""
    return await session.scalar(
        select(Hub).where(col(Hub.id) == hub_id, col(Hub.owner_id) == owner_id)
    )


async def bump_hubs(session: AsyncSession, hub_ids: Iterable[uuid.UUID | None]) -> None:
    """Increase the config revision of these hubs (their snapshot changed)."""
    ids = {hub_id for hub_id in hub_ids if hub_id is not None}
    if ids:
        await session.execute(
            update(Hub)
            .where(col(Hub.id).in_(ids))
            .values(config_revision=col(Hub.config_revision) + 1)
        )


async def bump_owner_hubs(session: AsyncSession, owner_id: uuid.UUID) -> None:
    """Increase the config revision of every active hub of the owner."""
    await session.execute(
        update(Hub)
        .where(col(Hub.owner_id) == owner_id, col(Hub.revoked_at).is_(None))
        .values(config_revision=col(Hub.config_revision) + 1)
    )


async def nodes_of(session: AsyncSession, owner_id: uuid.UUID, page: PageRequest) -> Page[Node]:
    """A page of the owner's nodes by MAC."""
    statement = NODE_ORDER.page(select(Node).where(col(Node.owner_id) == owner_id), page)
    rows = (await session.scalars(statement)).all()
    return page_of(rows, page, NODE_ORDER, lambda node: (node.mac,))


async def node_of(session: AsyncSession, owner_id: uuid.UUID, node_id: uuid.UUID) -> Node | None:
    """One of the owner's nodes."""
    return await session.scalar(
        select(Node).where(col(Node.id) == node_id, col(Node.owner_id) == owner_id)
    )


async def nodes_by_mac(session: AsyncSession, macs: Iterable[str]) -> dict[str, Node]:
    """Nodes with these MACs, whoever owns them."""
    result = await session.scalars(select(Node).where(col(Node.mac).in_(list(macs))))
    return {node.mac: node for node in result.all()}


async def nodes_of_hub(session: AsyncSession, hub_id: uuid.UUID) -> Sequence[Node]:
    """Nodes attached to a hub."""
    result = await session.scalars(
        select(Node).where(col(Node.hub_id) == hub_id).order_by(col(Node.mac))
    )
    return result.all()


async def plants_of(session: AsyncSession, owner_id: uuid.UUID, page: PageRequest) -> Page[Plant]:
    """A page of the owner's plants by name (then id)."""
    statement = PLANT_ORDER.page(select(Plant).where(col(Plant.owner_id) == owner_id), page)
    rows = (await session.scalars(statement)).all()
    return page_of(rows, page, PLANT_ORDER, lambda plant: (plant.name, plant.id))


async def plant_of(session: AsyncSession, owner_id: uuid.UUID, plant_id: uuid.UUID) -> Plant | None:
    """One of the owner's plants."""
    return await session.scalar(
        select(Plant).where(col(Plant.id) == plant_id, col(Plant.owner_id) == owner_id)
    )


async def plant_on_node(session: AsyncSession, node_id: uuid.UUID) -> Plant | None:
    """The plant a node measures, if any."""
    return await session.scalar(select(Plant).where(col(Plant.node_id) == node_id))


async def plants_for_hub(session: AsyncSession, hub: Hub) -> Sequence[Plant]:
    """Plants on the hub's nodes plus the owner's plants not assigned to any node."""
    result = await session.scalars(
        select(Plant).where(plants_of_hub(hub)).order_by(col(Plant.name))
    )
    return result.all()


async def species_by_ids(session: AsyncSession, ids: Iterable[int]) -> dict[int, Species]:
    """Species by id."""
    wanted = list(set(ids))
    if not wanted:
        return {}
    result = await session.scalars(select(Species).where(col(Species.id).in_(wanted)))
    return {species.id: species for species in result.all()}


async def search_species(
    session: AsyncSession, query: str | None, category: str | None, page: PageRequest
) -> Page[Species]:
    """Species whose common or scientific name contains ``query`` (case-insensitive)."""
    conditions = []
    if query:
        pattern = "%" + query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        conditions.append(
            or_(
                col(Species.common_name).ilike(pattern), col(Species.scientific_name).ilike(pattern)
            )
        )
    if category:
        conditions.append(col(Species.category) == category)
    statement = SPECIES_ORDER.page(select(Species).where(*conditions), page)
    rows = (await session.scalars(statement)).all()
    return page_of(rows, page, SPECIES_ORDER, lambda species: (species.common_name, species.id))


async def close_assignment(session: AsyncSession, node_id: uuid.UUID, at: datetime) -> None:
    """End the node's open assignment (if any) at ``at``."""
    await session.execute(
        update(NodeAssignment)
        .where(col(NodeAssignment.node_id) == node_id, col(NodeAssignment.unassigned_at).is_(None))
        .values(unassigned_at=at)
    )


async def last_unassigned_at(session: AsyncSession, node_id: uuid.UUID) -> datetime | None:
    """When the node's latest ended assignment ended (None: it never measured a plant)."""
    return await session.scalar(
        select(func.max(col(NodeAssignment.unassigned_at))).where(
            col(NodeAssignment.node_id) == node_id
        )
    )


async def open_assignment(
    session: AsyncSession,
    owner_id: uuid.UUID,
    node_id: uuid.UUID,
    plant_id: uuid.UUID,
    at: datetime,
) -> None:
    """Record that the node measures the plant from ``at`` on."""
    session.add(
        NodeAssignment(owner_id=owner_id, node_id=node_id, plant_id=plant_id, assigned_at=at)
    )
    await session.flush()


async def linked_hubs(session: AsyncSession, owner_id: uuid.UUID) -> Sequence[Hub]:
    """The owner's hubs that are not revoked, by name."""
    query = (
        select(Hub)
        .where(col(Hub.owner_id) == owner_id, col(Hub.revoked_at).is_(None))
        .order_by(col(Hub.name), col(Hub.id))
    )
    return (await session.scalars(query)).all()


async def plant_names(session: AsyncSession, owner_id: uuid.UUID) -> dict[uuid.UUID, str]:
    """The owner's plants' names by id."""
    rows = await session.execute(
        select(col(Plant.id), col(Plant.name)).where(col(Plant.owner_id) == owner_id)
    )
    return {row[0]: row[1] for row in rows.all()}
