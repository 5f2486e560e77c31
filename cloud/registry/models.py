"""Registry tables: nodes, plants, species (hubs are identities: ``cloud.auth.models``)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    ColumnElement,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    Uuid,
    and_,
    or_,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, col

from cloud.auth.models import Hub
from cloud.db.base import CloudTable, timestamp, utcnow
from cloud.pagination import Keyset, SortKey
from shared.metrics import threshold_fields


class Node(CloudTable, table=True):
    """A sensor node (Plant-Vita or third-party BTHome), unique by MAC across the service."""

    __tablename__ = "nodes"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    owner_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    hub_id: uuid.UUID | None = Field(
        default=None,
        sa_column=Column(ForeignKey("hubs.id", ondelete="SET NULL"), nullable=True, index=True),
    )
    mac: str = Field(sa_column=Column(String(17), nullable=False, unique=True))
    kind: str = Field(default="plantvita", sa_column=Column(String(16), nullable=False))
    name: str | None = Field(default=None, sa_column=Column(String(64)))
    firmware_version: str | None = Field(default=None, sa_column=Column(String(32)))
    battery: float | None = Field(default=None, sa_column=Column(Float))
    rssi: int | None = Field(default=None, sa_column=Column(Integer))
    last_seen_at: datetime | None = Field(default=None, sa_column=timestamp(nullable=True))
    last_reading_at: datetime | None = Field(default=None, sa_column=timestamp(nullable=True))
    dropped_adverts: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    # What the hub counted of this node's adverts, by outcome (shared.sync.AdvertCounts).
    advert_counts: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONB))
    config_revision: int = Field(default=1, sa_column=Column(Integer, nullable=False))
    config_revision_applied: int | None = Field(default=None, sa_column=Column(Integer))
    sampling_interval_s: int = Field(default=600, sa_column=Column(Integer, nullable=False))
    advert_burst: int = Field(default=3, sa_column=Column(Integer, nullable=False))
    camera_interval_s: int | None = Field(default=None, sa_column=Column(Integer))
    connectable_window_s: int = Field(default=10, sa_column=Column(Integer, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=timestamp())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=timestamp())


class Species(CloudTable, table=True):
    """A catalog species with its comfortable ranges (seeded by a migration, read-only)."""

    __tablename__ = "species"

    id: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    common_name: str = Field(sa_column=Column(String(100), nullable=False, unique=True))
    scientific_name: str = Field(sa_column=Column(String(150), nullable=False))
    category: str = Field(sa_column=Column(String(16), nullable=False))  # house/balcony/vegetable
    # One nullable column per threshold field of the metric registry (moisture_min, …, dli_max).
    for _name in threshold_fields():
        __annotations__[_name] = "float | None"
        vars()[_name] = Field(default=None, sa_column=Column(Float))
    del _name


class Plant(CloudTable, table=True):
    """A gardener's plant: a species, a place, the node measuring it, threshold overrides."""

    __tablename__ = "plants"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    owner_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    name: str = Field(sa_column=Column(String(100), nullable=False))
    species_id: int | None = Field(
        default=None, sa_column=Column(ForeignKey("species.id", ondelete="SET NULL"), nullable=True)
    )
    location: str | None = Field(default=None, sa_column=Column(Text))
    node_id: uuid.UUID | None = Field(
        default=None,
        sa_column=Column(ForeignKey("nodes.id", ondelete="SET NULL"), nullable=True, unique=True),
    )
    overrides: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONB))
    # Bumped on every change: a hub's edit made on an older revision is a conflict.
    revision: int = Field(
        default=1, sa_column=Column(BigInteger, nullable=False, server_default="1")
    )
    # The last hub edit applied: a re-sent edit whose ack was lost is recognised.
    last_hub_edit: uuid.UUID | None = Field(default=None, sa_column=Column(Uuid, nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=timestamp())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=timestamp())


class NodeAssignment(CloudTable, table=True):
    """One period during which a node measured (and photographed) a plant.

    A node's photos belong to the plant of the first assignment that had not ended when the
    photo was taken, so the unassigned gap before an assignment belongs to that assignment.
    ``plant_id`` is null once the plant was deleted; the row still bounds the node's history.
    """

    __tablename__ = "node_assignments"
    __table_args__ = (
        Index("ix_node_assignments_node_id_assigned_at", "node_id", "assigned_at"),
        Index(
            "uq_node_assignments_open_node_id",
            "node_id",
            unique=True,
            postgresql_where=text("unassigned_at IS NULL"),
        ),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    owner_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    node_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("nodes.id", ondelete="CASCADE"), nullable=False)
    )
    plant_id: uuid.UUID | None = Field(
        default=None,
        sa_column=Column(ForeignKey("plants.id", ondelete="SET NULL"), nullable=True, index=True),
    )
    assigned_at: datetime = Field(default_factory=utcnow, sa_column=timestamp())
    unassigned_at: datetime | None = Field(default=None, sa_column=timestamp(nullable=True))


def plants_of_hub(hub: Hub) -> ColumnElement[bool]:
    """Which plants a hub serves: those on its nodes and the owner's plants on no node."""
    hub_nodes = select(col(Node.id)).where(col(Node.hub_id) == hub.id)
    served: ColumnElement[bool] = and_(
        col(Plant.owner_id) == hub.owner_id,
        or_(col(Plant.node_id).is_(None), col(Plant.node_id).in_(hub_nodes)),
    )
    return served


# The order plants are listed in, on every page of every list of them (registry and history).
PLANT_ORDER = Keyset((SortKey(col(Plant.name), str), SortKey(col(Plant.id), uuid.UUID)))
