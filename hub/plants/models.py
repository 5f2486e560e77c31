"""The ``plants`` and ``species`` tables (mirrored from the cloud, or local when unlinked)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from hub.store.types import EpochMs, SyncState


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
    cloud_revision: int | None = None  # the cloud's revision of this copy (cloud plants)
    created_at: datetime = Field(sa_type=EpochMs)
    updated_at: datetime = Field(sa_type=EpochMs)


class PlantEdit(SQLModel, table=True):
    """A change of a cloud plant made on the hub, applied here at once, waiting for the cloud."""

    __tablename__ = "plant_edits"

    id: str = Field(primary_key=True)  # UUID text, the edit id the cloud dedups on
    plant_id: str
    base_revision: int  # the cloud revision the edit was made on
    changes: str  # shared.sync.PlantChanges JSON (only the fields set)
    summary: str  # what changed, in words, for the sync ledger
    edited_at: datetime = Field(sa_type=EpochMs)
    sync_state: int = SyncState.PENDING
    reject_reason: str | None = None
    settled_at: datetime | None = Field(default=None, sa_type=EpochMs)
