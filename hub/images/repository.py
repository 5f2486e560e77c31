"""Queries on images."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from hub.images.models import Image
from hub.nodes.models import Node


async def get(session: AsyncSession, image_id: str) -> Image | None:
    """One image."""
    return await session.get(Image, image_id)


async def for_plant(session: AsyncSession, plant_id: str, limit: int) -> Sequence[Image]:
    """A plant's photos, newest first."""
    stmt = (
        select(Image)
        .where(Image.plant_id == plant_id)
        .order_by(col(Image.captured_at).desc())
        .limit(limit)
    )
    return (await session.execute(stmt)).scalars().all()


async def adopt_unassigned(session: AsyncSession, node_mac: str, plant_id: str) -> int:
    """Give ``plant_id`` the photos of the node ``node_mac`` that belong to no plant; how many."""
    node = select(Node.id).where(Node.mac == node_mac).scalar_subquery()
    result = await session.execute(
        update(Image)
        .where(col(Image.node_id) == node, col(Image.plant_id).is_(None))
        .values(plant_id=plant_id)
    )
    return int(getattr(result, "rowcount", 0) or 0)
