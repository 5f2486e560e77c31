"""The ``plants`` and ``species`` tables (mirrored from the cloud, or local when unlinked)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from hub.store.types import EpochMs


class Species(SQLModel, table=True):
    """A catalog species and its thresholds (JSON of ``shared.sync.Thresholds``)."""

    __tablename__ = "species"

    id: int = Field(primary_key=True)
    common_name: str
    scientific_name: str
    thresholds: str


class Plant(SQLModel, table=True):
    """A plant, optionally watched by one node."""

    __tablename__ = "plants"

    id: str = Field(primary_key=True)  # UUID text
    name: str
    species_id: int | None = None
    location: str | None = None
    node_mac: str | None = None
    overrides: str | None = None  # Thresholds JSON
    origin: str = "local"  # "local" or "cloud"
    created_at: datetime = Field(sa_type=EpochMs)
    updated_at: datetime = Field(sa_type=EpochMs)
