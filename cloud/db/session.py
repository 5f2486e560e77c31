"""The request's session: it owns the transaction (commit at the end, rollback on error)."""

from __future__ import annotations

import select
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import psycopg
from fastapi import Depends, Request
from psycopg_pool import AsyncConnectionPool
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from cloud.db.engine import libpq_url
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


class ReadDatabase:
    """Single-statement reads outside any transaction, on a small psycopg pool of their own.

    A read that is one statement gains nothing from BEGIN/COMMIT: in autocommit it costs one
    round trip instead of three, and skipping SQLAlchemy's session, connection wrapper and
    reset-on-return saves about 0.1 ms of CPU per request. The server refuses writes on these
    connections (``default_transaction_read_only``).
    """

    def __init__(self, pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]]) -> None:
        self.pool = pool

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        """A pooled connection in autocommit mode, held only inside the block."""
        async with self.pool.connection() as conn:
            yield conn


async def check_idle_connection(conn: psycopg.AsyncConnection[Any]) -> None:
    """The pool's check on checkout: after a PostgreSQL restart every pooled connection is dead,
    and each request that took one failed with 500. An idle autocommit connection has nothing
    to read unless the server said goodbye (or closed it), so only then does this cost a round
    trip; a dead connection raises and the pool replaces it."""
    readable, _, _ = select.select([conn.pgconn.socket], [], [], 0)
    if readable:
        await AsyncConnectionPool.check_connection(conn)


@asynccontextmanager
async def open_read_database(url: str, size: int) -> AsyncIterator[ReadDatabase]:
    """Open the read pool (``size`` connections, kept open) for the app's lifetime."""
    pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]] = AsyncConnectionPool(
        libpq_url(url),
        min_size=size,
        max_size=size,
        kwargs={
            "autocommit": True,
            "options": "-c timezone=UTC -c default_transaction_read_only=on",
        },
        name="read",
        check=check_idle_connection,
        open=False,
    )
    await pool.open()
    try:
        yield ReadDatabase(pool)
    finally:
        await pool.close()


async def get_read_database(request: Request) -> ReadDatabase:
    """The read path the lifespan built (async: a sync dependency would go to a thread)."""
    database: ReadDatabase = request.app.state.read_database
    return database


# "function" scope: the transaction commits before the response is sent, so a 2xx means stored.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
EngineDep = Annotated[AsyncEngine, Depends(get_engine)]
ReadDatabaseDep = Annotated[ReadDatabase, Depends(get_read_database)]


async def raw_connection(session: AsyncSession) -> psycopg.AsyncConnection[tuple[object, ...]]:
    """The psycopg connection under the session's transaction (for COPY and set-based SQL)."""
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver = raw.driver_connection
    assert isinstance(driver, psycopg.AsyncConnection)
    return driver
