"""Diagnosis queries, the context a diagnosis reads, and the shared rate-limit counter."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from cloud.alerts.models import Alert
from cloud.auth.models import Hub
from cloud.diagnosis.models import ACTIVE_STATUSES, Diagnosis, DiagnosisStatus, Image, ImageStatus
from cloud.diagnosis.ports import DailyMetricSummary
from cloud.pagination import Keyset, Page, PageRequest, SortKey, page_of
from cloud.registry.models import Plant, Species, plants_of_hub
from shared.metrics import PLANT_METRICS, Metric


async def active_for_image(session: AsyncSession, image_id: uuid.UUID) -> Diagnosis | None:
    """The queued or running diagnosis of an image, if any."""
    return await session.scalar(
        select(Diagnosis).where(
            col(Diagnosis.image_id) == image_id, col(Diagnosis.status).in_(ACTIVE_STATUSES)
        )
    )


async def latest_for_images(
    session: AsyncSession, image_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Diagnosis]:
    """The most recent diagnosis of each image."""
    if not image_ids:
        return {}
    rows = await session.scalars(
        select(Diagnosis)
        .where(col(Diagnosis.image_id).in_(image_ids))
        .order_by(col(Diagnosis.image_id), col(Diagnosis.requested_at).desc())
        .distinct(col(Diagnosis.image_id))
    )
    return {row.image_id: row for row in rows}


async def set_plant(
    session: AsyncSession, image_ids: Sequence[uuid.UUID], plant_id: uuid.UUID
) -> None:
    """Move these photos' diagnoses to the plant's history."""
    if image_ids:
        await session.execute(
            update(Diagnosis)
            .where(col(Diagnosis.image_id).in_(image_ids))
            .values(plant_id=plant_id)
            .execution_options(synchronize_session=False)
        )


# Newest first.
DIAGNOSIS_ORDER = Keyset(
    (SortKey(col(Diagnosis.requested_at), datetime, "desc"), SortKey(col(Diagnosis.id), uuid.UUID))
)


async def list_for_plant(
    session: AsyncSession, plant_id: uuid.UUID, page: PageRequest
) -> Page[Diagnosis]:
    """A page of a plant's diagnoses, newest first."""
    statement = select(Diagnosis).where(col(Diagnosis.plant_id) == plant_id)
    rows = (await session.scalars(DIAGNOSIS_ORDER.page(statement, page))).all()
    return page_of(rows, page, DIAGNOSIS_ORDER, lambda d: (d.requested_at, d.id))


async def for_owner(
    session: AsyncSession, owner_id: uuid.UUID, diagnosis_id: uuid.UUID
) -> Diagnosis | None:
    """The owner's diagnosis with this id."""
    return await session.scalar(
        select(Diagnosis).where(
            col(Diagnosis.id) == diagnosis_id, col(Diagnosis.owner_id) == owner_id
        )
    )


async def for_update(session: AsyncSession, diagnosis_id: uuid.UUID) -> Diagnosis | None:
    """The diagnosis, locked until the transaction ends."""
    return await session.scalar(
        select(Diagnosis).where(col(Diagnosis.id) == diagnosis_id).with_for_update()
    )


async def take_rate_slot(session: AsyncSession, per_minute: int, now: datetime) -> bool:
    """Count one model call in the current minute; False when the minute is already full.

    One atomic upsert on a row per minute, so every worker shares the same budget.
    """
    window = now.replace(second=0, microsecond=0)
    taken = await session.scalar(
        text(
            "INSERT INTO diagnosis_rate_windows (window_start, calls) VALUES (:window, 1) "
            "ON CONFLICT (window_start) DO UPDATE "
            "SET calls = diagnosis_rate_windows.calls + 1 "
            "WHERE diagnosis_rate_windows.calls < :limit RETURNING calls"
        ),
        {"window": window, "limit": per_minute},
    )
    await session.execute(
        text("DELETE FROM diagnosis_rate_windows WHERE window_start < :old"),
        {"old": window - timedelta(hours=1)},
    )
    return taken is not None


async def plant_and_species(
    session: AsyncSession, plant_id: uuid.UUID
) -> tuple[Plant | None, Species | None]:
    """The plant and its catalog species."""
    plant = await session.get(Plant, plant_id)
    species = None
    if plant is not None and plant.species_id is not None:
        species = await session.get(Species, plant.species_id)
    return plant, species


