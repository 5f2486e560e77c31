"""Notification queries: the user's webhook."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from cloud.notifications.models import Webhook


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
