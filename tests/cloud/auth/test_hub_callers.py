"""Hub-token checks of concurrent sync requests (``cloud.auth.dependencies.hub_callers``): the
ones that queue while a check runs are answered by one statement, each with its own verdict."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import psycopg
from fastapi import FastAPI

from cloud.auth.dependencies import hub_callers
from cloud.auth.service import HubCaller, hub_token_hash
from cloud.db.engine import libpq_url
from cloud.errors import UnauthorizedError
from tests.cloud.conftest import both_database_routes
from tests.cloud.factories import create_hub, create_user

database_route = both_database_routes  # straight to PostgreSQL, and through PgBouncer

LONG_AGO = datetime.now(UTC) - timedelta(hours=1)


async def test_queued_checks_share_one_statement_and_each_gets_its_verdict(
    app: FastAPI, client: httpx.AsyncClient, database_url: str
) -> None:
    owner = await create_user(client)
    hubs = [await create_hub(client, owner, f"hub {i}") for i in range(3)]
    revoked = await create_hub(client, owner, "old hub")
    gone = await client.delete(f"/api/v1/hubs/{revoked.id}", headers=owner.headers)
    assert gone.status_code == 204, gone.text
    async with await psycopg.AsyncConnection.connect(libpq_url(database_url)) as holder:
        # Seen long ago, so the first check marks hub 0 seen: it waits for the row held here.
        await holder.execute(
            "UPDATE hubs SET last_seen_at = %s WHERE id = ANY(%s)",
            (LONG_AGO, [hub.id for hub in (*hubs, revoked)]),
        )
        await holder.commit()
        await holder.execute("SELECT 1 FROM hubs WHERE id = %s FOR UPDATE", (hubs[0].id,))
        async with hub_callers(app.state.engine) as callers:
            callers.transactions = 1
            first = asyncio.create_task(callers.submit(hub_token_hash(hubs[0].token)))
            async with await psycopg.AsyncConnection.connect(
                libpq_url(database_url), autocommit=True
            ) as watcher:
                stuck = "SELECT count(*) FROM pg_locks WHERE NOT granted"
                for _ in range(500):
                    if (await (await watcher.execute(stuck)).fetchone()) != (0,):
                        break  # the first check waits in its statement
                    await asyncio.sleep(0.01)
                else:
                    raise AssertionError("the first check never waited for hub 0's row")
            tokens = [hubs[1].token, revoked.token, "pvh_" + "0" * 43, hubs[2].token, hubs[1].token]
            rest = [asyncio.create_task(callers.submit(hub_token_hash(t))) for t in tokens]
            for _ in range(500):
                if callers.queued == len(tokens):
                    break
                await asyncio.sleep(0.01)
            assert callers.queued == len(tokens)
            await holder.rollback()  # hub 0's row is free: its check ends, the rest go at once
            answers = await asyncio.gather(first, *rest, return_exceptions=True)
            assert (callers.stats.groups, callers.stats.largest) == (2, len(tokens))
    expected: list[HubCaller | type[Exception]] = [
        HubCaller(hubs[0].id, owner.id),
        HubCaller(hubs[1].id, owner.id),
        UnauthorizedError,
        UnauthorizedError,
        HubCaller(hubs[2].id, owner.id),
        HubCaller(hubs[1].id, owner.id),
    ]
    for answer, want in zip(answers, expected, strict=True):
        if isinstance(want, HubCaller):
            assert answer == want
        else:
            assert isinstance(answer, want)
    async with await psycopg.AsyncConnection.connect(libpq_url(database_url)) as conn:
        cur = await conn.execute(
            "SELECT id, last_seen_at > %s FROM hubs WHERE id = ANY(%s)",
            (LONG_AGO + timedelta(minutes=30), [hub.id for hub in (*hubs, revoked)]),
        )
        seen: dict[uuid.UUID, bool] = dict(await cur.fetchall())
    # Each valid hub is marked seen once; the revoked one is not touched.
    assert seen == {hubs[0].id: True, hubs[1].id: True, hubs[2].id: True, revoked.id: False}


async def test_a_revoked_token_is_refused_on_the_next_sync(client: httpx.AsyncClient) -> None:
    owner = await create_user(client)
    hub = await create_hub(client, owner)
    body = {"batch_id": "00000000-0000-4000-8000-000000000001", "readings": []}
    assert (
        await client.post("/api/v1/sync/readings", json=body, headers=hub.headers)
    ).status_code == 200
    assert (await client.delete(f"/api/v1/hubs/{hub.id}", headers=owner.headers)).status_code == 204
    refused = await client.post("/api/v1/sync/readings", json=body, headers=hub.headers)
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "unauthorized"
