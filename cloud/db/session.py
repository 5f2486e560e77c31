"""The request's session: it owns the transaction (commit at the end, rollback on error)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

import psycopg
from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from cloud.errors import CloudError, OAuthProtocolError


def get_engine(request: Request) -> AsyncEngine:
    """The engine the lifespan built."""
    engine: AsyncEngine = request.app.state.engine
    return engine


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """Yield a session; commit when the handler returns, roll back when it raises.

    A ``CloudError``/``OAuthProtocolError`` with ``keep_changes`` commits what was flushed
    (a counted login failure, a device poll time) before the error goes out.
    """
    async with AsyncSession(get_engine(request), expire_on_commit=False) as session:
        try:
            yield session
        except (CloudError, OAuthProtocolError) as exc:
            if exc.keep_changes:
                await session.commit()
            else:
                await session.rollback()
            raise
        except BaseException:
            await session.rollback()
            raise
        else:
            await session.commit()


# "function" scope: the transaction commits before the response is sent, so a 2xx means stored.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
EngineDep = Annotated[AsyncEngine, Depends(get_engine)]


async def raw_connection(session: AsyncSession) -> psycopg.AsyncConnection[tuple[object, ...]]:
    """The psycopg connection under the session's transaction (for COPY and set-based SQL)."""
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver = raw.driver_connection
    assert isinstance(driver, psycopg.AsyncConnection)
    return driver
