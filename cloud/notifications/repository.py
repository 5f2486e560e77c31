"""Notification queries: the user's webhook, push subscriptions, preferences and digests."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from cloud.auth.models import User
from cloud.notifications.models import (
    EmailDigest,
    NotificationPreference,
    PushSubscription,
    Webhook,
)
from cloud.notifications.preferences import DAILY_DIGEST
from cloud.pagination import Keyset, Page, PageRequest, SortKey, page_of


async def webhook_of(session: AsyncSession, owner_id: uuid.UUID) -> Webhook | None:
    """The owner's webhook, if set."""
    return await session.get(Webhook, owner_id)


async def delete_webhook(session: AsyncSession, owner_id: uuid.UUID) -> bool:
    """Clear the owner's webhook; False when there was none."""
    result = await session.execute(delete(Webhook).where(col(Webhook.owner_id) == owner_id))
    return bool(getattr(result, "rowcount", 0))


async def record_delivery(
    session: AsyncSession,
    owner_id: uuid.UUID,
    *,
    event_id: uuid.UUID,
    event: str,
    status: str,
    http_status: int | None,
    error: str | None,
    attempts: int,
    at: datetime,
) -> None:
    """Keep the outcome of the latest delivery attempt on the owner's webhook."""
    await session.execute(
        update(Webhook)
        .where(col(Webhook.owner_id) == owner_id)
        .values(
            last_event_id=event_id,
            last_event=event,
            last_status=status,
            last_http_status=http_status,
            last_error=error,
            last_attempts=attempts,
            last_attempt_at=at,
        )
    )


async def push_subscriptions_of(
    session: AsyncSession, owner_id: uuid.UUID
) -> list[PushSubscription]:
    """The owner's subscribed browsers, oldest first."""
    rows = await session.execute(
        select(PushSubscription)
        .where(col(PushSubscription.owner_id) == owner_id)
        .order_by(col(PushSubscription.created_at))
    )
    return list(rows.scalars())


# Oldest first.
SUBSCRIPTION_ORDER = Keyset(
    (
        SortKey(col(PushSubscription.created_at), datetime),
        SortKey(col(PushSubscription.id), uuid.UUID),
    )
)


async def push_subscription_page(
    session: AsyncSession, owner_id: uuid.UUID, page: PageRequest
) -> Page[PushSubscription]:
    """A page of the owner's subscribed browsers, oldest first."""
    statement = select(PushSubscription).where(col(PushSubscription.owner_id) == owner_id)
    rows = (await session.scalars(SUBSCRIPTION_ORDER.page(statement, page))).all()
    return page_of(rows, page, SUBSCRIPTION_ORDER, lambda sub: (sub.created_at, sub.id))


async def push_subscription_by_endpoint(
    session: AsyncSession, endpoint: str
) -> PushSubscription | None:
    """The subscription of this push endpoint (unique across the service)."""
    return await session.scalar(
        select(PushSubscription).where(col(PushSubscription.endpoint) == endpoint)
    )


async def record_push(
    session: AsyncSession,
    sub_id: uuid.UUID,
    event_id: uuid.UUID,
    status: str,
    error: str | None,
    at: datetime,
) -> None:
    """Keep the last push to one browser."""
    await session.execute(
        update(PushSubscription)
        .where(col(PushSubscription.id) == sub_id)
        .values(last_event_id=event_id, last_status=status, last_error=error, last_attempt_at=at)
    )


async def delete_push_subscription(session: AsyncSession, sub_id: uuid.UUID) -> None:
    """Forget a browser's subscription."""
    await session.execute(delete(PushSubscription).where(col(PushSubscription.id) == sub_id))


async def preferences_of(session: AsyncSession, owner_id: uuid.UUID) -> dict[tuple[str, str], bool]:
    """The owner's explicit choices by (channel, event)."""
    rows = await session.execute(
        select(
            col(NotificationPreference.channel),
            col(NotificationPreference.event),
            col(NotificationPreference.enabled),
        ).where(col(NotificationPreference.owner_id) == owner_id)
    )
    return {(r[0], r[1]): bool(r[2]) for r in rows.all()}


async def set_preference(
    session: AsyncSession, owner_id: uuid.UUID, channel: str, event: str, enabled: bool
) -> None:
    """Record one choice (insert or update)."""
    row = await session.get(NotificationPreference, (owner_id, channel, event))
    if row is None:
        session.add(
            NotificationPreference(owner_id=owner_id, channel=channel, event=event, enabled=enabled)
        )
    else:
        row.enabled = enabled


async def digest_subscribers(session: AsyncSession) -> list[tuple[uuid.UUID, str | None]]:
    """(owner id, time zone) of every account that opted into the daily e-mail digest."""
    rows = await session.execute(
        select(col(User.id), col(User.time_zone))
        .join(NotificationPreference, col(NotificationPreference.owner_id) == col(User.id))
        .where(
            col(NotificationPreference.channel) == "email",
            col(NotificationPreference.event) == DAILY_DIGEST,
            col(NotificationPreference.enabled).is_(True),
        )
    )
    return [(row[0], row[1]) for row in rows.all()]


# Claim each (owner, day) once and defer its e-mail delivery in the same statement: a digest
# claimed by another check (another instance, a rerun) is not queued again.
_CLAIM_DIGESTS = """
WITH claimed AS (
    INSERT INTO email_digests (id, owner_id, day, time_zone, queued_at)
    SELECT gen_random_uuid(), d.owner_id, d.day, d.time_zone, now()
    FROM unnest(%(owners)s::uuid[], %(days)s::date[], %(zones)s::text[])
         AS d(owner_id, day, time_zone)
    ON CONFLICT (owner_id, day) DO NOTHING
    RETURNING id, owner_id
)
"""


def claim_digests_sql(defer: str) -> str:
    """The claiming statement, ``defer`` (a ``defer_events_sql`` over ``claimed``) after it."""
    return _CLAIM_DIGESTS + defer


async def prune_digests(session: AsyncSession, before: date) -> None:
    """Forget the digests of days before ``before`` (only yesterday's can still be claimed)."""
    await session.execute(delete(EmailDigest).where(col(EmailDigest.day) < before))


async def digest_of(session: AsyncSession, digest_id: uuid.UUID) -> EmailDigest | None:
    """One digest row."""
    return await session.get(EmailDigest, digest_id)


async def record_digest(
    session: AsyncSession, digest_id: uuid.UUID, status: str, at: datetime
) -> None:
    """How the digest's delivery went (sent_at once delivered)."""
    digest = await session.get(EmailDigest, digest_id)
    if digest is None:
        return
    digest.status = status
    if status == "delivered":
        digest.sent_at = at
