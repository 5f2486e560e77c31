"""Diagnoses come down to the hub: the real cloud diagnoses a synced photo (heuristic
diagnoser, embedded PostgreSQL, durable job queue), the hub pulls them with If-None-Match and
serves them from SQLite, also while the cloud is unreachable."""

from __future__ import annotations

import hashlib
import uuid
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import text

from cloud.worker import WorkerDeps, build_job_app, run_worker
from hub.ble.ports import DecodedReading
from hub.settings import HubSettings
from hub.store.types import utcnow
from shared.metrics import Metric
from shared.sync import SYNC_DIAGNOSES_PATH
from tests.hub.cloudlink import linked_hub
from tests.hub.conftest import Cloud
from tests.hub.images.test_images import create_jpeg

MAC = "AA:BB:CC:DD:EE:01"
KEY = "00112233445566778899aabbccddeeff"


class Switchable(httpx.AsyncBaseTransport):
    """The hub's route to the cloud, which the test can cut (the hub's uplink goes down)."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.online = True

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if not self.online:
            raise httpx.ConnectError("network is unreachable", request=request)
        return await self.inner.handle_async_request(request)


async def run_cloud_jobs(cloud: Cloud) -> None:
    """Run the cloud's job worker in-process until nothing is ready (the diagnosis jobs)."""
    state = cloud.state
    settings = state.settings
    job_app = build_job_app(cloud.database_url, max_connections=3)
    deps = WorkerDeps(
        engine=state.engine,
        store=state.object_store,
        diagnoser=state.diagnoser,
        settings=settings,
        counters=state.pipeline_counters,
    )
    async with job_app.open_async():
        await run_worker(job_app, deps, name=f"test-{uuid.uuid4().hex[:6]}", wait=False)


async def sync(hub: Any) -> dict[str, Any]:
    body: dict[str, Any] = (await hub.http.post("/api/v1/sync/now")).json()
    return body


