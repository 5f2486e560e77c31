"""Watering on the hub and the cloud: the same shared forecast from each tier's own rollups,
against the real cloud (embedded PostgreSQL) after a sync."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx

from hub.ble.ports import DecodedReading
from hub.settings import HubSettings
from hub.store.types import utcnow
from shared.metrics import Metric
from tests.hub.cloudlink import linked_hub
from tests.hub.conftest import Cloud

MAC = "AA:BB:CC:DD:EE:31"
KEY = "00112233445566778899aabbccddeeff"


def soil(now: Any) -> list[DecodedReading]:
    """Four days: drying 10 points a day, watered from 35 % to 75 % two days ago."""
    readings = []
    for index, minutes in enumerate(range(4 * 24 * 60, 0, -20)):
        at = now - timedelta(minutes=minutes)
        hours_ago = minutes / 60
        if hours_ago > 48:
            moisture = 35 + (hours_ago - 48) / 24 * 10
        else:
            moisture = 75 - (48 - hours_ago) / 24 * 10
        readings.append(
            DecodedReading(
                node_mac=MAC, measured_at=at, values={Metric.MOISTURE: moisture}, seq=index
            )
        )
    return readings


async def test_hub_and_cloud_show_the_same_waterings_and_forecast(
    cloud: Cloud, hub_settings: HubSettings
) -> None:
    async with linked_hub(cloud, hub_settings) as hub:
        assert (await hub.http.post("/api/v1/nodes", json={"mac": MAC, "bindkey": KEY})).is_success
        assert (await hub.http.post("/api/v1/sync/now")).json()["error"] is None
        node = (await cloud.http.get("/api/v1/nodes", headers=hub.user.headers)).json()[0]
        created = await cloud.http.post(
            "/api/v1/plants",
            json={"name": "Basil", "node_id": node["id"], "overrides": {"moisture_min": 30}},
            headers=hub.user.headers,
        )
        assert created.status_code == 201, created.text
        plant_id = created.json()["id"]
        await hub.store.store_readings(soil(utcnow()))
        synced = (await hub.http.post("/api/v1/sync/now")).json()
        assert synced["error"] is None, synced

        on_hub = (await hub.http.get(f"/api/v1/plants/{plant_id}/watering")).json()
        on_cloud = await cloud.http.get(
            f"/api/v1/plants/{plant_id}/watering", headers=hub.user.headers
        )
        assert on_cloud.status_code == 200, on_cloud.text
        in_cloud = on_cloud.json()

        # Watered just now: both tiers say so at once, not when the hour's mean closes.
        watered = DecodedReading(
            node_mac=MAC, measured_at=utcnow(), values={Metric.MOISTURE: 90.0}, seq=1_000
        )
        await hub.store.store_readings([watered])
        assert (await hub.http.post("/api/v1/sync/now")).json()["error"] is None
        now_hub = (await hub.http.get(f"/api/v1/plants/{plant_id}/watering")).json()["forecast"]
        now_cloud = (
            await cloud.http.get(f"/api/v1/plants/{plant_id}/watering", headers=hub.user.headers)
        ).json()["forecast"]

    (event,) = on_hub["events"]
    assert event["rise"] > 30
    forecast = on_hub["forecast"]
    # Level about 55 % after two days of drying 10 a day: ~2.5 days to 30 %.
    assert forecast["status"] == "in_days", forecast
    assert forecast["days"] in (2, 3)
    assert 9 <= forecast["drying_per_day"] <= 11
    assert forecast["minimum"] == 30
    # One rule, two tiers: the cloud computed the same from its own rollups.
    assert in_cloud["events"] == on_hub["events"]
    for key in ("status", "days", "drying_per_day", "minimum", "moisture", "last_watered_at"):
        assert in_cloud["forecast"][key] == forecast[key], key
    assert abs(in_cloud["forecast"]["hours_until_dry"] - forecast["hours_until_dry"]) < 0.2
    assert now_hub["moisture"] == now_cloud["moisture"] == 90.0
    assert now_hub["status"] == now_cloud["status"] == "in_days"
    assert now_hub["days"] == now_cloud["days"] == 6  # 60 points at 10 a day


async def test_a_plant_without_a_node_has_no_forecast(admin_client: httpx.AsyncClient) -> None:
    created = await admin_client.post("/api/v1/plants", json={"name": "Fern"})
    body = (await admin_client.get(f"/api/v1/plants/{created.json()['id']}/watering")).json()
    assert body["events"] == []
    assert body["forecast"]["status"] == "unknown"
    assert body["forecast"]["text"].startswith("No watering forecast")
