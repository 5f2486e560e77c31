"""Notification API models: the user's webhook and its last delivery."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl

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


class PushKey(BaseModel):
    """The application server key browsers subscribe with (``applicationServerKey``)."""

    public_key: str


class PushKeys(BaseModel):
    """A subscription's RFC 8291 keys, base64url as the browser gives them."""

    model_config = ConfigDict(extra="forbid")

    p256dh: str = Field(min_length=80, max_length=100, pattern=r"^[A-Za-z0-9_-]+=*$")
    auth: str = Field(min_length=16, max_length=32, pattern=r"^[A-Za-z0-9_-]+=*$")


class PushSubscriptionIn(BaseModel):
    """``PushSubscription.toJSON()`` from the browser (``expirationTime`` is ignored)."""

    model_config = ConfigDict(extra="ignore")

    endpoint: HttpUrl = Field(max_length=2000)
    keys: PushKeys


class PushSubscriptionPublic(BaseModel):
    """A subscribed browser: the push service's host (the endpoint itself is a secret)."""

    id: uuid.UUID
    push_service: str
    user_agent: str | None
    created_at: datetime
    last_status: str | None
    last_error: str | None
    last_attempt_at: datetime | None


class NamedItem(BaseModel):
    """A channel or an event with its label."""

    name: str
    label: str
    available: bool = True


class Preferences(BaseModel):
    """Which events reach you on which channel."""

    channels: list[NamedItem]
    events: list[NamedItem]
    choices: dict[str, dict[str, bool]] = Field(description="channel -> event -> on")
    email_digest: bool = Field(
        default=False,
        description="one e-mail a day summarising the day before (alerts opened and resolved, "
        "diagnoses, hubs offline), sent from ``digest_hour`` of the account's time zone",
    )
    digest_hour: int = Field(default=7, description="the hour of your day the digest goes out")


class PreferencesUpdate(BaseModel):
    """Change some choices: channel -> event -> on (others stay), and the daily digest."""

    model_config = ConfigDict(extra="forbid")

    choices: dict[str, dict[str, bool]] = Field(default_factory=dict, max_length=10)
    email_digest: bool | None = None
