"""Notification tables: the user's signed webhook, Web Push subscriptions, preferences, and
the daily e-mail digests sent."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    ForeignKey,
    Integer,
    PrimaryKeyConstraint,
    String,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlmodel import Field

from cloud.db.base import CloudTable, timestamp, utcnow


class Webhook(CloudTable, table=True):
    """A user's webhook: alert events are POSTed to ``url``, signed with ``secret``.

    The secret is kept as is (the cloud signs with it); the user sees it once, when it is
    made. The last delivery's outcome is kept for the user to see.
    """

    __tablename__ = "alert_webhooks"

    owner_id: uuid.UUID = Field(
        sa_column=Column(
            ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, nullable=False
        )
    )
    url: str = Field(sa_column=Column(String(2100), nullable=False))
    secret: str = Field(sa_column=Column(String(100), nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=timestamp())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=timestamp())
    last_event_id: uuid.UUID | None = Field(default=None, sa_column=Column(UUID(as_uuid=True)))
    last_event: str | None = Field(default=None, sa_column=Column(String(32)))
    last_status: str | None = Field(default=None, sa_column=Column(String(16)))
    last_http_status: int | None = Field(default=None, sa_column=Column(Integer))
    last_error: str | None = Field(default=None, sa_column=Column(String(300)))
    last_attempts: int | None = Field(default=None, sa_column=Column(Integer))
    last_attempt_at: datetime | None = Field(default=None, sa_column=timestamp(nullable=True))


class PushSubscription(CloudTable, table=True):
    """A browser's Web Push subscription (RFC 8030 endpoint, RFC 8291 keys) for its owner."""

    __tablename__ = "push_subscriptions"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    owner_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    endpoint: str = Field(sa_column=Column(String(2000), nullable=False, unique=True))
    p256dh: str = Field(sa_column=Column(String(200), nullable=False))
    auth: str = Field(sa_column=Column(String(100), nullable=False))
    user_agent: str | None = Field(default=None, sa_column=Column(String(200)))
    created_at: datetime = Field(default_factory=utcnow, sa_column=timestamp())
    # The last event sent here: a retried delivery skips the browsers that already have it.
    last_event_id: uuid.UUID | None = Field(default=None, sa_column=Column(UUID(as_uuid=True)))
    last_status: str | None = Field(default=None, sa_column=Column(String(16)))
    last_error: str | None = Field(default=None, sa_column=Column(String(300)))
    last_attempt_at: datetime | None = Field(default=None, sa_column=timestamp(nullable=True))


class NotificationPreference(CloudTable, table=True):
    """Whether ``owner_id`` gets ``event`` on ``channel``; without a row, the channel's default."""

    __tablename__ = "notification_preferences"
    __table_args__ = (PrimaryKeyConstraint("owner_id", "channel", "event"),)

    owner_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    )
    channel: str = Field(sa_column=Column(String(16), nullable=False))
    event: str = Field(sa_column=Column(String(32), nullable=False))
    enabled: bool = Field(sa_column=Column(Boolean, nullable=False))


class EmailDigest(CloudTable, table=True):
    """One gardener's daily e-mail digest of one day of theirs: claimed once (the unique
    (owner, day) makes queueing idempotent however often and wherever the check runs), then
    delivered by the e-mail channel's durable job, which records how it went."""

    __tablename__ = "email_digests"
    __table_args__ = (UniqueConstraint("owner_id", "day"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    owner_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    )
    day: date = Field(sa_column=Column(Date, nullable=False))  # the gardener's local day told
    time_zone: str = Field(sa_column=Column(String(64), nullable=False))
    queued_at: datetime = Field(default_factory=utcnow, sa_column=timestamp())
    status: str | None = Field(default=None, sa_column=Column(String(16)))  # DeliveryStatus
    sent_at: datetime | None = Field(default=None, sa_column=timestamp(nullable=True))
