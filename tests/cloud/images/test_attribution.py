"""Photos follow the node's assignment history: a node's earlier plant-less photos join the plant
it is later assigned to, and a reassigned node's photos go to the plant it measured when each
photo was taken."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.diagnosis.models import Image
from cloud.diagnosis.service import build_context
from cloud.settings import CloudSettings
from shared.sync import SYNC_READINGS_PATH
from tests.cloud.factories import create_node, create_plant
from tests.cloud.images.conftest import Garden, RunJobs, make_garden, photo, upload_photo


def _at(moment: datetime) -> dict[str, str]:
    return {"captured_at": moment.isoformat()}


async def _ids(client: httpx.AsyncClient, garden: Garden, path: str) -> list[str]:
    response = await client.get(path, headers=garden.user.headers)
    assert response.status_code == 200, response.text
    assert "link" not in response.headers  # one page
    return [item["id"] for item in response.json()]


async def _set_node(
    client: httpx.AsyncClient, garden: Garden, plant_id: str, node_id: str | None
) -> None:
    response = await client.patch(
        f"/api/v1/plants/{plant_id}", json={"node_id": node_id}, headers=garden.user.headers
    )
    assert response.status_code == 200, response.text


async def test_photos_taken_before_the_node_had_a_plant_join_its_history(
    client: httpx.AsyncClient,
    garden: Garden,
    run_jobs: RunJobs,
    app: FastAPI,
    settings: CloudSettings,
) -> None:
    node = await create_node(client, garden.user, hub=garden.hub)
    bare = Garden(garden.user, garden.hub, node, garden.plant)
    start = datetime.now(UTC) - timedelta(hours=3)
    older = await upload_photo(client, bare, photo(10), **_at(start))
    newer = await upload_photo(client, bare, photo(11), **_at(start + timedelta(hours=1)))
    await run_jobs()  # diagnosed without a plant: nothing to give it yet
    basil = await create_plant(client, garden.user, "Balcony basil")
    basil_images = f"/api/v1/plants/{basil['id']}/images"
    node_images = f"/api/v1/nodes/{node['id']}/images"

    assert await _ids(client, garden, basil_images) == []
    assert await _ids(client, garden, node_images) == [newer["image_id"], older["image_id"]]

    await _set_node(client, garden, basil["id"], node["id"])

    assert await _ids(client, garden, basil_images) == [newer["image_id"], older["image_id"]]
    diagnoses = (
        await client.get(f"/api/v1/plants/{basil['id']}/diagnoses", headers=garden.user.headers)
    ).json()
    # Both earlier diagnoses moved with their photos; the newest photo is diagnosed again.
    assert sorted((d["image_id"], d["status"]) for d in diagnoses) == sorted(
        [
            (older["image_id"], "succeeded"),
            (newer["image_id"], "succeeded"),
            (newer["image_id"], "queued"),
        ]
    )
    # The monstera's history is untouched.
    assert await _ids(client, garden, f"/api/v1/plants/{garden.plant['id']}/images") == []

    async with AsyncSession(app.state.engine) as session:
        image = await session.get(Image, uuid.UUID(newer["image_id"]))
        assert image is not None
        context = await build_context(session, image, 7)
    assert context.plant_name == "Balcony basil"
    assert [point.captured_at for point in context.canopy_trend] == [start]
    await run_jobs()

    # Deleting the plant deletes the photos it received, though they live outside its folder.
    objects = settings.storage_dir / "objects"
    assert len(list(objects.rglob("*.jpg"))) == 4
    deleted = await client.delete(f"/api/v1/plants/{basil['id']}", headers=garden.user.headers)
    assert deleted.status_code == 204
    await run_jobs()
    assert list(objects.rglob("*.jpg")) == []
    assert await _ids(client, garden, node_images) == []


async def test_a_reassigned_node_keeps_old_photos_with_the_old_plant(
    client: httpx.AsyncClient, garden: Garden
) -> None:
    monstera = garden.plant
    before = await upload_photo(client, garden, photo(20), **_at(datetime.now(UTC)))
    unassigned_at = datetime.now(UTC)
    await _set_node(client, garden, monstera["id"], None)

    # A photo from the monstera's time that reaches the cloud late still belongs to it.
    late = await upload_photo(
        client, garden, photo(21), **_at(unassigned_at - timedelta(minutes=5))
    )
    # A photo taken while the node measures nothing waits for the node's next plant.
    gap = await upload_photo(client, garden, photo(22), **_at(datetime.now(UTC)))
    assert gap["image_id"] not in await _ids(
        client, garden, f"/api/v1/plants/{monstera['id']}/images"
    )

    fern = await create_plant(client, garden.user, "Fern", node=garden.node)
    after = await upload_photo(client, garden, photo(23), **_at(datetime.now(UTC)))

    assert sorted(await _ids(client, garden, f"/api/v1/plants/{monstera['id']}/images")) == sorted(
        [before["image_id"], late["image_id"]]
    )
    assert await _ids(client, garden, f"/api/v1/plants/{fern['id']}/images") == [
        after["image_id"],
        gap["image_id"],
    ]
    assert len(await _ids(client, garden, f"/api/v1/nodes/{garden.node['id']}/images")) == 4

    # Moving the node straight back gives the monstera new photos only, nothing from the fern.
    await _set_node(client, garden, fern["id"], None)
    await _set_node(client, garden, monstera["id"], garden.node["id"])
    newest = await upload_photo(client, garden, photo(24), **_at(datetime.now(UTC)))
    monstera_ids = await _ids(client, garden, f"/api/v1/plants/{monstera['id']}/images")
    assert newest["image_id"] == monstera_ids[0]
    assert len(monstera_ids) == 3
    assert len(await _ids(client, garden, f"/api/v1/plants/{fern['id']}/images")) == 2


async def test_attribution_stays_within_the_owner(
    client: httpx.AsyncClient, garden: Garden
) -> None:
    node = await create_node(client, garden.user, hub=garden.hub)
    mine = await upload_photo(
        client, Garden(garden.user, garden.hub, node, garden.plant), photo(30)
    )
    stranger = await make_garden(client)
    path = f"/api/v1/nodes/{node['id']}/images"
    peek = await client.get(path, headers=stranger.user.headers)
    assert (peek.status_code, peek.json()["error"]["code"]) == (404, "not_found")
    # The stranger cannot claim the node (and so its photos) for their plant.
    claim = await client.patch(
        f"/api/v1/plants/{stranger.plant['id']}",
        json={"node_id": node["id"]},
        headers=stranger.user.headers,
    )
    assert claim.status_code == 422
    stranger_images = f"/api/v1/plants/{stranger.plant['id']}/images"
    assert await _ids(client, stranger, stranger_images) == []
    assert await _ids(client, garden, path) == [mine["image_id"]]


async def _push_moisture(
    client: httpx.AsyncClient, garden: Garden, mac: str, moisture: float, before: datetime
) -> None:
    readings = [
        {
            "node_mac": mac,
            "measured_at": (before - timedelta(hours=h)).isoformat(),
            "moisture": moisture,
        }
        for h in range(1, 4)
    ]
    response = await client.post(
        SYNC_READINGS_PATH,
        json={"batch_id": str(uuid.uuid4()), "readings": readings},
        headers=garden.hub.headers,
    )
    assert response.json()["accepted"] == 3, response.text


async def test_a_photo_is_diagnosed_with_the_readings_of_the_node_that_took_it(
    client: httpx.AsyncClient, garden: Garden, app: FastAPI
) -> None:
    taken = datetime.now(UTC) - timedelta(hours=1)
    await _push_moisture(client, garden, garden.node["mac"], 12.0, taken)
    shot = await upload_photo(client, garden, photo(40), **_at(taken))
    # The plant moves to a new node that measured something else.
    new_node = await create_node(client, garden.user, hub=garden.hub)
    await _push_moisture(client, garden, new_node["mac"], 55.0, taken)
    await _set_node(client, garden, garden.plant["id"], new_node["id"])

    async with AsyncSession(app.state.engine) as session:
        image = await session.get(Image, uuid.UUID(shot["image_id"]))
        assert image is not None
        context = await build_context(session, image, 7)
    assert context.plant_name == "Living-room monstera"
    assert {summary.mean for summary in context.daily if summary.metric.value == "moisture"} == {
        12.0
    }
