"""The online conversion of an unpartitioned database holding a million readings into monthly
partitions, while hubs keep pushing batches through the sync API: no reading lost or
duplicated, rollups of what was ingested meanwhile still equal to their raw rows, a delete
during the copy not undone by it.

Slow (it loads a million rows): marked ``scale``, run by ``make test-scale``.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import psycopg
import pytest
from alembic import command
from alembic.script import ScriptDirectory

from cloud.db.embedded import EmbeddedPostgres
from cloud.db.engine import libpq_url
from cloud.db.migrations import alembic_config
from cloud.db.partitions import conversion_pending, finish_conversion
from cloud.telemetry.models import METRICS
from shared.sync import SYNC_READINGS_PATH
from tests.cloud.conftest import create_database, drop_database
from tests.cloud.factories import create_hub, create_node, create_user

pytestmark = [pytest.mark.scale, pytest.mark.slow]

NODES = 1000
PER_NODE = 1000  # one a minute: 1M rows in all
START = (datetime.now(UTC) - timedelta(days=20)).replace(second=0, microsecond=0)
OWNER = uuid.uuid4()
DELETED = uuid.UUID(int=7)  # a preloaded node whose readings are deleted during the copy
BIG_SEQ = 4_294_966_000  # u32 numbers past 2**31 survive the int4 column


def _before_partitions() -> str:
    script = ScriptDirectory.from_config(alembic_config())
    down = script.get_revision("0310").down_revision
    assert isinstance(down, str)
    return down


def _fingerprint(conn: psycopg.Connection[Any], where: str) -> tuple[int, int]:
    row = conn.execute(
        "SELECT count(*), coalesce(sum(hashtextextended(node_id::text || "
        f"measured_at::text || coalesce(moisture, -1)::text, 0)), 0) FROM readings WHERE {where}"
    ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


@pytest.fixture
def old_database(pg_server: EmbeddedPostgres) -> Iterator[str]:
    """A database before revision 0310 with a million readings and their hourly rollups."""
    name = create_database(pg_server, None)
    url = pg_server.uri(name)
    command.upgrade(alembic_config(url), _before_partitions())
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        conn.execute("SET timezone = 'UTC'")
        # Arrival order: every minute, each node's reading.
        conn.execute(
            """INSERT INTO readings (node_id, measured_at, owner_id, seq, source, moisture,
                                     temperature)
               SELECT uuid_in(lpad(to_hex(n), 32, '0')::cstring), %s + i * interval '1 minute',
                      %s, CASE WHEN n = 1 THEN %s + i ELSE i END, 0, (n + i) %% 100, 20
               FROM generate_series(0, %s - 1) AS i, generate_series(1, %s) AS n
               ORDER BY i""",
            (START, OWNER, BIG_SEQ, PER_NODE, NODES),
        )
        columns = ", ".join(f"{m}_count, {m}_min, {m}_max, {m}_sum" for m in METRICS)
        aggregates = ", ".join(f"count({m}), min({m}), max({m}), sum({m}::float8)" for m in METRICS)
        conn.execute(
            f"""INSERT INTO readings_hourly (node_id, bucket, owner_id, n, {columns})
                SELECT node_id, date_trunc('hour', measured_at), owner_id, count(*), {aggregates}
                FROM readings GROUP BY 1, 2, 3"""
        )
    yield url
    drop_database(pg_server, name)


@pytest.fixture
def database_url(old_database: str) -> str:
    """The app's database: the old one taken to head, which leaves the copy pending."""
    command.upgrade(alembic_config(old_database), "head")
    return old_database