async def test_diagnoses_reach_the_hub_and_stay_readable_offline(
    cloud: Cloud, hub_settings: HubSettings
) -> None:
    uplink = Switchable(cloud.transport())
    async with linked_hub(cloud, hub_settings, transport=uplink) as hub:
        assert (await hub.http.post("/api/v1/nodes", json={"mac": MAC, "bindkey": KEY})).is_success
        assert (await sync(hub))["error"] is None
        node = (await cloud.http.get("/api/v1/nodes", headers=hub.user.headers)).json()[0]
        created = await cloud.http.post(
            "/api/v1/plants",
            json={"name": "Basil", "node_id": node["id"], "species_id": 1},
            headers=hub.user.headers,
        )
        assert created.status_code == 201, created.text
        plant_id = created.json()["id"]
        assert (await sync(hub))["error"] is None  # the plant comes down

        # Two dry days before the photo: the diagnosis has a finding and an action to show.
        now = utcnow()
        dry = [
            DecodedReading(
                node_mac=MAC,
                measured_at=now - timedelta(hours=hours),
                values={Metric.MOISTURE: 4.0, Metric.TEMPERATURE: 21.0},
                seq=index,
            )
            for index, hours in enumerate(range(40, 0, -2))
        ]
        await hub.store.store_readings(dry)
        photo = create_jpeg((40, 160, 50))
        uploaded = await hub.http.post(
            "/api/v1/images",
            files={"file": ("p.jpg", photo, "image/jpeg")},
            data={"node_mac": MAC},
        )
        assert uploaded.status_code == 201, uploaded.text
        hub_image_id = uploaded.json()["id"]
        first = await sync(hub)
        assert first["sent"]["image_bytes"] == 1, first
        # The queued diagnosis already comes down: the page can say one is on its way.
        queued = (await hub.http.get(f"/api/v1/plants/{plant_id}/diagnoses")).json()
        assert [d["status"] for d in queued["items"]] == ["queued"]

        await run_cloud_jobs(cloud)
        done = await sync(hub)
        assert done["error"] is None, done
        assert done["sent"]["diagnoses"] == 1
        listed = (await hub.http.get(f"/api/v1/plants/{plant_id}/diagnoses")).json()
        assert listed["linked"] is True
        assert listed["last_checked_at"] is not None
        (diagnosis,) = listed["items"]
        assert diagnosis["status"] == "succeeded"
        assert diagnosis["health"] == "stressed"
        assert diagnosis["findings"][0]["cause_type"] == "abiotic"
        assert 0 <= diagnosis["confidence"] <= 1
        assert diagnosis["summary"]
        assert diagnosis["recommended_actions"], diagnosis
        assert diagnosis["source"] == "heuristic"
        assert diagnosis["image_sha256"] == hashlib.sha256(photo).hexdigest()
        assert diagnosis["photo"]["image_id"] == hub_image_id  # which photo, on the hub itself
        cloud_view = (
            await cloud.http.get(f"/api/v1/plants/{plant_id}/diagnoses", headers=hub.user.headers)
        ).json()[0]
        assert diagnosis["id"] == cloud_view["id"]
        assert diagnosis["findings"] == [
            {k: f[k] for k in ("issue", "likely_cause", "cause_type", "evidence")}
            for f in cloud_view["findings"]
        ]
        assert diagnosis["recommended_actions"] == cloud_view["recommended_actions"]

        # Nothing changed: the hub's If-None-Match gets a 304, no rows are rewritten.
        idle = await sync(hub)
        assert idle["error"] is None
        assert "diagnoses" not in idle["sent"]

        # The uplink goes down; meanwhile the gardener asks the cloud to look at the photo again.
        uplink.online = False
        offline = await sync(hub)
        assert offline["error"] is not None
        again = await cloud.http.post(
            f"/api/v1/images/{cloud_view['image_id']}/diagnoses", headers=hub.user.headers
        )
        assert again.status_code == 202, again.text
        await run_cloud_jobs(cloud)
        while_offline = (await hub.http.get(f"/api/v1/plants/{plant_id}/diagnoses")).json()
        assert [d["id"] for d in while_offline["items"]] == [diagnosis["id"]]

        # Back online, the next sync brings the cloud's newer state, newest first.
        uplink.online = True
        back = await sync(hub)
        assert back["error"] is None, back
        assert back["sent"]["diagnoses"] == 2
        after = (await hub.http.get(f"/api/v1/plants/{plant_id}/diagnoses")).json()
        assert [d["id"] for d in after["items"]][1] == diagnosis["id"]
        assert after["items"][0]["status"] == "succeeded"
        async with hub.store.read() as session:
            stored = (await session.execute(text("select count(*) from diagnoses"))).scalar_one()
        assert stored == 2


async def test_diagnosis_route_versions_with_etag(cloud: Cloud, hub_settings: HubSettings) -> None:
    async with linked_hub(cloud, hub_settings) as hub:
        async with hub.store.read() as session:
            token = (
                await session.execute(text("select value from hub_settings where key='hub_token'"))
            ).scalar_one()
        auth = {"Authorization": f"Bearer {token}"}
        first = await cloud.http.get(SYNC_DIAGNOSES_PATH, headers=auth)
        assert first.status_code == 200
        assert first.json() == {"diagnoses": []}
        etag = first.headers["etag"]
        again = await cloud.http.get(SYNC_DIAGNOSES_PATH, headers={**auth, "If-None-Match": etag})
        assert again.status_code == 304
        assert again.headers["etag"] == etag
        assert again.content == b""
        other = await cloud.http.get(SYNC_DIAGNOSES_PATH, headers={**auth, "If-None-Match": '"x"'})
        assert other.status_code == 200
        # A user's token is not a hub token.
        refused = await cloud.http.get(SYNC_DIAGNOSES_PATH, headers=hub.user.headers)
        assert refused.status_code == 401
        unknown = await hub.http.get(f"/api/v1/plants/{uuid.uuid4()}/diagnoses")
        assert unknown.status_code == 404
