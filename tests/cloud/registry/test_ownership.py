"""Every user route is scoped to its owner: another user's hub, node, plant, reading, alert,
photo or diagnosis answers 404, and lists never show it.

The matrix is checked against the app's OpenAPI schema: an owner-scoped route (user or hub
security and an id in its path, or a user list) added without a row here fails
``test_every_owner_scoped_route_is_in_the_matrix``."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from shared.sync import SYNC_ALERTS_PATH, SYNC_IMAGE_COMPLETE_PATH, SYNC_READINGS_PATH
from tests.cloud.factories import (
    HubAuth,
    UserAuth,
    create_hub,
    create_node,
    create_plant,
    create_user,
    login,
)
from tests.cloud.images.conftest import Garden, announce, photo, slot_body, upload_photo


@pytest.fixture
def settings_overrides(tmp_path: Path) -> dict[str, Any]:
    """Photos in a local store, so the image and diagnosis routes have something to guard."""
    return {
        "storage_dir": tmp_path / "objects",
        "public_base_url": "http://cloud.test",
        "worker_inline": False,
    }


@dataclass
class World:
    """Alice owns a hub, node, plant, readings, an alert, a photo and its diagnosis; Mallory
    (with a hub of her own) owns nothing of hers."""

    alice: UserAuth
    mallory: UserAuth
    ids: dict[str, str]
    alice_hub: HubAuth
    mallory_hub: HubAuth


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
    ack = await upload_photo(client, Garden(alice, hub, node, plant), photo(7))
    diagnosis = await client.post(
        f"/api/v1/images/{ack['image_id']}/diagnoses", headers=alice.headers
    )
    assert diagnosis.status_code in (200, 202), diagnosis.text
    ids = {
        "hub": str(hub.id),
        "node": node["id"],
        "plant": plant["id"],
        "alert": alerts[0]["id"],
        "image": ack["image_id"],
        "diagnosis": diagnosis.json()["id"],
        "session": (await login(client, alice.email, alice.password)).json()["session_id"],
        "subscription": (
            await client.post(
                "/api/v1/notifications/push/subscriptions",
                json={
                    "endpoint": "https://hooks.example.org/push/alice-browser",
                    "keys": {"p256dh": "B" + "A" * 86, "auth": "A" * 22},
                },
                headers=alice.headers,
            )
        ).json()["id"],
    }
    return World(alice, mallory, ids, hub, await create_hub(client, mallory))


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
    ("GET", "/api/v1/plants/{plant}/watering", None, "/api/v1/plants/{plant}/watering"),
    ("GET", "/api/v1/plants/{plant}/alerts", None, "/api/v1/plants/{plant}/alerts"),
    ("GET", "/api/v1/alerts/{alert}", None, "/api/v1/alerts/{alert}"),
    ("POST", "/api/v1/alerts/{alert}/acknowledge", None, "/api/v1/alerts/{alert}"),
    ("POST", "/api/v1/alerts/{alert}/resolve", None, "/api/v1/alerts/{alert}"),
    ("GET", "/api/v1/plants/{plant}/images", None, "/api/v1/plants/{plant}/images"),
    ("GET", "/api/v1/nodes/{node}/images", None, "/api/v1/nodes/{node}/images"),
    ("GET", "/api/v1/images/{image}", None, "/api/v1/images/{image}"),
    ("GET", "/api/v1/images/{image}/thumbnail", None, "/api/v1/images/{image}"),
    ("POST", "/api/v1/images/{image}/diagnoses", None, "/api/v1/plants/{plant}/diagnoses"),
    ("GET", "/api/v1/plants/{plant}/diagnoses", None, "/api/v1/plants/{plant}/diagnoses"),
    ("GET", "/api/v1/diagnoses/{diagnosis}", None, "/api/v1/diagnoses/{diagnosis}"),
    ("GET", "/api/v1/plants/{plant}/status", None, "/api/v1/plants/{plant}/status"),
    ("DELETE", "/api/v1/auth/sessions/{session}", None, "/api/v1/auth/sessions"),
    (
        "DELETE",
        "/api/v1/notifications/push/subscriptions/{subscription}",
        None,
        "/api/v1/notifications/push/subscriptions",
    ),
]
# Lists scoped to the caller (no id in the path).
LISTS = [
    "/api/v1/hubs",
    "/api/v1/nodes",
    "/api/v1/plants",
    "/api/v1/alerts",
    "/api/v1/readings/latest",
    "/api/v1/garden",
    "/api/v1/auth/sessions",
    "/api/v1/notifications/push/subscriptions",
]
# Lists where the caller has items of their own: (Mallory's, Alice's) count; 1 each otherwise.
OWN_ITEMS = {
    "/api/v1/hubs": (1, 1),
    "/api/v1/garden": (1, 2),  # hubs + plants
    "/api/v1/auth/sessions": (1, 2),  # her logins
}


def _items(path: str, body: Any) -> list[Any]:
    """The listed things of a list route (the garden lists hubs and plants)."""
    if path == "/api/v1/garden":
        return [*body["hubs"], *body["plants"]]
    return list(body)


# The caller's own account, not a collection of owned things.
NOT_OWNED = {
    ("GET", "/api/v1/auth/me"),
    ("PATCH", "/api/v1/auth/me"),
    ("POST", "/api/v1/auth/password"),
    ("GET", "/api/v1/notifications/preferences"),
    ("PUT", "/api/v1/notifications/preferences"),
}
# The caller's own alert webhook (no id in the path; another user's stays out of reach:
# test_webhooks.test_another_user_cannot_see_or_change_it).
NOT_OWNED |= {
    ("GET", "/api/v1/alerts/webhook"),
    ("PUT", "/api/v1/alerts/webhook"),
    ("DELETE", "/api/v1/alerts/webhook"),
    ("POST", "/api/v1/alerts/webhook/rotate-secret"),
}
# Creating with references to another user's things: test_cannot_reference_another_users_node_or_hub
# (and the device flow, which links a hub to the approving user only).
CREATES = {
    ("POST", "/api/v1/nodes"),
    ("POST", "/api/v1/plants"),
    ("POST", "/api/v1/auth/device/approve"),
    # A browser's endpoint is its own secret: whoever holds it subscribes it (to themselves).
    ("POST", "/api/v1/notifications/push/subscriptions"),
}
# Hub routes naming a resource: another owner's hub gets 404 (tested below).
HUB_ROUTES = {("POST", SYNC_IMAGE_COMPLETE_PATH)}


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
    if method == "POST" and "alerts" in template:
        assert owner_view.json()["status"] == "open"
    if method == "POST" and "diagnoses" in template:
        assert len(owner_view.json()) == 1  # Mallory queued nothing
    if method == "DELETE" and "hubs" in template:
        assert owner_view.json()["linked"] is True
    if method == "DELETE" and "sessions" in template:
        assert world.ids["session"] in owner_view.text
    if method == "DELETE" and "subscriptions" in template:
        assert world.ids["subscription"] in owner_view.text


@pytest.mark.parametrize("path", LISTS)
async def test_lists_show_only_own_items(
    client: httpx.AsyncClient, world: World, path: str
) -> None:
    mallory_view = await client.get(path, headers=world.mallory.headers)
    assert mallory_view.status_code == 200
    # Mallory's own hub is hers to see; nothing of Alice's may appear.
    assert not [ident for ident in world.ids.values() if ident in mallory_view.text]
    mallory_has, alice_has = OWN_ITEMS.get(path, (0, 1))
    assert len(_items(path, mallory_view.json())) == mallory_has
    alice_view = await client.get(path, headers=world.alice.headers)
    assert len(_items(path, alice_view.json())) == alice_has


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


def test_every_owner_scoped_route_is_in_the_matrix(app: FastAPI) -> None:
    """Enumerated from the schema: a new owner-scoped route must get a row above."""
    covered = {(method, template) for method, template, _, _ in ROUTES}
    missing = []
    for path, item in app.openapi()["paths"].items():
        for method, operation in item.items():
            schemes = {name for req in operation.get("security", []) for name in req}
            key = (method.upper(), re.sub(r"\{(\w+?)_id\}", r"{\1}", path))
            if "HubToken" in schemes and "{" in path:
                if (method.upper(), path) not in HUB_ROUTES:
                    missing.append(f"hub route {method.upper()} {path}")
            elif "OAuth2PasswordBearer" in schemes and "{" in path:
                if key not in covered:
                    missing.append(f"{method.upper()} {path}")
            elif "OAuth2PasswordBearer" in schemes and method == "get":
                if path not in LISTS and key not in NOT_OWNED:
                    missing.append(f"list {path}")
            elif "OAuth2PasswordBearer" in schemes and key not in NOT_OWNED | CREATES:
                missing.append(f"create {method.upper()} {path}")
    assert not missing, "owner-scoped routes without an ownership test:\n" + "\n".join(missing)


async def test_another_owners_hub_cannot_complete_or_reuse_a_slot(
    client: httpx.AsyncClient, world: World
) -> None:
    data = photo(8)
    node = (
        await client.get(f"/api/v1/nodes/{world.ids['node']}", headers=world.alice.headers)
    ).json()
    slot = await announce(client, world.alice_hub, slot_body(data, node["mac"]))
    assert slot.status_code == 200, slot.text
    image_id = slot.json()["image_id"]
    await client.put(slot.json()["upload_url"], content=data, headers=slot.json()["upload_headers"])
    path = SYNC_IMAGE_COMPLETE_PATH.format(image_id=image_id)
    stolen = await client.post(path, headers=world.mallory_hub.headers)
    assert stolen.status_code == 404, stolen.text
    assert stolen.json()["error"]["code"] == "not_found"
    # Completing an already completed photo of her own owner's is also out of reach.
    stolen_done = await client.post(
        SYNC_IMAGE_COMPLETE_PATH.format(image_id=world.ids["image"]),
        headers=world.mallory_hub.headers,
    )
    assert stolen_done.status_code == 404
    # Alice's hub still completes it.
    assert (await client.post(path, headers=world.alice_hub.headers)).status_code == 200
