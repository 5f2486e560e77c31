"""Registry API models."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.mac import MacAddress
from shared.sync import AdvertCounts, NodeConfig, NodeKind, PendingCounts, Thresholds


class HubPublic(BaseModel):
    """A hub as its owner sees it."""

    id: uuid.UUID
    name: str
    linked: bool
    created_at: datetime
    last_seen_at: datetime | None
    revoked_at: datetime | None
    config_revision: int
    config_revision_acked: int | None = Field(
        default=None, description="the newest revision the hub confirmed holding"
    )
    config_pending: bool = Field(
        default=False, description="a change waits for the hub's next config pull"
    )
    pending: PendingCounts | None = Field(
        default=None, description="items the hub held unsent at its last report (None: none yet)"
    )
    pending_total: int | None = Field(default=None, description="the sum of ``pending``")
    pending_reported_at: datetime | None = Field(
        default=None, description="when the hub last reported its pending items"
    )
    oldest_pending_reading_at: datetime | None = Field(
        default=None, description="the oldest reading the hub had not sent then"
    )
    last_sync_error: str | None = Field(
        default=None, description="the error of the hub's last sync pass, if it failed"
    )


class HubUpdate(BaseModel):
    """Rename a hub."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64)


class NodeCreate(BaseModel):
    """Register a node by MAC (any common notation; stored as ``AA:BB:CC:DD:EE:FF``)."""

    model_config = ConfigDict(extra="forbid")

    mac: MacAddress
    kind: NodeKind = NodeKind.PLANTVITA
    name: str | None = Field(default=None, max_length=64)
    hub_id: uuid.UUID | None = None


class NodeUpdate(BaseModel):
    """Rename a node or move it to another of the owner's hubs (``hub_id: null`` detaches)."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, max_length=64)
    hub_id: uuid.UUID | None = None


class NodePublic(BaseModel):
    """A node with what its hub last reported and the config state."""

    id: uuid.UUID
    mac: str
    kind: str
    name: str | None
    hub_id: uuid.UUID | None
    firmware_version: str | None
    battery: float | None
    rssi: int | None
    last_seen_at: datetime | None
    last_reading_at: datetime | None
    dropped_adverts: int
    advert_counts: AdvertCounts | None = Field(
        default=None, description="what became of the node's adverts on its hub, by outcome"
    )
    config: NodeConfig
    config_revision_applied: int | None
    config_pending: bool = Field(description="the node has not applied the latest revision yet")
    created_at: datetime


class PlantCreate(BaseModel):
    """A new plant."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    species_id: int | None = None
    location: str | None = Field(default=None, max_length=200)
    node_id: uuid.UUID | None = None
    overrides: Thresholds | None = None


class PlantUpdate(BaseModel):
    """Partial update; send a field as ``null`` to clear it."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=100)
    species_id: int | None = None
    location: str | None = Field(default=None, max_length=200)
    node_id: uuid.UUID | None = None
    overrides: Thresholds | None = None


class PlantPublic(BaseModel):
    """A plant with its effective thresholds (species merged with overrides)."""

    id: uuid.UUID
    name: str
    species_id: int | None
    species_name: str | None
    location: str | None
    node_id: uuid.UUID | None
    overrides: Thresholds | None
    thresholds: Thresholds
    created_at: datetime
    updated_at: datetime


class SpeciesPublic(BaseModel):
    """A catalog species."""

    id: int
    common_name: str
    scientific_name: str
    category: Literal["house", "balcony", "vegetable"]
    thresholds: Thresholds
