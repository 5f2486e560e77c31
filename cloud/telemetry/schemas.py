"""Telemetry API models."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel

Resolution = Literal["raw", "hour", "day"]


class SeriesPoint(BaseModel):
    """One point: a raw reading (mean = min = max) or a rollup bucket (mean, min, max)."""

    t: datetime
    count: int
    moisture: float | None = None
    moisture_min: float | None = None
    moisture_max: float | None = None
    temperature: float | None = None
    temperature_min: float | None = None
    temperature_max: float | None = None
    humidity: float | None = None
    humidity_min: float | None = None
    humidity_max: float | None = None
    illuminance: float | None = None
    illuminance_min: float | None = None
    illuminance_max: float | None = None
    battery: float | None = None
    battery_min: float | None = None
    battery_max: float | None = None


class History(BaseModel):
    """Readings of a node (or a plant's node) over a window at the chosen resolution."""

    node_id: uuid.UUID | None
    plant_id: uuid.UUID | None = None
    start: datetime
    end: datetime
    resolution: Resolution
    truncated: bool = False
    points: list[SeriesPoint]


class LatestReading(BaseModel):
    """The newest reading of a plant's node."""

    plant_id: uuid.UUID
    node_id: uuid.UUID
    measured_at: datetime
    moisture: float | None
    temperature: float | None
    humidity: float | None
    illuminance: float | None
    battery: float | None
