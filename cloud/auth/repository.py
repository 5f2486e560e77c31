"""Identity queries."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import psycopg
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from cloud.auth.models import DeviceAuthorization, Hub, LoginFailure, RefreshToken, User
from cloud.pagination import Keyset, Page, PageRequest, SortKey, page_of


async def user_by_email(session: AsyncSession, email: str) -> User | None:
    """The user with this (lower-cased) email."""
    return await session.scalar(select(User).where(col(User.email) == email))


async def user_by_id(session: AsyncSession, user_id: uuid.UUID) -> User | None:
    """The user with this id."""
    return await session.get(User, user_id)


async def password_changed_at(
    conn: psycopg.AsyncConnection[Any], user_id: uuid.UUID
) -> datetime | None:
    """When the user last changed their password; None when there is no such user."""
    cursor = await conn.execute("SELECT password_changed_at FROM users WHERE id = %s", (user_id,))
    row = await cursor.fetchone()
    return row[0] if row else None


async def refresh_token_for_update(session: AsyncSession, token_hash: str) -> RefreshToken | None:
    """The refresh token row with this hash, locked against concurrent rotation."""
    return await session.scalar(
        select(RefreshToken).where(col(RefreshToken.token_hash) == token_hash).with_for_update()
    )


async def revoke_family(session: AsyncSession, family_id: uuid.UUID, now: datetime) -> None:
    """Revoke every token of a login's rotation chain."""
    await session.execute(
        update(RefreshToken)
        .where(col(RefreshToken.family_id) == family_id, col(RefreshToken.revoked_at).is_(None))
        .values(revoked_at=now)
    )


async def revoke_user_tokens(session: AsyncSession, user_id: uuid.UUID, now: datetime) -> None:
    """Revoke every refresh token of a user."""
    await session.execute(
        update(RefreshToken)
        .where(col(RefreshToken.user_id) == user_id, col(RefreshToken.revoked_at).is_(None))
        .values(revoked_at=now)
    )


async def count_login_failures(
    session: AsyncSession, email: str, since: datetime, client_ip: str | None = None
) -> tuple[int, datetime | None, datetime | None]:
    """How many failures (and the oldest and newest) for this account since ``since``, from
    ``client_ip`` only or, when it is None, from every address."""
    query = select(
        func.count(), func.min(col(LoginFailure.failed_at)), func.max(col(LoginFailure.failed_at))
    ).where(col(LoginFailure.email) == email, col(LoginFailure.failed_at) >= since)
    if client_ip is not None:
        query = query.where(col(LoginFailure.client_ip) == client_ip)
    row = (await session.execute(query)).one()
    return int(row[0]), row[1], row[2]


async def has_active_login(
    session: AsyncSession, user_id: uuid.UUID, client_ip: str, now: datetime
) -> bool:
    """Whether a usable refresh token of the user was issued to this address."""
    found = await session.scalar(
        select(col(RefreshToken.id))
        .where(
            col(RefreshToken.user_id) == user_id,
            col(RefreshToken.client_ip) == client_ip,
            col(RefreshToken.revoked_at).is_(None),
            col(RefreshToken.rotated_at).is_(None),
            col(RefreshToken.expires_at) > now,
        )
        .limit(1)
    )
    return found is not None


async def lock_account_logins(session: AsyncSession, email: str) -> None:
    """Serialise login attempts on one account until the transaction ends."""
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
        {"key": f"login:{email}"},
    )


async def clear_login_failures(
    session: AsyncSession, email: str, client_ip: str, before: datetime | None = None
) -> None:
    """Forget this pair's failures: all of them (after a successful login) or those older
    than ``before`` (outside the window, so the table does not grow without bound)."""
    query = delete(LoginFailure).where(
        col(LoginFailure.email) == email, col(LoginFailure.client_ip) == client_ip
    )
    if before is not None:
        query = query.where(col(LoginFailure.failed_at) < before)
    await session.execute(query)


async def device_by_code_hash(session: AsyncSession, code_hash: str) -> DeviceAuthorization | None:
    """The device authorization for a device code, locked for the poll."""
    return await session.scalar(
        select(DeviceAuthorization)
        .where(col(DeviceAuthorization.device_code_hash) == code_hash)
        .with_for_update()
    )


