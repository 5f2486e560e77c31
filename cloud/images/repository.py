"""Image queries (and the registry lookups the upload flow needs)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from cloud.images.models import Image, ImageStatus
from cloud.registry.models import Node, Plant


async def node_by_mac(session: AsyncSession, owner_id: uuid.UUID, mac: str) -> Node | None:
    """The owner's node with this MAC (normal form)."""
    return await session.scalar(
        select(Node).where(col(Node.mac) == mac, col(Node.owner_id) == owner_id)
    )


async def plant_for_owner(
    session: AsyncSession, owner_id: uuid.UUID, plant_id: uuid.UUID
) -> Plant | None:
    """The owner's plant with this id."""
    return await session.scalar(
        select(Plant).where(col(Plant.id) == plant_id, col(Plant.owner_id) == owner_id)
    )


async def plant_of_node(session: AsyncSession, node_id: uuid.UUID) -> Plant | None:
    """The plant the node is assigned to."""
    return await session.scalar(select(Plant).where(col(Plant.node_id) == node_id))


async def by_owner_sha(session: AsyncSession, owner_id: uuid.UUID, sha256: str) -> Image | None:
    """The owner's image with this content hash."""
    return await session.scalar(
        select(Image).where(col(Image.owner_id) == owner_id, col(Image.sha256) == sha256)
    )


async def insert_pending(session: AsyncSession, values: dict[str, Any]) -> bool:
    """Insert a pending image; False when the owner already has one with this hash."""
    statement = (
        insert(Image)
        .values(status=ImageStatus.PENDING.value, **values)
        .on_conflict_do_nothing(index_elements=["owner_id", "sha256"])
        .returning(col(Image.id))
    )
    return (await session.execute(statement)).scalar_one_or_none() is not None


async def for_owner(
    session: AsyncSession, owner_id: uuid.UUID, image_id: uuid.UUID, *, lock: bool = False
) -> Image | None:
    """The owner's image with this id (optionally locked for the completion step)."""
    statement = select(Image).where(col(Image.id) == image_id, col(Image.owner_id) == owner_id)
    if lock:
        statement = statement.with_for_update()
    return await session.scalar(statement)


async def list_for_plant(
    session: AsyncSession, plant_id: uuid.UUID, limit: int, offset: int
) -> tuple[list[Image], int]:
    """Completed images of a plant, newest first, and how many there are."""
    where = (col(Image.plant_id) == plant_id, col(Image.status) == ImageStatus.COMPLETE.value)
    total = await session.scalar(select(func.count()).select_from(Image).where(*where))
    rows = await session.scalars(
        select(Image)
        .where(*where)
        .order_by(col(Image.captured_at).desc(), col(Image.id))
        .limit(limit)
        .offset(offset)
    )
    return list(rows), int(total or 0)


async def canopy_trend(
    session: AsyncSession, plant_id: uuid.UUID, since: datetime, before: datetime, limit: int
) -> list[tuple[datetime, float]]:
    """(captured_at, canopy cover) of the plant's earlier completed photos, oldest first."""
    rows = await session.execute(
        select(col(Image.captured_at), col(Image.canopy_cover))
        .where(
            col(Image.plant_id) == plant_id,
            col(Image.status) == ImageStatus.COMPLETE.value,
            col(Image.canopy_cover).is_not(None),
            col(Image.captured_at) >= since,
            col(Image.captured_at) < before,
        )
        .order_by(col(Image.captured_at).desc())
        .limit(limit)
    )
    points = [(at, float(cover)) for at, cover in rows.tuples() if cover is not None]
    return sorted(points, key=lambda point: point[0])
