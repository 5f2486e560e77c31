"""Photos reach the cloud: slot, upload to the object store, complete; resumable after a crash."""

from __future__ import annotations

import hashlib

from sqlalchemy import text

from hub.images.models import UploadState
from hub.settings import HubSettings
from hub.sync.client import throttled
from hub.sync.service import SyncEngine, SyncReport
from tests.hub.cloudlink import cloud_scalar, linked_hub
from tests.hub.conftest import Cloud
from tests.hub.images.test_images import create_jpeg

MAC = "AA:BB:CC:DD:EE:01"


async def upload(hub_http: object, data: bytes) -> dict[str, object]:
    response = await hub_http.post(  # type: ignore[attr-defined]
        "/api/v1/images", files={"file": ("p.jpg", data, "image/jpeg")}, data={"node_mac": MAC}
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def test_photos_sync_once_and_resume_after_a_crash(
    cloud: Cloud, hub_settings: HubSettings
) -> None:
    async with linked_hub(cloud, hub_settings) as hub:
        await hub.http.post("/api/v1/nodes", json={"mac": MAC})
        first = create_jpeg((40, 160, 50))
        second = create_jpeg((60, 140, 40))
        image = await upload(hub.http, first)
        report = (await hub.http.post("/api/v1/sync/now")).json()
        assert report["error"] is None, report
        assert report["sent"]["image_slots"] == 1
        assert report["sent"]["image_bytes"] == 1
        synced = (await hub.http.get(f"/api/v1/images/{image['id']}")).json()
        assert synced["sync_state"] == "synced"
        assert synced["upload_state"] == "complete"
        sha = hashlib.sha256(first).hexdigest()
        assert cloud_scalar(cloud, f"select count(*) from images where sha256 = '{sha}'") == 1

        # A crash between the slot and the upload: the slot URL was only in memory.
        await upload(hub.http, second)
        engine: SyncEngine = hub.engine
        url, token, _hub_id = await engine.link_state()
        assert url is not None
        await engine._image_slots(engine._client_factory(url, token), SyncReport())
        async with hub.store.read() as session:
            state, cloud_id = (
                await session.execute(
                    text("select upload_state, cloud_image_id from images where sha256 = :s"),
                    {"s": hashlib.sha256(second).hexdigest()},
                )
            ).one()
        assert state == UploadState.UPLOAD
        engine._slots.clear()  # what a restart loses
        resumed = (await hub.http.post("/api/v1/sync/now")).json()
        assert resumed["error"] is None, resumed
        async with hub.store.read() as session:
            final = (
                await session.execute(
                    text(
                        "select upload_state, cloud_image_id, sync_state from images "
                        "where sha256 = :s"
                    ),
                    {"s": hashlib.sha256(second).hexdigest()},
                )
            ).one()
        assert final[0] == UploadState.COMPLETE
        assert final[1] == cloud_id  # the same cloud image id, re-asked after the "crash"
        assert final[2] == 1
        assert cloud_scalar(cloud, "select count(*) from images") == 2
        # Nothing left: a further pass sends nothing.
        idle = (await hub.http.post("/api/v1/sync/now")).json()
        assert "image_bytes" not in idle["sent"]


async def test_throttled_upload_sends_every_byte_in_chunks() -> None:
    data = bytes(range(256)) * 40
    chunks = [c async for c in throttled(data, 1024, 1_000_000)]
    assert b"".join(chunks) == data
    assert {len(c) for c in chunks[:-1]} == {1024}