async def device_by_user_code(session: AsyncSession, user_code: str) -> DeviceAuthorization | None:
    """The device authorization showing this user code, locked for approval."""
    return await session.scalar(
        select(DeviceAuthorization)
        .where(col(DeviceAuthorization.user_code) == user_code)
        .with_for_update()
    )


async def active_hub_by_token_hash(session: AsyncSession, token_hash: str) -> Hub | None:
    """The linked, unrevoked hub holding this token."""
    return await session.scalar(
        select(Hub).where(col(Hub.token_hash) == token_hash, col(Hub.revoked_at).is_(None))
    )


# The hubs holding any of these tokens (linked, not revoked), for the hot sync routes: their
# ids in one statement on the raw connection for all the requests that queued meanwhile, each
# hub's last_seen_at moved when it is ``%(every_s)s`` old (as ``service.touch_hub`` does).
HUB_CALLERS_SQL = """
WITH hub AS (
    SELECT id, owner_id, token_hash, last_seen_at FROM hubs
    WHERE token_hash = ANY(string_to_array(%(token_hashes)s, ',')) AND revoked_at IS NULL
), touched AS (
    UPDATE hubs SET last_seen_at = %(now)s FROM hub
    WHERE hubs.id = hub.id AND (hub.last_seen_at IS NULL
          OR hub.last_seen_at <= %(now)s - make_interval(secs => %(every_s)s))
    RETURNING 1
)
SELECT token_hash, id, owner_id FROM hub
"""


async def hub_callers_by_token_hashes(
    conn: psycopg.AsyncConnection[Any], token_hashes: list[str], now: datetime, every_s: int
) -> dict[str, tuple[uuid.UUID, uuid.UUID]]:
    """(id, owner id) by token hash of the linked, unrevoked hubs holding these tokens; marks
    them seen."""
    async with conn.cursor() as cur:
        await cur.execute(
            HUB_CALLERS_SQL,
            # Hex digests joined: one text parameter (psycopg dumps a list element by element).
            {"token_hashes": ",".join(token_hashes), "now": now, "every_s": every_s},
        )
        return {row[0]: (row[1], row[2]) for row in await cur.fetchall()}


# Logins, most recently active first (a family has one live token: the key is unique).
SESSION_ORDER = Keyset(
    (
        SortKey(col(RefreshToken.created_at), datetime, "desc"),
        SortKey(col(RefreshToken.family_id), uuid.UUID),
    )
)
SessionRow = tuple[uuid.UUID, datetime, datetime, datetime, str | None]


async def active_sessions(
    session: AsyncSession, user_id: uuid.UUID, now: datetime, page: PageRequest
) -> Page[SessionRow]:
    """A page of (family, started, last active, expires, user agent) of each live login."""
    family = RefreshToken.__table__.alias("family")  # type: ignore[attr-defined]
    started = (
        select(func.min(family.c.created_at))
        .where(family.c.family_id == col(RefreshToken.family_id))
        .scalar_subquery()
    )
    statement = select(
        col(RefreshToken.family_id),
        started,
        col(RefreshToken.created_at),
        col(RefreshToken.expires_at),
        col(RefreshToken.user_agent),
    ).where(
        col(RefreshToken.user_id) == user_id,
        col(RefreshToken.revoked_at).is_(None),
        col(RefreshToken.rotated_at).is_(None),
        col(RefreshToken.expires_at) > now,
    )
    rows = await session.execute(SESSION_ORDER.page(statement, page))
    found: list[SessionRow] = [(r[0], r[1], r[2], r[3], r[4]) for r in rows.all()]
    return page_of(found, page, SESSION_ORDER, lambda row: (row[2], row[0]))


async def user_owns_live_family(
    session: AsyncSession, user_id: uuid.UUID, family_id: uuid.UUID, now: datetime
) -> bool:
    """Whether ``family_id`` is a live login of this user."""
    found = await session.scalar(
        select(func.count()).where(
            col(RefreshToken.user_id) == user_id,
            col(RefreshToken.family_id) == family_id,
            col(RefreshToken.revoked_at).is_(None),
            col(RefreshToken.rotated_at).is_(None),
            col(RefreshToken.expires_at) > now,
        )
    )
    return bool(found)
