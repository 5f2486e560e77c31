"""Queries on plants and species."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from hub.plants.models import Plant, Species


async def list_plants(session: AsyncSession) -> Sequence[Plant]:
    """Every plant, by name."""
    return (await session.execute(select(Plant).order_by(col(Plant.name)))).scalars().all()


async def get(session: AsyncSession, plant_id: str) -> Plant | None:
    """One plant."""
    return await session.get(Plant, plant_id)


async def by_node(session: AsyncSession, mac: str) -> Plant | None:
    """The plant a node watches."""
    result = await session.execute(select(Plant).where(Plant.node_mac == mac))
    return result.scalars().first()


async def species_map(session: AsyncSession) -> dict[int, Species]:
    """Every species by id."""
    rows = (await session.execute(select(Species))).scalars().all()
    return {s.id: s for s in rows}


async def adopt_node_photos(session: AsyncSession, node_mac: str, plant_id: str) -> int:
    """Give ``plant_id`` the photos of the node ``node_mac`` that belong to no plant; how many.
    (SQL on the images table here, so that plants need not import the images domain, which
    reads plants.)"""
    result = await session.execute(
        text(
            "update images set plant_id = :p where plant_id is null "
            "and node_id = (select id from nodes where mac = :m)"
        ),
        {"p": plant_id, "m": node_mac},
    )
    return int(getattr(result, "rowcount", 0) or 0)