async def test_online_conversion_loses_and_duplicates_nothing_while_ingest_goes_on(
    client: httpx.AsyncClient, database_url: str
) -> None:
    url = libpq_url(database_url)
    assert conversion_pending(url)
    with psycopg.connect(url) as conn:
        preloaded = _fingerprint(conn, f"node_id <> '{DELETED}'")
        deleted_rows = _fingerprint(conn, f"node_id = '{DELETED}'")[0]
    assert preloaded[0] + deleted_rows == NODES * PER_NODE

    user = await create_user(client)
    hub = await create_hub(client, user)
    nodes = [await create_node(client, user, hub=hub) for _ in range(8)]
    copy = asyncio.create_task(asyncio.to_thread(finish_conversion, url, batch=50_000))
    accepted = 0
    batches = 0
    now = datetime.now(UTC) - timedelta(hours=6)
    while not copy.done() or batches < 5:
        items = [
            {
                "node_mac": node["mac"],
                "measured_at": (now + timedelta(seconds=batches * 60 + k)).isoformat(),
                "seq": batches * 5 + k,
                "moisture": 30.0 + k,
                "temperature": 21.5,
            }
            for node in nodes
            for k in range(5)
        ]
        body = orjson.dumps({"batch_id": str(uuid.uuid4()), "readings": items})
        response = await client.post(
            SYNC_READINGS_PATH,
            content=body,
            headers={**hub.headers, "Content-Type": "application/json"},
        )
        assert response.status_code == 200, response.text
        assert response.json()["rejected"] == []
        accepted += response.json()["accepted"]
        batches += 1
        if batches == 3:  # a node deleted while its rows are being copied
            with psycopg.connect(url) as conn:
                conn.execute("DELETE FROM readings WHERE node_id = %s", (DELETED,))
        await asyncio.sleep(0.05)
    report = await copy
    assert batches >= 5
    assert report.copied["readings"] >= preloaded[0]  # the copy may go over mirrored rows too

    with psycopg.connect(url) as conn:
        conn.execute("SET timezone = 'UTC'")
        relkind = conn.execute("SELECT relkind FROM pg_class WHERE relname = 'readings'")
        assert relkind.fetchone() == ("p",)
        leftovers = conn.execute(
            "SELECT relname FROM pg_class WHERE relname LIKE '%%\\_next' "
            "UNION ALL SELECT tgname FROM pg_trigger WHERE tgname LIKE '%%mirror%%'"
        ).fetchall()
        assert leftovers == []
        ingest_nodes = ", ".join(f"'{node['id']}'" for node in nodes)
        # Every preloaded reading once, byte for byte; the deleted node's stay deleted.
        assert _fingerprint(conn, f"node_id NOT IN ({ingest_nodes})") == preloaded
        assert _fingerprint(conn, f"node_id = '{DELETED}'")[0] == 0
        # Every reading ingested meanwhile once.
        assert _fingerprint(conn, f"node_id IN ({ingest_nodes})")[0] == accepted
        big = conn.execute(
            "SELECT max(seq::bigint & 4294967295) FROM readings WHERE node_id = %s",
            (uuid.UUID(int=1),),
        ).fetchone()
        assert big == (BIG_SEQ + PER_NODE - 1,)
        # Rollups of the ingested rows equal their raw rows (built through the mirror too).
        mismatched = conn.execute(
            f"""SELECT count(*) FROM (
                   SELECT node_id, date_trunc('hour', measured_at) AS bucket, count(*) AS n,
                          sum(moisture::float8) AS total
                   FROM readings WHERE node_id IN ({ingest_nodes}) GROUP BY 1, 2) AS raw
                FULL JOIN (SELECT node_id, bucket, n, moisture_sum FROM readings_hourly
                           WHERE node_id IN ({ingest_nodes})) AS h USING (node_id, bucket)
                WHERE raw.n IS DISTINCT FROM h.n OR raw.total IS DISTINCT FROM h.moisture_sum"""
        ).fetchone()
        assert mismatched == (0,)
        hourly = conn.execute(
            "SELECT count(*) FROM readings_hourly WHERE node_id NOT IN "
            f"({ingest_nodes}, '{DELETED}')"
        ).fetchone()
        assert hourly is not None
        assert hourly[0] >= (NODES - 1) * (PER_NODE // 60)
    # The history API reads the converted table.
    history = await client.get(
        f"/api/v1/nodes/{nodes[0]['id']}/readings",
        params={"start": (now - timedelta(minutes=1)).isoformat()},
        headers=user.headers,
    )
    assert history.status_code == 200, history.text
    assert sum(point["count"] for point in history.json()["points"]) == batches * 5
