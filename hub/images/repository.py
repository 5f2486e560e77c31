"""Queries on images."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from hub.images.models import Image


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


async def count_all(session: AsyncSession) -> int:
    """How many photos the hub holds."""
    return int((await session.execute(text("select count(*) from images"))).scalar_one())
