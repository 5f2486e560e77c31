"""Backfilled records the node took before its clock was set are placed at its own interval."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
from sqlalchemy import text

from hub.ble.emulator import EmulatedGarden
from hub.ble.gateway import Gateway
from hub.store.hub_store import HubStore
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


async def test_untimed_records_are_placed_at_the_nodes_own_interval(
    garden: EmulatedGarden, store: HubStore, make_gateway: Callable[..., Gateway]
) -> None:
    node = garden.nodes[0]
    await pair(store, [node.mac], garden.bindkeys)
    await garden.start()
    # The hub is away: the node measures with its clock unset (epoch 0 in every record).
    await eventually(lambda: node.counter >= 4, what="measurements while the hub is away")
    measured = {m.seq: m.measured_at for m in node.log}
    gateway = make_gateway()
    await gateway.start()
    await eventually(lambda: gateway.stats.sessions_ok >= 1, what="a session")
    async with store.read() as session:
        rows = (
            await session.execute(
                text("select seq, measured_at from readings where source = 'backfill'")
            )
        ).all()
    assert len(rows) >= 3
    for seq, stamped_ms in rows:
        if seq in measured:
            skew = abs((from_ms(stamped_ms) - measured[seq]).total_seconds())
            assert skew < INTERVAL_S / 2, f"seq {seq} stamped {skew:.0f}s from when it was taken"
