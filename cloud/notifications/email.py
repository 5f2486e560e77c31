"""The e-mail channel: each event as a plain-text message to the account's address through
the configured SMTP relay (aiosmtplib). Temporary SMTP refusals (4xx) and an unreachable relay
are retried; permanent ones (5xx) are not."""

from __future__ import annotations

import uuid
from email.message import EmailMessage
from typing import ClassVar

import aiosmtplib
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from cloud.auth.models import User
from cloud.notifications.links import app_path
from cloud.notifications.ports import ChannelResources, Notice, Outcome, Undelivered
from cloud.notifications.preferences import wanted_sql
from cloud.notifications.repository import record_digest


def message_for(notice: Notice, to: str, sender: str, app_url: str) -> EmailMessage:
    """The e-mail telling one event, with a link to the app page that shows it."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = notice.subject.title
    message["Message-ID"] = f"<{notice.event_id}@plant-vita>"  # the same on every retry
    link = app_url.rstrip("/") + app_path(notice.subject)
    why = (
        "You get this daily digest because it is on in your account's notification settings; "
        "turn it off there."
        if notice.subject.kind == "digest"
        else "You get this because e-mail notifications are on for this event in your "
        "account's settings; turn them off there."
    )
    message.set_content(f"{notice.subject.text}\n\nOpen it in Plant-Vita: {link}\n\n{why}\n")
    return message


class EmailChannel:
    """E-mail through the SMTP relay; off unless the owner turned it on for the event."""

    name: ClassVar[str] = "email"
    default_on: ClassVar[bool] = False
    recipients_sql: ClassVar[str] = wanted_sql("email", default=False)
    max_attempts: ClassVar[int] = 5
    backoff_base_s: ClassVar[float] = 30.0
    backoff_max_s: ClassVar[float] = 1800.0

    def __init__(self, resources: ChannelResources) -> None:
        self._engine = resources.engine
        self._settings = resources.settings

    async def send(self, notice: Notice) -> int | None:
        """Send one message; ``LookupError`` when no relay is configured."""
        settings = self._settings
        if settings is None or not settings.smtp_host:
            raise LookupError("no SMTP relay is configured")
        async with AsyncSession(self._engine) as session:
            to = await session.scalar(
                select(col(User.email)).where(col(User.id) == notice.subject.owner_id)
            )
        if to is None:
            raise LookupError("the account is gone")
        message = message_for(notice, to, settings.smtp_from, settings.public_base_url)
        try:
            await aiosmtplib.send(
                message,
                hostname=settings.smtp_host,
                port=settings.smtp_port,
                username=settings.smtp_username,
                password=settings.smtp_password,
                start_tls=settings.smtp_starttls and not settings.smtp_tls,
                use_tls=settings.smtp_tls,
                timeout=settings.smtp_timeout_s,
            )
        except aiosmtplib.SMTPResponseException as exc:
            raise Undelivered(f"SMTP {exc.code}", exc.code, retry=400 <= exc.code < 500) from exc
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise Undelivered("the mail server could not be reached", retry=True) from exc
        return None

    async def record(self, notice: Notice, outcome: Outcome) -> None:
        """A digest keeps how its delivery went on its row; other events: the delivery log."""
        digest_id = notice.subject.payload.get("digest_id")
        if notice.subject.kind != "digest" or not isinstance(digest_id, str):
            return
        async with AsyncSession(self._engine) as session, session.begin():
            await record_digest(session, uuid.UUID(digest_id), outcome.status, outcome.at)
