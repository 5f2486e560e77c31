"""Reading ingestion through the sync API: idempotency, partial rejects, rollups."""

from __future__ import annotations

import gzip
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import numpy as np
import orjson
import psycopg
import pytest

from cloud.db.engine import libpq_url
from cloud.ingest.validation import ReadingColumns
from cloud.telemetry import repository, sql
from shared.metrics import METRIC_NAMES
from shared.sync import SYNC_READINGS_PATH
from tests.cloud.conftest import both_database_routes
from tests.cloud.factories import HubAuth, create_hub, create_node, create_user

# Each test runs straight to PostgreSQL and once through PgBouncer in transaction mode.
database_route = both_database_routes

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


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"max_body_bytes": 64 * 1024}


async def test_body_cap_gzip_bomb_and_bad_encodings(
    client: httpx.AsyncClient, hub_with_node: tuple[HubAuth, dict[str, Any]]
) -> None:
    hub, node = hub_with_node
    headers = {**hub.headers, "Content-Type": "application/json"}
    big = orjson.dumps(
        {"batch_id": str(uuid.uuid4()), "readings": [reading(node["mac"], m) for m in range(2000)]}
    )
    assert len(big) > 64 * 1024
    too_big = await client.post(SYNC_READINGS_PATH, content=big, headers=headers)
    assert too_big.status_code == 413
    assert too_big.json()["error"]["code"] == "payload_too_large"
    # Small on the wire, huge once inflated: refused without inflating it all.
    bomb = gzip.compress(b'{"batch_id": "' + b" " * (10 * 1024 * 1024) + b'"}')
    assert len(bomb) < 64 * 1024
    inflated = await client.post(
        SYNC_READINGS_PATH, content=bomb, headers={**headers, "Content-Encoding": "gzip"}
    )
    assert inflated.status_code == 413
    broken = await client.post(
        SYNC_READINGS_PATH, content=b"not gzip", headers={**headers, "Content-Encoding": "gzip"}
    )
    assert broken.status_code == 400
    brotli = await client.post(
        SYNC_READINGS_PATH, content=b"{}", headers={**headers, "Content-Encoding": "br"}
    )
    assert brotli.status_code == 415
    not_json = await client.post(SYNC_READINGS_PATH, content=b"{nope", headers=headers)
    assert not_json.status_code == 400
    envelope = await client.post(SYNC_READINGS_PATH, json={"readings": []}, headers=hub.headers)
    assert envelope.status_code == 422
    assert envelope.json()["error"]["code"] == "invalid_request"
    user_token = await client.post(
        SYNC_READINGS_PATH,
        json={"batch_id": str(uuid.uuid4()), "readings": []},
        headers={"Authorization": "Bearer not-a-hub-token"},
    )
    assert user_token.status_code == 401


async def test_non_object_items_are_rejected_alone(
    client: httpx.AsyncClient, hub_with_node: tuple[HubAuth, dict[str, Any]]
) -> None:
    hub, node = hub_with_node
    ack = (
        await push(client, hub, [reading(node["mac"], 0), 42, "x", reading(node["mac"], 1)])
    ).json()  # type: ignore[list-item]
    assert ack["accepted"] == 2
    assert [(r["index"], r["reason"]) for r in ack["rejected"]] == [(1, "invalid"), (2, "invalid")]


async def test_concurrent_replays_store_once(
    client: httpx.AsyncClient, hub_with_node: tuple[HubAuth, dict[str, Any]], database_url: str
) -> None:
    import asyncio

    hub, node = hub_with_node
    items = [reading(node["mac"], m) for m in range(50)]
    batch_id = uuid.uuid4()
    acks = await asyncio.gather(*(push(client, hub, items, batch_id) for _ in range(4)))
    bodies = [a.json() for a in acks]
    assert sorted(b["replayed"] for b in bodies) == [False, True, True, True]
    assert {b["accepted"] for b in bodies} == {50}
    with psycopg.connect(libpq_url(database_url)) as conn:
        assert conn.execute("SELECT count(*), sum(n) FROM readings_hourly").fetchone()[1] == 50
    metrics = (await client.get("/metrics")).text
    assert 'plantvita_cloud_ingest_readings_total{outcome="accepted"} 50.0' in metrics


