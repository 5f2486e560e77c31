"""Soil conductivity end to end, as the metric registry's proof: readings a node reports are
stored on the hub (latest, status, history), synced to the cloud (history, hourly rollups, CSV),
and judged against the species' conductivity range by the one alert engine on both tiers at the
same times."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from hub.ble.ports import DecodedReading
from hub.settings import HubSettings
from hub.store.types import utcnow
from shared.metrics import Metric
from tests.hub.alerts.test_alert_parity import cloud_view, hub_view
from tests.hub.cloudlink import linked_hub
from tests.hub.conftest import Cloud

MAC = "AA:BB:CC:DD:EE:56"
KEY = "00112233445566778899aabbccddeeff"
POTHOS = 1  # conductivity 350..2000 µS/cm in the seed catalogue


async def test_conductivity_is_stored_synced_charted_exported_and_alerted_on_both_tiers(
    cloud: Cloud, hub_settings: HubSettings
) -> None:
    async with linked_hub(cloud, hub_settings) as hub:
        for client in (hub.http, cloud.http):
            metrics = (await client.get("/api/v1/metrics", headers=hub.user.headers)).json()
            (entry,) = [m for m in metrics if m["name"] == "conductivity"]
            assert entry["unit"] == "µS/cm"
            assert entry["threshold_prefix"] == "conductivity"

        assert (await hub.http.post("/api/v1/nodes", json={"mac": MAC, "bindkey": KEY})).is_success
        assert (await hub.http.post("/api/v1/sync/now")).json()["error"] is None
        node = (await cloud.http.get("/api/v1/nodes", headers=hub.user.headers)).json()[0]
        created = await cloud.http.post(
            "/api/v1/plants",
            json={"name": "Pothos", "node_id": node["id"], "species_id": POTHOS},
            headers=hub.user.headers,
        )
        assert created.status_code == 201, created.text
        plant_id = created.json()["id"]
        species = (await cloud.http.get("/api/v1/species", headers=hub.user.headers)).json()
        pothos = next(s for s in species if s["id"] == POTHOS)
        limits = pothos["thresholds"]
        assert (limits["conductivity_min"], limits["conductivity_max"]) == (350.0, 2000.0)
        assert (await hub.http.post("/api/v1/sync/now")).json()["error"] is None

        # Fertiliser salt builds up past the range's 2000, eases to 1900 (inside the resolve band
        # of max(50, 10 % of 2000) = 200), then the pot is flushed.
        conductivity = [1200.0] * 10 + [2600.0] * 30 + [1900.0] * 5 + [1500.0] * 15
        now = utcnow().replace(second=0, microsecond=0)
        start = now - timedelta(minutes=len(conductivity))
        await hub.store.store_readings(
            [
                DecodedReading(
                    node_mac=MAC,
                    measured_at=start + timedelta(minutes=minute),
                    values={Metric.MOISTURE: 40.0, Metric.CONDUCTIVITY: value},
                    seq=minute + 1,
                )
                for minute, value in enumerate(conductivity)
            ]
        )

        minute = timedelta(minutes=1)
        expected = {("high", "conductivity", start + 25 * minute, start + 45 * minute)}
        assert await hub_view(hub, now) == expected
        assert await cloud_view(cloud, hub) == expected

        # Hub: latest value with its status, and its history.
        (hub_plant,) = (await hub.http.get("/api/v1/plants")).json()
        status = (await hub.http.get(f"/api/v1/plants/{hub_plant['id']}/status")).json()
        (shown,) = [m for m in status["metrics"] if m["metric"] == "conductivity"]
        assert shown["value"] == 1500.0
        assert shown["status"] == "ok"
        history = await hub.http.get(
            f"/api/v1/plants/{hub_plant['id']}/history",
            params={"metric": "conductivity", "start": start.isoformat()},
        )
        assert history.status_code == 200, history.text
        assert [p["value"] for p in history.json()["points"]] == conductivity

        # Cloud: raw history, hourly rollups and the CSV carry it.
        headers = hub.user.headers
        raw = await cloud.http.get(
            f"/api/v1/plants/{plant_id}/readings",
            params={"start": start.isoformat(), "resolution": "raw"},
            headers=headers,
        )
        assert raw.status_code == 200, raw.text
        assert [p["conductivity"] for p in raw.json()["points"]] == conductivity
        hourly = await cloud.http.get(
            f"/api/v1/plants/{plant_id}/readings",
            params={"start": (start - timedelta(hours=1)).isoformat(), "resolution": "hour"},
            headers=headers,
        )
        assert hourly.status_code == 200, hourly.text
        points = hourly.json()["points"]
        assert sum(p["count"] for p in points) == len(conductivity)
        assert min(p["conductivity_min"] for p in points) == 1200.0
        assert max(p["conductivity_max"] for p in points) == 2600.0
        exported = await cloud.http.get(
            f"/api/v1/plants/{plant_id}/readings.csv",
            params={"start": start.isoformat()},
            headers=headers,
        )
        assert exported.status_code == 200, exported.text
        rows = list(csv.DictReader(io.StringIO(exported.text)))
        assert [float(r["conductivity"]) for r in rows] == conductivity