async def daily_summaries(
    session: AsyncSession, node_id: uuid.UUID, since: datetime, until: datetime
) -> list[DailyMetricSummary]:
    """Min/mean/max per plant metric per UTC day of a node's raw readings."""
    aggregates = ", ".join(
        f"min({m.value}) AS {m.value}_min, avg({m.value}) AS {m.value}_mean, "
        f"max({m.value}) AS {m.value}_max, count({m.value}) AS {m.value}_count"
        for m in PLANT_METRICS
    )
    rows = await session.execute(
        text(
            f"SELECT (measured_at AT TIME ZONE 'UTC')::date AS day, {aggregates} "  # noqa: S608 - names from the Metric enum
            "FROM readings WHERE node_id = :node AND measured_at >= :since "
            "AND measured_at <= :until GROUP BY day ORDER BY day"
        ),
        {"node": node_id, "since": since, "until": until},
    )
    summaries: list[DailyMetricSummary] = []
    for row in rows.mappings():
        for metric in PLANT_METRICS:
            count = row[f"{metric.value}_count"]
            if count:
                summaries.append(
                    DailyMetricSummary(
                        day=row["day"],
                        metric=metric,
                        min=float(row[f"{metric.value}_min"]),
                        mean=float(row[f"{metric.value}_mean"]),
                        max=float(row[f"{metric.value}_max"]),
                        count=int(count),
                    )
                )
    return summaries


async def recent_alerts(
    session: AsyncSession,
    owner_id: uuid.UUID,
    plant_id: uuid.UUID | None,
    node_id: uuid.UUID | None,
    since: datetime,
    limit: int = 20,
) -> list[Alert]:
    """Alerts of the plant or its node opened since ``since``, newest first."""
    about = []
    if plant_id is not None:
        about.append(col(Alert.plant_id) == plant_id)
    if node_id is not None:
        about.append(col(Alert.node_id) == node_id)
    if not about:
        return []
    rows = await session.scalars(
        select(Alert)
        .where(col(Alert.owner_id) == owner_id, or_(*about), col(Alert.opened_at) >= since)
        .order_by(col(Alert.opened_at).desc())
        .limit(limit)
    )
    return list(rows)


def metric_or_none(value: str | None) -> Metric | None:
    """The Metric for a stored name, None for none or an unknown name."""
    try:
        return Metric(value) if value else None
    except ValueError:
        return None


async def newest_for_plants(
    session: AsyncSession, plant_ids: Sequence[uuid.UUID], per_plant: int
) -> list[tuple[Diagnosis, str | None, datetime | None]]:
    """The newest ``per_plant`` diagnoses of each plant with their photo's hash and time,
    newest first (one window query, served by the (plant_id, requested_at) index)."""
    if not plant_ids:
        return []
    ranked = (
        select(
            col(Diagnosis.id).label("id"),
            func.row_number()
            .over(
                partition_by=col(Diagnosis.plant_id),
                order_by=(col(Diagnosis.requested_at).desc(), col(Diagnosis.id)),
            )
            .label("rank"),
        )
        .where(col(Diagnosis.plant_id).in_(plant_ids))
        .subquery()
    )
    rows = await session.execute(
        select(Diagnosis, col(Image.sha256), col(Image.captured_at))
        .join(ranked, ranked.c.id == col(Diagnosis.id))
        .outerjoin(Image, col(Image.id) == col(Diagnosis.image_id))
        .where(ranked.c.rank <= per_plant)
        .order_by(col(Diagnosis.requested_at).desc(), col(Diagnosis.id))
    )
    return [(row[0], row[1], row[2]) for row in rows.all()]


async def plant_of_owner(
    session: AsyncSession, owner_id: uuid.UUID, plant_id: uuid.UUID
) -> Plant | None:
    """The owner's plant with this id."""
    return await session.scalar(
        select(Plant).where(col(Plant.id) == plant_id, col(Plant.owner_id) == owner_id)
    )


async def image_of_owner(
    session: AsyncSession, owner_id: uuid.UUID, image_id: uuid.UUID
) -> Image | None:
    """The owner's image with this id."""
    return await session.scalar(
        select(Image).where(col(Image.id) == image_id, col(Image.owner_id) == owner_id)
    )


async def hub_plant_ids(session: AsyncSession, hub: Hub) -> list[uuid.UUID]:
    """Ids of the plants the hub serves (``registry.models.plants_of_hub``)."""
    result = await session.scalars(select(col(Plant.id)).where(plants_of_hub(hub)))
    return list(result.all())


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


async def finished_in_window(
    session: AsyncSession, owner_id: uuid.UUID, start: datetime, end: datetime, limit: int
) -> Sequence[Diagnosis]:
    """The owner's diagnoses that succeeded in [start, end), oldest first."""
    query = (
        select(Diagnosis)
        .where(
            col(Diagnosis.owner_id) == owner_id,
            col(Diagnosis.status) == DiagnosisStatus.SUCCEEDED,
            col(Diagnosis.finished_at) >= start,
            col(Diagnosis.finished_at) < end,
        )
        .order_by(col(Diagnosis.finished_at))
        .limit(limit)
    )
    return (await session.scalars(query)).all()
