"""API models for alerts."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from shared.metrics import Metric
from shared.sync import AlertKind


class AlertPublic(BaseModel):
    """An alert the hub raised."""

    id: str
    kind: AlertKind
    metric: Metric | None
    node_mac: str | None
    plant_id: str | None
    message: str
    opened_at: datetime
    resolved_at: datetime | None
    acknowledged_at: datetime | None
    sync_state: str
    reject_reason: str | None
