"""Alert API models."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, HttpUrl

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


WebhookEvent = Literal["alert.opened", "alert.resolved"]
DeliveryStatus = Literal["delivered", "retrying", "failed"]


class WebhookIn(BaseModel):
    """Where alert events go: an absolute http(s) URL (https outside development)."""

    url: HttpUrl


class WebhookDelivery(BaseModel):
    """How the latest alert event's delivery went."""

    event_id: uuid.UUID
    event: WebhookEvent
    status: DeliveryStatus
    http_status: int | None
    error: str | None
    attempts: int
    at: datetime


class WebhookPublic(BaseModel):
    """The user's webhook (never its secret) and its last delivery."""

    url: str
    created_at: datetime
    updated_at: datetime
    last_delivery: WebhookDelivery | None


class WebhookWithSecret(WebhookPublic):
    """The webhook right after its signing secret was made: the only time it is shown."""

    secret: str


class WebhookEventBody(BaseModel):
    """The JSON body POSTed to a webhook."""

    id: uuid.UUID  # the delivery id: the same on every retry of one event
    type: WebhookEvent
    created_at: datetime
    alert: AlertPublic
