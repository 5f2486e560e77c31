"""A gardener's journey through real processes on loopback: sign up, link the hub with the
device flow, pair nodes, see readings and photos in the cloud, get an alert when a pot dries
out, and a diagnosis for a new photo."""

from __future__ import annotations

import hashlib
from typing import Any

import httpx
import pytest

from plantvita.demo import scenario
from tests.e2e.conftest import NODES, PASSWORD, Clients, Tiers
from tests.e2e.harness import eventually

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


async def _get(client: httpx.AsyncClient, url: str, **kwargs: Any) -> Any:
    response = await client.get(url, **kwargs)
    assert response.status_code == 200, f"{url}: {response.status_code} {response.text}"
    return response.json()


async def test_gardener_journey(tiers: Tiers, clients: Clients) -> None:
    cloud, hub = clients.cloud, clients.hub

    # Sign up and link the hub: the hub shows a code, the user approves it in the cloud.
    user = await scenario.sign_up(cloud, "journey@example.com", PASSWORD)
    me = await _get(cloud, "/api/v1/auth/me", headers=user.headers)
    assert me["email"] == "journey@example.com"
    await scenario.set_hub_password(hub, PASSWORD)
    assert (
        await hub.post("/api/v1/link/start", auth=("admin", "wrong"), json={})
    ).status_code == 401
    hub_id = await scenario.link_hub(hub, cloud, user)
    hubs = await _get(cloud, "/api/v1/hubs", headers=user.headers)
    assert [(h["id"], h["linked"]) for h in hubs] == [(hub_id, True)]

    # Register the nodes and their plants in the cloud, then pair them on the hub.
    labels = tiers.labels
    assert len(labels) == NODES
    node_ids = await scenario.register_cloud_nodes(cloud, user, hub_id, sorted(labels))
    plants = await scenario.plant_garden(cloud, user, node_ids, sampling_interval_s=10)
    assert len(set(plants.values())) == NODES
    assert await scenario.pair_seen_nodes(hub, labels) == sorted(labels)
    tiers.running()

    # Readings reach the cloud for every plant.
    async def every_plant_reporting() -> list[dict[str, Any]] | None:
        tiers.running()
        latest = await _get(cloud, "/api/v1/readings/latest", headers=user.headers)
        return latest if {r["plant_id"] for r in latest} == set(plants.values()) else None

    latest = await eventually(every_plant_reporting, 60, "readings for every plant")
    for reading in latest:
        assert 0 <= reading["moisture"] <= 100
        assert reading["battery"] is not None
    first_plant = plants[sorted(plants)[0]]
    history = await _get(cloud, f"/api/v1/plants/{first_plant}/readings", headers=user.headers)
    assert history["points"]

    # Photos reach the cloud with their canopy metrics; the bytes are the hub's, hash for hash.
    async def photo_of_every_plant() -> dict[str, dict[str, Any]] | None:
        tiers.running()
        found = {}
        for mac, plant_id in plants.items():
            page = await _get(cloud, f"/api/v1/plants/{plant_id}/images", headers=user.headers)
            ready = [i for i in page if i["metrics"] and i["status"] != "pending"]
            if not ready:
                return None
            found[mac] = ready[0]
        return found

    photos = await eventually(photo_of_every_plant, 90, "a photo of every plant in the cloud")
    hub_hashes = set()
    for mac in plants:
        hub_plant = next(n["plant_id"] for n in await _get(hub, "/api/v1/nodes") if n["mac"] == mac)
        if hub_plant:
            hub_hashes |= {
                i["sha256"] for i in await _get(hub, f"/api/v1/plants/{hub_plant}/images")
            }
    for photo in photos.values():
        detail = await _get(cloud, f"/api/v1/images/{photo['id']}", headers=user.headers)
        blob = await cloud.get(detail["download_url"])
        assert blob.status_code == 200
        assert hashlib.sha256(blob.content).hexdigest() == photo["sha256"]
        assert 0 <= photo["metrics"]["canopy_cover"] <= 1
    if hub_hashes:
        assert {p["sha256"] for p in photos.values()} <= hub_hashes

    # The forgotten pot dries out: the cloud raises a moisture alert for its plant.
    dry_mac = sorted(plants)[0]
    dried = await hub.post(f"/api/v1/emulator/nodes/{dry_mac}/dry")
    assert dried.status_code == 200, dried.text

    async def moisture_alert() -> list[dict[str, Any]] | None:
        tiers.running()
        alerts = await _get(cloud, f"/api/v1/plants/{plants[dry_mac]}/alerts", headers=user.headers)
        return [a for a in alerts if a["metric"] == "moisture" and a["status"] == "open"] or None

    alerts = await eventually(moisture_alert, 90, "a moisture alert for the dry pot")
    assert any(a["value"] is None or a["value"] < 20 for a in alerts)

    # A new photo gets its own diagnosis.
    mac = sorted(plants)[-1]
    plant_id = plants[mac]
    before = {
        d["image_id"]
        for d in await _get(cloud, f"/api/v1/plants/{plant_id}/diagnoses", headers=user.headers)
    }
    captured = await hub.post(f"/api/v1/emulator/nodes/{mac}/capture")
    assert captured.status_code == 200, captured.text

    async def new_diagnosis() -> dict[str, Any] | None:
        tiers.running()
        page = await _get(cloud, f"/api/v1/plants/{plant_id}/diagnoses", headers=user.headers)
        fresh = [d for d in page if d["image_id"] not in before and d["status"] == "succeeded"]
        return fresh[0] if fresh else None

    diagnosis = await eventually(new_diagnosis, 90, "a diagnosis of the new photo")
    assert diagnosis["health"]
    assert diagnosis["source"] == "heuristic"
    assert diagnosis["summary"]
