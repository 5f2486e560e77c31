"""Notification settings (part of ``CloudSettings``): Web Push VAPID keys and the SMTP relay."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings


class NotificationSettings(BaseSettings):
    """Web Push (RFC 8292 VAPID) and e-mail (SMTP) for notifications."""

    # The application server's VAPID key: a PEM or base64url private key. Unset in
    # development: one is generated into ``vapid_key_file`` and kept (so subscriptions last).
    vapid_private_key: str | None = None
    vapid_key_file: Path = Path("var/cloud/vapid_private.pem")
    vapid_subject: str = "mailto:admin@localhost"  # who push services may contact about us
    push_ttl_s: int = Field(default=86_400, ge=0, le=28 * 86_400)

    # SMTP relay for e-mail notifications; unset: no e-mail is sent.
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65_535)
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = True  # STARTTLS on a plain port (587); False: plain (tests, local relays)
    smtp_tls: bool = False  # implicit TLS (port 465)
    smtp_from: str = "Plant-Vita <plantvita@localhost>"
    smtp_timeout_s: float = Field(default=30.0, gt=0)
    # The daily e-mail digest (opted into per account) goes out from this hour of the
    # gardener's own day (the account's time zone, else UTC), about the day before.
    digest_hour: int = Field(default=7, ge=0, le=23)
