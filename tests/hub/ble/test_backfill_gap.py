"""A gap in a node's counter seen while a session with it runs leads to a session soon after.

Issue 17: the running session's success path set the next session six hours out, overwriting
the request the gap had made, so readings the node held waited hours (589 of 49,769 after an
outage) while the hub showed nothing pending.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import replace

import pytest

from hub.ble.emulator import EmulatedGarden
from hub.ble.gateway import Gateway
from hub.ble.ports import DecodedReading
from hub.hub_store import HubStore
from shared.sync import ReadingSource
from tests.hub.ble.conftest import (
    FAST,
    eventually,
    eventually_async,
    node_row,
    pair,
    stored_readings,
)

# Not in `make pi-check`: the gap opens on the emulated clock at a speed-up qemu-user cannot keep.
pytestmark = [pytest.mark.timeout(90)]


class BackfillWatch:
    """The real store; ``backfilled`` is set once a session committed backfilled records."""

    def __init__(self, store: HubStore) -> None:
        self._store = store
        self.backfilled = asyncio.Event()

    def __getattr__(self, name: str) -> object:
        return getattr(self._store, name)

    async def store_readings(self, readings: Sequence[DecodedReading]) -> object:
        result = await self._store.store_readings(readings)
        if any(r.source == ReadingSource.BACKFILL for r in readings):
            self.backfilled.set()
        return result


async def test_a_gap_seen_during_a_session_is_fetched_right_after_it(
    garden: EmulatedGarden, store: HubStore
) -> None:
    node = garden.nodes[0]
    await pair(store, [node.mac], garden.bindkeys)
    await garden.start()
    await eventually(lambda: node.counter >= 2, what="a few measurements before the hub")
    watch = BackfillWatch(store)
    # Six hours between scheduled sessions, as in production (FAST uses an hour).
    gateway = Gateway(
        watch,  # type: ignore[arg-type]
        replace(FAST, session_interval_s=6 * 3600.0),
        garden.backends(),
        now=garden.clock.now,
    )
    await gateway.start()
    try:
        await eventually(lambda: gateway.stats.sessions_ok >= 1, what="the first-contact session")
        await eventually(lambda: node.counter >= 4, what="more measurements")

        # A session that is slow to finish (the node's flash erase takes its time), during
        # which the node goes on advertising.
        node.faults.ack_delay_s = 2.5
        node.faults.advertise_while_connected = True
        watch.backfilled.clear()
        ended = gateway.sessions_ended(node.mac)
        await node.wake()  # held by the node until the session fetches it
        await gateway.request_session(node.mac)
        await asyncio.wait_for(watch.backfilled.wait(), 20.0)

        # Past REPORT_SINCE: one measurement goes unheard, the next is heard: a gap.
        node.faults.skip_adverts = 1
        missed = await node.wake()
        heard = await node.wake()
        await eventually(
            lambda: gateway.readings_on_node(node.mac) >= 1, what="the gap seen by the gateway"
        )
        assert gateway.sessions_ended(node.mac) == ended, "the gap had to open during the session"

        async def held_in_store() -> bool:
            await gateway.push_statuses()
            return int((await node_row(store, node.mac))["readings_held"]) >= 1  # type: ignore[call-overload]

        await eventually_async(
            held_in_store, within=2.0, what="the hub showing what the node holds"
        )
        node.faults.ack_delay_s = 0.0

        def have_missed() -> bool:
            return any(r.seq == missed.seq for r in rows)

        rows = await stored_readings(store, node.mac)
        for _ in range(150):  # a session soon after the running one, not six hours later
            rows = await stored_readings(store, node.mac)
            if have_missed():
                break
            await asyncio.sleep(0.1)
        assert have_missed(), f"seq {missed.seq} stayed on the node after the session ended"
        assert any(r.seq == heard.seq for r in rows)
        by_seq = {r.seq: r for r in rows}
        assert by_seq[missed.seq].source == "backfill"
        await eventually(lambda: gateway.readings_on_node(node.mac) == 0, what="nothing held")

        async def none_held_in_store() -> bool:
            # The status loop may have taken the change and still be committing it.
            await gateway.push_statuses()
            return (await node_row(store, node.mac))["readings_held"] == 0

        await eventually_async(none_held_in_store, what="the store showing nothing held")
    finally:
        await gateway.stop()


async def test_readings_held_start_from_the_store_after_a_hub_restart(
    garden: EmulatedGarden, store: HubStore, make_gateway: Callable[..., Gateway]
) -> None:
    node = garden.nodes[0]
    await pair(store, [node.mac], garden.bindkeys)
    await store.write(_set_held(node.mac, 7))
    gateway = make_gateway(replace(FAST, sessions_enabled=False))
    await gateway.start()
    assert gateway.readings_on_node(node.mac) == 7


def _set_held(mac: str, held: int) -> Callable[..., object]:
    from sqlalchemy import text

    async def run(session: object) -> None:
        await session.execute(  # type: ignore[attr-defined]
            text("UPDATE nodes SET readings_held = :held WHERE mac = :mac"),
            {"held": held, "mac": mac},
        )

    return run
