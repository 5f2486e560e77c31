"""Backfilled records the node took before its clock was ever set are held on the node until
records with a time come after them; then they are placed at the node's own interval."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
from sqlalchemy import text

from hub.ble.emulator import EmulatedGarden
from hub.ble.gateway import Gateway
from hub.hub_store import HubStore
from hub.store.types import from_ms
from tests.hub.ble.conftest import eventually, pair

pytestmark = pytest.mark.timeout(90)

INTERVAL_S = 60  # not the 600 s a hub assumes when it knows nothing of the node


@pytest.fixture
async def garden() -> AsyncIterator[EmulatedGarden]:
    emulated = EmulatedGarden(
        1, speed=60.0, sampling_interval_s=INTERVAL_S, photo_every_s=None, photo_size=(160, 120)
    )
    yield emulated
    await emulated.stop()


async def backfilled(store: HubStore) -> list[tuple[int, int]]:
    async with store.read() as session:
        rows = (
            await session.execute(
                text("select seq, measured_at from readings where source = 'backfill'")
            )
        ).all()
    return [(int(seq), int(stamped)) for seq, stamped in rows]


async def test_untimed_records_are_held_then_placed_at_the_nodes_own_interval(
    garden: EmulatedGarden, store: HubStore, make_gateway: Callable[..., Gateway]
) -> None:
    node = garden.nodes[0]
    await pair(store, [node.mac], garden.bindkeys)
    await garden.start()
    # The hub is away: the node measures with its clock unset (epoch 0 in every record).
    await eventually(lambda: node.counter >= 4, what="measurements while the hub is away")
    untimed = {m.seq: m.measured_at for m in node.log}
    gateway = make_gateway()
    await gateway.start()
    await eventually(lambda: gateway.stats.sessions_ok >= 1, what="a first session")
    # Nothing to place them by: not stored, so never synced with a guessed time.
    assert not [seq for seq, _ in await backfilled(store) if seq in untimed]
    # The first session set the node's clock; its next advert asks for the session that
    # places them by the timed records taken since.
    await eventually(lambda: gateway.stats.sessions_ok >= 2, what="a second session")
    rows = [(seq, stamped) for seq, stamped in await backfilled(store) if seq in untimed]
    assert len(rows) >= 3
    for seq, stamped_ms in rows:
        skew = abs((from_ms(stamped_ms) - untimed[seq]).total_seconds())
        assert skew < INTERVAL_S / 2, f"seq {seq} stamped {skew:.0f}s from when it was taken"
