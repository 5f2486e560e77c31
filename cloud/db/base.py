"""The cloud's own SQLModel registry and metadata, with a naming convention for constraints."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Column, DateTime, MetaData
from sqlalchemy.orm import registry
from sqlmodel import SQLModel

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# A registry apart from SQLModel's default, so hub tables never end up in cloud migrations.
metadata = MetaData(naming_convention=NAMING_CONVENTION)
cloud_registry = registry(metadata=metadata)


class CloudTable(SQLModel, registry=cloud_registry):
    """Base of every cloud table model."""


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


def timestamp(nullable: bool = False) -> Column[datetime]:
    """A ``timestamptz`` column: every instant the cloud stores is timezone-aware."""
    return Column(DateTime(timezone=True), nullable=nullable)
