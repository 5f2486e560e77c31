"""Read routing against a real streaming replica of the embedded PostgreSQL.

History, latest readings and CSV exports are read on the standby while it is fresh; a user
who just wrote reads the primary; a lagging standby (replay paused) or a stopped one sends
reads to the primary, and ``/readyz`` says which and why. The lag bound is short here (1 s,
checked every 0.25 s) so the module runs in seconds; every wait polls for its condition.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest
from fastapi import FastAPI
from sqlalchemy.engine import make_url

from cloud.db.replica import READ_SOURCE_HEADER
from shared.sync import SYNC_READINGS_PATH
from tests.cloud.factories import (
    HubAuth,
    UserAuth,
    create_hub,
    create_node,
    create_plant,
    create_user,
)
from tests.cloud.replica import StreamingReplica

MAX_LAG_S = 1.0
CHECK_S = 0.25
WAIT_S = 30.0  # a condition that should hold within a few seconds, on a loaded machine too
START = datetime(2026, 3, 1, tzinfo=UTC)
WINDOW = {"start": START.isoformat(), "end": (START + timedelta(days=1)).isoformat()}


@pytest.fixture
def settings_overrides(database_url: str, streaming_replica: StreamingReplica) -> dict[str, Any]:
    """The app reads this test's database on the replica once the replica has it."""
    streaming_replica.wait_replayed(make_url(database_url).database)
    return {
        "database_replica_url": streaming_replica.url_for(database_url),
        "replica_max_lag_s": MAX_LAG_S,
        "replica_lag_check_s": CHECK_S,
    }


@dataclass
class Garden:
    user: UserAuth
    hub: HubAuth
    nodes: list[dict[str, Any]]
    plant: dict[str, Any]

    def routes(self) -> dict[str, str]:
        """Every routed read of the plant and its node."""
        plant, node = self.plant["id"], self.nodes[0]["id"]
        return {
            "plant history": f"/api/v1/plants/{plant}/readings",
            "node history": f"/api/v1/nodes/{node}/readings",
            "latest": "/api/v1/readings/latest",
            "plant latest": f"/api/v1/plants/{plant}/readings/latest",
            "plant csv": f"/api/v1/plants/{plant}/readings.csv",
            "node csv": f"/api/v1/nodes/{node}/readings.csv",
        }


async def sync(client: httpx.AsyncClient, hub: HubAuth, node: dict[str, Any], first: int) -> None:
    """40 readings of ``node``, 10 minutes apart from minute ``10 * first`` of START."""
    items = [
        {
            "node_mac": node["mac"],
            "measured_at": (START + timedelta(minutes=10 * (first + i))).isoformat(),
            "moisture": 20.0 + (first + i) % 30,
            "temperature": 21.5,
        }
        for i in range(40)
    ]
    response = await client.post(
        SYNC_READINGS_PATH,
        json={"batch_id": str(uuid.uuid4()), "readings": items},
        headers=hub.headers,
    )
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 40


@pytest.fixture
async def garden(client: httpx.AsyncClient) -> Garden:
    """A plant on the first of two nodes, 40 readings on each."""
    user = await create_user(client)
    hub = await create_hub(client, user)
    nodes = [await create_node(client, user, hub=hub) for _ in range(2)]
    plant = await create_plant(client, user, "Fennel", node=nodes[0])
    for node in nodes:
        await sync(client, hub, node, 0)
    return Garden(user, hub, nodes, plant)


async def read(client: httpx.AsyncClient, garden: Garden, route: str) -> tuple[str, Any]:
    """(the server that answered, the body) of one routed read."""
    path = garden.routes()[route]
    params = WINDOW if "history" in route or "csv" in route else {}
    response = await client.get(path, params=params, headers=garden.user.headers)
    assert response.status_code == 200, response.text
    body = response.text if route.endswith("csv") else response.json()
    return response.headers[READ_SOURCE_HEADER], body


async def read_all(client: httpx.AsyncClient, garden: Garden) -> dict[str, tuple[str, Any]]:
    return {route: await read(client, garden, route) for route in garden.routes()}


async def until(check: Callable[[], Awaitable[bool]], what: str) -> None:
    """Poll ``check`` until it holds (failing after ``WAIT_S``)."""
    deadline = time.monotonic() + WAIT_S
    while not await check():
        assert time.monotonic() < deadline, f"not within {WAIT_S:g} s: {what}"
        await asyncio.sleep(0.05)


async def replica_state(client: httpx.AsyncClient) -> str:
    ready = await client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["status"] == "ready"
    state: str = ready.json()["replica"]
    return state


async def served_by_replica(client: httpx.AsyncClient, garden: Garden) -> None:
    """Wait until the plant's history comes from the replica (the user's own setup writes
    keep them on the primary for the read-your-own-writes window)."""

    async def on_replica() -> bool:
        return (await read(client, garden, "plant history"))[0] == "replica"

    await until(on_replica, "history read on the replica")


def points(history: dict[str, Any]) -> int:
    return len(history["points"])


def replica_count(replica: StreamingReplica, database_url: str, sql: str) -> Any:
    """Ask the standby itself (what it has replayed), bypassing the app."""
    with psycopg.connect(replica.url_for(database_url), autocommit=True) as conn:
        row = conn.execute(sql).fetchone()
    assert row is not None
    return row[0]


