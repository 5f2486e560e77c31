"""Notification queries: the user's webhook, push subscriptions, preferences and digests."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from cloud.notifications.models import (
    EmailDigest,
    NotificationPreference,
    PushSubscription,
    Webhook,
)
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
