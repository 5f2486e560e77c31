"""Identity tables: users, their tokens, and the hubs they link (a hub signs in with its own
revocable token; the registry hangs nodes and plants under it)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field

from cloud.db.base import CloudTable, timestamp, utcnow


class User(CloudTable, table=True):
    """A gardener with a cloud account."""

    __tablename__ = "users"
    __table_args__ = (CheckConstraint("temperature_unit IN ('C', 'F')", name="temperature_unit"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    email: str = Field(sa_column=Column(String(320), nullable=False, unique=True))
    password_hash: str = Field(sa_column=Column(String(255), nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=timestamp())
    password_changed_at: datetime = Field(default_factory=utcnow, sa_column=timestamp())
    # Display preferences the apps read from the account: °C/°F and a BCP 47 locale.
    temperature_unit: str = Field(
        default="C", sa_column=Column(String(1), nullable=False, server_default=text("'C'"))
    )
    locale: str | None = Field(default=None, sa_column=Column(String(35), nullable=True))
    # An IANA zone ("Europe/Berlin"): the gardener's day for the daily digest; None: UTC.
    time_zone: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))


class RefreshToken(CloudTable, table=True):
    """A refresh token stored as its sha256; rotation chains one login's tokens in a family."""

    __tablename__ = "refresh_tokens"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    user_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    family_id: uuid.UUID = Field(index=True)
    token_hash: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=timestamp())
    expires_at: datetime = Field(sa_column=timestamp())
    rotated_at: datetime | None = Field(default=None, sa_column=timestamp(nullable=True))
    revoked_at: datetime | None = Field(default=None, sa_column=timestamp(nullable=True))
    user_agent: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    # The address the token was issued to: a login from there is a known device, which the
    # account-wide login slow-down lets through.
    client_ip: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))


class LoginFailure(CloudTable, table=True):
    """A failed password login, counted per account and client address for rate limiting."""

    __tablename__ = "login_failures"
    __table_args__ = (Index(None, "email", "client_ip", "failed_at"),)

    id: int | None = Field(default=None, sa_column=Column(BigInteger, primary_key=True))
    email: str = Field(sa_column=Column(String(320), nullable=False))
    client_ip: str = Field(sa_column=Column(String(64), nullable=False))
    failed_at: datetime = Field(default_factory=utcnow, sa_column=timestamp())


class DeviceAuthorization(CloudTable, table=True):
    """An RFC 8628 device authorization: a hub waiting for its user to approve the user code."""

    __tablename__ = "device_authorizations"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    device_code_hash: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    user_code: str = Field(sa_column=Column(String(16), nullable=False, unique=True))
    hub_name: str = Field(sa_column=Column(String(64), nullable=False))
    status: str = Field(
        sa_column=Column(String(16), nullable=False)
    )  # pending/approved/denied/used
    created_at: datetime = Field(default_factory=utcnow, sa_column=timestamp())
    expires_at: datetime = Field(sa_column=timestamp())
    interval_s: int = Field(sa_column=Column(Integer, nullable=False))
    last_polled_at: datetime | None = Field(default=None, sa_column=timestamp(nullable=True))
    user_id: uuid.UUID | None = Field(
        default=None, sa_column=Column(ForeignKey("users.id", ondelete="CASCADE"), nullable=True)
    )
    hub_id: uuid.UUID | None = Field(
        default=None, sa_column=Column(ForeignKey("hubs.id", ondelete="SET NULL"), nullable=True)
    )


class Hub(CloudTable, table=True):
    """A Raspberry Pi hub linked to a user; authenticates with a hashed, revocable token."""

    __tablename__ = "hubs"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    owner_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    name: str = Field(sa_column=Column(String(64), nullable=False))
    token_hash: str | None = Field(default=None, sa_column=Column(String(64), unique=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=timestamp())
    revoked_at: datetime | None = Field(default=None, sa_column=timestamp(nullable=True))
    last_seen_at: datetime | None = Field(default=None, sa_column=timestamp(nullable=True))
    config_revision: int = Field(default=1, sa_column=Column(BigInteger, nullable=False))
    # The newest revision the hub said it holds (``since_revision`` of its config pull).
    config_revision_acked: int | None = Field(default=None, sa_column=Column(BigInteger))
    # When "hub offline" was last told; told again only after the hub has called in since.
    offline_notified_at: datetime | None = Field(default=None, sa_column=timestamp(nullable=True))
    # What the hub last reported still waiting to be sent (``shared.sync.HubSyncStatus``).
    sync_pending: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONB))
    sync_reported_at: datetime | None = Field(default=None, sa_column=timestamp(nullable=True))
    oldest_pending_reading_at: datetime | None = Field(
        default=None, sa_column=timestamp(nullable=True)
    )
    sync_error: str | None = Field(default=None, sa_column=Column(String(500)))
