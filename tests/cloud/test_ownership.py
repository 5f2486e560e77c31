"""Every user route is scoped to its owner: another user's hub, node, plant, reading or alert
answers 404, and lists never show it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from shared.sync import SYNC_ALERTS_PATH, SYNC_READINGS_PATH
from tests.cloud.factories import UserAuth, create_hub, create_node, create_plant, create_user


@dataclass
class World:
    """Alice owns a hub, node, plant, readings and an alert; Mallory owns nothing of hers."""

    alice: UserAuth
    mallory: UserAuth
    ids: dict[str, str]


@pytest.fixture
async def world(client: httpx.AsyncClient) -> World:
    alice = await create_user(client)
    mallory = await create_user(client)
    hub = await create_hub(client, alice)
    node = await create_node(client, alice, hub=hub)
    plant = await create_plant(client, alice, node=node, species_id=1)
    now = datetime.now(UTC)
    readings = [
        {
            "node_mac": node["mac"],
            "measured_at": (now - timedelta(minutes=m)).isoformat(),
            "moisture": 40.0,
        }
        for m in range(3)
    ]
    pushed = await client.post(
        SYNC_READINGS_PATH,
        json={"batch_id": str(uuid.uuid4()), "readings": readings},
        headers=hub.headers,
    )
    assert pushed.json()["accepted"] == 3
    alert = {
        "local_id": str(uuid.uuid4()),
        "node_mac": node["mac"],
        "kind": "low",
        "metric": "moisture",
        "message": "dry",
        "opened_at": now.isoformat(),
    }
    await client.post(
        SYNC_ALERTS_PATH,
        json={"batch_id": str(uuid.uuid4()), "alerts": [alert]},
        headers=hub.headers,
    )
    alerts = (await client.get("/api/v1/alerts", headers=alice.headers)).json()
    assert len(alerts) == 1
    ids = {"hub": str(hub.id), "node": node["id"], "plant": plant["id"], "alert": alerts[0]["id"]}
    return World(alice, mallory, ids)


# (method, path template, JSON body, path that must still answer 200 for the owner)
ROUTES: list[tuple[str, str, dict[str, Any] | None, str]] = [
    ("GET", "/api/v1/hubs/{hub}", None, "/api/v1/hubs/{hub}"),
    ("PATCH", "/api/v1/hubs/{hub}", {"name": "mine now"}, "/api/v1/hubs/{hub}"),
    ("DELETE", "/api/v1/hubs/{hub}", None, "/api/v1/hubs/{hub}"),
    ("GET", "/api/v1/nodes/{node}", None, "/api/v1/nodes/{node}"),
    ("PATCH", "/api/v1/nodes/{node}", {"name": "mine"}, "/api/v1/nodes/{node}"),
    ("DELETE", "/api/v1/nodes/{node}", None, "/api/v1/nodes/{node}"),
    ("GET", "/api/v1/nodes/{node}/config", None, "/api/v1/nodes/{node}"),
    ("PUT", "/api/v1/nodes/{node}/config", {"sampling_interval_s": 60}, "/api/v1/nodes/{node}"),
    ("GET", "/api/v1/nodes/{node}/readings", None, "/api/v1/nodes/{node}/readings"),
    ("GET", "/api/v1/nodes/{node}/readings.csv", None, "/api/v1/nodes/{node}/readings.csv"),
    ("GET", "/api/v1/plants/{plant}", None, "/api/v1/plants/{plant}"),
    ("PATCH", "/api/v1/plants/{plant}", {"name": "mine"}, "/api/v1/plants/{plant}"),
    ("DELETE", "/api/v1/plants/{plant}", None, "/api/v1/plants/{plant}"),
    ("GET", "/api/v1/plants/{plant}/readings", None, "/api/v1/plants/{plant}/readings"),
    ("GET", "/api/v1/plants/{plant}/readings/latest", None, "/api/v1/plants/{plant}"),
    ("GET", "/api/v1/plants/{plant}/readings.csv", None, "/api/v1/plants/{plant}"),
    ("GET", "/api/v1/plants/{plant}/alerts", None, "/api/v1/plants/{plant}/alerts"),
    ("GET", "/api/v1/alerts/{alert}", None, "/api/v1/alerts/{alert}"),
    ("POST", "/api/v1/alerts/{alert}/acknowledge", None, "/api/v1/alerts/{alert}"),
    ("POST", "/api/v1/alerts/{alert}/resolve", None, "/api/v1/alerts/{alert}"),
]


@pytest.mark.parametrize(
    ("method", "template", "body", "check"), ROUTES, ids=[f"{r[0]} {r[1]}" for r in ROUTES]
)
async def test_other_users_resources_are_not_found(
    client: httpx.AsyncClient,
    world: World,
    method: str,
    template: str,
    body: dict[str, Any] | None,
    check: str,
) -> None:
    path = template.format(**world.ids)
    response = await client.request(method, path, json=body, headers=world.mallory.headers)
    assert response.status_code == 404, response.text
    assert response.json()["error"]["code"] == "not_found"
    assert world.ids["node"] not in response.text
    anonymous = await client.request(method, path, json=body)
    assert anonymous.status_code == 401
    owner_view = await client.get(check.format(**world.ids), headers=world.alice.headers)
    assert owner_view.status_code == 200
    if method == "PATCH":
        assert "mine" not in owner_view.text
    if method == "POST":
        assert owner_view.json()["status"] == "open"
    if method == "DELETE" and "hubs" in template:
        assert owner_view.json()["linked"] is True


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/hubs",
        "/api/v1/nodes",
        "/api/v1/plants",
        "/api/v1/alerts",
        "/api/v1/readings/latest",
    ],
)
async def test_lists_show_only_own_items(
    client: httpx.AsyncClient, world: World, path: str
) -> None:
    assert (await client.get(path, headers=world.mallory.headers)).json() == []
    assert len((await client.get(path, headers=world.alice.headers)).json()) == 1


async def test_cannot_reference_another_users_node_or_hub(
    client: httpx.AsyncClient, world: World
) -> None:
    borrowed = await client.post(
        "/api/v1/plants",
        json={"name": "Cuckoo", "node_id": world.ids["node"]},
        headers=world.mallory.headers,
    )
    assert borrowed.status_code == 422
    node = await create_node(client, world.mallory)
    moved = await client.patch(
        f"/api/v1/nodes/{node['id']}",
        json={"hub_id": world.ids["hub"]},
        headers=world.mallory.headers,
    )
    assert moved.status_code == 422
    filtered = await client.get(
        "/api/v1/alerts", params={"plant_id": world.ids["plant"]}, headers=world.mallory.headers
    )
    assert filtered.json() == []
