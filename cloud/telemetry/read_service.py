"""The latest-readings read path: one autocommit statement, JSON straight from the rows.

Kept apart from ``service.py`` (ingestion and history on the request's transaction): these
reads are single statements, so they skip the ORM session, BEGIN/COMMIT and the user row
(``CurrentUserId``), and serialise with orjson instead of validating models a second time.
"""

from __future__ import annotations

import uuid
from typing import Any

import orjson

from cloud.db.session import ReadDatabase
from cloud.errors import NotFoundError
from cloud.pagination import PageRequest
from cloud.registry.models import PLANT_ORDER
from cloud.telemetry import repository
from cloud.telemetry.schemas import LatestReading

# The repository selects the columns in the field order of ``LatestReading``.
LATEST_KEYS = tuple(LatestReading.model_fields)


def _dump(rows: list[tuple[Any, ...]]) -> bytes:
    return orjson.dumps(
        [dict(zip(LATEST_KEYS, row, strict=True)) for row in rows], option=orjson.OPT_UTC_Z
    )


async def latest_json(
    database: ReadDatabase, owner_id: uuid.UUID, page: PageRequest
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


async def plant_latest_json(
    database: ReadDatabase, owner_id: uuid.UUID, plant_id: uuid.UUID
) -> bytes:
    """The newest reading of each sensor channel of one plant as a JSON list, by channel
    (empty when it has none yet); 404 when the plant is not the owner's."""
    async with database.connection() as conn:
        rows = await repository.latest_of_plant(conn, owner_id, plant_id)
    if rows is None:
        raise NotFoundError("plant not found")
    return _dump(rows)


async def latest_by_plant(database: ReadDatabase, owner_id: uuid.UUID) -> dict[uuid.UUID, Any]:
    """The newest reading of each of the owner's plants, by plant id (``LatestReading`` keys)."""
    async with database.connection() as conn:
        rows = await repository.latest_for_plants(conn, owner_id)
    return {row[0]: dict(zip(LATEST_KEYS, row[:-1], strict=True)) for row in rows}


async def plant_latest(
    database: ReadDatabase, owner_id: uuid.UUID, plant_id: uuid.UUID
) -> dict[str, Any] | None:
    """The newest reading of one plant's first sensors (channel 0; None when it has none
    yet); 404 when not the owner's."""
    channels = await plant_latest_channels(database, owner_id, plant_id)
    return next((row for row in channels if row["channel"] == 0), None)


async def plant_latest_channels(
    database: ReadDatabase, owner_id: uuid.UUID, plant_id: uuid.UUID
) -> list[dict[str, Any]]:
    """The newest reading of each sensor channel of one plant, by channel (``LatestReading``
    keys); 404 when not the owner's."""
    async with database.connection() as conn:
        rows = await repository.latest_of_plant(conn, owner_id, plant_id)
    if rows is None:
        raise NotFoundError("plant not found")
    return [dict(zip(LATEST_KEYS, row, strict=True)) for row in rows]
