"""Partitions ahead, retention a partition at a time, the batch ledger and resolved alerts
pruned, ingest refusing readings past the raw window, history answering from rollups there."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import orjson
import psycopg
import pytest

from cloud.db.engine import libpq_url
from cloud.db.partitions import (
    COMPACTED,
    MAINTENANCE_LOCK_KEY,
    RetentionPolicy,
    existing_months,
    maintain,
    month_start,
    next_month,
    partition_name,
)
from cloud.settings import CloudSettings
from cloud.telemetry.tasks import maintain_storage_now
from cloud.worker import build_job_app
from shared.sync import SYNC_READINGS_PATH
from tests.cloud.factories import HubAuth, create_hub, create_node, create_user

RAW_DAYS = 40


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"readings_raw_retention_days": RAW_DAYS, "ingest_batch_dedup_days": 7}


async def push(
    client: httpx.AsyncClient, hub: HubAuth, items: list[dict[str, Any]], batch_id: uuid.UUID
) -> dict[str, Any]:
    body = orjson.dumps({"batch_id": str(batch_id), "readings": items})
    response = await client.post(
        SYNC_READINGS_PATH,
        content=body,
        headers={**hub.headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.text
    ack: dict[str, Any] = response.json()
    return ack


def item(mac: str, at: datetime, moisture: float = 40.0) -> dict[str, Any]:
    return {"node_mac": mac, "measured_at": at.isoformat(), "moisture": moisture}


def test_migration_makes_partitions_from_the_default_window_to_two_months_ahead(
    database_url: str,
) -> None:
    today = datetime.now(UTC).date()
    with psycopg.connect(libpq_url(database_url)) as conn:
        for table in ("readings", "readings_hourly"):
            found = existing_months(conn, table)
            assert found[0] == month_start(today - timedelta(days=400))
            assert found[-1] >= month_start(today + timedelta(days=55))
            assert len(found) == len(set(found))
        kinds = conn.execute(
            "SELECT relname, relkind FROM pg_class WHERE relname IN "
            "('readings', 'readings_hourly', 'readings_daily') ORDER BY relname"
        ).fetchall()
    assert kinds == [("readings", "p"), ("readings_daily", "r"), ("readings_hourly", "p")]


def test_maintenance_drops_whole_expired_partitions_and_makes_the_months_ahead(
    database_url: str,
) -> None:
    url = libpq_url(database_url)
    now = datetime.now(UTC)
    with psycopg.connect(url) as conn:
        months = existing_months(conn, "readings")
        old, kept = months[0], months[2]
        for month in (old, kept):
            conn.execute(
                "INSERT INTO readings (node_id, measured_at, source, moisture) "
                "VALUES (%s, %s, 0, 1)",
                (uuid.uuid4(), datetime(month.year, month.month, 3, tzinfo=UTC)),
            )
    # Keep only from the middle of ``kept``'s month before: ``old``'s partition expires whole.
    cutoff = datetime(kept.year, kept.month, 1, tzinfo=UTC) - timedelta(days=10)
    policy = RetentionPolicy(raw_days=(now - cutoff).days, hourly_days=5000, ahead_months=3)
    report = maintain(url, policy, now)
    assert partition_name("readings", old) in report.dropped
    assert not any(name.startswith("readings_hourly") for name in report.dropped)
    ahead = month_start(now + timedelta(days=93))
    assert partition_name("readings", ahead) in report.created
    assert report.skipped == []
    with psycopg.connect(url) as conn:
        months_now = existing_months(conn, "readings")
        assert months_now[0] > old
        assert kept in months_now
        assert months_now[-1] == ahead
        rows = conn.execute("SELECT measured_at FROM readings ORDER BY 1").fetchall()
        assert [row[0].date() for row in rows] == [date(kept.year, kept.month, 3)]
        # Closed months had their indexes rebuilt once, marked so.
        closed = partition_name("readings", months_now[0])
        comment = conn.execute(
            "SELECT obj_description(to_regclass(%s), 'pg_class')", (closed,)
        ).fetchone()
        assert comment is not None
        assert str(comment[0]).startswith(COMPACTED)
        current = partition_name("readings", month_start(now))
        comment = conn.execute(
            "SELECT obj_description(to_regclass(%s), 'pg_class')", (current,)
        ).fetchone()
        assert comment == (None,)
    again = maintain(url, policy, now)
    assert (again.created, again.dropped, again.compacted) == ([], [], [])
    # A closed month that grew since (a bulk load, the online conversion's copy) is rebuilt.
    with psycopg.connect(url) as conn:
        conn.execute(
            """INSERT INTO readings (node_id, measured_at, source, moisture)
               SELECT gen_random_uuid(), %s + make_interval(secs => s), 0, 1
               FROM generate_series(1, 2000) AS s""",
            (datetime(months_now[0].year, months_now[0].month, 2, tzinfo=UTC),),
        )
    grown = maintain(url, policy, now)
    assert grown.compacted == [closed]


def test_a_run_that_finds_another_in_progress_does_nothing(database_url: str) -> None:
    # Two runs making the same month at once collided ("type … already exists") when the
    # hourly job and a second worker (or an operator's run) overlapped.
    url = libpq_url(database_url)
    now = datetime.now(UTC)
    policy = RetentionPolicy(raw_days=400, hourly_days=5000, ahead_months=6)
    with psycopg.connect(url, autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", (MAINTENANCE_LOCK_KEY,))
        busy = maintain(url, policy, now)
    assert busy.skipped == ["all: another maintenance run is in progress"]
    assert (busy.created, busy.dropped, busy.compacted) == ([], [], [])
    after = maintain(url, policy, now)  # the lock went with the other session
    assert partition_name("readings", month_start(now + timedelta(days=31 * 6))) in after.created
    assert after.skipped == []


async def test_ingest_refuses_readings_past_the_raw_window(client: httpx.AsyncClient) -> None:
    user = await create_user(client)
    hub = await create_hub(client, user)
    node = await create_node(client, user, hub=hub)
    now = datetime.now(UTC)
    ack = await push(
        client,
        hub,
        [item(node["mac"], now - timedelta(days=RAW_DAYS + 2)), item(node["mac"], now)],
        uuid.uuid4(),
    )
    assert ack["accepted"] == 1
    assert [(r["index"], r["reason"]) for r in ack["rejected"]] == [(0, "too_old")]
    assert f"{RAW_DAYS} days" in ack["rejected"][0]["message"]


async def test_history_past_the_raw_window_answers_from_rollups_and_says_so(
    client: httpx.AsyncClient,
) -> None:
    user = await create_user(client)
    hub = await create_hub(client, user)
    node = await create_node(client, user, hub=hub)
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    items = [item(node["mac"], now - timedelta(days=3, minutes=m), 30 + m) for m in range(10)]
    await push(client, hub, items, uuid.uuid4())
    url = f"/api/v1/nodes/{node['id']}/readings"
    recent = await client.get(
        url, params={"start": (now - timedelta(days=5)).isoformat()}, headers=user.headers
    )
    assert recent.json()["resolution"] == "raw"
    assert recent.json()["retention_limited"] is False
    for asked in ({}, {"resolution": "raw"}):
        past = await client.get(
            url,
            params={"start": (now - timedelta(days=RAW_DAYS + 5)).isoformat(), **asked},
            headers=user.headers,
        )
        assert past.status_code == 200, past.text
        body = past.json()
        assert (body["resolution"], body["retention_limited"]) == ("hour", True)
        assert sum(point["count"] for point in body["points"]) == 10
    hourly = await client.get(
        url,
        params={"start": (now - timedelta(days=RAW_DAYS + 5)).isoformat(), "resolution": "day"},
        headers=user.headers,
    )
    assert (hourly.json()["resolution"], hourly.json()["retention_limited"]) == ("day", False)


async def test_pruning_forgets_old_batches_and_resolved_alerts_and_a_late_resend_is_harmless(
    client: httpx.AsyncClient, database_url: str, settings: CloudSettings
) -> None:
    user = await create_user(client)
    hub = await create_hub(client, user)
    node = await create_node(client, user, hub=hub)
    now = datetime.now(UTC)
    items = [item(node["mac"], now - timedelta(minutes=m), 20 + m) for m in range(5)]
    batch_id = uuid.uuid4()
    assert (await push(client, hub, items, batch_id))["accepted"] == 5
    url = libpq_url(database_url)
    with psycopg.connect(url) as conn:
        conn.execute("UPDATE ingest_batches SET created_at = now() - interval '8 days'")
        conn.execute(
            """INSERT INTO alerts (id, owner_id, node_id, hub_id, source, kind, status, message,
                                   opened_at, created_at, resolved_at)
               VALUES (gen_random_uuid(), %(owner)s, %(node)s, %(hub)s, 'cloud', 'stale',
                       'resolved', 'old', now() - interval '400 days',
                       now() - interval '400 days', now() - interval '399 days'),
                      (gen_random_uuid(), %(owner)s, %(node)s, %(hub)s, 'cloud', 'stale',
                       'resolved', 'recent', now() - interval '3 days', now() - interval '3 days',
                       now() - interval '2 days')""",
            {"owner": user.id, "node": node["id"], "hub": hub.id},
        )
        rollup_before = conn.execute("SELECT n, moisture_sum FROM readings_hourly").fetchall()
    report = await maintain_storage_now(database_url, settings)
    assert report["ingest_batches_pruned"] == 1
    assert report["alerts_pruned"] == 1
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT message FROM alerts").fetchall() == [("recent",)]
    # The same batch id again, now forgotten: ingested anew, every row a duplicate.
    again = await push(client, hub, items, batch_id)
    assert (again["accepted"], again["duplicates"], again["replayed"]) == (0, 5, False)
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT n, moisture_sum FROM readings_hourly").fetchall() == (
            rollup_before
        )
        assert conn.execute("SELECT count(*) FROM readings").fetchone() == (5,)


def test_the_worker_schedules_storage_maintenance_every_hour() -> None:
    app = build_job_app("postgresql://unused/db")
    periodic = {
        task.periodic_id: task.cron for task in app.periodic_registry.periodic_tasks.values()
    }
    assert periodic["maintain_storage"] == "41 * * * *"


def test_retention_windows_must_nest() -> None:
    with pytest.raises(ValueError, match="hourly"):
        CloudSettings(readings_raw_retention_days=500, readings_hourly_retention_days=400)
    with pytest.raises(ValueError, match="dedup"):
        CloudSettings(readings_raw_retention_days=40, ingest_batch_dedup_days=60)
    assert next_month(date(2026, 12, 1)) == date(2027, 1, 1)


_FILLFACTORS = """
SELECT p.relname, coalesce((SELECT option FROM unnest(c.reloptions) AS option
                            WHERE option LIKE 'fillfactor=%%'), 'fillfactor=100')