async def test_routed_reads_come_from_the_replica_and_match_the_primary(
    client: httpx.AsyncClient, garden: Garden
) -> None:
    await served_by_replica(client, garden)
    on_replica = await read_all(client, garden)
    assert {route: source for route, (source, _) in on_replica.items()} == dict.fromkeys(
        garden.routes(), "replica"
    )
    assert (await replica_state(client)).startswith("ok (lag ")
    # Any write of the user's sends their reads to the primary for the window.
    renamed = await client.patch(
        f"/api/v1/plants/{garden.plant['id']}",
        json={"name": "Bronze fennel"},
        headers=garden.user.headers,
    )
    assert renamed.status_code == 200, renamed.text
    on_primary = await read_all(client, garden)
    assert {route: source for route, (source, _) in on_primary.items()} == dict.fromkeys(
        garden.routes(), "primary"
    )
    # Same answers from both servers, and real ones.
    assert {r: body for r, (_, body) in on_replica.items()} == {
        r: body for r, (_, body) in on_primary.items()
    }
    assert points(on_replica["plant history"][1]) == 40
    assert on_replica["plant csv"][1].count("\n") == 41
    assert [row["plant_id"] for row in on_replica["latest"][1]] == [garden.plant["id"]]


async def test_a_user_reads_their_own_edit_on_the_primary(
    client: httpx.AsyncClient,
    garden: Garden,
    streaming_replica: StreamingReplica,
    database_url: str,
) -> None:
    await served_by_replica(client, garden)
    moved_to = garden.nodes[1]["id"]
    streaming_replica.pause_replay()  # the replica will not see the edit
    try:
        moved = await client.patch(
            f"/api/v1/plants/{garden.plant['id']}",
            json={"node_id": moved_to},
            headers=garden.user.headers,
        )
        assert moved.status_code == 200, moved.text
        source, latest = await read(client, garden, "plant latest")
        assert (source, [row["node_id"] for row in latest]) == ("primary", [moved_to])
        on_replica = replica_count(
            streaming_replica,
            database_url,
            f"SELECT node_id::text FROM plants WHERE id = '{garden.plant['id']}'",
        )
        assert on_replica == garden.nodes[0]["id"]  # the replica would have answered stale
    finally:
        streaming_replica.resume_replay()
    # Once the window has passed (and the replica replayed the edit), back on the replica.
    await served_by_replica(client, garden)
    source, latest = await read(client, garden, "plant latest")
    assert (source, [row["node_id"] for row in latest]) == ("replica", [moved_to])


async def test_a_lagging_replica_sends_reads_to_the_primary(
    client: httpx.AsyncClient,
    app: FastAPI,
    garden: Garden,
    streaming_replica: StreamingReplica,
    database_url: str,
) -> None:
    await served_by_replica(client, garden)
    node = garden.nodes[0]["id"]
    streaming_replica.pause_replay()
    try:
        await sync(client, garden.hub, garden.nodes[0], 40)  # a hub's write: not the user's

        async def lagging() -> bool:
            return (await replica_state(client)).startswith("lagging ")

        await until(lagging, "/readyz reports the replica lagging")
        state = await replica_state(client)
        found = re.fullmatch(r"lagging ([\d.]+) s > 1 s: reads on the primary", state)
        assert found is not None, state
        assert float(found[1]) > MAX_LAG_S
        # The replica really is behind: it has the first 40 readings only.
        behind = replica_count(
            streaming_replica,
            database_url,
            f"SELECT count(*) FROM readings WHERE node_id = '{node}'",
        )
        assert behind == 40
        reads = await read_all(client, garden)
        assert {route: source for route, (source, _) in reads.items()} == dict.fromkeys(
            garden.routes(), "primary"
        )
        assert points(reads["plant history"][1]) == 80
        assert reads["node csv"][1].count("\n") == 81
        assert app.state.read_routing.state.lag_s > MAX_LAG_S
    finally:
        streaming_replica.resume_replay()

    async def fresh() -> bool:
        return (await replica_state(client)).startswith("ok ")

    await until(fresh, "/readyz reports the replica fresh after replay resumed")
    source, history = await read(client, garden, "plant history")
    assert (source, points(history)) == ("replica", 80)


async def test_a_stopped_replica_sends_reads_to_the_primary(
    client: httpx.AsyncClient, garden: Garden, streaming_replica: StreamingReplica
) -> None:
    await served_by_replica(client, garden)
    streaming_replica.stop()
    try:
        # Between two checks the routing still trusts it: the failed read is read again on
        # the primary (and the replica marked unreachable).
        source, history = await read(client, garden, "plant history")
        assert (source, points(history)) == ("primary", 40)

        async def unreachable() -> bool:
            return (await replica_state(client)).startswith("unreachable (")

        await until(unreachable, "/readyz reports the replica unreachable")
        # Still ready: every read has the primary to go to; /readyz says what is missing.
        assert (await replica_state(client)).endswith("): reads on the primary")
        reads = await read_all(client, garden)
        assert {route: source for route, (source, _) in reads.items()} == dict.fromkeys(
            garden.routes(), "primary"
        )
        assert reads["plant csv"][1].count("\n") == 41
    finally:
        streaming_replica.start()

    async def back() -> bool:
        return (await replica_state(client)).startswith("ok ")

    await until(back, "/readyz reports the restarted replica fresh")
    await served_by_replica(client, garden)
