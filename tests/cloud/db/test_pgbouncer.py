"""The cloud through Debian's PgBouncer in transaction mode, clients outnumbering servers.

The ingest, history, auth and API modules run each test both ways (``both_database_routes``);
this module holds what only the pooler shows: concurrency well past the server pool (every
client's statements on two server connections), why the settings are what they are, and the
checks that refuse a set-up that would break behind it.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import psycopg
import pytest
from fastapi import FastAPI
from psycopg import errors, sql
from pydantic import ValidationError
from sqlalchemy.engine import make_url

from cloud.app import create_app
from cloud.db.engine import libpq_url
from cloud.db.migrations import SessionDefaultsError
from cloud.settings import CloudSettings
from shared.sync import SYNC_READINGS_PATH
from tests.cloud.factories import create_hub, create_node, create_plant, create_user
from tests.cloud.pgbouncer import SERVER_POOL_SIZE, PgBouncer
from tests.lifespan import LifespanManager

START = datetime(2026, 4, 1, tzinfo=UTC)
CONCURRENT = 24  # requests at once: the app holds 7 connections, PgBouncer 2 server ones


@pytest.fixture
def database_route() -> str:
    """Every test here runs through PgBouncer."""
    return "pgbouncer"


def server_transactions(bouncer: PgBouncer, database: str) -> int:
    """Transactions PgBouncer served for ``database`` (its admin console's SHOW STATS)."""
    admin = f"postgresql://postgres@127.0.0.1:{bouncer.port}/pgbouncer"
    with psycopg.connect(admin, autocommit=True, prepare_threshold=None) as conn:
        cur = conn.cursor()
        cur.execute("SHOW STATS")
        names = [column.name for column in cur.description or ()]
        for row in cur.fetchall():
            stats = dict(zip(names, row, strict=True))
            if stats["database"] == database:
                return int(stats["total_xact_count"])
    return 0


async def test_concurrent_flows_share_two_server_connections(
    client: httpx.AsyncClient, settings: CloudSettings, pgbouncer: PgBouncer
) -> None:
    user = await create_user(client)
    hub = await create_hub(client, user)
    nodes = [await create_node(client, user, hub=hub) for _ in range(4)]
    plants = [
        await create_plant(client, user, f"Plant {i}", node=node) for i, node in enumerate(nodes)
    ]

    async def sync(index: int) -> httpx.Response:
        node = nodes[index % len(nodes)]
        items = [
            {
                "node_mac": node["mac"],
                "measured_at": (START + timedelta(minutes=40 * index + m)).isoformat(),
                "moisture": 30.0 + m % 9,
                "temperature": 21.0,
            }
            for m in range(40)
        ]
        body = orjson.dumps({"batch_id": str(uuid.uuid4()), "readings": items})
        return await client.post(
            SYNC_READINGS_PATH,
            content=body,
            headers={**hub.headers, "Content-Type": "application/json"},
        )

    # Each statement shape runs far more than psycopg's prepare threshold (5) on every client
    # connection: with server-side prepares, one of them would hit another's _pg3_N.
    synced = await asyncio.gather(*(sync(i) for i in range(CONCURRENT)))
    assert [r.status_code for r in synced] == [200] * CONCURRENT, synced[0].text
    assert sum(r.json()["accepted"] for r in synced) == CONCURRENT * 40

    async def read(index: int) -> httpx.Response:
        plant = plants[index % len(plants)]
        path = [
            f"/api/v1/plants/{plant['id']}/readings",
            "/api/v1/readings/latest",
            f"/api/v1/plants/{plant['id']}/readings/latest",
            f"/api/v1/plants/{plant['id']}/status",
            "/api/v1/garden",
            f"/api/v1/plants/{plant['id']}/readings.csv",
        ][index % 6]
        window = {"start": START.isoformat(), "end": (START + timedelta(days=2)).isoformat()}
        params = window if index % 6 in (0, 5) else {}
        return await client.get(path, params=params, headers=user.headers)

    reads = await asyncio.gather(*(read(i) for i in range(CONCURRENT * 2)))
    assert [r.status_code for r in reads] == [200] * len(reads), [
        r.text for r in reads if r.status_code != 200
    ][:1]
    history = reads[0].json()
    assert history["resolution"] == "raw"
    assert len(history["points"]) == 40 * CONCURRENT // len(nodes)
    assert history["points"][0]["t"].endswith("Z")  # the role's default time zone: UTC
    assert len(reads[1].json()) == len(plants)
    # The CSV streams every reading of the plant's node in the window.
    assert reads[5].text.count("\n") == 1 + 40 * CONCURRENT // len(nodes)

    database = make_url(str(settings.database_url)).database or ""
    assert server_transactions(pgbouncer, database) > CONCURRENT * 3


async def test_read_pool_refuses_writes_per_transaction(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    """Behind the pooler the read-only guard is BEGIN READ ONLY, not a session setting (which
    would leak to the next client of the server connection)."""
    # Pipelined: the refusal arrives with the block's COMMIT.
    with pytest.raises(errors.ReadOnlySqlTransaction):
        async with app.state.read_database.connection() as conn:
            await conn.execute("CREATE TABLE written_through_the_read_pool (id int)")
    # The session engine on the same two server connections still writes.
    user = await create_user(client)
    assert (await create_plant(client, user, "Still writable"))["name"] == "Still writable"


def _rounds(clients: list[psycopg.Connection[Any]], rounds: int) -> list[int]:
    """The same statement ``rounds`` times on each client in turn (psycopg prepares at 5)."""
    answers = []
    for attempt in range(rounds):
        for conn in clients:
            row = conn.execute("SELECT %s::int", (attempt,)).fetchone()
            answers.append(row[0] if row else -1)
    return sorted(answers)


def test_default_prepared_statements_collide_behind_the_pooler(
    pgbouncer: PgBouncer, database_url: str
) -> None:
    """Why ``db_transaction_pooler`` turns psycopg's server-side prepares off (PgBouncer 1.18,
    Debian bookworm's, predates ``max_prepared_statements``)."""
    url = pgbouncer.url_for(database_url)
    clients = [psycopg.connect(url, autocommit=True) for _ in range(SERVER_POOL_SIZE + 1)]
    try:
        with pytest.raises(errors.DuplicatePreparedStatement):
            _rounds(clients, 6)
    finally:
        for conn in clients:
            conn.close()
    unprepared = [
        psycopg.connect(url, autocommit=True, prepare_threshold=None)
        for _ in range(SERVER_POOL_SIZE + 1)
    ]
    try:
        assert _rounds(unprepared, 6) == sorted(list(range(6)) * len(unprepared))
    finally:
        for conn in unprepared:
            conn.close()


def test_startup_options_are_refused_by_the_pooler(pgbouncer: PgBouncer, database_url: str) -> None:
    """Why the time zone is the role's default (migration 0320), not ``options``."""
    with pytest.raises(psycopg.OperationalError, match="unsupported startup parameter"):
        psycopg.connect(pgbouncer.url_for(database_url), options="-c timezone=UTC")


def test_a_transaction_pooler_needs_a_direct_url_for_the_worker(database_url: str) -> None:
    with pytest.raises(ValidationError, match="DATABASE_DIRECT_URL"):
        CloudSettings(database_url=database_url, db_transaction_pooler=True)


async def test_start_refuses_sessions_not_in_utc(
    settings: CloudSettings, database_url: str
) -> None:
    """A serving role without the UTC default would shift every JSON instant: refuse to start,
    saying what to run."""
    database = make_url(database_url).database
    with psycopg.connect(libpq_url(database_url), autocommit=True) as conn:
        conn.execute(
            sql.SQL("ALTER ROLE CURRENT_USER IN DATABASE {} SET timezone TO 'Europe/Paris'").format(
                sql.Identifier(database)
            )
        )
    try:
        with pytest.raises(SessionDefaultsError, match="SET timezone TO 'UTC'"):
            async with LifespanManager(create_app(settings)):
                pass
    finally:
        with psycopg.connect(libpq_url(database_url), autocommit=True) as conn:
            conn.execute(
                sql.SQL("ALTER ROLE CURRENT_USER IN DATABASE {} RESET timezone").format(
                    sql.Identifier(database)
                )
            )


def test_migration_sets_the_time_zone_on_the_role(database_url: str) -> None:
    """Migration 0320 gives the migrating role the UTC default, and nothing else."""
    with psycopg.connect(libpq_url(database_url)) as conn:
        row = conn.execute(
            "SELECT array_to_string(setconfig, ',') FROM pg_db_role_setting "
            "WHERE setrole = (SELECT oid FROM pg_roles WHERE rolname = current_user) "
            "AND setdatabase = 0"
        ).fetchone()
    assert row is not None
    role_defaults: Any = row[0]
    assert role_defaults.lower() == "timezone=utc"
