"""A MiFlora end to end: an emulated HHCCJCY01 on the Bumble radio, paired through the hub's API
as a Xiaomi node, heard by the gateway (passive MiBeacon adverts) and polled over GATT, stored
by the hub, synced to the real cloud (embedded PostgreSQL), given a plant there, and read back
from the hub's node page, plant status and history and from the cloud's node list and history."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import text

from hub.ble.emulator import EmulatedGarden
from hub.ble.emulator.miflora import EmulatedMiFlora
from hub.ble.gateway import Gateway
from hub.settings import HubSettings
from tests.hub.ble.conftest import FAST, eventually_async
from tests.hub.cloudlink import LinkedHub, cloud_scalar, linked_hub
from tests.hub.conftest import Cloud

pytestmark = pytest.mark.timeout(180)

MAC = "C4:7C:8D:6A:3E:7A"
PLANT_METRICS = ("temperature", "illuminance", "moisture", "conductivity")


async def hub_rows(hub: LinkedHub) -> list[dict[str, Any]]:
    async with hub.store.read() as session:
        rows = (
            await session.execute(
                text(
                    "SELECT r.* FROM readings r JOIN nodes n ON n.id = r.node_id "
                    "WHERE n.mac = :mac ORDER BY r.measured_at"
                ),
                {"mac": MAC},
            )
        ).mappings()
        return [dict(row) for row in rows]


async def test_a_miflora_shows_its_values_on_the_hub_and_in_the_cloud_history(
    cloud: Cloud, hub_settings: HubSettings
) -> None:
    garden = EmulatedGarden(0, speed=1.0)
    flora = EmulatedMiFlora(garden.radio, MAC, garden.clock, seed=7)
    async with linked_hub(cloud, hub_settings) as hub:
        paired = await hub.http.post(
            "/api/v1/nodes", json={"mac": MAC, "kind": "xiaomi", "name": "Fern sensor"}
        )
        assert paired.status_code == 201, paired.text
        assert paired.json()["kind"] == "xiaomi"
        gateway = Gateway(
            hub.store,
            replace(FAST, passive_scan=True),
            garden.backends(),
            now=garden.clock.now,
        )
        await flora.start()
        await gateway.start()
        try:
            poll = await gateway.session_outcome(MAC, 0)
            assert poll.error is None, poll.error

            async def every_metric_advertised() -> bool:
                rows = [r for r in await hub_rows(hub) if r["source"] == "advert"]
                return all(any(r[m] is not None for r in rows) for m in PLANT_METRICS)

            await eventually_async(every_metric_advertised, what="every MiFlora value heard")
        finally:
            await gateway.stop()
            await flora.stop()
            await garden.stop()

        rows = await hub_rows(hub)
        (polled,) = [r for r in rows if r["source"] == "poll"]
        truth = flora.polls[0]
        assert (polled["battery"], polled["conductivity"]) == (truth.battery, truth.conductivity)
        sent = {
            "temperature": {a.values.temperature for a in flora.log},
            "illuminance": {float(a.values.illuminance) for a in flora.log},
            "moisture": {float(a.values.moisture) for a in flora.log},
            "conductivity": {float(a.values.conductivity) for a in flora.log},
        }
        for row in rows:
            if row["source"] == "advert":
                for metric in PLANT_METRICS:
                    assert row[metric] is None or row[metric] in sent[metric], (metric, row)

        # The hub's node page: a Xiaomi node with its firmware, battery and advert outcomes.
        (node,) = (await hub.http.get("/api/v1/nodes")).json()
        assert (node["kind"], node["name"]) == ("xiaomi", "Fern sensor")
        assert node["firmware_version"] == "3.2.1"
        assert node["battery"] == truth.battery
        # Every advert row was counted stored (the poll is no advert). "stored" counts adverts
        # queued for the store, so one heard as the gateway stopped may be counted as well.
        assert node["drops"]["stored"] >= len(rows) - 1
        assert node["drops"]["duplicate"] > 0  # a MiFlora repeats each frame
        assert node["drops"]["malformed"] == node["drops"]["wrong_key"] == 0

        # Sync: the cloud registers the node as Xiaomi and holds every reading.
        synced = (await hub.http.post("/api/v1/sync/now")).json()
        assert synced["error"] is None, synced
        assert synced["sent"]["readings"] == len(rows)
        assert cloud_scalar(cloud, "select count(*) from readings") == len(rows)
        assert cloud_scalar(cloud, "select count(*) from readings where source = 2") == 1
        headers = hub.user.headers
        (cloud_node,) = (await cloud.http.get("/api/v1/nodes", headers=headers)).json()
        assert cloud_node["kind"] == "xiaomi"
        assert cloud_node["firmware_version"] == "3.2.1"

        # A plant on it in the cloud; the hub mirrors it at the next sync.
        created = await cloud.http.post(
            "/api/v1/plants",
            json={"name": "Fern", "node_id": cloud_node["id"], "species_id": 1},
            headers=headers,
        )
        assert created.status_code == 201, created.text
        plant_id = created.json()["id"]
        assert (await hub.http.post("/api/v1/sync/now")).json()["error"] is None

        # Hub: the plant's latest values and its conductivity history.
        status = (await hub.http.get(f"/api/v1/plants/{plant_id}/status")).json()
        latest = {m["metric"]: m["value"] for m in status["metrics"]}
        for metric in (*PLANT_METRICS, "battery"):
            newest = next(r[metric] for r in reversed(rows) if r[metric] is not None)
            assert latest[metric] == pytest.approx(newest), metric
        history = (
            await hub.http.get(
                f"/api/v1/plants/{plant_id}/history",
                params={"metric": "conductivity", "resolution": "raw"},
            )
        ).json()
        hub_conductivity = [r["conductivity"] for r in rows if r["conductivity"] is not None]
        assert [p["value"] for p in history["points"]] == hub_conductivity

        # Cloud: the same readings in the plant's raw history.
        raw = await cloud.http.get(
            f"/api/v1/plants/{plant_id}/readings",
            params={"resolution": "raw", "limit": 1000},
            headers=headers,
        )
        assert raw.status_code == 200, raw.text
        points = raw.json()["points"]
        assert [p["conductivity"] for p in points if p["conductivity"] is not None] == (
            hub_conductivity
        )
        assert [p["battery"] for p in points if p["battery"] is not None] == [truth.battery]
        for metric in PLANT_METRICS:
            assert [p[metric] for p in points if p[metric] is not None] == pytest.approx(
                [r[metric] for r in rows if r[metric] is not None]
            ), metric
