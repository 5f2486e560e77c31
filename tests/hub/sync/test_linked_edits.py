"""Editing on a linked hub against the real cloud (embedded PostgreSQL): an edit applies on the
hub at once and goes up at the next sync; the cloud stays the source of truth and settles a
conflict by the plant's revision, the losing change listed in the sync ledger; a hub that was
offline while the cloud changed catches up without losing either side's unrelated changes."""

from __future__ import annotations

from typing import Any

from hub.settings import HubSettings
from tests.hub.cloudlink import LinkedHub, linked_hub
from tests.hub.conftest import Cloud
from tests.hub.sync.test_sync_diagnoses import Switchable

MAC = "AA:BB:CC:DD:EE:41"
MAC2 = "AA:BB:CC:DD:EE:42"
KEY = "00112233445566778899aabbccddeeff"


async def sync(hub: LinkedHub) -> dict[str, Any]:
    body: dict[str, Any] = (await hub.http.post("/api/v1/sync/now")).json()
    return body


async def cloud_plant(cloud: Cloud, hub: LinkedHub, plant_id: str) -> dict[str, Any]:
    response = await cloud.http.get(f"/api/v1/plants/{plant_id}", headers=hub.user.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def setup_plants(cloud: Cloud, hub: LinkedHub) -> tuple[str, str]:
    for mac in (MAC, MAC2):
        paired = await hub.http.post("/api/v1/nodes", json={"mac": mac, "bindkey": KEY})
        assert paired.is_success, paired.text
    assert (await sync(hub))["error"] is None
    nodes = {
        n["mac"]: n["id"]
        for n in (await cloud.http.get("/api/v1/nodes", headers=hub.user.headers)).json()
    }
    ids = []
    for name, mac in (("Basil", MAC), ("Mint", MAC2)):
        created = await cloud.http.post(
            "/api/v1/plants",
            json={"name": name, "node_id": nodes[mac], "species_id": 1},
            headers=hub.user.headers,
        )
        assert created.status_code == 201, created.text
        ids.append(created.json()["id"])
    assert (await sync(hub))["error"] is None  # the plants come down
    return ids[0], ids[1]


async def test_an_edit_on_the_linked_hub_applies_at_once_and_goes_up(
    cloud: Cloud, hub_settings: HubSettings
) -> None:
    async with linked_hub(cloud, hub_settings) as hub:
        basil, mint = await setup_plants(cloud, hub)
        edited = await hub.http.patch(
            f"/api/v1/plants/{basil}",
            json={"name": "Sweet basil", "overrides": {"moisture_min": 42, "dli_min": 8}},
        )
        assert edited.status_code == 200, edited.text
        assert edited.json()["name"] == "Sweet basil"  # at once, before any sync
        assert edited.json()["thresholds"]["moisture_min"] == 42
        status = (await hub.http.get("/api/v1/sync/status")).json()
        ledger = {e["kind"]: e for e in status["ledger"]}
        assert ledger["plant_edits"]["pending"] == 1
        # Node assignment too: Mint moves to nothing, then the edit goes up with the other.
        moved = await hub.http.patch(f"/api/v1/plants/{mint}", json={"node_mac": None})
        assert moved.status_code == 200, moved.text

        report = await sync(hub)
        assert report["error"] is None, report
        lost = (await hub.http.get("/api/v1/sync/rejected", params={"kind": "plant_edits"})).json()
        assert report["sent"]["plant_edits"] == 2, [r["reason"] for r in lost]
        in_cloud = await cloud_plant(cloud, hub, basil)
        assert in_cloud["name"] == "Sweet basil"
        assert in_cloud["thresholds"]["moisture_min"] == 42
        assert in_cloud["thresholds"]["dli_min"] == 8
        assert (await cloud_plant(cloud, hub, mint))["node_id"] is None
        ledger = {
            e["kind"]: e for e in (await hub.http.get("/api/v1/sync/status")).json()["ledger"]
        }
        assert ledger["plant_edits"]["pending"] == 0
        assert ledger["plant_edits"]["rejected"] == 0
        # The hub mirrors the cloud's result (same values, the cloud's new revision).
        on_hub = (await hub.http.get(f"/api/v1/plants/{basil}")).json()
        assert on_hub["name"] == "Sweet basil"
        assert on_hub["origin"] == "cloud"
        # A second sync sends nothing again.
        assert "plant_edits" not in (await sync(hub))["sent"]


async def test_a_conflict_keeps_the_clouds_version_and_shows_the_lost_change(
    cloud: Cloud, hub_settings: HubSettings
) -> None:
    uplink = Switchable(cloud.transport())
    async with linked_hub(cloud, hub_settings, transport=uplink) as hub:
        basil, mint = await setup_plants(cloud, hub)
        uplink.online = False  # the hub's internet goes down
        # Offline, the gardener renames Basil and tightens Mint's moisture on the hub ...
        assert (
            await hub.http.patch(f"/api/v1/plants/{basil}", json={"name": "Hub basil"})
        ).is_success
        assert (
            await hub.http.patch(f"/api/v1/plants/{mint}", json={"overrides": {"moisture_min": 40}})
        ).is_success
        offline = await sync(hub)
        assert offline["error"] is not None
        assert (await hub.http.get(f"/api/v1/plants/{basil}")).json()["name"] == "Hub basil"
        # ... while in the cloud someone else renames Basil (Mint is left alone).
        changed = await cloud.http.patch(
            f"/api/v1/plants/{basil}", json={"name": "Cloud basil"}, headers=hub.user.headers
        )
        assert changed.status_code == 200, changed.text

        uplink.online = True
        report = await sync(hub)
        assert report["error"] is None, report
        assert report["sent"]["plant_edits"] == 1  # Mint's edit applied
        assert report["rejected"]["plant_edits"] == 1  # Basil's lost to the cloud's
        assert (await cloud_plant(cloud, hub, basil))["name"] == "Cloud basil"
        assert (await cloud_plant(cloud, hub, mint))["thresholds"]["moisture_min"] == 40
        # The hub shows the cloud's version and lists the change it lost, with the reason.
        assert (await hub.http.get(f"/api/v1/plants/{basil}")).json()["name"] == "Cloud basil"
        mint_on_hub = (await hub.http.get(f"/api/v1/plants/{mint}")).json()
        assert mint_on_hub["thresholds"]["moisture_min"] == 40
        ledger = {
            e["kind"]: e for e in (await hub.http.get("/api/v1/sync/status")).json()["ledger"]
        }
        assert ledger["plant_edits"]["rejected"] == 1
        lost = (await hub.http.get("/api/v1/sync/rejected", params={"kind": "plant_edits"})).json()
        (row,) = lost
        assert "'Basil' → 'Hub basil'" in row["reason"]
        assert "conflict" in row["reason"]
        assert "changed in the cloud" in row["reason"]


async def test_a_bad_edit_is_rejected_and_the_cloud_version_restored(
    cloud: Cloud, hub_settings: HubSettings
) -> None:
    async with linked_hub(cloud, hub_settings) as hub:
        basil, mint = await setup_plants(cloud, hub)
        # Both plants on one node: the hub refuses it itself.
        taken = await hub.http.patch(f"/api/v1/plants/{mint}", json={"node_mac": MAC})
        assert taken.status_code == 409
        # Limits that cannot hold (Pothos wants at most 50 % moisture): the same rule as the cloud.
        inverted = await hub.http.patch(
            f"/api/v1/plants/{basil}", json={"overrides": {"moisture_min": 55}}
        )
        assert inverted.status_code == 400
        assert "moisture: the minimum (55) must be below the maximum (50)" in inverted.text
        # A species the hub's catalogue does not hold.
        unknown = await hub.http.patch(f"/api/v1/plants/{basil}", json={"species_id": 999_999})
        assert unknown.status_code == 400
        assert (await sync(hub))["error"] is None
        assert (await hub.http.get(f"/api/v1/plants/{basil}")).json()["species_id"] == 1
