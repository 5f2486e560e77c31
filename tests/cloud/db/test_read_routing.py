"""Read routing without a replica, and how the lag monitor turns WAL positions into lag.

The routing against a real streaming replica is in ``test_read_replica.py``.
"""

from __future__ import annotations

import uuid
from collections import deque
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI

from cloud.db.replica import READ_SOURCE_HEADER, ReplicaState, replay_lag
from shared.sync import SYNC_READINGS_PATH
from tests.cloud.factories import create_hub, create_node, create_plant, create_user

START = datetime(2026, 3, 1, tzinfo=UTC)


async def test_without_a_replica_every_read_is_on_the_primary(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    user = await create_user(client)
    hub = await create_hub(client, user)
    node = await create_node(client, user, hub=hub)
    plant = await create_plant(client, user, "Sorrel", node=node)
    items = [
        {
            "node_mac": node["mac"],
            "measured_at": (START + timedelta(hours=i)).isoformat(),
            "moisture": 40.0,
        }
        for i in range(5)
    ]
    synced = await client.post(
        SYNC_READINGS_PATH,
        json={"batch_id": str(uuid.uuid4()), "readings": items},
        headers=hub.headers,
    )
    assert synced.json()["accepted"] == 5
    window = {"start": START.isoformat(), "end": (START + timedelta(days=1)).isoformat()}
    for path, params in [
        (f"/api/v1/plants/{plant['id']}/readings", window),
        (f"/api/v1/nodes/{node['id']}/readings", window),
        ("/api/v1/readings/latest", {}),
        (f"/api/v1/plants/{plant['id']}/readings/latest", {}),
        (f"/api/v1/plants/{plant['id']}/readings.csv", window),
    ]:
        response = await client.get(path, params=params, headers=user.headers)
        assert response.status_code == 200, (path, response.text)
        assert response.headers[READ_SOURCE_HEADER] == "primary", path
    csv = await client.get(
        f"/api/v1/nodes/{node['id']}/readings.csv", params=window, headers=user.headers
    )
    assert csv.text.count("\n") == 6
    assert app.state.read_routing.replica is None
    ready = await client.get("/readyz")
    assert (ready.status_code, ready.json()["replica"]) == (200, "none")


def samples(*points: tuple[float, int]) -> deque[tuple[float, int]]:
    return deque(points)


def test_a_replica_at_the_newest_position_has_no_lag_even_on_an_idle_primary() -> None:
    # Nothing written for a minute: the last replayed commit is old, the replica is not behind.
    assert replay_lag(samples((0.0, 100), (60.0, 100)), 100, 61.0, age_s=61.0) == 0.0
    assert replay_lag(samples(), 5, 10.0, age_s=None) == 0.0


def test_lag_is_the_age_of_the_newest_sample_the_replica_has_replayed() -> None:
    history = samples((10.0, 100), (11.0, 200), (12.0, 300))
    assert replay_lag(history, 250, 12.5, age_s=0.1) == pytest.approx(1.5)  # has 11.0's 200
    assert replay_lag(history, 100, 12.5, age_s=0.1) == pytest.approx(2.5)


def test_behind_every_sample_the_lag_is_at_least_the_sampled_span() -> None:
    history = samples((10.0, 100), (11.0, 200))
    assert replay_lag(history, 50, 12.0, age_s=0.5) == pytest.approx(2.0)
    assert replay_lag(history, 50, 12.0, age_s=30.0) == pytest.approx(30.0)
    assert replay_lag(history, 50, 12.0, age_s=None) == float("inf")


def test_readyz_words_for_each_state() -> None:
    assert ReplicaState(lag_s=0.25).describe(5.0) == "ok (lag 0.25 s)"
    assert ReplicaState(lag_s=4.996).describe(5.0) == "ok (lag 5.00 s)"
    assert ReplicaState(lag_s=5.004).describe(5.0) == "lagging 5.01 s > 5 s: reads on the primary"
    assert (
        ReplicaState(error="PoolTimeout").describe(5.0)
        == "unreachable (PoolTimeout): reads on the primary"
    )
    assert ReplicaState().describe(5.0) == "unreachable (not checked yet): reads on the primary"
