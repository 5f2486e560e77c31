"""Diagnosis queries."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from hub.diagnoses.models import Diagnosis
from hub.images.models import Image
from hub.store.ledger import SyncLedger


async def replace_all(session: AsyncSession, rows: list[Diagnosis]) -> None:
    """Make the table hold exactly ``rows`` (the cloud's digest is the whole truth)."""
    await session.execute(delete(Diagnosis))
    session.add_all(rows)
    await session.flush()


async def for_plant(
    session: AsyncSession, plant_id: str, limit: int
) -> list[tuple[Diagnosis, Image | None]]:
    """A plant's diagnoses, newest first, each with the hub's copy of its photo if held."""
    stmt = (
        select(Diagnosis, Image)
        .outerjoin(Image, col(Image.sha256) == col(Diagnosis.image_sha256))
        .where(col(Diagnosis.plant_id) == plant_id)
        .order_by(col(Diagnosis.requested_at).desc(), col(Diagnosis.id))
        .limit(limit)
    )
    return [(row[0], row[1]) for row in (await session.execute(stmt)).all()]


async def last_pulled_at(session: AsyncSession, kind: str) -> datetime | None:
    """When the sync ledger last recorded a successful pull of ``kind``."""
    ledger = await session.get(SyncLedger, kind)
    return ledger.last_success_at if ledger else None
