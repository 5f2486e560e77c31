"""One alert engine (``shared.alerts``) on both tiers: the same readings, evaluated by the hub
as they arrive over BLE and by the cloud as they are synced up, open and resolve the same
threshold and low-battery alerts at the same times."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from hub.alerts import service as hub_alerts
from hub.ble.ports import DecodedReading
from hub.settings import HubSettings
from hub.store.types import utcnow
from shared.metrics import Metric
from tests.hub.cloudlink import LinkedHub, linked_hub
from tests.hub.conftest import Cloud

MAC = "AA:BB:CC:DD:EE:07"
KEY = "00112233445566778899aabbccddeeff"
ENGINE_KINDS = {"low", "high", "low_battery"}


def garden_day(start: datetime) -> list[DecodedReading]:
    """One reading a minute: moisture dries out, hovers inside the band, recovers, dries out
    again, recovers; the battery runs low, wobbles inside its band, is swapped."""
    moisture = [50.0] * 10 + [20.0] * 30 + [36.5, 37.0] + [45.0] * 10 + [20.0] * 20 + [55.0] * 8
    battery = [90.0] * 30 + [10.0] * 20 + [18.0] * 10 + [95.0] * 20
    return [
        DecodedReading(
            node_mac=MAC,
            measured_at=start + timedelta(minutes=minute),
            values={Metric.MOISTURE: moisture[minute], Metric.BATTERY: battery[minute]},
            seq=minute,
        )
        for minute in range(len(moisture))
    ]


def _key(kind: str, metric: str | None, opened: Any, resolved: Any) -> tuple[Any, ...]:
    def instant(value: Any) -> datetime | None:
        if value is None or isinstance(value, datetime):
            return value
        return datetime.fromisoformat(str(value))

    return (kind, metric, instant(opened), instant(resolved))


async def hub_view(hub: LinkedHub, now: datetime) -> set[tuple[Any, ...]]:
    store = hub.store
    await store.write(lambda session: hub_alerts.evaluate(session, store.settings, now))
    async with store.read() as session:
        alerts = await hub_alerts.list_alerts(session, open_only=False, limit=100)
    return {
        _key(a.kind, a.metric, a.opened_at, a.resolved_at) for a in alerts if a.kind in ENGINE_KINDS
    }


async def cloud_view(cloud: Cloud, hub: LinkedHub) -> set[tuple[Any, ...]]:
    assert (await hub.http.post("/api/v1/sync/now")).json()["error"] is None
    response = await cloud.http.get("/api/v1/alerts?limit=200", headers=hub.user.headers)
    assert response.status_code == 200, response.text
    return {
        _key(a["kind"], a["metric"], a["opened_at"], a["resolved_at"])
        for a in response.json()
        if a["source"] == "cloud" and a["kind"] in ENGINE_KINDS
    }


async def test_both_tiers_open_and_resolve_the_same_alerts_at_the_same_times(
    cloud: Cloud, hub_settings: HubSettings
) -> None:
    async with linked_hub(cloud, hub_settings) as hub:
        assert (await hub.http.post("/api/v1/nodes", json={"mac": MAC, "bindkey": KEY})).is_success
        assert (await hub.http.post("/api/v1/sync/now")).json()["error"] is None
        node = (await cloud.http.get("/api/v1/nodes", headers=hub.user.headers)).json()[0]
        created = await cloud.http.post(
            "/api/v1/plants",
            json={
                "name": "Basil",
                "node_id": node["id"],
                "species_id": 1,
                "overrides": {"moisture_min": 35, "moisture_max": 60},
            },
            headers=hub.user.headers,
        )
        assert created.status_code == 201, created.text
        assert (await hub.http.post("/api/v1/sync/now")).json()["error"] is None

        now = utcnow().replace(second=0, microsecond=0)
        readings = garden_day(now - timedelta(minutes=90))
        # In two parts, so both tiers carry a breach and an open alert across rounds.
        for part in (readings[:45], readings[45:]):
            await hub.store.store_readings(part)
            hub_alerts_seen = await hub_view(hub, now)
            cloud_alerts_seen = await cloud_view(cloud, hub)
            assert sorted(hub_alerts_seen) == sorted(cloud_alerts_seen), (
                sorted(hub_alerts_seen),
                sorted(cloud_alerts_seen),
            )

        start = readings[0].measured_at
        minute = timedelta(minutes=1)
        assert sorted(hub_alerts_seen) == sorted(
            {
                # Dry from minute 10: opens at 25 (15 minutes on), 36.5/37 stay inside the 3 % band,
                # 45 at minute 42 resolves it; dry again from 52, opens at 67, resolves at 72.
                ("low", "moisture", start + 25 * minute, start + 42 * minute),
                ("low", "moisture", start + 67 * minute, start + 72 * minute),
                # Low battery opens at once (minute 30); 18 % is inside its 5 % band; 95 % resolves.
                ("low_battery", "battery", start + 30 * minute, start + 60 * minute),
            }
        )
