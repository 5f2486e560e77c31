"""The digest's queries: who opted in, the once-per-day claim, the rows kept."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from cloud.auth.models import User
from cloud.notifications.models import EmailDigest, NotificationPreference
from cloud.notifications.preferences import DAILY_DIGEST


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