async def test_concurrent_overlapping_batches_store_and_roll_up_each_reading_once(
    client: httpx.AsyncClient, hub_with_node: tuple[HubAuth, dict[str, Any]], database_url: str
) -> None:
    import asyncio

    hub, node = hub_with_node
    # Different batch ids over overlapping minutes: the ledger does not serialize them.
    windows = [range(0, 40), range(20, 60), range(10, 50), range(30, 90)]
    acks = await asyncio.gather(
        *(push(client, hub, [reading(node["mac"], m) for m in window]) for window in windows)
    )
    assert [a.status_code for a in acks] == [200] * 4, [a.text for a in acks]
    bodies = [a.json() for a in acks]
    assert sum(b["accepted"] for b in bodies) == 90
    assert all(b["rejected"] == [] for b in bodies)
    with psycopg.connect(libpq_url(database_url)) as conn:
        assert conn.execute("SELECT count(*) FROM readings").fetchone() == (90,)
        assert conn.execute("SELECT sum(n) FROM readings_hourly").fetchone() == (90,)
        assert conn.execute("SELECT sum(n) FROM readings_daily").fetchone() == (90,)


async def test_a_reading_repeated_in_one_batch_is_stored_once(
    client: httpx.AsyncClient, hub_with_node: tuple[HubAuth, dict[str, Any]], database_url: str
) -> None:
    hub, node = hub_with_node
    items = [reading(node["mac"], 0), reading(node["mac"], 0), reading(node["mac"], 1)]
    ack = (await push(client, hub, items)).json()
    assert (ack["accepted"], ack["duplicates"], ack["rejected"]) == (2, 1, [])
    with psycopg.connect(libpq_url(database_url)) as conn:
        assert conn.execute("SELECT count(*) FROM readings").fetchone() == (2,)
        assert conn.execute("SELECT sum(n) FROM readings_hourly").fetchone() == (2,)


def test_the_stored_reading_check_is_a_key_probe_per_staged_row(database_url: str) -> None:
    mac, now = "02:00:00:00:00:01", datetime.now(UTC)
    columns = ReadingColumns(
        indexes=np.array([0], dtype=np.int64),
        macs=[mac],
        micros=np.array([round(now.timestamp() * 1e6)], dtype=np.int64),
        seq=np.array([-1], dtype=np.int64),
        source=np.zeros(1, dtype=np.int16),
        metrics=np.full((1, len(METRIC_NAMES)), np.nan),
        channel=np.zeros(1, dtype=np.int16),
    )
    staged = repository.stage_readings(columns, {mac: uuid.uuid4()}, now)
    with psycopg.connect(libpq_url(database_url)) as conn:
        params = repository.insert_params([staged])
        plan = conn.execute("EXPLAIN " + sql.INSERT_READINGS, params).fetchall()
    text = "\n".join(row[0] for row in plan)
    # An anti-join could hash a whole month of readings for every batch.
    assert "Anti Join" not in text, text
    assert "SubPlan" in text, text
    # Planned on the staged rows' month only, not on every month's partition.
    probed = {line.split(" on ")[1].split()[0] for line in text.splitlines() if "Scan" in line}
    assert {name for name in probed if name.startswith("readings_")} == {f"readings_{now:%Y%m}"}, (
        text
    )


async def test_a_batch_marks_its_hub_seen_at_most_once_a_minute(
    client: httpx.AsyncClient, database_url: str
) -> None:
    """The readings route authenticates the hub without loading its row (one statement) and
    moves last_seen_at as every sync route does: when it is a minute old."""
    user = await create_user(client)
    hub = await create_hub(client, user)
    node = await create_node(client, user, hub=hub)
    seen = "SELECT last_seen_at FROM hubs WHERE id = %s"
    with psycopg.connect(libpq_url(database_url), autocommit=True) as conn:
        old = datetime.now(UTC) - timedelta(minutes=5)
        conn.execute("UPDATE hubs SET last_seen_at = %s WHERE id = %s", (old, hub.id))
        assert (await push(client, hub, [reading(node["mac"], 0)])).status_code == 200
        first = conn.execute(seen, (hub.id,)).fetchone()
        assert first is not None
        assert first[0] > old + timedelta(minutes=4)
        assert (await push(client, hub, [reading(node["mac"], 1)])).status_code == 200
        assert conn.execute(seen, (hub.id,)).fetchone() == first
