"""API models for the local admin."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class PasswordSet(BaseModel):
    """Set the admin password: open on first run, then needs the current one (or a session)."""

    model_config = ConfigDict(extra="forbid")

    password: str = Field(min_length=8, max_length=256)
    current_password: str | None = Field(default=None, max_length=256)


class Login(BaseModel):
    """Log in for a session cookie (for the browser UI)."""

    model_config = ConfigDict(extra="forbid")

    password: str = Field(max_length=256)


class AuthStatus(BaseModel):
    """Whether first-run setup is done and whether this request is authenticated."""

    password_set: bool
    authenticated: bool
