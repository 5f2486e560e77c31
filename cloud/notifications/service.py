"""Notification logic: the user's webhook settings, and one delivery attempt of a queued
event on its channel (loading the subject, recording the outcome, deciding on a retry)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import httpx
import structlog
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from cloud.egress import Egress, EgressRefused
from cloud.errors import InvalidRequestError, NotFoundError
from cloud.jobs.queue import backoff
from cloud.notifications import repository, signing
from cloud.notifications.models import PushSubscription, Webhook
from cloud.notifications.ports import (
    Channel,
    DeliveryStatus,
    Notice,
    Outcome,
    SubjectLoader,
    Undelivered,
)
from cloud.notifications.preferences import DAILY_DIGEST, EVENTS
from cloud.notifications.schemas import (
    NamedItem,
    Preferences,
    PreferencesUpdate,
    PushKey,
    PushSubscriptionIn,
    PushSubscriptionPublic,
    WebhookDelivery,
    WebhookIn,
    WebhookPublic,
    WebhookWithSecret,
)
from cloud.notifications.vapid import application_server_key
from cloud.pagination import Page, PageRequest
from cloud.settings import CloudSettings, Environment

if TYPE_CHECKING:
    from py_vapid import Vapid

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


# --- Web Push subscriptions and preferences ------------------------------------------------------

CHANNEL_LABELS = {"push": "Push", "email": "E-mail", "webhook": "Webhook"}  # in this order


def push_key(vapid: Vapid | None) -> PushKey:
    """The server's public key; 404 when Web Push is not configured."""
    if vapid is None:
        raise NotFoundError("Web Push is not configured on this server")
    return PushKey(public_key=application_server_key(vapid))


def _subscription_public(sub: PushSubscription) -> PushSubscriptionPublic:
    return PushSubscriptionPublic(
        id=sub.id,
        push_service=httpx.URL(sub.endpoint).host,
        user_agent=sub.user_agent,
        created_at=sub.created_at,
        last_status=sub.last_status,
        last_error=sub.last_error,
        last_attempt_at=sub.last_attempt_at,
    )


async def subscribe_push(
    session: AsyncSession,
    settings: CloudSettings,
    egress: Egress,
    owner_id: uuid.UUID,
    body: PushSubscriptionIn,
    user_agent: str | None,
) -> PushSubscriptionPublic:
    """Keep a browser's subscription (a browser re-subscribing under this account moves to it).
    The endpoint must be https on a public host (vetted like a webhook: no SSRF)."""
    endpoint = str(body.endpoint)
    if settings.environment is not Environment.DEVELOPMENT and body.endpoint.scheme != "https":
        raise InvalidRequestError("a push endpoint must use https", details=[{"loc": ["endpoint"]}])
    try:
        await egress.vet_url(endpoint)
    except EgressRefused as refused:
        _log.info("push_endpoint_refused", reason=refused.reason)
        raise InvalidRequestError(
            "the push endpoint must name a host on the public internet",
            details=[{"loc": ["endpoint"]}],
        ) from refused
    sub = await repository.push_subscription_by_endpoint(session, endpoint)
    if sub is None:
        sub = PushSubscription(owner_id=owner_id, endpoint=endpoint, p256dh="", auth="")
        session.add(sub)
    sub.owner_id = owner_id
    sub.p256dh = body.keys.p256dh
    sub.auth = body.keys.auth
    sub.user_agent = user_agent[:200] if user_agent else None
    await session.flush()
    return _subscription_public(sub)


async def list_push(
    session: AsyncSession, owner_id: uuid.UUID, page: PageRequest
) -> Page[PushSubscriptionPublic]:
    """A page of the owner's subscribed browsers, oldest first."""
    subscriptions = await repository.push_subscription_page(session, owner_id, page)
    return subscriptions.map(_subscription_public)


async def unsubscribe_push(session: AsyncSession, owner_id: uuid.UUID, sub_id: uuid.UUID) -> None:
    """Forget one of the owner's browsers (404 for anyone else's)."""
    sub = await session.get(PushSubscription, sub_id)
    if sub is None or sub.owner_id != owner_id:
        raise NotFoundError("no such push subscription")
    await repository.delete_push_subscription(session, sub_id)


def _defaults() -> dict[str, bool]:
    from cloud.notifications.channels import CHANNEL_TYPES

    order = list(CHANNEL_LABELS)
    ordered = sorted(CHANNEL_TYPES, key=lambda c: order.index(c.name) if c.name in order else 99)
    return {c.name: c.default_on for c in ordered}


async def get_preferences(
    session: AsyncSession, settings: CloudSettings, vapid: Vapid | None, owner_id: uuid.UUID
) -> Preferences:
    """Every channel × event choice (explicit ones, else the channel's default)."""
    chosen = await repository.preferences_of(session, owner_id)
    defaults = _defaults()
    available = {"push": vapid is not None, "email": bool(settings.smtp_host), "webhook": True}
    return Preferences(
        channels=[
            NamedItem(
                name=name, label=CHANNEL_LABELS.get(name, name), available=available.get(name, True)
            )
            for name in defaults
        ],
        events=[NamedItem(name=event, label=label) for event, label in EVENTS.items()],
        choices={
            channel: {event: chosen.get((channel, event), default) for event in EVENTS}
            for channel, default in defaults.items()
        },
        email_digest=chosen.get(("email", DAILY_DIGEST), False),
        digest_hour=settings.digest_hour,
    )


async def set_preferences(
    session: AsyncSession,
    settings: CloudSettings,
    vapid: Vapid | None,
    owner_id: uuid.UUID,
    body: PreferencesUpdate,
) -> Preferences:
    """Record the given choices; an unknown channel or event is a 422."""
    defaults = _defaults()
    for channel, events in body.choices.items():
        if channel not in defaults:
            raise InvalidRequestError(f"no such channel: {channel[:40]}")
        for event, enabled in events.items():
            if event not in EVENTS:
                raise InvalidRequestError(f"no such event: {event[:40]}")
            await repository.set_preference(session, owner_id, channel, event, enabled)
    if body.email_digest is not None:
        await repository.set_preference(session, owner_id, "email", DAILY_DIGEST, body.email_digest)
    await session.flush()
    return await get_preferences(session, settings, vapid, owner_id)