FROM pg_inherits AS i JOIN pg_class AS c ON c.oid = i.inhrelid
JOIN pg_class AS p ON p.oid = i.inhparent
WHERE p.relname = ANY(%s)
"""


def _fillfactors(url: str) -> dict[str, set[str]]:
    with psycopg.connect(libpq_url(url)) as conn:
        rows = conn.execute(_FILLFACTORS, (["readings", "readings_hourly"],)).fetchall()
    found: dict[str, set[str]] = {}
    for parent, option in rows:
        found.setdefault(parent, set()).add(option)
    return found


def test_hourly_rollup_partitions_leave_room_for_hot_updates(database_url: str) -> None:
    from alembic import command

    from cloud.db.migrations import alembic_config, upgrade_to_head
    from cloud.db.partitions import HOURLY_FILLFACTOR

    hourly = {f"fillfactor={HOURLY_FILLFACTOR}"}
    assert _fillfactors(database_url) == {"readings": {"fillfactor=100"}, "readings_hourly": hourly}
    # Months maintenance adds get it too (raw rows are only inserted: their pages stay full).
    now = datetime.now(UTC)
    policy = RetentionPolicy(raw_days=400, hourly_days=5000, ahead_months=5)
    report = maintain(libpq_url(database_url), policy, now)
    assert any(name.startswith("readings_hourly") for name in report.created)
    assert _fillfactors(database_url) == {"readings": {"fillfactor=100"}, "readings_hourly": hourly}
    command.downgrade(alembic_config(database_url), "0320")
    assert _fillfactors(database_url)["readings_hourly"] == {"fillfactor=100"}
    upgrade_to_head(database_url)
    assert _fillfactors(database_url)["readings_hourly"] == hourly
