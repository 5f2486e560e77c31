"""A node's photos taken while no plant watched it go to the plant that takes the node.

The demo (and a gardener pairing first) has the hub fetch a node's photos before its plant came
down from the cloud: they must show in that plant's gallery, as they do in the cloud's.
"""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

import httpx
import pytest

from hub.ble.ports import ReceivedImage
from hub.hub_store import HubStore
from hub.sync.service import apply_snapshot
from shared.sync import ConfigSnapshot, PlantConfig
from tests.hub.factories import T0
from tests.hub.images.test_images import create_jpeg, store_of

pytestmark = pytest.mark.pi

NODE = "AA:BB:CC:DD:EE:21"
OTHER = "AA:BB:CC:DD:EE:22"
PLANT = UUID("00000000-0000-4000-8000-000000000021")


def _snapshot(*plants: PlantConfig) -> ConfigSnapshot:
    return ConfigSnapshot(
        revision=1,
        hub_id=UUID("00000000-0000-4000-8000-0000000000ab"),
        generated_at=datetime(2026, 6, 1, tzinfo=UTC),
        species=[],
        plants=list(plants),
    )


async def _gallery(client: httpx.AsyncClient, plant_id: str) -> list[int]:
    response = await client.get(f"/api/v1/plants/{plant_id}/images")
    assert response.status_code == 200, response.text
    return sorted(i["byte_size"] for i in response.json())


async def test_a_plant_from_the_cloud_takes_the_photos_its_node_sent_first(
    admin_client: httpx.AsyncClient,
) -> None:
    store: HubStore = store_of(admin_client)
    await store.pair_node(NODE)
    await store.pair_node(OTHER)
    first, second = create_jpeg((40, 150, 50)), create_jpeg((50, 140, 60), size=300)
    await store.store_image(ReceivedImage(NODE, 1, T0, first))
    await store.store_image(ReceivedImage(NODE, 2, T0, second))
    await store.store_image(ReceivedImage(OTHER, 1, T0, create_jpeg((60, 60, 60))))

    await store.write(
        lambda s: apply_snapshot(s, _snapshot(PlantConfig(id=PLANT, name="Basil", node_mac=NODE)))
    )
    assert await _gallery(admin_client, str(PLANT)) == sorted([len(first), len(second)])

    # Its next photo is its own from the start; the other node's stays with no plant.
    third = create_jpeg((45, 170, 40), size=200)
    await store.store_image(ReceivedImage(NODE, 3, T0, third))
    assert len(await _gallery(admin_client, str(PLANT))) == 3


async def test_a_local_plant_takes_its_node_photos_but_not_another_plants(
    admin_client: httpx.AsyncClient,
) -> None:
    store: HubStore = store_of(admin_client)
    await admin_client.post("/api/v1/nodes", json={"mac": NODE})
    await admin_client.post("/api/v1/nodes", json={"mac": OTHER})
    before = create_jpeg((40, 150, 50))
    await store.store_image(ReceivedImage(NODE, 1, T0, before))
    created = await admin_client.post("/api/v1/plants", json={"name": "Mint", "node_mac": NODE})
    assert created.status_code == 201, created.text
    mint = created.json()["id"]
    assert await _gallery(admin_client, mint) == [len(before)]

    # Moving the plant to another node: it takes that node's unassigned photos and keeps its
    # own; a plant that takes the freed node later does not get the first plant's photos.
    other_photo = create_jpeg((70, 160, 30), size=300)
    await store.store_image(ReceivedImage(OTHER, 1, T0, other_photo))
    moved = await admin_client.patch(f"/api/v1/plants/{mint}", json={"node_mac": OTHER})
    assert moved.status_code == 200, moved.text
    assert await _gallery(admin_client, mint) == sorted([len(before), len(other_photo)])
    basil = (
        await admin_client.post("/api/v1/plants", json={"name": "Basil", "node_mac": NODE})
    ).json()["id"]
    assert await _gallery(admin_client, basil) == []
