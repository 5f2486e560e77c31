"""API models for plants, their status and history."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.mac import MacAddress
from shared.metrics import Metric
from shared.plant_status import DailyLight, Status
from shared.sync import Thresholds


class PlantCreate(BaseModel):
    """A plant created on the hub (only while the hub is not linked to the cloud)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    species_id: int | None = None
    location: str | None = Field(default=None, max_length=100)
    node_mac: MacAddress | None = None
    overrides: Thresholds | None = None


class PlantUpdate(BaseModel):
    """Fields to change; omitted fields stay."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=100)
    species_id: int | None = None
    location: str | None = Field(default=None, max_length=100)
    node_mac: MacAddress | None = None
    overrides: Thresholds | None = None


class PlantPublic(BaseModel):
    """A plant as the API shows it, with the thresholds that apply."""

    id: str
    name: str
    species_id: int | None
    species_name: str | None
    location: str | None
    node_mac: str | None
    overrides: Thresholds | None
    thresholds: Thresholds
    origin: Literal["local", "cloud"]
    created_at: datetime
    updated_at: datetime


class SpeciesPublic(BaseModel):
    """A species mirrored from the cloud catalog."""

    id: int
    common_name: str
    scientific_name: str
    thresholds: Thresholds


class MetricStatus(BaseModel):
    """The latest value of one metric and how it stands."""

    metric: Metric
    unit: str
    value: float | None
    measured_at: datetime | None
    status: Status
    minimum: float | None
    maximum: float | None
    daily: DailyLight | None = None  # light: judged by the daily light integral


class ChannelStatus(BaseModel):
    """The latest values of a node's further sensors of a kind (channel 1 is the second
    temperature, …): only the metrics that channel measures."""

    channel: int
    metrics: list[MetricStatus]


class PlantStatus(BaseModel):
    """Latest readings of a plant's node with threshold status per metric (its first sensor of
    each kind); ``channels`` lists its further sensors, when it has any."""

    plant_id: str
    node_mac: str | None
    metrics: list[MetricStatus]
    channels: list[ChannelStatus] = []


class Resolution(StrEnum):
    """How history points were made."""

    RAW = "raw"
    HOURLY = "hourly"
    DAILY = "daily"


class HistoryPoint(BaseModel):
    """One point: mean (raw value when raw), min and max over the bucket."""

    t: datetime
    value: float
    minimum: float
    maximum: float
    count: int


class History(BaseModel):
    """A metric's history for a window."""

    metric: Metric
    resolution: Resolution
    start: datetime
    end: datetime
    points: list[HistoryPoint]
    channel: int = 0  # which of the node's sensors of the kind (0 the first)
    channels: list[int] = [0]  # the channels the node has readings of
