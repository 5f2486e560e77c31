"""Queries on images."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, text
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
    return (await for_plants(session, [plant_id], limit)).get(plant_id, [])


async def for_plants(
    session: AsyncSession, plant_ids: Sequence[str], limit: int
) -> dict[str, list[Image]]:
    """Plant id -> its ``limit`` newest photos, newest first, in one query for all the plants;
    a plant without photos is left out."""
    if not plant_ids:
        return {}
    newest_first = (col(Image.captured_at).desc(), col(Image.id).desc())
    ranked = (
        select(
            col(Image.id).label("id"),
            func.row_number()
            .over(partition_by=col(Image.plant_id), order_by=newest_first)
            .label("rank"),
        )
        .where(col(Image.plant_id).in_(plant_ids))
        .subquery()
    )
    stmt = (
        select(Image)
        .join(ranked, col(Image.id) == ranked.c.id)
        .where(ranked.c.rank <= limit)
        .order_by(col(Image.plant_id), *newest_first)
    )
    out: dict[str, list[Image]] = {}
    for image in (await session.execute(stmt)).scalars():
        if image.plant_id is not None:
            out.setdefault(image.plant_id, []).append(image)
    return out


async def count_all(session: AsyncSession) -> int:
    """How many photos the hub holds."""
    return int((await session.execute(text("select count(*) from images"))).scalar_one())
