"""Notification logic: the user's webhook settings, and one delivery attempt of a queued
event on its channel (loading the subject, recording the outcome, deciding on a retry)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime

import httpx
import structlog
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from cloud.egress import Egress, EgressRefused
from cloud.errors import InvalidRequestError, NotFoundError
from cloud.jobs.queue import backoff
from cloud.notifications import repository, signing
from cloud.notifications.models import Webhook
from cloud.notifications.ports import (
    Channel,
    DeliveryStatus,
    Notice,
    Outcome,
    SubjectLoader,
    Undelivered,
)
from cloud.notifications.schemas import (
    WebhookDelivery,
    WebhookIn,
    WebhookPublic,
    WebhookWithSecret,
)
from cloud.settings import CloudSettings, Environment

_log = structlog.get_logger("cloud.notifications")

NOT_PUBLIC = "the webhook URL must name a host on the public internet"


# --- delivery ------------------------------------------------------------------------------------


async def deliver(
    engine: AsyncEngine,
    channels: Mapping[str, Channel],
    subjects: Mapping[str, SubjectLoader],
    *,
    channel: str,
    subject_id: uuid.UUID,
    event: str,
    event_id: uuid.UUID,
    event_at: datetime,
    attempt: int,
) -> datetime | None:
    """One delivery attempt of an event on a channel; the channel records the outcome.

    Returns when to try again (a retryable failure before the channel's last attempt), or
    None when done: delivered, refused for good, given up, or nothing left to deliver (the
    subject deleted, the channel no longer set, a channel this build does not have).
    """
    target = channels.get(channel)
    loader = subjects.get(event.partition(".")[0])
    if target is None or loader is None:
        _log.warning("notification_dropped", channel=channel, notification_event=event)
        return None
    async with AsyncSession(engine, expire_on_commit=False) as session:
        subject = await loader(session, subject_id)
    if subject is None:
        return None
    notice = Notice(event=event, event_id=event_id, at=event_at, subject=subject)
    status: DeliveryStatus = "delivered"
    http_status: int | None = None
    error: str | None = None
    retry_at: datetime | None = None
    try:
        http_status = await target.send(notice)
    except LookupError:
        return None  # the owner turned this channel off since the event was queued
    except Undelivered as failure:
        http_status, error = failure.http_status, failure.error
        if failure.retry and attempt < target.max_attempts:
            status = "retrying"
            retry_at = datetime.now(UTC) + backoff(
                attempt, target.backoff_base_s, target.backoff_max_s
            )
        else:
            status = "failed"
    _log.info(
        "notification_delivery",
        channel=channel,
        subject_id=str(subject_id),
        notification_event=event,
        status=status,
        http_status=http_status,
        attempt=attempt,
    )
    outcome = Outcome(
        status=status,
        attempt=attempt,
        at=datetime.now(UTC),
        http_status=http_status,
        error=error,
    )
    await target.record(notice, outcome)
    return retry_at


# --- the user's webhook --------------------------------------------------------------------------


async def check_webhook_url(url: str, settings: CloudSettings, egress: Egress) -> None:
    """https outside development, and a host whose every address is public (422 otherwise)."""
    parsed = httpx.URL(url)
    if settings.environment is not Environment.DEVELOPMENT and parsed.scheme != "https":
        raise InvalidRequestError("the webhook URL must use https", details=[{"loc": ["url"]}])
    try:
        await egress.vet_url(url)
    except EgressRefused as refused:
        _log.info("webhook_url_refused", reason=refused.reason)
        raise InvalidRequestError(NOT_PUBLIC, details=[{"loc": ["url"]}]) from refused


def _webhook_public(hook: Webhook) -> WebhookPublic:
    delivery = None
    if hook.last_event_id is not None and hook.last_attempt_at is not None:
        delivery = WebhookDelivery.model_validate(
            {
                "event_id": hook.last_event_id,
                "event": hook.last_event,
                "status": hook.last_status,
                "http_status": hook.last_http_status,
                "error": hook.last_error,
                "attempts": hook.last_attempts or 0,
                "at": hook.last_attempt_at,
            }
        )
    return WebhookPublic(
        url=hook.url, created_at=hook.created_at, updated_at=hook.updated_at, last_delivery=delivery
    )


async def get_webhook(session: AsyncSession, owner_id: uuid.UUID) -> WebhookPublic:
    """The owner's webhook (404 when none is set)."""
    hook = await repository.webhook_of(session, owner_id)
    if hook is None:
        raise NotFoundError("no webhook is set")
    return _webhook_public(hook)


async def set_webhook(
    session: AsyncSession,
    settings: CloudSettings,
    egress: Egress,
    owner_id: uuid.UUID,
    body: WebhookIn,
) -> WebhookPublic | WebhookWithSecret:
    """Set the webhook URL; a new webhook gets a signing secret, returned this once."""
    url = str(body.url)
    await check_webhook_url(url, settings, egress)
    hook = await repository.webhook_of(session, owner_id)
    now = datetime.now(UTC)
    if hook is not None:
        hook.url = url
        hook.updated_at = now
        await session.flush()
        return _webhook_public(hook)
    hook = Webhook(
        owner_id=owner_id, url=url, secret=signing.new_secret(), created_at=now, updated_at=now
    )
    session.add(hook)
    await session.flush()
    return WebhookWithSecret(**_webhook_public(hook).model_dump(), secret=hook.secret)


async def rotate_webhook_secret(session: AsyncSession, owner_id: uuid.UUID) -> WebhookWithSecret:
    """Replace the signing secret (the old one stops working at once); returned this once."""
    hook = await repository.webhook_of(session, owner_id)
    if hook is None:
        raise NotFoundError("no webhook is set")
    hook.secret = signing.new_secret()
    hook.updated_at = datetime.now(UTC)
    await session.flush()
    return WebhookWithSecret(**_webhook_public(hook).model_dump(), secret=hook.secret)


async def clear_webhook(session: AsyncSession, owner_id: uuid.UUID) -> None:
    """Remove the webhook; queued deliveries find it gone and stop."""
    if not await repository.delete_webhook(session, owner_id):
        raise NotFoundError("no webhook is set")
