"""History at an automatic resolution, latest readings, CSV export."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from shared.sync import SYNC_READINGS_PATH
from tests.cloud.conftest import both_database_routes
from tests.cloud.factories import UserAuth, create_hub, create_node, create_plant, create_user

# Each test runs straight to PostgreSQL and once through PgBouncer in transaction mode.
database_route = both_database_routes

START = datetime(2026, 2, 1, tzinfo=UTC)


@pytest.fixture
async def garden(client: httpx.AsyncClient) -> tuple[UserAuth, dict[str, Any], dict[str, Any]]:
    """Three days of 10-minute readings on one node with a plant."""
    user = await create_user(client)
    hub = await create_hub(client, user)
    node = await create_node(client, user, hub=hub)
    plant = await create_plant(client, user, "Pepper", node=node)
    items = [
        {
            "node_mac": node["mac"],
            "measured_at": (START + timedelta(minutes=10 * i)).isoformat(),
            "moisture": 30 + i % 20,
            "temperature": 20.5,
            **({"battery": 90.0} if i % 6 == 0 else {}),
        }
        for i in range(3 * 144)
    ]
    response = await client.post(
        SYNC_READINGS_PATH,
        json={"batch_id": str(uuid.uuid4()), "readings": items},
        headers=hub.headers,
    )
    assert response.json()["accepted"] == len(items)
    return user, node, plant


async def history(
    client: httpx.AsyncClient, user: UserAuth, path: str, **params: Any
) -> dict[str, Any]:
    response = await client.get(path, params=params, headers=user.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_resolution_is_the_finest_within_max_points(
    client: httpx.AsyncClient, garden: tuple[UserAuth, dict[str, Any], dict[str, Any]]
) -> None:
    user, node, plant = garden
    path = f"/api/v1/plants/{plant['id']}/readings"
    day = {"start": START.isoformat(), "end": (START + timedelta(days=1)).isoformat()}
    raw = await history(client, user, path, **day)
    assert (raw["resolution"], len(raw["points"])) == ("raw", 144)
    assert raw["points"][1]["moisture"] == raw["points"][1]["moisture_max"] == 31
    hourly = await history(client, user, path, **day, max_points=100)
    assert (hourly["resolution"], len(hourly["points"])) == ("hour", 24)
    first_hour = hourly["points"][0]
    assert (first_hour["count"], first_hour["moisture_min"], first_hour["moisture_max"]) == (
        6,
        30,
        35,
    )
    assert first_hour["moisture"] == pytest.approx(32.5)
    assert first_hour["battery"] == 90.0
    three_days = {"start": START.isoformat(), "end": (START + timedelta(days=3)).isoformat()}
    daily = await history(
        client, user, f"/api/v1/nodes/{node['id']}/readings", **three_days, max_points=20
    )
    assert (daily["resolution"], [p["count"] for p in daily["points"]]) == ("day", [144] * 3)
    forced = await history(client, user, path, **day, resolution="raw", max_points=10)
    assert (forced["truncated"], len(forced["points"])) == (True, 10)
    year = {
        "start": (START - timedelta(days=3000)).isoformat(),
        "end": (START + timedelta(days=3)).isoformat(),
    }
    coarse = await history(client, user, path, **year, max_points=10)
    assert coarse["resolution"] == "day"
    assert 0 < len(coarse["points"]) <= 10
    assert sum(p["count"] for p in coarse["points"]) == 3 * 144
    backwards = await client.get(
        path, params={"start": day["end"], "end": day["start"]}, headers=user.headers
    )
    assert backwards.status_code == 422


async def test_plant_without_node_has_empty_history(client: httpx.AsyncClient) -> None:
    user = await create_user(client)
    plant = await create_plant(client, user, "Cactus")
    body = await history(client, user, f"/api/v1/plants/{plant['id']}/readings")
    assert (body["node_id"], body["points"]) == (None, [])


async def test_latest_reading_per_plant(
    client: httpx.AsyncClient, garden: tuple[UserAuth, dict[str, Any], dict[str, Any]]
) -> None:
    user, node, plant = garden
    await create_plant(client, user, "No sensor")
    latest = (await client.get("/api/v1/readings/latest", headers=user.headers)).json()
    assert [(r["plant_id"], r["node_id"]) for r in latest] == [(plant["id"], node["id"])]
    expected = START + timedelta(minutes=10 * (3 * 144 - 1))
    assert datetime.fromisoformat(latest[0]["measured_at"]) == expected
    one = await client.get(f"/api/v1/plants/{plant['id']}/readings/latest", headers=user.headers)
    assert one.json() == latest


async def test_csv_export_streams_the_window(
    client: httpx.AsyncClient, garden: tuple[UserAuth, dict[str, Any], dict[str, Any]]
) -> None:
    user, _, plant = garden
    params = {"start": START.isoformat(), "end": (START + timedelta(hours=2)).isoformat()}
    response = await client.get(
        f"/api/v1/plants/{plant['id']}/readings.csv", params=params, headers=user.headers
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == 12
    assert rows[0]["measured_at"] == "2026-02-01T00:00:00.000000Z"
    assert (rows[1]["moisture"], rows[0]["battery"], rows[1]["battery"]) == ("31", "90", "")
    assert rows[0]["source"] == "advert"
