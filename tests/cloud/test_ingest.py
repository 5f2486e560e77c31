"""Reading ingestion through the sync API: idempotency, partial rejects, rollups."""

from __future__ import annotations

import gzip
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import psycopg
import pytest

from cloud.db.engine import libpq_url
from shared.sync import SYNC_READINGS_PATH
from tests.cloud.factories import HubAuth, create_hub, create_node, create_user

BASE = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def reading(mac: str, minute: int, **values: Any) -> dict[str, Any]:
    """A raw batch item measured ``minute`` minutes after BASE."""
    item: dict[str, Any] = {
        "node_mac": mac,
        "measured_at": (BASE + timedelta(minutes=minute)).isoformat(),
    }
    item.update(values or {"moisture": 40.0 + minute % 7, "temperature": 20.0 + minute % 3})
    return item


async def push(
    client: httpx.AsyncClient,
    hub: HubAuth,
    items: list[dict[str, Any]],
    batch_id: uuid.UUID | None = None,
    gzipped: bool = False,
) -> httpx.Response:
    body = orjson.dumps({"batch_id": str(batch_id or uuid.uuid4()), "readings": items})
    headers = {**hub.headers, "Content-Type": "application/json"}
    if gzipped:
        body = gzip.compress(body)
        headers["Content-Encoding"] = "gzip"
    return await client.post(SYNC_READINGS_PATH, content=body, headers=headers)


@pytest.fixture
async def hub_with_node(client: httpx.AsyncClient) -> tuple[HubAuth, dict[str, Any]]:
    user = await create_user(client)
    hub = await create_hub(client, user)
    node = await create_node(client, user, hub=hub)
    return hub, node


async def test_batch_is_stored_and_replay_returns_stored_ack(
    client: httpx.AsyncClient, hub_with_node: tuple[HubAuth, dict[str, Any]]
) -> None:
    hub, node = hub_with_node
    items = [reading(node["mac"], minute) for minute in range(30)]
    batch_id = uuid.uuid4()
    first = await push(client, hub, items, batch_id, gzipped=True)
    assert first.status_code == 200, first.text
    assert first.json() == {
        "batch_id": str(batch_id),
        "accepted": 30,
        "duplicates": 0,
        "rejected": [],
        "replayed": False,
    }
    again = await push(client, hub, items, batch_id)
    assert again.json()["replayed"] is True
    assert again.json()["accepted"] == 30


async def test_overlapping_batches_count_duplicates_not_rows(
    client: httpx.AsyncClient, hub_with_node: tuple[HubAuth, dict[str, Any]], database_url: str
) -> None:
    hub, node = hub_with_node
    await push(client, hub, [reading(node["mac"], m) for m in range(0, 20)])
    second = await push(client, hub, [reading(node["mac"], m) for m in reversed(range(10, 30))])
    assert second.json()["accepted"] == 10
    assert second.json()["duplicates"] == 10
    with psycopg.connect(libpq_url(database_url)) as conn:
        count = conn.execute("SELECT count(*) FROM readings").fetchone()
    assert count == (30,)


async def test_partial_rejects_keep_valid_rows(
    client: httpx.AsyncClient, hub_with_node: tuple[HubAuth, dict[str, Any]]
) -> None:
    hub, node = hub_with_node
    items = [
        reading(node["mac"], 0),
        {"node_mac": node["mac"], "measured_at": "yesterday", "moisture": 10},
        reading(node["mac"], 1, moisture=140.0),
        reading("02:00:00:00:00:99", 2),
        reading(node["mac"].lower().replace(":", "-"), 3),
        {
            **reading(node["mac"], 4),
            "measured_at": (datetime.now(UTC) + timedelta(days=2)).isoformat(),
        },
        reading(node["mac"], 5, battery=80.0),
        {"node_mac": node["mac"], "measured_at": BASE.isoformat()},
    ]
    ack = (await push(client, hub, items)).json()
    assert ack["accepted"] == 3
    reasons = {item["index"]: item["reason"] for item in ack["rejected"]}
    assert reasons == {1: "invalid", 2: "invalid", 3: "unknown_node", 5: "future", 7: "invalid"}


async def test_conflicting_values_for_stored_key_are_rejected(
    client: httpx.AsyncClient, hub_with_node: tuple[HubAuth, dict[str, Any]]
) -> None:
    hub, node = hub_with_node
    await push(client, hub, [reading(node["mac"], 0, moisture=30.0)])
    ack = (
        await push(
            client,
            hub,
            [reading(node["mac"], 0, moisture=31.0), reading(node["mac"], 0, moisture=30.0)],
        )
    ).json()
    assert ack["accepted"] == 0
    assert ack["duplicates"] == 1
    assert [item["reason"] for item in ack["rejected"]] == ["conflict"]
