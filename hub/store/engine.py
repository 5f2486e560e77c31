"""Async SQLAlchemy engines over the hub's SQLite file: one for the writer, one for readers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry


def create_engine(path: Path, *, writer: bool, synchronous: str = "FULL") -> AsyncEngine:
    """An aiosqlite engine. The writer engine holds one connection and begins IMMEDIATE
    transactions; reader connections are ``query_only`` so nothing but the writer can write.

    ``synchronous=FULL`` in WAL mode fsyncs the WAL on every commit, so a reading the hub
    acknowledged survives a power cut, not only a process kill; batching amortises the fsync.
    """
    engine = create_async_engine(
        f"sqlite+aiosqlite:///{path}",
        # A Pi serves a handful of LAN clients: few reader connections keep threads and page
        # caches (2 MiB each) down.
        pool_size=1 if writer else 2,
        max_overflow=0 if writer else 2,
        pool_timeout=60,
    )

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
        # Take over transaction control from pysqlite so SAVEPOINT and BEGIN IMMEDIATE work.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        if not writer:
            cursor.execute("PRAGMA query_only=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if writer else "BEGIN")

    return engine
