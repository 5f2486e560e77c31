"""kill -9 of a hub in the middle of syncing: nothing lost, nothing duplicated in the cloud."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from cloud.app import create_app as create_cloud_app
from cloud.settings import CloudSettings
from hub.hub_store import open_store
from hub.settings import HubSettings
from hub.sync.client import CloudClient
from hub.sync.link import LinkManager
from hub.sync.service import SyncEngine
from shared.sync import DEVICE_APPROVE_PATH
from tests.cloud.factories import create_user
from tests.hub.cloudlink import cloud_scalar
from tests.hub.conftest import Cloud
from tests.hub.factories import create_readings
from tests.hub.loopback import LoopbackServer

ROOT = Path(__file__).resolve().parents[3]
MAC = "AA:BB:CC:DD:EE:01"
READINGS = 20_000
BATCH = 500


@pytest.fixture
def loopback_cloud(database_url: str) -> Iterator[LoopbackServer]:
    settings = CloudSettings(
        database_url=database_url,
        stale_check_enabled=False,
        device_poll_interval_s=0,
        log_level="WARNING",
        db_pool_size=5,
    )
    with LoopbackServer(create_cloud_app(settings)) as server:
        yield server


async def prepare_linked_hub(settings: HubSettings, cloud_url: str) -> None:
    """A hub store with readings to sync, linked to a new cloud user."""
    async with (
        open_store(settings) as store,
        httpx.AsyncClient(base_url=cloud_url, timeout=30) as http,
    ):
        user = await create_user(http)
        links = LinkManager(store, lambda url, token: CloudClient(http, url, token))
        pending = await links.start(cloud_url)
        approved = await http.post(
            DEVICE_APPROVE_PATH, json={"user_code": pending.user_code}, headers=user.headers
        )
        assert approved.status_code == 200, approved.text
        assert await links.poll()
        await store.pair_node(MAC, bindkey=bytes(16))
        await store.store_readings(create_readings(MAC, READINGS))


def sync_and_kill(data_dir: Path, rng: random.Random, landed: Callable[[], int]) -> list[str]:
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.hub._sync_child", str(data_dir), str(BATCH)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "ready"
    # Kill once a batch has landed (not on a timer, which a fast machine outruns), a little later.
    before = landed()
    deadline = time.monotonic() + 30
    while landed() == before and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    time.sleep(rng.uniform(0.0, 0.05))
    child.send_signal(signal.SIGKILL)
    child.wait()
    return child.stdout.read().splitlines()


@pytest.mark.slow
async def test_kill_9_during_sync_loses_and_duplicates_nothing(
    loopback_cloud: LoopbackServer, database_url: str, hub_settings: HubSettings
) -> None:
    settings = hub_settings.model_copy(update={"sync_batch_items": BATCH})
    await prepare_linked_hub(settings, loopback_cloud.url)
    cloud = Cloud(app=None, http=None, database_url=database_url)  # type: ignore[arg-type]
    rng = random.Random(os.getpid())
    progress = []
    for _ in range(3):
        sync_and_kill(
            settings.data_dir, rng, lambda: cloud_scalar(cloud, "select count(*) from readings")
        )
        progress.append(cloud_scalar(cloud, "select count(*) from readings"))
    assert progress[-1] < READINGS or progress[0] < READINGS  # the kills hit mid-sync

    async with (
        open_store(settings) as store,
        httpx.AsyncClient(timeout=30) as http,
    ):
        engine = SyncEngine(store, settings, lambda url, token: CloudClient(http, url, token))
        report = await engine.run(force=True)
        assert report.error is None, report
        async with store.read() as session:
            pending = (
                await session.execute(text("select count(*) from readings where sync_state != 1"))
            ).scalar_one()
            batches = (
                await session.execute(text("select count(*) from sync_batches"))
            ).scalar_one()
    assert pending == 0
    assert cloud_scalar(cloud, "select count(*) from readings") == READINGS
    # Every batch reached the cloud under one id only: rows were never re-batched after a kill.
    assert (
        cloud_scalar(cloud, "select count(*) from ingest_batches where kind = 'readings'")
        == batches
    )
    assert batches == READINGS // BATCH
