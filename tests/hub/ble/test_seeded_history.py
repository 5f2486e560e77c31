"""A node that was in the garden before the hub first heard it (the demo's week of history):
the hub backfills every record it holds at the time it was taken and fetches its photos, over
GATT like any it missed; a node rebuilt from its journal keeps that history, seeded once."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from hub.ble.emulator import EmulatedGarden
from hub.ble.gateway import Gateway
from hub.hub_store import HubStore
from hub.store.types import from_ms
from tests.hub.ble.conftest import eventually_async, image_rows, pair

pytestmark = pytest.mark.timeout(90)

DAY_S = 86_400
STEP_S = 1800


@pytest.fixture
async def garden(tmp_path: Path) -> AsyncIterator[EmulatedGarden]:
    emulated = EmulatedGarden(
        1,
        speed=1.0,
        sampling_interval_s=600,
        photo_every_s=None,
        photo_size=(160, 120),
        state_dir=tmp_path,
        seed_history_s=DAY_S,
        seed_step_s=STEP_S,
        seed_photo_every_s=6 * 3600,
    )
    yield emulated
    await emulated.stop()


async def backfilled(store: HubStore) -> dict[int, int]:
    async with store.read() as session:
        rows = (
            await session.execute(
                text("select seq, measured_at from readings where source = 'backfill'")
            )
        ).all()
    return {int(seq): int(stamped) for seq, stamped in rows}


async def test_a_seeded_day_is_backfilled_at_its_times_with_its_photos(
    garden: EmulatedGarden, store: HubStore, make_gateway: Callable[..., Gateway]
) -> None:
    node = garden.nodes[0]
    await pair(store, [node.mac], garden.bindkeys)
    await garden.start()
    assert garden.seeded == {node.mac: DAY_S // STEP_S}
    seeded = {m.seq: m.measured_at for m in node.log[: DAY_S // STEP_S]}
    span = max(seeded.values()) - min(seeded.values())
    assert span >= timedelta(seconds=DAY_S - STEP_S)
    assert len(node.flash.images) == 4  # every 6 h over the day
    gateway = make_gateway()
    await gateway.start()

    async def all_in() -> bool:
        stored = await backfilled(store)
        return set(seeded) <= set(stored) and len(await image_rows(store, node.mac)) >= 4

    await eventually_async(all_in, 30, "the seeded day and its photos in the hub's store")
    stored = await backfilled(store)
    for seq, taken in seeded.items():
        assert abs((from_ms(stored[seq]) - taken).total_seconds()) < 1, seq
    photos = await image_rows(store, node.mac)
    assert len({row["node_image_id"] for row in photos}) == 4


async def test_a_node_rebuilt_from_its_journal_is_not_seeded_again(tmp_path: Path) -> None:
    def build() -> EmulatedGarden:
        return EmulatedGarden(
            1,
            photo_every_s=None,
            photo_size=(160, 120),
            state_dir=tmp_path,
            seed_history_s=DAY_S,
            seed_step_s=STEP_S,
        )

    first = build()
    added = await first.nodes[0].seed_history(DAY_S, STEP_S)
    assert added == DAY_S // STEP_S
    log = [(m.seq, m.measured_at) for m in first.nodes[0].log]
    again = build()
    assert [(m.seq, m.measured_at) for m in again.nodes[0].log] == log
    assert await again.nodes[0].seed_history(DAY_S, STEP_S) == 0
    assert len(again.nodes[0].flash.records) == len(log)
