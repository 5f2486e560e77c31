"""Telemetry API models."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, create_model

from shared.metrics import metric_fields

Resolution = Literal["raw", "hour", "day"]


# One point: a raw reading (mean = min = max) or a rollup bucket (mean, min, max), with
# ``<metric>``, ``<metric>_min`` and ``<metric>_max`` per registry metric.
SeriesPoint = create_model(
    "SeriesPoint",
    __doc__="One point: a raw reading (mean = min = max) or a rollup bucket (mean, min, max).",
    __module__=__name__,
    t=(datetime, ...),
    count=(int, ...),
    **metric_fields(("", "_min", "_max")),
)


class History(BaseModel):
    """Readings of a node (or a plant's node) over a window at the chosen resolution."""

    node_id: uuid.UUID | None
    plant_id: uuid.UUID | None = None
    start: datetime
    end: datetime
    resolution: Resolution
    truncated: bool = False
    # The window reaches back past the raw (or hourly) retention: answered from rollups, at
    # ``resolution``, whatever finer resolution was asked for.
    retention_limited: bool = False
    channel: int = 0  # which of the node's sensors of each kind (0 the first, 1 the second…)
    channels: list[int] = [0]  # the channels the node has readings of
    points: list[SeriesPoint]


# The newest reading of a plant's node: its key, then one field per registry metric.
LatestReading = create_model(
    "LatestReading",
    __doc__="The newest reading of a plant's node (of one sensor channel: 0 the node's first "
    "sensor of each kind, 1 the second, …).",
    __module__=__name__,
    plant_id=(uuid.UUID, ...),
    node_id=(uuid.UUID, ...),
    measured_at=(datetime, ...),
    channel=(int, 0),
    **metric_fields(default=...),
)
