"""Alerts through the real app: evaluation at ingest, battery, stale nodes, user actions,
alerts pushed by hubs."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest
from starlette.types import ASGIApp

from cloud.alerts import repository as alerts_repository
from cloud.alerts.service import check_stale_nodes
from cloud.db.engine import libpq_url
from shared.sync import SYNC_ALERTS_PATH, SYNC_READINGS_PATH
from tests.cloud.factories import HubAuth, create_hub, create_node, create_plant, create_user

T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=6)


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"alert_min_duration_s": 600, "low_battery_pct": 15}


async def push(
    client: httpx.AsyncClient, hub: HubAuth, mac: str, rows: list[tuple[int, dict[str, float]]]
) -> dict[str, Any]:
    items = [
        {"node_mac": mac, "measured_at": (T0 + timedelta(minutes=m)).isoformat(), **values}
        for m, values in rows
    ]
    response = await client.post(
        SYNC_READINGS_PATH,
        json={"batch_id": str(uuid.uuid4()), "readings": items},
        headers=hub.headers,
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def alerts_of(
    client: httpx.AsyncClient, headers: dict[str, str], **params: str
) -> list[dict[str, Any]]:
    response = await client.get("/api/v1/alerts", params=params, headers=headers)
    assert response.status_code == 200
    result: list[dict[str, Any]] = response.json()
    return result


async def test_moisture_alert_needs_min_duration_and_resolves_with_hysteresis(
    client: httpx.AsyncClient,
) -> None:
    user = await create_user(client)
    hub = await create_hub(client, user)
    node = await create_node(client, user, hub=hub)
    plant = await create_plant(
        client, user, "Fern", node=node, species_id=12, overrides={"moisture_min": 30}
    )
    assert plant["thresholds"]["moisture_min"] == 30
    mac = node["mac"]
    # Dry for 5 minutes only: no alert.
    await push(
        client, hub, mac, [(0, {"moisture": 50}), (5, {"moisture": 25}), (10, {"moisture": 45})]
    )
    assert await alerts_of(client, user.headers) == []
    # Dry for 10 minutes (in two batches): one alert.
    await push(client, hub, mac, [(20, {"moisture": 25}), (25, {"moisture": 24})])
    await push(client, hub, mac, [(30, {"moisture": 22}), (35, {"moisture": 21})])
    opened = await alerts_of(client, user.headers)
    assert [(a["kind"], a["metric"], a["status"], a["plant_id"]) for a in opened] == [
        ("low", "moisture", "open", plant["id"])
    ]
    assert opened[0]["opened_at"].startswith(
        (T0 + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M")
    )
    assert opened[0]["threshold"] == 30
    # Back to 31 (inside, but not past the 3 % band): still open.
    await push(client, hub, mac, [(40, {"moisture": 31}), (45, {"moisture": 32})])
    assert (await alerts_of(client, user.headers))[0]["status"] == "open"
    # Re-sending old dry rows changes nothing.
    await push(client, hub, mac, [(20, {"moisture": 25}), (50, {"moisture": 33.5})])
    resolved = await alerts_of(client, user.headers)
    assert [(a["status"], a["resolved_at"] is not None) for a in resolved] == [("resolved", True)]
    per_plant = await client.get(f"/api/v1/plants/{plant['id']}/alerts", headers=user.headers)
    assert [a["id"] for a in per_plant.json()] == [opened[0]["id"]]


async def test_one_batch_resolves_an_alert_and_opens_the_next(
    client: httpx.AsyncClient,
) -> None:
    """The alert a batch resolves frees its node, kind and metric for the one it opens later."""
    user = await create_user(client)
    hub = await create_hub(client, user)
    node = await create_node(client, user, hub=hub)
    await create_plant(
        client, user, "Fern", node=node, species_id=12, overrides={"moisture_min": 30}
    )
    mac = node["mac"]
    await push(client, hub, mac, [(0, {"moisture": 25}), (10, {"moisture": 24})])
    [first] = await alerts_of(client, user.headers)
    wet_then_dry = [(20, {"moisture": 40}), (30, {"moisture": 22}), (40, {"moisture": 21})]
    await push(client, hub, mac, wet_then_dry)
    alerts = await alerts_of(client, user.headers)
    assert [(a["id"] == first["id"], a["status"]) for a in alerts] == [
        (False, "open"),
        (True, "resolved"),
    ]


async def test_low_battery_opens_and_resolves_with_margin(client: httpx.AsyncClient) -> None:
    user = await create_user(client)
    hub = await create_hub(client, user)
    node = await create_node(client, user, hub=hub)
    await push(client, hub, node["mac"], [(0, {"battery": 40}), (1, {"battery": 12})])
    [alert] = await alerts_of(client, user.headers)
    assert (alert["kind"], alert["node_id"], alert["plant_id"]) == ("low_battery", node["id"], None)
    await push(client, hub, node["mac"], [(2, {"battery": 18})])
    assert (await alerts_of(client, user.headers, status="open"))[0]["id"] == alert["id"]
    await push(client, hub, node["mac"], [(3, {"battery": 21})])
    assert await alerts_of(client, user.headers, status="open") == []


async def test_an_alert_opened_while_its_twin_is_open_keeps_the_stored_one(
    client: httpx.AsyncClient, database_url: str
) -> None:
    """Evaluation that lost its state opens the alert again: the open one stays the only one and
    the state points at it (the twin a batch's one alert insert could see)."""
    user = await create_user(client)
    hub = await create_hub(client, user)
    node = await create_node(client, user, hub=hub)
    await push(client, hub, node["mac"], [(0, {"battery": 5})])
    [alert] = await alerts_of(client, user.headers)
    with psycopg.connect(libpq_url(database_url), autocommit=True) as conn:
        conn.execute("DELETE FROM alert_states WHERE node_id = %s", (node["id"],))
    await push(client, hub, node["mac"], [(1, {"battery": 4})])
    assert [a["id"] for a in await alerts_of(client, user.headers)] == [alert["id"]]
    with psycopg.connect(libpq_url(database_url)) as conn:
        state = conn.execute(
            "SELECT alert_id::text FROM alert_states WHERE node_id = %s AND metric = 'battery'",
            (node["id"],),
        ).fetchone()
    assert state == (alert["id"],)


async def test_twins_in_one_insert_map_to_the_first(
    client: httpx.AsyncClient, database_url: str
) -> None:
    """Two new alerts of one node, kind and metric in one call: the second is the first's twin,
    which the statement that inserts both cannot see (it is looked up on its own)."""
    user = await create_user(client)
    hub = await create_hub(client, user)
    node = await create_node(client, user, hub=hub)
    now = datetime.now(UTC)

    def alert(metric: str) -> dict[str, Any]:
        return {
            "id": uuid.uuid4(),
            "owner_id": user.id,
            "plant_id": None,
            "node_id": uuid.UUID(node["id"]),
            "hub_id": hub.id,
            "source": "cloud",
            "kind": "threshold",
            "metric": metric,
            "status": "open",
            "message": "twin",
            "value": 1.0,
            "threshold": None,
            "opened_at": now,
            "resolved_at": None,
            "created_at": now,
        }

    first, second, other = alert("moisture"), alert("moisture"), alert("humidity")
    async with await psycopg.AsyncConnection.connect(libpq_url(database_url)) as conn:
        stored = await alerts_repository.insert_cloud_alerts(conn, [first, second, other])
        await conn.commit()
    assert stored == {first["id"]: first["id"], second["id"]: first["id"], other["id"]: other["id"]}
    with psycopg.connect(libpq_url(database_url)) as conn:
        count = conn.execute("SELECT count(*) FROM alerts WHERE node_id = %s", (node["id"],))
        assert count.fetchone() == (2,)


async def test_acknowledge_and_manual_resolve(client: httpx.AsyncClient) -> None:
    user = await create_user(client)
    hub = await create_hub(client, user)
    node = await create_node(client, user, hub=hub)
    await push(client, hub, node["mac"], [(0, {"battery": 5})])
    [alert] = await alerts_of(client, user.headers)
    acked = await client.post(f"/api/v1/alerts/{alert['id']}/acknowledge", headers=user.headers)
    assert acked.json()["status"] == "acknowledged"
    done = await client.post(f"/api/v1/alerts/{alert['id']}/resolve", headers=user.headers)
    assert done.json()["status"] == "resolved"
    again = await client.post(f"/api/v1/alerts/{alert['id']}/acknowledge", headers=user.headers)
    assert again.status_code == 409
    # Evaluation starts afresh: still empty, a new alert opens.
    await push(client, hub, node["mac"], [(1, {"battery": 4})])
    fresh = await alerts_of(client, user.headers, status="open")
    assert len(fresh) == 1
    assert fresh[0]["id"] != alert["id"]


async def test_stale_node_alert_opens_and_clears_when_node_reports(
    client: httpx.AsyncClient, running_app: ASGIApp, app: Any, database_url: str
) -> None:
    user = await create_user(client)
    hub = await create_hub(client, user)
    node = await create_node(client, user, hub=hub)
    await client.put(
        f"/api/v1/nodes/{node['id']}/config", json={"sampling_interval_s": 60}, headers=user.headers
    )
    await push(client, hub, node["mac"], [(0, {"moisture": 50})])  # six hours ago
    engine = app.state.engine
    assert await check_stale_nodes(engine, app.state.settings, app.state.metrics) == 1
    assert await check_stale_nodes(engine, app.state.settings, app.state.metrics) == 0
    [stale] = await alerts_of(client, user.headers)
    assert stale["kind"] == "stale"
    assert node["mac"] in stale["message"]
    # Resolved by hand, it stays resolved while the node is still silent.
    await client.post(f"/api/v1/alerts/{stale['id']}/resolve", headers=user.headers)
    assert await check_stale_nodes(engine, app.state.settings, app.state.metrics) == 0
    await push(client, hub, node["mac"], [(360, {"moisture": 50})])
    assert await alerts_of(client, user.headers, status="open") == []
    metrics = (await client.get("/metrics")).text
    assert 'plantvita_cloud_alerts_opened_total{kind="stale",source="cloud"} 1.0' in metrics


async def test_periodic_stale_check_runs_in_lifespan(database_url: str) -> None:
    from cloud.app import create_app
    from cloud.settings import CloudSettings
    from tests.cloud.conftest import asgi_client
    from tests.lifespan import LifespanManager

    settings = CloudSettings(
        database_url=database_url,
        stale_check_interval_s=0.05,
        argon2_time_cost=1,
        argon2_memory_kib=1024,
        log_level="WARNING",
    )
    app = create_app(settings)
    async with LifespanManager(app) as manager, asgi_client(manager.app) as client:
        user = await create_user(client)
        hub = await create_hub(client, user)
        node = await create_node(client, user, hub=hub)
        await push(client, hub, node["mac"], [(0, {"moisture": 50})])
        for _ in range(100):
            if await alerts_of(client, user.headers):
                break
            await asyncio.sleep(0.05)
        assert [a["kind"] for a in await alerts_of(client, user.headers)] == ["stale"]


async def test_hub_pushed_alerts_are_idempotent(client: httpx.AsyncClient) -> None:
    user = await create_user(client)
    hub = await create_hub(client, user)
    node = await create_node(client, user, hub=hub)
    local_id = str(uuid.uuid4())
    alert = {
        "local_id": local_id,
        "node_mac": node["mac"],
        "kind": "high",
        "metric": "temperature",
        "message": "hot in the greenhouse",
        "opened_at": T0.isoformat(),
    }
    batch = {"batch_id": str(uuid.uuid4()), "alerts": [alert, {"kind": "nonsense"}]}
    first = (await client.post(SYNC_ALERTS_PATH, json=batch, headers=hub.headers)).json()
    assert (first["accepted"], first["duplicates"], first["replayed"]) == (1, 0, False)
    assert [r["index"] for r in first["rejected"]] == [1]
    replay = (await client.post(SYNC_ALERTS_PATH, json=batch, headers=hub.headers)).json()
    assert replay["replayed"] is True
    resolved = {**alert, "resolved_at": (T0 + timedelta(hours=1)).isoformat()}
    update = {"batch_id": str(uuid.uuid4()), "alerts": [resolved]}
    second = (await client.post(SYNC_ALERTS_PATH, json=update, headers=hub.headers)).json()
    assert (second["accepted"], second["duplicates"]) == (0, 1)
    [stored] = await alerts_of(client, user.headers)
    assert (stored["source"], stored["status"], stored["node_id"]) == (
        "hub",
        "resolved",
        node["id"],
    )
    unknown = {
        "batch_id": str(uuid.uuid4()),
        "alerts": [{**alert, "local_id": str(uuid.uuid4()), "node_mac": "02:00:00:00:00:01"}],
    }
    third = (await client.post(SYNC_ALERTS_PATH, json=unknown, headers=hub.headers)).json()
    assert third["rejected"][0]["reason"] == "unknown_node"


async def test_low_daily_light_integral_is_judged_per_completed_day(
    client: httpx.AsyncClient,
) -> None:
    user = await create_user(client)
    hub = await create_hub(client, user)
    node = await create_node(client, user, hub=hub)
    plant = await create_plant(client, user, "Tomato", node=node, species_id=54)
    assert (plant["thresholds"]["dli_min"], plant["thresholds"]["dli_max"]) == (20, 40)
    day0 = datetime(2026, 6, 1, tzinfo=UTC)

    async def day(offset: int, lux: float, hours: int = 24) -> None:
        items = [
            {
                "node_mac": node["mac"],
                "measured_at": (day0 + timedelta(days=offset, hours=h)).isoformat(),
                "illuminance": lux,
            }
            for h in range(hours)
        ]
        response = await client.post(
            SYNC_READINGS_PATH,
            json={"batch_id": str(uuid.uuid4()), "readings": items},
            headers=hub.headers,
        )
        ack = response.json()
        assert ack["accepted"] + ack["duplicates"] == hours

    await day(0, 2000)  # a dark day: DLI ≈ 3.2, but the day is not over yet
    assert await alerts_of(client, user.headers) == []
    await day(1, 15000, hours=1)  # the first reading of the next day closes day 0
    [alert] = await alerts_of(client, user.headers)
    assert (alert["kind"], alert["metric"], alert["threshold"]) == ("low", "dli", 20)
    assert "2026-06-01" in alert["message"]
    assert alert["value"] == pytest.approx(3.2, abs=0.05)
    # Night readings never open an instantaneous low-light alert.
    await day(1, 15000, hours=24)  # DLI ≈ 24: inside, past the hysteresis band
    await day(2, 15000, hours=1)
    assert await alerts_of(client, user.headers, status="open") == []


async def test_alert_list_paging_bounds_are_422_not_database_errors(
    client: httpx.AsyncClient,
) -> None:
    user = await create_user(client)
    for params in ({"limit": str(2**70)}, {"limit": "-1"}, {"limit": "0"}, {"limit": "501"}):
        response = await client.get("/api/v1/alerts", params=params, headers=user.headers)
        assert response.status_code == 422, params
        assert response.json()["error"]["code"] == "validation_error"
    # The old offset paging is refused by name, not silently ignored.
    response = await client.get("/api/v1/alerts", params={"offset": "2"}, headers=user.headers)
    assert (response.status_code, response.json()["error"]["code"]) == (422, "unknown_parameter")
