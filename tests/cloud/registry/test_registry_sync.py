"""Registry and hub-facing sync: nodes inventory, config snapshot and revisions, species."""

from __future__ import annotations

from typing import Any

import httpx

from shared.sync import SYNC_CONFIG_PATH, SYNC_NODES_PATH, ConfigSnapshot, NodeInventoryAck
from tests.cloud.factories import create_hub, create_node, create_plant, create_user, random_mac


async def snapshot(client: httpx.AsyncClient, headers: dict[str, str]) -> ConfigSnapshot:
    response = await client.get(SYNC_CONFIG_PATH, headers=headers)
    assert response.status_code == 200, response.text
    return ConfigSnapshot.model_validate(response.json())


async def test_inventory_registers_updates_and_refuses_foreign_macs(
    client: httpx.AsyncClient,
) -> None:
    alice = await create_user(client)
    bob = await create_user(client)
    hub = await create_hub(client, alice)
    bobs = await create_node(client, bob)
    fresh = random_mac()
    inventory = {
        "nodes": [
            {
                "mac": fresh.lower().replace(":", "-"),
                "name": "Basil pot",
                "battery": 77,
                "firmware_version": "1.2.0",
                "config_revision_applied": 0,
            },
            {"mac": bobs["mac"]},
        ]
    }
    first = NodeInventoryAck.model_validate(
        (await client.put(SYNC_NODES_PATH, json=inventory, headers=hub.headers)).json()
    )
    assert first.registered == [fresh]
    assert [(r.index, r.reason.value) for r in first.rejected] == [(1, "conflict")]
    second = NodeInventoryAck.model_validate(
        (await client.put(SYNC_NODES_PATH, json=inventory, headers=hub.headers)).json()
    )
    assert (second.registered, second.updated) == ([], [fresh])
    nodes = (await client.get("/api/v1/nodes", headers=alice.headers)).json()
    assert [(n["mac"], n["name"], n["battery"], n["hub_id"]) for n in nodes] == [
        (fresh, "Basil pot", 77, str(hub.id))
    ]
    assert (await client.get("/api/v1/nodes", headers=bob.headers)).json()[0]["hub_id"] is None
    bad = await client.put(SYNC_NODES_PATH, json={"nodes": [{"mac": "nope"}]}, headers=hub.headers)
    assert bad.status_code == 422
    assert bad.json()["error"]["code"] == "validation_error"


async def test_node_mac_is_unique_and_normalised(client: httpx.AsyncClient) -> None:
    user = await create_user(client)
    node = await create_node(client, user, mac="aa-bb-cc-dd-ee-0f")
    assert node["mac"] == "AA:BB:CC:DD:EE:0F"
    other = await create_user(client)
    taken = await client.post("/api/v1/nodes", json={"mac": "AABBCCDDEE0F"}, headers=other.headers)
    assert taken.status_code == 409
    bad = await client.post("/api/v1/nodes", json={"mac": "zz:zz"}, headers=user.headers)
    assert bad.status_code == 422


