"""API models of the web UI's own endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from hub.alerts.schemas import AlertPublic
from hub.plants.schemas import MetricStatus, PlantPublic
from shared.freshness import NodeState
from shared.watering import WateringForecastPublic

TemperatureUnit = Literal["C", "F"]


class PlantCard(BaseModel):
    """Everything the garden overview shows for one plant."""

    plant: PlantPublic
    metrics: list[MetricStatus]
    node_name: str | None
    node_state: NodeState | None  # None: no node watches this plant
    watering: WateringForecastPublic | None  # when it needs water next
    battery: float | None
    rssi: int | None
    last_seen: datetime | None
    thumbnail_url: str | None
    canopy_cover: float | None
    open_alerts: list[AlertPublic]


class Overview(BaseModel):
    """The whole garden at one moment; ``version`` changes whenever anything shown changes."""

    version: str
    generated_at: datetime
    cards: list[PlantCard]
    radio_problem: str | None = None  # why the hub hears no node (no Bluetooth adapter, …)
    storage_problem: str | None = None  # why the hub cannot store data (full disk, …)


class WebSettings(BaseModel):
    """Display and storage settings the gardener changes from the Settings page."""

    temperature_unit: TemperatureUnit
    disk_budget_mb: float
    disk_used_bytes: int


class WebSettingsUpdate(BaseModel):
    """Settings to change; omitted fields stay."""

    model_config = ConfigDict(extra="forbid")

    temperature_unit: TemperatureUnit | None = None
    disk_budget_mb: float | None = Field(default=None, ge=16, le=1_048_576)
