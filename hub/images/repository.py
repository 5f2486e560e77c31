"""Queries on images."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from hub.images.models import Image
from hub.store.types import SyncState


async def get(session: AsyncSession, image_id: str) -> Image | None:
    """One image."""
    return await session.get(Image, image_id)


async def by_sha256(session: AsyncSession, sha256: str) -> Image | None:
    """The image with these bytes, if the hub holds it."""
    result = await session.execute(select(Image).where(Image.sha256 == sha256))
    return result.scalars().first()


async def pending_uploads(session: AsyncSession, upload_state: str) -> Sequence[Image]:
    """Unsynced photos whose file is still here at this upload step, oldest first."""
    stmt = (
        select(Image)
        .where(Image.sync_state == SyncState.PENDING, Image.upload_state == upload_state)
        .where(col(Image.file_present).is_(True))
        .order_by(col(Image.captured_at))
    )
    return (await session.execute(stmt)).scalars().all()


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
