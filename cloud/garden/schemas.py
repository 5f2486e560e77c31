"""Garden overview API models."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field

from cloud.registry.schemas import HubPublic, PlantPublic
from shared.metrics import Metric
from shared.plant_status import DailyLight, Status


class MetricStatus(BaseModel):
    """The latest value of one metric and how it stands (the hub's rule and words)."""

    metric: Metric
    unit: str
    value: float | None
    measured_at: datetime | None
    status: Status
    minimum: float | None
    maximum: float | None
    daily: DailyLight | None = Field(
        default=None, description="illuminance: today's and yesterday's daily light integral"
    )


class ChannelStatus(BaseModel):
    """The newest reading of one of the node's further sensors of a kind (channel 1 is its
    second temperature, …): only the metrics that channel measures."""

    channel: int
    measured_at: datetime | None
    metrics: list[MetricStatus]


class PlantStatus(BaseModel):
    """The newest reading of a plant's node, metric by metric, against its thresholds (its
    first sensor of each kind); ``channels`` lists its further sensors, when it has any."""

    plant_id: uuid.UUID
    node_id: uuid.UUID | None
    measured_at: datetime | None
    metrics: list[MetricStatus]
    channels: list[ChannelStatus] = []


class HubHealth(HubPublic):
    """A hub with what the cloud can tell about its sync."""

    online: bool = Field(description="the hub called in within the offline window")
    offline_after_s: int


class NodeBrief(BaseModel):
    """The node watching a plant, as the overview shows it."""

    id: uuid.UUID
    name: str | None
    mac: str
    hub_id: uuid.UUID | None
    battery: float | None
    last_seen_at: datetime | None


class GardenPlant(BaseModel):
    """One plant card: the plant, its node, latest values with status, open alerts."""

    plant: PlantPublic
    node: NodeBrief | None
    status: PlantStatus
    open_alerts: int
    config_pending: bool = Field(description="the plant's hub has not taken the latest change")


class Garden(BaseModel):
    """Everything the garden page shows, in one call."""

    generated_at: datetime
    hubs: list[HubHealth]
    plants: list[GardenPlant]
