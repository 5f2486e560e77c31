"""Disk budget: synced data goes first; unsynced data is dropped only counted and alerted."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text

from hub.budget import service as budget
from hub.hub_store import HubStore, open_store
from hub.settings import HubSettings
from tests.hub.factories import T0, create_readings

pytestmark = pytest.mark.pi  # also runs under aarch64 in `make pi-check`

MAC = "AA:BB:CC:DD:EE:01"


async def scalar(store: HubStore, sql: str) -> int:
    async with store.read() as session:
        return int((await session.execute(text(sql))).scalar_one())


async def fill(store: HubStore, count: int) -> None:
    await store.pair_node(MAC)
    for i in range(0, count, 5000):
        await store.store_readings(
            create_readings(MAC, 5000, start_seq=i, start=T0 + timedelta(minutes=i))
        )


async def test_synced_readings_are_pruned_first(hub_settings: HubSettings) -> None:
    async with open_store(hub_settings) as store:
        await fill(store, 40_000)
        await store.write(
            lambda s: s.execute(text("update readings set sync_state = 1 where seq < 30000"))
        )
        used = await budget.used_bytes(store)
    settings = hub_settings.model_copy(update={"disk_budget_mb": used * 0.6 / 2**20})
    async with open_store(settings) as store:
        report = await budget.enforce(store)
        assert report.used_after <= settings.disk_budget_bytes
        assert report.removed["readings"] > 0
        assert report.dropped_unsynced == {}
        # Every unsynced reading is still there, and the oldest synced went first.
        assert await scalar(store, "select count(*) from readings where sync_state = 0") == 10_000
        oldest_left = await scalar(store, "select min(seq) from readings")
        assert oldest_left > 0
        assert await scalar(store, "select count(*) from alerts") == 0
        # Rollups survive the raw readings.
        assert await scalar(store, "select sum(count) from readings_hourly") == 40_000


async def test_unsynced_data_dropped_only_when_needed_counted_and_alerted(
    hub_settings: HubSettings,
) -> None:
    async with open_store(hub_settings) as store:
        await fill(store, 30_000)
        used = await budget.used_bytes(store)
    settings = hub_settings.model_copy(update={"disk_budget_mb": used * 0.3 / 2**20})
    async with open_store(settings) as store:
        report = await budget.enforce(store)
        dropped = report.dropped_unsynced.get("unsynced_readings", 0)
        assert dropped > 0
        assert await scalar(store, "select count(*) from readings") == 30_000 - dropped
        assert (
            await scalar(store, "select count from dropped_data where kind = 'readings'") == dropped
        )
        alerts = await scalar(
            store, "select count(*) from alerts where kind = 'data_dropped' and sync_state = 0"
        )
        assert alerts >= 1
        assert report.removed.get("rollups", 0) > 0  # rollups went before unsynced rows


async def test_synced_image_files_go_but_their_metrics_stay(hub_settings: HubSettings) -> None:
    from hub.images.service import ingest_image
    from tests.hub.images.test_images import create_jpeg

    async with open_store(hub_settings) as store:
        await store.pair_node(MAC)
        images = [
            await ingest_image(
                store, create_jpeg((40 + i * 20, 160, 50), size=600), source="ble", node_mac=MAC
            )
            for i in range(3)
        ]
        await store.write(
            lambda s: s.execute(
                text("update images set sync_state = 1 where id != :keep"), {"keep": images[2].id}
            )
        )
        before = await budget.used_bytes(store)
    file_bytes = sum(i.byte_size for i in images)
    settings = hub_settings.model_copy(update={"disk_budget_mb": (before - file_bytes / 2) / 2**20})
    async with open_store(settings) as store:
        report = await budget.enforce(store)
        assert report.removed.get("image_files") == 2
        assert report.dropped_unsynced == {}
        rows = await scalar(store, "select count(*) from images where metrics is not null")
        assert rows == 3
        assert await scalar(store, "select count(*) from images where file_present = 1") == 1
        assert store.images.absolute(images[2].path).exists()
        assert not store.images.absolute(images[0].path).exists()
