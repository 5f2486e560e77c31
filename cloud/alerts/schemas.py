"""Alert API models."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel

AlertStatus = Literal["open", "acknowledged", "resolved"]


class AlertPublic(BaseModel):
    """An alert as its owner sees it."""

    id: uuid.UUID
    plant_id: uuid.UUID | None
    node_id: uuid.UUID | None
    hub_id: uuid.UUID | None
    source: Literal["cloud", "hub"]
    kind: str
    metric: str | None
    status: AlertStatus
    message: str
    value: float | None
    threshold: float | None
    opened_at: datetime
    acknowledged_at: datetime | None
    resolved_at: datetime | None
