"""The API routes the cloud app needs: display preferences on the account, the sessions list
with revoke, the garden overview with the hub's status words, and the hub's config
acknowledgement behind "waiting for the hub"."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx

from shared.plant_status import daily_light
from shared.sync import SYNC_CONFIG_PATH, SYNC_READINGS_PATH, SYNC_STATUS_PATH, Thresholds
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


async def test_light_status_is_judged_by_the_daily_light_integral(
    client: httpx.AsyncClient,
) -> None:
    """A dim yesterday is "too low" however bright the latest reading, and a dark night
    reading after a bright day is OK: the hub's rule (shared.plant_status) in the cloud."""
    user = await create_user(client)
    hub = await create_hub(client, user)
    dim_node = await create_node(client, user, hub=hub, name="Dim corner")
    sunny_node = await create_node(client, user, hub=hub, name="Sunny sill")
    limits = {"light_lux_min": 2000, "light_lux_max": 60000, "dli_min": 8, "dli_max": 30}
    dim = await create_plant(client, user, node=dim_node, name="Dim", overrides=limits)
    sunny = await create_plant(client, user, node=sunny_node, name="Sunny", overrides=limits)
    now = datetime.now(UTC)
    today = datetime.combine(now.date(), datetime.min.time(), UTC)
    yesterday = today - timedelta(days=1)

    def day_of(mac: str, lux: float) -> list[dict[str, object]]:
        return [
            {
                "node_mac": mac,
                "measured_at": (yesterday + timedelta(minutes=30 + 60 * h)).isoformat(),
                "illuminance": lux,
            }
            for h in range(24)
        ]

    readings = [
        *day_of(dim_node["mac"], 150.0),  # DLI about 0.3: far below 8
        *day_of(sunny_node["mac"], 12000.0),  # DLI about 22: within 8-30
        {"node_mac": dim_node["mac"], "measured_at": now.isoformat(), "illuminance": 20000.0},
        {"node_mac": sunny_node["mac"], "measured_at": now.isoformat(), "illuminance": 0.0},
    ]
    pushed = await client.post(
        SYNC_READINGS_PATH,
        json={"batch_id": str(uuid.uuid4()), "readings": readings},
        headers=hub.headers,
    )
    assert pushed.status_code == 200, pushed.text
    assert pushed.json()["accepted"] == len(readings)

    garden = (await client.get("/api/v1/garden", headers=user.headers)).json()
    light = {
        card["plant"]["id"]: next(
            m for m in card["status"]["metrics"] if m["metric"] == "illuminance"
        )
        for card in garden["plants"]
    }
    expected = {
        dim["id"]: daily_light((None, 0), (150.0, 24), Thresholds(**limits), now),
        sunny["id"]: daily_light((None, 0), (12000.0, 24), Thresholds(**limits), now),
    }
    for plant_id, want in expected.items():
        got = light[plant_id]["daily"]
        assert got["yesterday"] == want.yesterday.model_dump(mode="json")
        assert (got["minimum"], got["maximum"], got["unit"]) == (8, 30, "mol/m²/day")
    assert light[dim["id"]]["daily"]["yesterday"]["status"] == "low"
    assert light[dim["id"]]["status"] == "low"  # 20000 lx now, but the day was dim
    assert light[sunny["id"]]["status"] == "ok"  # 0 lx now: night, the day was bright
    # Today so far: two readings, too few for an integral.
    assert light[dim["id"]]["daily"]["today"]["dli"] is None
    # The plant's own status route says the same.
    one = (await client.get(f"/api/v1/plants/{dim['id']}/status", headers=user.headers)).json()
    assert next(m for m in one["metrics"] if m["metric"] == "illuminance") == light[dim["id"]]
    # A plant without a node has nothing to integrate; other metrics carry no daily figure.
    alone = await create_plant(client, user, name="No node", overrides=limits)
    status = await client.get(f"/api/v1/plants/{alone['id']}/status", headers=user.headers)
    assert all(m["daily"] is None for m in status.json()["metrics"])


async def test_hub_sync_status_is_kept_on_the_hub_and_refused_when_malformed(
    client: httpx.AsyncClient,
) -> None:
    user = await create_user(client)
    hub = await create_hub(client, user)
    report = {
        "pending": {"readings": 120, "alerts": 1, "image_bytes": 2},
        "oldest_pending_reading_at": "2026-12-01T10:00:00Z",
        "last_error": "readings: cloud answered 503",
    }
    put = await client.put(SYNC_STATUS_PATH, json=report, headers=hub.headers)
    assert put.status_code == 204, put.text
    seen = (await client.get(f"/api/v1/hubs/{hub.id}", headers=user.headers)).json()
    assert seen["pending"] == {
        "alerts": 1,
        "readings": 120,
        "nodes": 0,
        "image_slots": 0,
        "image_bytes": 2,
        "plant_edits": 0,
    }
    assert seen["pending_total"] == 123
    assert seen["oldest_pending_reading_at"] == "2026-12-01T10:00:00Z"
    assert seen["last_sync_error"] == "readings: cloud answered 503"
    garden = (await client.get("/api/v1/garden", headers=user.headers)).json()
    assert garden["hubs"][0]["pending_total"] == 123
    for bad in (
        {"pending": {"readings": -1}},
        {"pending": {"readings": "many"}},
        {"pending": {"sheep": 3}},
        {"pending": {}, "last_error": "x" * 501},
        {"pending": {}, "oldest_pending_reading_at": "2026-12-01T10:00:00"},  # no zone
        {},
    ):
        refused = await client.put(SYNC_STATUS_PATH, json=bad, headers=hub.headers)
        assert refused.status_code == 422, bad
        assert refused.json()["error"]["code"]
    # Users cannot report for a hub; a user's token is no hub token.
    as_user = await client.put(SYNC_STATUS_PATH, json=report, headers=user.headers)
    assert as_user.status_code == 401
    assert (await client.put(SYNC_STATUS_PATH, json=report)).status_code == 401
