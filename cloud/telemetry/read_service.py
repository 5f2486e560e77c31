"""The latest-readings read path: one autocommit statement, JSON straight from the rows.

Kept apart from ``service.py`` (ingestion and history on the request's transaction): these
reads are single statements, so they skip the ORM session, BEGIN/COMMIT and the user row
(``CurrentUserId``), and serialise with orjson instead of validating models a second time.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import orjson

from cloud.db.session import Reads
from cloud.errors import NotFoundError
from cloud.pagination import PageRequest
from cloud.registry.models import PLANT_ORDER
from cloud.telemetry import repository
from cloud.telemetry.schemas import LatestReading
from shared.plant_status import day_start

# (mean lux, readings) of today's and of yesterday's UTC hours, per node.
DayMeans = tuple[tuple[float | None, int], tuple[float | None, int]]

# The repository selects the columns in the field order of ``LatestReading``.
LATEST_KEYS = tuple(LatestReading.model_fields)


def _dump(rows: list[tuple[Any, ...]]) -> bytes:
    return orjson.dumps(
        [dict(zip(LATEST_KEYS, row, strict=True)) for row in rows], option=orjson.OPT_UTC_Z
    )


async def latest_json(
    database: Reads, owner_id: uuid.UUID, page: PageRequest
) -> tuple[bytes, str | None]:
    """A page of the newest reading of each of the owner's plants that has a node, as JSON
    (a list of ``LatestReading``, by plant name like the plant list), and the next cursor."""
    after = PLANT_ORDER.decode(page.cursor) if page.cursor else None
    async with database.connection() as conn:
        rows = await repository.latest_for_plants(conn, owner_id, page.limit + 1, after)
    more = len(rows) > page.limit
    rows = rows[: page.limit]
    next_cursor = PLANT_ORDER.encode((rows[-1][-1], rows[-1][0])) if more else None
    return _dump([row[:-1] for row in rows]), next_cursor


async def plant_latest_json(database: Reads, owner_id: uuid.UUID, plant_id: uuid.UUID) -> bytes:
    """The newest reading of each sensor channel of one plant as a JSON list, by channel
    (empty when it has none yet); 404 when the plant is not the owner's."""
    async with database.connection() as conn:
        rows = await repository.latest_of_plant(conn, owner_id, plant_id)
    if rows is None:
        raise NotFoundError("plant not found")
    return _dump(rows)


async def light_by_node(
    conn: Any, owner_id: uuid.UUID, now: datetime, plant_id: uuid.UUID | None = None
) -> dict[uuid.UUID, DayMeans]:
    """Today's and yesterday's (mean illuminance, reading count) of the nodes of the owner's
    plants (or of one plant), from the hourly rollups: what ``shared.plant_status.daily_light``
    judges."""
    today = day_start(now)
    rows = await repository.illuminance_by_day(
        conn, owner_id, today - timedelta(days=1), today, plant_id
    )
    days: dict[uuid.UUID, dict[bool, tuple[float | None, int]]] = {}
    for node_id, is_today, total, count in rows:
        days.setdefault(node_id, {})[bool(is_today)] = (
            float(total) / int(count) if count else None,
            int(count),
        )
    empty: tuple[float | None, int] = (None, 0)
    return {node: (d.get(True, empty), d.get(False, empty)) for node, d in days.items()}


async def garden_readings(
    database: Reads, owner_id: uuid.UUID, now: datetime
) -> tuple[dict[uuid.UUID, Any], dict[uuid.UUID, DayMeans]]:
    """``latest_by_plant`` and ``light_by_node`` of the owner's garden on one connection."""
    async with database.connection() as conn:
        rows = await repository.latest_for_plants(conn, owner_id)
        light = await light_by_node(conn, owner_id, now)
    latest = {row[0]: dict(zip(LATEST_KEYS, row[:-1], strict=True)) for row in rows}
    return latest, light


async def plant_readings(
    database: Reads, owner_id: uuid.UUID, plant_id: uuid.UUID, now: datetime
) -> tuple[dict[str, Any] | None, DayMeans | None, list[dict[str, Any]]]:
    """``plant_latest``, the plant's node's ``light_by_node`` and the newest reading of each
    further sensor channel (those past channel 0); 404 when not the owner's."""
    async with database.connection() as conn:
        rows = await repository.latest_of_plant(conn, owner_id, plant_id)
        if rows is None:
            raise NotFoundError("plant not found")
        light = await light_by_node(conn, owner_id, now, plant_id)
    # The first sensor of each kind (channel 0) is the plant's status, as on the hub.
    first = [dict(zip(LATEST_KEYS, row, strict=True)) for row in rows]
    latest = next((row for row in first if row["channel"] == 0), None)
    further = [row for row in first if row["channel"] != 0]
    return latest, next(iter(light.values()), None), further
