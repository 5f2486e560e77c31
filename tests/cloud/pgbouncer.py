"""Debian's PgBouncer in front of the tests' embedded PostgreSQL, in transaction mode.

The pool is deliberately small (``SERVER_POOL_SIZE`` server connections per database) so the
app's connections (session engine + read pool) and concurrent requests outnumber it: a
statement that depends on session state, or a server-side prepared statement, then lands on
a server connection another client prepared or set, which is exactly how production breaks.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from cloud.db.embedded import EmbeddedPostgres

SERVER_POOL_SIZE = 2
PGBOUNCER = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"


class PgBouncerMissingError(RuntimeError):
    """Debian's pgbouncer is not installed (apt-get install pgbouncer; .ci/run does)."""


@dataclass(frozen=True)
class PgBouncer:
    """A running PgBouncer: where it listens and its log."""

    port: int
    log: Path

    def url_for(self, direct_url: str) -> str:
        """The URL of ``direct_url``'s database through this PgBouncer (TCP on loopback)."""
        parsed = make_url(direct_url)
        return f"postgresql://{parsed.username}@127.0.0.1:{self.port}/{parsed.database}"

    def log_tail(self, lines: int = 30) -> str:
        """The end of PgBouncer's log (shown when a test through it fails)."""
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no pgbouncer log)"


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_listening(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"pgbouncer exited ({process.returncode}):\n{log.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"pgbouncer did not listen on {port} within 30 s")


@contextmanager
def run_pgbouncer(
    server: EmbeddedPostgres, *, pool_mode: str = "transaction", pool_size: int = SERVER_POOL_SIZE
) -> Iterator[PgBouncer]:
    """Start PgBouncer (ini + userlist in a temporary dir) for every database of ``server``."""
    if not Path(PGBOUNCER).exists():
        raise PgBouncerMissingError(f"{PGBOUNCER} not found: apt-get install pgbouncer")
    socket_dir = make_url(server.uri("postgres")).query["host"]
    root = Path(tempfile.mkdtemp(prefix="plantvita-test-pgbouncer-"))
    port = free_port()
    log = root / "pgbouncer.log"
    (root / "userlist.txt").write_text('"postgres" ""\n')
    (root / "pgbouncer.ini").write_text(
        "[databases]\n"
        f"* = host={socket_dir} port=5432\n"
        "[pgbouncer]\n"
        "listen_addr = 127.0.0.1\n"
        f"listen_port = {port}\n"
        "unix_socket_dir =\n"
        "auth_type = trust\n"
        "stats_users = postgres\n"  # the admin console's SHOW STATS (tests count transactions)
        f"auth_file = {root / 'userlist.txt'}\n"
        f"pool_mode = {pool_mode}\n"
        f"default_pool_size = {pool_size}\n"
        "max_client_conn = 1000\n"
        # A client stuck waiting for a server connection fails the test instead of hanging.
        "query_wait_timeout = 30\n"
        f"logfile = {log}\n"
        "log_connections = 0\n"
        "log_disconnections = 0\n"
    )
    command = [PGBOUNCER, str(root / "pgbouncer.ini")]
    if os.geteuid() == 0:
        # PgBouncer refuses to run as root: run it as the embedded server's system user.
        owner = pwd.getpwuid(server.pgdata.stat().st_uid)
        os.chown(root, owner.pw_uid, owner.pw_gid)
        for path in root.iterdir():
            os.chown(path, owner.pw_uid, owner.pw_gid)
        command[1:1] = ["-u", owner.pw_name]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        _wait_listening(port, process, log)
        yield PgBouncer(port=port, log=log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(root, ignore_errors=True)
