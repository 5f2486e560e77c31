"""Queries on plants and species."""

from __future__ import annotations

from collections.abc import Sequence

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
