"""Image-flow fixtures: a gardener with a hub, a node and a Monstera, photos, a job runner."""

from __future__ import annotations

import hashlib
import io
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from PIL import Image as PILImage
from sqlalchemy import text

from cloud.settings import CloudSettings
from cloud.worker import WorkerDeps, build_job_app, run_worker
from shared.sync import SYNC_IMAGE_COMPLETE_PATH, SYNC_IMAGE_SLOTS_PATH
from tests.cloud.factories import (
    HubAuth,
    UserAuth,
    create_hub,
    create_node,
    create_plant,
    create_user,
)
from tests.cloud.storage.conftest import gcs_emulator, signing_key  # noqa: F401 - shared fixtures

CAPTURED = datetime(2026, 11, 26, 9, 30, tzinfo=UTC)


def photo(seed: int = 0, green: float = 0.4, size: tuple[int, int] = (320, 240)) -> bytes:
    """A real JPEG: brown soil with a green patch covering ``green`` of the width."""
    image = PILImage.new("RGB", size, (110 + seed % 40, 80, 60))
    image.paste((50, 150 + seed % 50, 40), (0, 0, int(size[0] * green), size[1]))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def slot_body(data: bytes, mac: str, **extra: Any) -> dict[str, Any]:
    """An ImageSlotRequest for ``data``."""
    body: dict[str, Any] = {
        "node_mac": mac,
        "captured_at": CAPTURED.isoformat(),
        "byte_size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "content_type": "image/jpeg",
        "metrics": {
            "canopy_cover": 0.4,
            "excess_green_mean": 31.5,
            "green_pixels": 30_720,
            "brightness": 96.0,
            "flags": [],
        },
    }
    body.update(extra)
    return body


@dataclass
class Garden:
    """A gardener's account as the image tests need it."""

    user: UserAuth
    hub: HubAuth
    node: dict[str, Any]
    plant: dict[str, Any]


@pytest.fixture
def settings_overrides(tmp_path: Path) -> dict[str, Any]:
    """Local store in a temp dir; jobs run by the test (``run_jobs``), not an inline worker."""
    return {
        "storage_dir": tmp_path / "objects",
        "public_base_url": "http://cloud.test",
        "worker_inline": False,
        "diagnosis_backoff_base_s": 0,
        "worker_poll_s": 0.1,
    }


async def make_garden(client: httpx.AsyncClient) -> Garden:
    """A user with a linked hub, a node on it and a Monstera measured by that node."""
    user = await create_user(client)
    hub = await create_hub(client, user)
    node = await create_node(client, user, hub=hub)
    species = (await client.get("/api/v1/species", params={"q": "Monstera"})).json()[0]
    plant = await create_plant(
        client, user, "Living-room monstera", node=node, species_id=species["id"]
    )
    return Garden(user, hub, node, plant)


@pytest.fixture
async def garden(client: httpx.AsyncClient) -> Garden:
    """One gardener's account."""
    return await make_garden(client)


async def announce(client: httpx.AsyncClient, hub: HubAuth, body: dict[str, Any]) -> httpx.Response:
    """POST an image slot request as the hub."""
    return await client.post(SYNC_IMAGE_SLOTS_PATH, json=body, headers=hub.headers)


async def complete(client: httpx.AsyncClient, hub: HubAuth, image_id: str) -> httpx.Response:
    """POST the completion of an upload as the hub."""
    path = SYNC_IMAGE_COMPLETE_PATH.format(image_id=image_id)
    return await client.post(path, headers=hub.headers)


async def upload_photo(
    client: httpx.AsyncClient, garden: Garden, data: bytes, **extra: Any
) -> dict[str, Any]:
    """The whole hub flow for one photo: slot, PUT to the signed URL, complete. Returns the ack."""
    slot = await announce(client, garden.hub, slot_body(data, garden.node["mac"], **extra))
    assert slot.status_code == 200, slot.text
    body = slot.json()
    put = await client.put(body["upload_url"], content=data, headers=body["upload_headers"])
    assert put.status_code == 200, put.text
    done = await complete(client, garden.hub, body["image_id"])
    assert done.status_code == 200, done.text
    ack: dict[str, Any] = done.json()
    return ack


RunJobs = Callable[[], Awaitable[None]]
_READY_JOBS = (
    "SELECT count(*) FROM procrastinate_jobs WHERE status = 'todo' "
    "AND (scheduled_at IS NULL OR scheduled_at <= now())"
)


@pytest.fixture
def run_jobs(app: FastAPI, settings: CloudSettings) -> RunJobs:
    """Run a worker in-process until the queue has nothing ready (retries due now included)."""

    async def run() -> None:
        job_app = build_job_app(settings.database_url or "", max_connections=3)
        deps = WorkerDeps(
            engine=app.state.engine,
            store=app.state.object_store,
            diagnoser=app.state.diagnoser,
            settings=settings,
            counters=app.state.pipeline_counters,
        )
        async with job_app.open_async():
            # A worker with wait=False stops when it finds nothing; retries due now come back.
            for _ in range(20):
                await run_worker(job_app, deps, name=f"test-{uuid.uuid4().hex[:6]}", wait=False)
                async with app.state.engine.connect() as conn:
                    ready = await conn.scalar(text(_READY_JOBS))
                if not ready:
                    return
            raise AssertionError("jobs kept coming back ready after 20 worker runs")

    return run


def later(seconds: float) -> datetime:
    """Now plus ``seconds``."""
    return datetime.now(UTC) + timedelta(seconds=seconds)