async def test_config_revision_bumps_and_304_when_unchanged(client: httpx.AsyncClient) -> None:
    user = await create_user(client)
    hub = await create_hub(client, user)
    node = await create_node(client, user, hub=hub)
    first = await snapshot(client, hub.headers)
    assert [n.mac for n in first.nodes] == [node["mac"]]
    unchanged = await client.get(
        SYNC_CONFIG_PATH, params={"since_revision": first.revision}, headers=hub.headers
    )
    assert unchanged.status_code == 304
    assert unchanged.headers["etag"] == f'"rev-{first.revision}"'

    plant = await create_plant(
        client, user, "Tomato", node=node, species_id=54, overrides={"moisture_min": 45}
    )
    second = await snapshot(client, hub.headers)
    assert second.revision > first.revision
    [plant_config] = second.plants
    assert (str(plant_config.id), plant_config.node_mac) == (plant["id"], node["mac"])
    assert plant_config.overrides is not None
    assert plant_config.overrides.moisture_min == 45
    assert [s.common_name for s in second.species] == ["Tomato"]

    config = await client.put(
        f"/api/v1/nodes/{node['id']}/config",
        json={"sampling_interval_s": 300, "advert_burst": 5},
        headers=user.headers,
    )
    assert config.json()["revision"] == 2
    third = await snapshot(client, hub.headers)
    assert third.revision > second.revision
    assert (third.nodes[0].sampling_interval_s, third.nodes[0].revision) == (300, 2)
    same = await client.put(
        f"/api/v1/nodes/{node['id']}/config",
        json={"sampling_interval_s": 300},
        headers=user.headers,
    )
    assert same.json()["revision"] == 2
    invalid = await client.put(
        f"/api/v1/nodes/{node['id']}/config", json={"sampling_interval_s": 1}, headers=user.headers
    )
    assert invalid.status_code == 422

    # The hub applies revision 2 and says so in its inventory.
    pending = (await client.get(f"/api/v1/nodes/{node['id']}", headers=user.headers)).json()
    assert pending["config_pending"] is True
    await client.put(
        SYNC_NODES_PATH,
        json={"nodes": [{"mac": node["mac"], "config_revision_applied": 2}]},
        headers=hub.headers,
    )
    applied = (await client.get(f"/api/v1/nodes/{node['id']}", headers=user.headers)).json()
    assert (applied["config_revision_applied"], applied["config_pending"]) == (2, False)


async def test_plant_crud_and_effective_thresholds(client: httpx.AsyncClient) -> None:
    user = await create_user(client)
    node = await create_node(client, user)
    plant = await create_plant(client, user, "Monstera", species_id=4, location="living room")
    assert plant["species_name"] == "Monstera"
    assert plant["thresholds"]["moisture_min"] == 25
    updated = await client.patch(
        f"/api/v1/plants/{plant['id']}",
        json={"node_id": node["id"], "overrides": {"temperature_max": 27}, "location": None},
        headers=user.headers,
    )
    body: dict[str, Any] = updated.json()
    assert (body["node_id"], body["location"]) == (node["id"], None)
    assert (body["thresholds"]["temperature_max"], body["thresholds"]["moisture_min"]) == (27, 25)
    clash = await client.post(
        "/api/v1/plants", json={"name": "Second", "node_id": node["id"]}, headers=user.headers
    )
    assert clash.status_code == 409
    unknown_species = await client.post(
        "/api/v1/plants", json={"name": "X", "species_id": 9999}, headers=user.headers
    )
    assert unknown_species.status_code == 422
    assert (
        await client.delete(f"/api/v1/plants/{plant['id']}", headers=user.headers)
    ).status_code == 204
    assert (
        await client.get(f"/api/v1/plants/{plant['id']}", headers=user.headers)
    ).status_code == 404


async def test_species_catalog_search(client: httpx.AsyncClient) -> None:
    everything = (await client.get("/api/v1/species", params={"limit": 200})).json()
    assert len(everything) >= 60
    categories = {s["category"] for s in everything}
    assert categories == {"house", "balcony", "vegetable"}
    for species in everything:
        t = species["thresholds"]
        assert t["moisture_min"] < t["moisture_max"]
        assert t["temperature_min"] < t["temperature_max"]
        assert t["light_lux_min"] < t["light_lux_max"]
        assert t["dli_min"] < t["dli_max"]
    tomato = (await client.get("/api/v1/species", params={"q": "lycopersicum"})).json()
    assert {s["common_name"] for s in tomato} == {"Tomato", "Cherry tomato"}
    herbs = (await client.get("/api/v1/species", params={"q": "ba", "category": "balcony"})).json()
    assert [s["common_name"] for s in herbs] == ["Basil"]
    assert (await client.get("/api/v1/species/9999")).status_code == 404
