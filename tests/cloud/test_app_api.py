"""The API routes the cloud app needs: display preferences on the account, the sessions list
with revoke, the garden overview with the hub's status words, and the hub's config
acknowledgement behind "waiting for the hub"."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx

from shared.sync import SYNC_CONFIG_PATH, SYNC_READINGS_PATH
from tests.cloud.conftest import both_database_routes
from tests.cloud.factories import create_hub, create_node, create_plant, create_user, login

# Each test runs straight to PostgreSQL and once through PgBouncer in transaction mode.
database_route = both_database_routes


async def test_preferences_are_kept_on_the_account(client: httpx.AsyncClient) -> None:
    user = await create_user(client)
    me = (await client.get("/api/v1/auth/me", headers=user.headers)).json()
    assert (me["temperature_unit"], me["locale"]) == ("C", None)
    changed = await client.patch(
        "/api/v1/auth/me", json={"temperature_unit": "F", "locale": "en-GB"}, headers=user.headers
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["temperature_unit"], changed.json()["locale"]) == ("F", "en-GB")
    again = (await client.get("/api/v1/auth/me", headers=user.headers)).json()
    assert (again["temperature_unit"], again["locale"]) == ("F", "en-GB")
    # Only the locale: the unit stays; null clears the locale.
    cleared = await client.patch("/api/v1/auth/me", json={"locale": None}, headers=user.headers)
    assert (cleared.json()["temperature_unit"], cleared.json()["locale"]) == ("F", None)
    for bad in ({"temperature_unit": "K"}, {"locale": "<b>x</b>"}, {"email": "x@y.org"}):
        refused = await client.patch("/api/v1/auth/me", json=bad, headers=user.headers)
        assert refused.status_code == 422, bad


async def test_sessions_are_listed_and_one_can_be_revoked(client: httpx.AsyncClient) -> None:
    user = await create_user(client)
    phone = await client.post(
        "/api/v1/auth/token",
        data={"username": user.email, "password": user.password},
        headers={"User-Agent": "Phone browser/1.0"},
    )
    phone_tokens = phone.json()
    assert uuid.UUID(phone_tokens["session_id"])
    listed = (await client.get("/api/v1/auth/sessions", headers=user.headers)).json()
    assert len(listed) == 2
    assert listed[0]["id"] == phone_tokens["session_id"]
    assert listed[0]["user_agent"] == "Phone browser/1.0"
    # A refresh keeps the session: same id, one entry, still started when the login was.
    rotated = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": phone_tokens["refresh_token"]}
    )
    assert rotated.json()["session_id"] == phone_tokens["session_id"]
    after = (await client.get("/api/v1/auth/sessions", headers=user.headers)).json()
    assert [s["id"] for s in after].count(phone_tokens["session_id"]) == 1
    assert after[0]["started_at"] == listed[0]["started_at"]
    assert after[0]["last_active_at"] > listed[0]["last_active_at"]

    revoked = await client.delete(
        f"/api/v1/auth/sessions/{phone_tokens['session_id']}", headers=user.headers
    )
    assert revoked.status_code == 204
    dead = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": rotated.json()["refresh_token"]}
    )
    assert dead.status_code == 401
    left = (await client.get("/api/v1/auth/sessions", headers=user.headers)).json()
    assert len(left) == 1
    assert left[0]["id"] != phone_tokens["session_id"]
    again = await client.delete(
        f"/api/v1/auth/sessions/{phone_tokens['session_id']}", headers=user.headers
    )
    assert again.status_code == 404
    # Another user's session is not found, and stays alive.
    other = await create_user(client)
    theirs = (await login(client, other.email, other.password)).json()["session_id"]
    stolen = await client.delete(f"/api/v1/auth/sessions/{theirs}", headers=user.headers)
    assert stolen.status_code == 404
    assert theirs in [
        s["id"] for s in (await client.get("/api/v1/auth/sessions", headers=other.headers)).json()
    ]


async def test_garden_overview_has_status_words_and_hub_health(
    client: httpx.AsyncClient,
) -> None:
    user = await create_user(client)
    hub = await create_hub(client, user)
    node = await create_node(client, user, hub=hub, name="Sill node")
    plant = await create_plant(
        client,
        user,
        node=node,
        overrides={"moisture_min": 30, "moisture_max": 60, "temperature_max": 25},
    )
    quiet = await create_plant(client, user, name="Fern")
    now = datetime.now(UTC)
    readings = [
        {
            "node_mac": node["mac"],
            "measured_at": (now - timedelta(minutes=1)).isoformat(),
            "moisture": 22.0,
            "temperature": 31.0,
            "humidity": 50.0,
        }
    ]
    pushed = await client.post(
        SYNC_READINGS_PATH,
        json={"batch_id": str(uuid.uuid4()), "readings": readings},
        headers=hub.headers,
    )
    assert pushed.status_code == 200, pushed.text
    garden = await client.get("/api/v1/garden", headers=user.headers)
    assert garden.status_code == 200, garden.text
    body = garden.json()
    assert [h["id"] for h in body["hubs"]] == [str(hub.id)]
    assert body["hubs"][0]["online"] is True
    cards = {c["plant"]["id"]: c for c in body["plants"]}
    statuses = {m["metric"]: m["status"] for m in cards[plant["id"]]["status"]["metrics"]}
    assert statuses["moisture"] == "low"
    assert statuses["temperature"] == "high"
    assert statuses["humidity"] == "ok"
    assert statuses["illuminance"] == "unknown"
    assert cards[plant["id"]]["node"]["name"] == "Sill node"
    assert {m["status"] for m in cards[quiet["id"]]["status"]["metrics"]} == {"unknown"}
    one = await client.get(f"/api/v1/plants/{plant['id']}/status", headers=user.headers)
    assert {m["metric"]: m["status"] for m in one.json()["metrics"]} == statuses


async def test_waiting_for_the_hub_until_it_confirms_the_revision(
    client: httpx.AsyncClient,
) -> None:
    user = await create_user(client)
    hub = await create_hub(client, user)
    node = await create_node(client, user, hub=hub)
    plant = await create_plant(client, user, node=node)

    async def hub_state() -> dict[str, object]:
        response = await client.get(f"/api/v1/hubs/{hub.id}", headers=user.headers)
        return dict(response.json())

    assert (await hub_state())["config_pending"] is True
    snapshot = (await client.get(SYNC_CONFIG_PATH, headers=hub.headers)).json()
    # Fetching alone is no confirmation; the next pull with since_revision is.
    assert (await hub_state())["config_pending"] is True
    unchanged = await client.get(
        SYNC_CONFIG_PATH, params={"since_revision": snapshot["revision"]}, headers=hub.headers
    )
    assert unchanged.status_code == 304
    state = await hub_state()
    assert (state["config_pending"], state["config_revision_acked"]) == (
        False,
        snapshot["revision"],
    )
    edited = await client.patch(
        f"/api/v1/plants/{plant['id']}",
        json={"overrides": {"moisture_min": 35, "moisture_max": 65}},
        headers=user.headers,
    )
    assert edited.status_code == 200
    assert (await hub_state())["config_pending"] is True
    garden = (await client.get("/api/v1/garden", headers=user.headers)).json()
    assert garden["plants"][0]["config_pending"] is True
    # A revision from the future (a confused hub) is not taken as confirmation.
    await client.get(SYNC_CONFIG_PATH, params={"since_revision": 10**9}, headers=hub.headers)
    assert (await hub_state())["config_pending"] is True
