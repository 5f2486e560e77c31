"""Garden overview queries: the owner's nodes and open-alert counts, one statement each."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

_NODES = text(
    "SELECT id, name, mac, hub_id, battery, last_seen_at, sampling_interval_s "
    "FROM nodes WHERE owner_id = :owner"
)
_OPEN_ALERTS = text(
    "SELECT plant_id, count(*) FROM alerts "
    "WHERE owner_id = :owner AND status = 'open' AND plant_id IS NOT NULL GROUP BY plant_id"
)


async def nodes_of(session: AsyncSession, owner_id: uuid.UUID) -> list[Any]:
    """(id, name, mac, hub_id, battery, last_seen_at, sampling_interval_s) per node."""
    return list((await session.execute(_NODES, {"owner": owner_id})).all())


async def open_alert_counts(session: AsyncSession, owner_id: uuid.UUID) -> dict[uuid.UUID, int]:
    """Open alerts per plant."""
    rows = (await session.execute(_OPEN_ALERTS, {"owner": owner_id})).all()
    return {row[0]: int(row[1]) for row in rows}
