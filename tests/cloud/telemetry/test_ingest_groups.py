"""Group commit of reading batches (``cloud.ingest.group``): batches that queue while a
transaction runs are applied together, and each still gets exactly its own ack."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import numpy as np
import orjson
import psycopg
import pytest
from fastapi import FastAPI

from cloud.db.arrays import binary_array, concat_arrays
from cloud.db.engine import libpq_url
from cloud.ingest.group import GroupCommit
from cloud.telemetry import sql
from shared.sync import SYNC_READINGS_PATH
from tests.cloud.conftest import both_database_routes
from tests.cloud.factories import HubAuth, create_hub, create_node, create_plant, create_user

database_route = both_database_routes

T0 = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=3)


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    # One transaction at a time: whatever arrives while it runs forms the next group.
    return {"ingest_group_transactions": 1, "alert_min_duration_s": 600}


def item(mac: str, minute: int, moisture: float = 45.0) -> dict[str, Any]:
    at = (T0 + timedelta(minutes=minute)).isoformat()
    return {"node_mac": mac, "measured_at": at, "moisture": moisture, "temperature": 21.0}


async def push(
    client: httpx.AsyncClient,
    hub: HubAuth,
    items: list[dict[str, Any]],
    batch_id: uuid.UUID | None = None,
) -> httpx.Response:
    body = orjson.dumps({"batch_id": str(batch_id or uuid.uuid4()), "readings": items})
    headers = {**hub.headers, "Content-Type": "application/json"}
    return await client.post(SYNC_READINGS_PATH, content=body, headers=headers)


def groups_of(app: FastAPI) -> GroupCommit[Any, Any]:
    groups: GroupCommit[Any, Any] = app.state.ingest_groups
    return groups


async def held_back(
    app: FastAPI,
    database_url: str,
    owner: uuid.UUID,
    mac: str,
    first: Callable[[], Awaitable[httpx.Response]],
    rest: list[Callable[[], Awaitable[httpx.Response]]],
) -> tuple[httpx.Response, list[httpx.Response]]:
    """Send ``first`` while its node's ingest lock is held elsewhere, then ``rest`` once it
    is stuck in its transaction; release the lock when all of ``rest`` are queued."""
    groups = groups_of(app)
    key = (sql.INGEST_LOCK_CLASS, f"{owner}/{mac}")
    lock = "SELECT pg_advisory_lock(hashtext(%s), hashtext(%s))"
    async with await psycopg.AsyncConnection.connect(
        libpq_url(database_url), autocommit=True
    ) as holder:
        await holder.execute(lock, key)
        waiting = asyncio.create_task(first())
        stuck = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
        for _ in range(500):
            if (await (await holder.execute(stuck)).fetchone()) != (0,):
                break
            await asyncio.sleep(0.01)
        else:
            raise AssertionError("the first batch never waited for its node's lock")
        others = [asyncio.create_task(send()) for send in rest]
        for _ in range(500):
            if groups.queued == len(rest):
                break
            await asyncio.sleep(0.01)
        assert groups.queued == len(rest)
        await holder.execute("SELECT pg_advisory_unlock(hashtext(%s), hashtext(%s))", key)
        return await waiting, list(await asyncio.gather(*others))


async def test_queued_batches_are_applied_together_each_with_its_own_ack(
    app: FastAPI, client: httpx.AsyncClient, database_url: str
) -> None:
    gardeners = [await create_user(client) for _ in range(2)]
    hubs = [await create_hub(client, gardeners[i % 2]) for i in range(6)]
    macs = [(await create_node(client, hub.owner, hub=hub))["mac"] for hub in hubs]
    ferns = [await create_node(client, hubs[i].owner, hub=hubs[i]) for i in (1, 4)]
    for fern, hub in zip(ferns, (hubs[1], hubs[4]), strict=True):
        await create_plant(
            client, hub.owner, "Fern", node=fern, species_id=12, overrides={"moisture_min": 30}
        )
    dry = [[item(fern["mac"], m, 20.0) for m in range(0, 25, 5)] for fern in ferns]
    stored = uuid.uuid4()
    assert (await push(client, hubs[2], [item(macs[2], 0)], stored)).status_code == 200
    assert (await push(client, hubs[3], [item(macs[3], 0, 50.0)])).json()["accepted"] == 1

    first = lambda: push(client, hubs[0], [item(macs[0], m) for m in range(5)])  # noqa: E731
    rest = [
        # New rows, a repeat within the batch, and a fern dry for 20 minutes (an alert).
        lambda: push(
            client, hubs[1], [item(macs[1], 0), item(macs[1], 1), item(macs[1], 1)] + dry[0]
        ),
        # A replay of a stored batch, and the same id with other contents (never in one group).
        lambda: push(client, hubs[2], [item(macs[2], 0)], stored),
        lambda: push(client, hubs[2], [item(macs[2], 9)], stored),
        # Other values for a stored reading, and a new one.
        lambda: push(client, hubs[3], [item(macs[3], 0, 60.0), item(macs[3], 1)]),
        # A node of the other gardener (refused alone), and this gardener's own dry fern.
        lambda: push(client, hubs[4], [item(macs[4], 0), item(macs[5], 0), *dry[1]]),
        lambda: push(client, hubs[5], [item(macs[5], m) for m in range(3)]),
    ]
    owner = hubs[0].owner.id
    head, tail = await held_back(app, database_url, owner, macs[0], first, rest)
    groups = groups_of(app)
    # The first batch ran alone; the rest queued behind it: one group, but for the second of
    # hub 2's batches.
    assert groups.stats.largest == 5, groups.stats
    assert groups.stats.fallbacks == 0

    acks = [head.json(), *(r.json() for r in tail)]
    assert [r.status_code for r in [head, *tail]] == [200, 200, 200, 409, 200, 200, 200]
    summary = [(a.get("accepted"), a.get("duplicates"), a.get("replayed")) for a in acks]
    assert summary == [
        (5, 0, False),
        (7, 1, False),
        (1, 0, True),
        (None, None, None),  # the 409 problem body
        (1, 0, False),
        (6, 0, False),
        (3, 0, False),
    ]
    assert [r["reason"] for r in acks[4]["rejected"]] == ["conflict"]
    assert [(r["index"], r["reason"]) for r in acks[5]["rejected"]] == [(1, "unknown_node")]
    with psycopg.connect(libpq_url(database_url)) as conn:
        counts = conn.execute(
            """SELECT (SELECT count(*) FROM readings), (SELECT sum(n) FROM readings_hourly),
                      (SELECT sum(n) FROM readings_daily)"""
        ).fetchone()
        assert counts == (24, 24, 24)
        alerts = conn.execute(
            "SELECT owner_id, node_id, kind, metric, status FROM alerts ORDER BY owner_id"
        ).fetchall()
        expected = [
            (hub.owner.id, uuid.UUID(fern["id"]), "low", "moisture", "open")
            for hub, fern in zip((hubs[1], hubs[4]), ferns, strict=True)
        ]
        assert alerts == sorted(expected)
        states = conn.execute(
            "SELECT owner_id, node_id FROM alert_states WHERE breach = 'low' ORDER BY owner_id"
        ).fetchall()
        assert states == sorted((owner, node) for owner, node, *_ in expected)
        acked = conn.execute("SELECT count(*) FROM ingest_batches WHERE ack IS NULL").fetchone()
        assert acked == (0,)


async def test_a_group_that_fails_is_applied_again_one_batch_per_transaction(
    app: FastAPI, client: httpx.AsyncClient, database_url: str
) -> None:
    user = await create_user(client)
    hubs = [await create_hub(client, user) for _ in range(4)]
    macs = [(await create_node(client, user, hub=hub))["mac"] for hub in hubs]
    groups = groups_of(app)
    apply = groups._apply
    failed: list[int] = []

    async def fails_once(conn: psycopg.AsyncConnection[Any], members: list[Any]) -> Any:
        results = await apply(conn, members)  # all of it done, then the transaction fails
        if len(members) > 1 and not failed:
            failed.append(len(members))
            raise psycopg.errors.DeadlockDetected("deadlock detected (injected)")
        return results

    groups._apply = fails_once
    first = lambda: push(client, hubs[0], [item(macs[0], 0)])  # noqa: E731
    rest = [
        (lambda hub, mac: lambda: push(client, hub, [item(mac, m) for m in range(4)]))(h, m)
        for h, m in zip(hubs[1:], macs[1:], strict=True)
    ]
    head, tail = await held_back(app, database_url, user.id, macs[0], first, rest)
    assert failed == [3]
    assert groups.stats.fallbacks == 1
    metrics = (await client.get("/metrics")).text
    assert "plantvita_cloud_ingest_group_fallbacks_total 1.0" in metrics
    # Four committed groups of one: the first batch, then the failed group's three alone.
    assert "plantvita_cloud_ingest_group_batches_count 4.0" in metrics
    assert 'plantvita_cloud_ingest_group_batches_bucket{le="1.0"} 4.0' in metrics
    assert [r.json()["accepted"] for r in [head, *tail]] == [1, 4, 4, 4]
    assert all(not r.json()["replayed"] for r in tail)  # the failed group left nothing behind
    with psycopg.connect(libpq_url(database_url)) as conn:
        assert conn.execute("SELECT count(*), sum(n) FROM readings_hourly").fetchone()[1] == 13
        assert conn.execute("SELECT count(*) FROM readings").fetchone() == (13,)


def test_concatenated_arrays_are_one_array(database_url: str) -> None:
    parts = [binary_array(np.array([1, 2]), "int4"), binary_array([], "int4")]
    parts.append(binary_array(np.array([3]), "int4"))
    with psycopg.connect(libpq_url(database_url)) as conn:
        row = conn.execute("SELECT %b::int4[], %b::int4[]", (concat_arrays(parts), parts[1]))
        assert row.fetchone() == ([1, 2, 3], [])
        empty = concat_arrays([parts[1], parts[1]])
        assert conn.execute("SELECT %b::int4[]", (empty,)).fetchone() == ([],)
