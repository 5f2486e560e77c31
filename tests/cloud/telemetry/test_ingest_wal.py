"""What a batch writes to the WAL for rows that already exist (pg_walinspect): alert-state rows
are updated without a row-lock record first, raw rows are inserted without a speculative-
insertion confirmation, and a quiet alert state (nothing in breach, nothing open) is not
written at all: the node's last_reading_at is its watermark.

The rollup rows keep their upsert (ON CONFLICT DO UPDATE, a row-lock record before each
update): as an UPDATE … FROM the batch's hours, the planner hashed every partition of the
rollups on each batch, which doubled PostgreSQL's CPU per reading at 2,000 hubs (bench.fleet)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import httpx
import psycopg

from cloud.db.engine import libpq_url
from tests.cloud.factories import create_hub, create_node, create_plant, create_user
from tests.cloud.telemetry.test_ingest import push, reading

# Heap record types per relation (partitions under their parent's name) between two LSNs.
RECORDS = """
SELECT coalesce(p.inhparent, b.relid)::regclass::text AS rel, b.record_type, count(*)
FROM (SELECT DISTINCT start_lsn, record_type,
             pg_filenode_relation(reltablespace, relfilenode) AS relid
      FROM pg_get_wal_block_info(%s::pg_lsn, %s::pg_lsn)
      WHERE reldatabase = (SELECT oid FROM pg_database WHERE datname = current_database())
        AND resource_manager = 'Heap') AS b
LEFT JOIN pg_inherits AS p ON p.inhrelid = b.relid
WHERE b.relid IS NOT NULL
GROUP BY 1, 2
"""
STATES = "SELECT metric, xmin::text FROM alert_states ORDER BY metric"


def _heap_records(conn: psycopg.Connection[Any], start: str) -> dict[tuple[str, str], int]:
    # The test server commits asynchronously: a synchronous commit flushes the WAL to read.
    conn.execute("SET synchronous_commit = on")
    conn.execute("SELECT pg_current_xact_id()")
    end = conn.execute("SELECT pg_current_wal_flush_lsn()::text").fetchone()
    assert end is not None
    return {(rel, kind): n for rel, kind, n in conn.execute(RECORDS, (start, end[0]))}


async def test_a_batch_of_known_rows_writes_no_row_locks_or_insert_confirmations(
    client: httpx.AsyncClient, database_url: str
) -> None:
    user = await create_user(client)
    hub = await create_hub(client, user)
    node = await create_node(client, user, hub=hub)
    await create_plant(client, user, node=node, species_id=1)
    # Dry soil: the moisture state is in breach, so every batch writes it.
    dry = [reading(node["mac"], m, moisture=1.0, temperature=20.0) for m in range(10)]
    first = await push(client, hub, dry[:5])
    assert first.json()["accepted"] == 5
    with psycopg.connect(libpq_url(database_url), autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_walinspect")
        start = conn.execute("SELECT pg_current_wal_insert_lsn()::text").fetchone()
        assert start is not None
        second = await push(client, hub, dry[5:])
        assert second.json()["accepted"] == 5
        records = _heap_records(conn, start[0])
    tables = ("readings", "readings_hourly", "readings_daily", "alert_states")
    written = {rel for rel, _ in records}
    assert set(tables) <= written, records
    unwanted = {key: n for key, n in records.items() if key[0] in ("readings", "alert_states")}
    unwanted = {key: n for key, n in unwanted.items() if key[1] in ("LOCK", "HEAP_CONFIRM")}
    assert unwanted == {}, records


async def test_a_quiet_garden_writes_no_alert_states(
    client: httpx.AsyncClient, database_url: str
) -> None:
    user = await create_user(client)
    hub = await create_hub(client, user)
    node = await create_node(client, user, hub=hub)
    await create_plant(client, user, node=node, species_id=1)
    await push(client, hub, [reading(node["mac"], m) for m in range(5)])
    with psycopg.connect(libpq_url(database_url), autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_walinspect")
        start = conn.execute("SELECT pg_current_wal_insert_lsn()::text").fetchone()
        assert start is not None
        ack = (await push(client, hub, [reading(node["mac"], m) for m in range(5, 10)])).json()
        assert ack["accepted"] == 5
        records = _heap_records(conn, start[0])
        assert "readings" in {rel for rel, _ in records}, records
        assert {key: n for key, n in records.items() if key[0] == "alert_states"} == {}
        metrics = {row[0] for row in conn.execute(STATES).fetchall()}
    assert not metrics & {"moisture", "temperature"}, metrics


async def test_back_filled_readings_are_judged_by_no_state(
    client: httpx.AsyncClient, database_url: str
) -> None:
    """Readings older than the node's newest stored one are stored and rolled up but do not
    start a breach, even for a metric whose quiet state was never written."""
    user = await create_user(client)
    hub = await create_hub(client, user)
    node = await create_node(client, user, hub=hub)
    await create_plant(client, user, node=node, species_id=1)
    await push(client, hub, [reading(node["mac"], m) for m in range(10, 15)])
    with psycopg.connect(libpq_url(database_url), autocommit=True) as conn:
        before = conn.execute(STATES).fetchall()
        dry_past = [reading(node["mac"], m, moisture=1.0, temperature=20.0) for m in range(5)]
        ack = (await push(client, hub, dry_past)).json()
        assert ack["accepted"] == 5
        assert conn.execute(STATES).fetchall() == before
        dry_now = [reading(node["mac"], m, moisture=1.0, temperature=20.0) for m in range(15, 20)]
        await push(client, hub, dry_now, uuid.uuid4())
        after = {
            row[0]: row
            for row in conn.execute(
                "SELECT metric, breach, last_evaluated_at FROM alert_states"
            ).fetchall()
        }
    # The newer dry readings start the moisture breach; its watermark is their newest time.
    assert after["moisture"][1] is not None
    assert after["moisture"][2] == datetime.fromisoformat(dry_now[-1]["measured_at"])
    assert "temperature" not in after
