"""The web overview's queries."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from hub.store import kv

# One cheap query whose result changes whenever anything the overview shows changes.
_VERSION_SQL = text(
    "select "
    "(select coalesce(max(id), 0) from readings), "
    "(select count(*) || ':' || coalesce(max(opened_at), 0) || ':' "
    " || coalesce(sum(coalesce(resolved_at, 0) + coalesce(acknowledged_at, 0)), 0) from alerts), "
    "(select count(*) || ':' || coalesce(max(last_seen), 0) || ':' "
    " || coalesce(sum(coalesce(config_revision_applied, -1)), 0) || ':' "
    " || coalesce(max(wrong_key_at), 0) || ':' || coalesce(sum(config_revision), 0) || ':' "
    " || coalesce(group_concat(name, ','), '') from nodes), "
    # A pruned photo's file is gone: its card loses the thumbnail.
    "(select count(*) || ':' || coalesce(sum(file_present), 0) from images), "
    "(select count(*) || ':' || coalesce(max(updated_at), 0) from plants), "
    # Alert texts follow the gardener's temperature unit; thresholds follow the catalogue.
    "(select coalesce(max(value), '') from hub_settings where key = :units), "
    "(select coalesce(max(value), '') from hub_settings where key = :species)"
).bindparams(units=kv.UNITS, species=kv.SPECIES_REVISION)


async def overview_marks(session: AsyncSession) -> tuple[Any, ...]:
    """One cheap row that changes whenever anything the overview shows changes."""
    return tuple((await session.execute(_VERSION_SQL)).one())
