"""Repeated BTHome objects become channels on every tier: a Shelly BLU H&T-style advert with
three temperatures and two humidities, and a pvvx thermometer, heard through the gateway's advert
path, stored by the hub, synced to the real cloud (embedded PostgreSQL) and read back from both
histories, both latest-reading views, the CSV exports, the node page and /metrics."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bleak.backends.scanner import AdvertisementData

from hub.ble.bumble_backend import ble_device
from hub.ble.gateway import Gateway
from hub.ble.settings import GatewaySettings
from hub.export import export
from hub.settings import HubSettings
from shared.vectors import Vector, load_field
from tests.hub.cloudlink import LinkedHub, cloud_scalar, linked_hub
from tests.hub.conftest import Cloud

FIELD = {v.name: v for v in load_field()}
PROBES = FIELD["shelly-blu-ht-repeated-objects"]
PVVX = FIELD["pvvx-bthome-encrypted"]
PVVX_AGAIN = FIELD["pvvx-bthome-encrypted-resent"]


def _advert(vector: Vector) -> AdvertisementData:
    return AdvertisementData(
        local_name=None,
        manufacturer_data={},
        service_data={vector.fields["uuid"]: vector.data},
        service_uuids=[vector.fields["uuid"]],
        tx_power=None,
        rssi=-58,
        platform_data=(),
    )


async def _hear(hub: LinkedHub, vectors: list[Vector]) -> Gateway:
    for vector in (PROBES, PVVX):
        body: dict[str, Any] = {"mac": vector.fields["mac"], "kind": "bthome"}
        if vector.fields["bindkey"]:
            body["bindkey"] = vector.fields["bindkey"]
        paired = await hub.http.post("/api/v1/nodes", json=body)
        assert paired.status_code == 201, paired.text
    gateway = Gateway(hub.store, GatewaySettings(sessions_enabled=False))
    await gateway.reload_nodes()
    for vector in vectors:
        gateway.on_advertisement(ble_device(vector.fields["mac"]), _advert(vector))
    await gateway.flush()
    await gateway.push_statuses()
    return gateway


def _by_name(rows: list[dict[str, Any]], key: Callable[[dict[str, Any]], str]) -> dict[str, Any]:
    return {key(row): row for row in rows}


async def test_repeated_objects_are_channels_from_the_advert_to_both_histories(
    cloud: Cloud, hub_settings: HubSettings, tmp_path: Path
) -> None:
    async with linked_hub(cloud, hub_settings) as hub:
        await _hear(hub, [PROBES, PVVX, PVVX_AGAIN])
        probes_mac, pvvx_mac = PROBES.fields["mac"], PVVX.fields["mac"]

        # The hub's node page counts each advert once: the resent pvvx advert is a duplicate.
        nodes = _by_name((await hub.http.get("/api/v1/nodes")).json(), lambda n: n["mac"])
        assert nodes[probes_mac]["drops"]["stored"] == 1
        assert nodes[pvvx_mac]["drops"]["stored"] == 1
        assert nodes[pvvx_mac]["drops"]["duplicate"] == 1
        assert nodes[pvvx_mac]["drops"]["malformed"] == 0
        metrics = (await hub.http.get("/metrics")).text
        assert f'hub_adverts{{node="{pvvx_mac}",outcome="duplicate"}} 1.0' in metrics
        assert f'hub_adverts{{node="{probes_mac}",outcome="stored"}} 1.0' in metrics

        first = (await hub.http.post("/api/v1/sync/now")).json()
        assert first["error"] is None, first
        assert first["sent"]["readings"] == 4  # probes: channels 0, 1, 2; pvvx: channel 0
        assert cloud_scalar(cloud, "select count(*) from readings where channel = 2") == 1

        # Plants in the cloud for both sensors; the hub mirrors them at the next sync.
        cloud_nodes = _by_name(
            (await cloud.http.get("/api/v1/nodes", headers=hub.user.headers)).json(),
            lambda n: n["mac"],
        )
        assert cloud_nodes[pvvx_mac]["advert_counts"]["duplicate"] == 1
        assert cloud_nodes[probes_mac]["advert_counts"]["stored"] == 1
        plants: dict[str, str] = {}
        for name, mac in (("Big pot", probes_mac), ("Window", pvvx_mac)):
            created = await cloud.http.post(
                "/api/v1/plants",
                json={"name": name, "node_id": cloud_nodes[mac]["id"], "species_id": 1},
                headers=hub.user.headers,
            )
            assert created.status_code == 201, created.text
            plants[mac] = created.json()["id"]
        second = (await hub.http.post("/api/v1/sync/now")).json()
        assert second["error"] is None, second

        # Hub: the second and third temperatures have their own history and latest values.
        big = plants[probes_mac]
        for channel, temperature in ((0, 21.5), (1, 18.3), (2, -4.2)):
            history = (
                await hub.http.get(
                    f"/api/v1/plants/{big}/history",
                    params={"metric": "temperature", "channel": channel},
                )
            ).json()
            assert [p["value"] for p in history["points"]] == [temperature]
            assert history["channel"] == channel
            assert history["channels"] == [0, 1, 2]
        humidity_2 = (
            await hub.http.get(
                f"/api/v1/plants/{big}/history", params={"metric": "humidity", "channel": 1}
            )
        ).json()
        assert [p["value"] for p in humidity_2["points"]] == [48.0]
        status = (await hub.http.get(f"/api/v1/plants/{big}/status")).json()
        first_values = {m["metric"]: m["value"] for m in status["metrics"]}
        assert first_values["temperature"] == 21.5
        assert first_values["battery"] == 96.0
        assert [
            (c["channel"], {m["metric"]: m["value"] for m in c["metrics"]})
            for c in status["channels"]
        ] == [(1, {"temperature": 18.3, "humidity": 48.0}), (2, {"temperature": -4.2})]
        bad = await hub.http.get(
            f"/api/v1/plants/{big}/history", params={"metric": "temperature", "channel": 8}
        )
        assert bad.status_code == 422

        # Cloud: the same channels in its history, latest readings and CSV.
        headers = hub.user.headers
        for channel, temperature in ((0, 21.5), (1, 18.3), (2, -4.2)):
            readings = await cloud.http.get(
                f"/api/v1/plants/{big}/readings",
                params={"channel": channel, "resolution": "raw"},
                headers=headers,
            )
            assert readings.status_code == 200, readings.text
            body = readings.json()
            assert [p["temperature"] for p in body["points"]] == [temperature]
            assert body["channel"] == channel
            assert body["channels"] == [0, 1, 2]
        hourly = (
            await cloud.http.get(
                f"/api/v1/plants/{big}/readings",
                params={"channel": 1, "resolution": "hour"},
                headers=headers,
            )
        ).json()
        assert [p["humidity"] for p in hourly["points"]] == [48.0]
        latest = (
            await cloud.http.get(f"/api/v1/plants/{big}/readings/latest", headers=headers)
        ).json()
        assert [(r["channel"], r["temperature"]) for r in latest] == [
            (0, 21.5),
            (1, 18.3),
            (2, -4.2),
        ]
        window = (
            await cloud.http.get(f"/api/v1/plants/{plants[pvvx_mac]}/readings", headers=headers)
        ).json()
        assert [(p["temperature"], p["humidity"], p["battery"]) for p in window["points"]] == [
            (21.53, 48.2, 87.0)
        ]
        assert window["channels"] == [0]
        exported = await cloud.http.get(f"/api/v1/plants/{big}/readings.csv", headers=headers)
        assert exported.status_code == 200, exported.text
        rows = list(csv.DictReader(io.StringIO(exported.text)))
        assert sorted((r["channel"], r["temperature"]) for r in rows) == [
            ("0", "21.5"),
            ("1", "18.3"),
            ("2", "-4.2"),
        ]

    # The hub's own CSV export names each row's channel.
    now = datetime.now(UTC)
    result = export(
        hub_settings.database_path, tmp_path, now - timedelta(days=1), now + timedelta(1)
    )
    with result.files["readings"].open() as handle:
        hub_rows = list(csv.DictReader(handle))
    assert sorted(
        (r["node_mac"], r["channel"], r["temperature"]) for r in hub_rows if r["temperature"]
    ) == [
        (probes_mac, "0", "21.5"),
        (probes_mac, "1", "18.3"),
        (probes_mac, "2", "-4.2"),
        (pvvx_mac, "0", "21.53"),
    ]
