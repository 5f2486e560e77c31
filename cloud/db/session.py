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

from cloud.db.engine import connect_kwargs, libpq_url
from cloud.errors import CloudError, OAuthProtocolError


def engine_of(request: Request) -> AsyncEngine:
    """The engine the lifespan built."""
    engine: AsyncEngine = request.app.state.engine
    return engine


async def get_engine(request: Request) -> AsyncEngine:
    """``engine_of`` as a dependency (async: a plain ``def`` one runs in the thread pool)."""
    return engine_of(request)


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """Yield a session; commit when the handler returns, roll back when it raises.

    A ``CloudError``/``OAuthProtocolError`` with ``keep_changes`` commits what was flushed
    (a counted login failure, a device poll time) before the error goes out.
    """
    async with AsyncSession(engine_of(request), expire_on_commit=False) as session:
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
    connections: by the session default ``default_transaction_read_only`` when connected
    directly; behind a transaction-mode pooler, where a session setting would leak to other
    clients, each block is a pipelined ``BEGIN READ ONLY`` … ``COMMIT`` instead (about
    0.2 ms more CPU). ``name`` says which server it reads (``primary``, ``replica``).
    """

    shares_session = False  # a connection of its own, apart from the request's session

    def __init__(
        self,
        pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]],
        *,
        per_transaction_read_only: bool = False,
        name: str = "primary",
    ) -> None:
        self.pool = pool
        self.per_transaction_read_only = per_transaction_read_only
        self.name = name

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        """A pooled connection in autocommit mode (behind a transaction pooler: inside one
        read-only transaction), held only inside the block."""
        async with self.pool.connection() as conn:
            if not self.per_transaction_read_only:
                yield conn
                return
            async with conn.pipeline(), conn.transaction():
                yield conn


class SessionReads:
    """The read path's interface on the request session's own connection and transaction.

    Behind a transaction-mode pooler, a request that holds its session's transaction (a
    server connection) and then waits for a read-pool connection can deadlock: with every
    server connection held by such requests, no read ever gets one (PgBouncer's
    ``query_wait_timeout`` ends it as an error). Endpoints that read after using their
    session take their reads from here when ``db_transaction_pooler`` is on.
    """

    shares_session = True

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        """The session's psycopg connection (its transaction stays the session's)."""
        yield await raw_connection(self.session)


Reads = ReadDatabase | SessionReads


def reads_for(request: Request, session: AsyncSession) -> Reads:
    """Where a request that also uses ``session`` reads: the read pool when connected
    directly, the session itself behind a transaction-mode pooler (see ``SessionReads``)."""
    if request.app.state.settings.db_transaction_pooler:
        return SessionReads(session)
    database: ReadDatabase = request.app.state.read_database
    return database


async def check_idle_connection(conn: psycopg.AsyncConnection[Any]) -> None:
    """The pool's check on checkout: after a PostgreSQL restart every pooled connection is dead,
    and each request that took one failed with 500. An idle autocommit connection has nothing
    to read unless the server said goodbye (or closed it), so only then does this cost a round
    trip; a dead connection raises and the pool replaces it."""
    readable, _, _ = select.select([conn.pgconn.socket], [], [], 0)
    if readable:
        await AsyncConnectionPool.check_connection(conn)


async def _configure_read_only(conn: psycopg.AsyncConnection[Any]) -> None:
    await conn.set_read_only(True)  # the BEGIN of ``conn.transaction()`` says READ ONLY


@asynccontextmanager
async def open_read_database(
    url: str,
    size: int,
    *,
    transaction_pooler: bool = False,
    name: str = "primary",
    guard_read_only: bool = True,
    timeout_s: float = 30.0,
) -> AsyncIterator[ReadDatabase]:
    """Open the read pool (``size`` connections, kept open) for the app's lifetime;
    ``transaction_pooler``: ``url`` is PgBouncer in transaction mode (no startup options, no
    server-side prepared statements, read-only per transaction); ``guard_read_only`` off for a
    standby, which refuses writes by itself; ``timeout_s`` a read waits for a connection."""
    kwargs: dict[str, Any] = {
        "autocommit": True,
        **connect_kwargs(transaction_pooler=transaction_pooler),
    }
    guard_per_transaction = guard_read_only and transaction_pooler
    if guard_read_only and not transaction_pooler:
        kwargs["options"] = "-c default_transaction_read_only=on"
    pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]] = AsyncConnectionPool(
        libpq_url(url),
        min_size=size,
        max_size=size,
        kwargs=kwargs,
        configure=_configure_read_only if guard_per_transaction else None,
        name=f"read-{name}",
        check=check_idle_connection,
        timeout=timeout_s,
        open=False,
    )
    await pool.open()
    try:
        yield ReadDatabase(pool, per_transaction_read_only=guard_per_transaction, name=name)
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


async def get_session_reads(request: Request, session: SessionDep) -> Reads:
    """``reads_for`` the request's session (async: a sync dependency would go to a thread)."""
    return reads_for(request, session)


# For endpoints that read after using their session (see ``SessionReads``).
SessionReadsDep = Annotated[Reads, Depends(get_session_reads)]


async def raw_connection(session: AsyncSession) -> psycopg.AsyncConnection[tuple[object, ...]]:
    """The psycopg connection under the session's transaction (for COPY and set-based SQL)."""
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver = raw.driver_connection
    assert isinstance(driver, psycopg.AsyncConnection)
    return driver


@asynccontextmanager
async def autocommit_connection(
    engine: AsyncEngine,
) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    """A psycopg connection of the engine's pool in autocommit mode, held only inside the block:
    a single statement costs one round trip, and ``conn.transaction()`` makes a transaction of
    the caller's own (the ingest groups, ``cloud.ingest.group``). Back in autocommit off when
    returned; a connection that cannot be reset is discarded."""
    async with engine.connect() as connection:
        raw = await connection.get_raw_connection()
        driver = raw.driver_connection
        assert isinstance(driver, psycopg.AsyncConnection)
        await driver.set_autocommit(True)
        try:
            yield driver
        finally:
            try:
                await driver.set_autocommit(False)
            except psycopg.Error:
                await connection.invalidate()
