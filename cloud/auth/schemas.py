"""Identity API models."""

from __future__ import annotations

import functools
import uuid
import zoneinfo
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

_EMAIL_PATTERN = r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$"


@functools.cache
def known_time_zones() -> frozenset[str]:
    """The IANA zone names this system's zone database holds."""
    return frozenset(zoneinfo.available_timezones())


class UserCreate(BaseModel):
    """Registration request."""

    model_config = ConfigDict(extra="forbid")

    email: str = Field(max_length=320, pattern=_EMAIL_PATTERN)
    password: str = Field(min_length=10, max_length=256)

    @field_validator("email")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.strip().lower()


TemperatureUnit = Literal["C", "F"]


class UserPublic(BaseModel):
    """A user as the API shows it (never the password hash), with display preferences."""

    id: uuid.UUID
    email: str
    created_at: datetime
    temperature_unit: TemperatureUnit = "C"
    locale: str | None = None
    time_zone: str | None = None


class UserUpdate(BaseModel):
    """Display preferences kept on the account; omitted fields keep their value."""

    model_config = ConfigDict(extra="forbid")

    temperature_unit: TemperatureUnit | None = None
    # A BCP 47 tag such as ``en-GB`` or ``de``; ``null`` follows the browser.
    locale: str | None = Field(
        default=None, max_length=35, pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8}){0,3}$"
    )
    # An IANA time zone name ("Europe/Berlin"); ``null``: UTC. Days of the daily digest.
    time_zone: str | None = Field(default=None, max_length=64)

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None and value not in known_time_zones():
            raise ValueError("not a known IANA time zone, e.g. Europe/Berlin")
        return value


class SessionPublic(BaseModel):
    """One signed-in login (a refresh-token family): where and when it was used."""

    id: uuid.UUID = Field(description="the login's session id (``session_id`` of the token pair)")
    started_at: datetime
    last_active_at: datetime = Field(description="when its refresh token was last issued")
    expires_at: datetime
    user_agent: str | None


class TokenPair(BaseModel):
    """OAuth 2.0 token response for the password and refresh grants."""

    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - OAuth token type
    expires_in: int
    refresh_token: str
    session_id: uuid.UUID | None = Field(
        default=None, description="the login this pair belongs to (see /auth/sessions)"
    )


class RefreshRequest(BaseModel):
    """Exchange (refresh) or revoke (logout) a refresh token."""

    model_config = ConfigDict(extra="forbid")

    refresh_token: str = Field(min_length=1, max_length=200)


class PasswordChange(BaseModel):
    """Change the signed-in user's password."""

    model_config = ConfigDict(extra="forbid")

    current_password: str = Field(min_length=1, max_length=256)
    new_password: str = Field(min_length=10, max_length=256)


class DeviceApproval(BaseModel):
    """The signed-in user approves (or denies) a hub showing ``user_code``."""

    model_config = ConfigDict(extra="forbid")

    user_code: str = Field(min_length=8, max_length=16)
    approve: bool = True
    hub_name: str | None = Field(default=None, min_length=1, max_length=64)


class DeviceApprovalResult(BaseModel):
    """Outcome of an approval: the hub that will be linked, or the denial."""

    status: Literal["approved", "denied"]
    hub_id: uuid.UUID | None = None
    hub_name: str | None = None
