"""Notification API models: the user's webhook and its last delivery."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, HttpUrl

from cloud.notifications.ports import DeliveryStatus

WebhookEvent = Literal["alert.opened", "alert.resolved"]


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
