"""GATT sessions over the emulated radio: backfill, photos, timeouts, reboots, the watchdog."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable, Sequence

import pytest

from hub.ble.emulator import EmulatedGarden
from hub.ble.gateway import Gateway
from hub.ble.ports import DecodedReading
from hub.ble.session import ConnectFailed
from hub.hub_store import HubStore
from tests.hub.ble.conftest import (
    FAST,
    eventually,
    image_rows,
    pair,
    stored_readings,
)

# Not in `make pi-check`: these sessions run on the emulated clock at a speed-up that qemu-user
# (several times slower than a Pi) cannot keep, so they time out there rather than test the hub.
pytestmark = [pytest.mark.timeout(90)]  # a hung radio fails fast


async def test_backfill_after_the_hub_was_away_stores_everything_then_acks(
    garden: EmulatedGarden, store: HubStore, make_gateway: Callable[..., Gateway]
) -> None:
    node = garden.nodes[0]
    await pair(store, [node.mac], garden.bindkeys)
    await garden.start()
    await eventually(lambda: node.counter >= 5, what="measurements while the hub is away")
    missed = node.counter

    gateway = make_gateway()
    await gateway.start()
    # The node's clock was never set: the first session sets it and leaves the untimed records
    # on the node; the node's next advert asks for the session that places them.
    await eventually(lambda: gateway.stats.sessions_ok >= 2, what="two sessions")
    first = gateway.session_reports[node.mac][0]
    assert first.time_set
    assert first.held > 0
    assert first.acked_upto is None
    rows = {r.seq: r for r in await stored_readings(store, node.mac)}
    for seq in range(1, missed + 1):
        assert seq in rows, f"measurement {seq} taken while the hub was away is missing"
        if seq < missed:  # the latest one may still be on the air when the hub comes back
            assert rows[seq].source == "backfill"
    report = gateway.session_reports[node.mac][1]
    assert report.held == 0
    assert report.acked_upto is not None
    assert report.acked_upto >= missed
    # The node freed what the hub acknowledged, and only that.
    assert all(r.seq > report.acked_upto for r in node.unacked_records())
    assert node.acked_upto == report.acked_upto


class FailingBackfillStore:
    """The real store, except that it refuses the first backfill batch (disk full, say)."""

    def __init__(self, store: HubStore) -> None:
        self._store = store
        self.refused = 0

    def __getattr__(self, name: str) -> object:
        return getattr(self._store, name)

    async def store_readings(self, readings: Sequence[DecodedReading]) -> None:
        if self.refused == 0 and any(r.source == "backfill" for r in readings):
            self.refused += 1
            raise OSError("database or disk is full")
        await self._store.store_readings(readings)


async def test_records_are_acked_only_once_committed(
    garden: EmulatedGarden, store: HubStore
) -> None:
    from tests.hub.ble.conftest import FAST

    node = garden.nodes[0]
    await pair(store, [node.mac], garden.bindkeys)
    await garden.start()
    await eventually(lambda: node.counter >= 3, what="measurements while the hub is away")
    failing = FailingBackfillStore(store)
    gateway = Gateway(failing, FAST, garden.backends(), now=garden.clock.now)  # type: ignore[arg-type]
    await gateway.start()
    try:
        await eventually(lambda: gateway.stats.sessions_failed >= 1, what="the refused session")
        assert node.acked_upto == 0, "the node was told to forget records the hub never stored"
        assert [r.seq for r in node.unacked_records()][:3] == [1, 2, 3]
        # The retry sets the clock and holds the untimed records; the follow-up acks them.
        await eventually(lambda: node.acked_upto >= 3, what="the records acked after the retry")
        stored = {r.seq for r in await stored_readings(store, node.mac)}
        assert {1, 2, 3} <= stored
    finally:
        await gateway.stop()


async def test_image_transfer_resumes_after_a_mid_transfer_disconnect(
    garden: EmulatedGarden, store: HubStore, make_gateway: Callable[..., Gateway]
) -> None:
    node = garden.nodes[0]
    await pair(store, [node.mac], garden.bindkeys)
    await garden.start()
    image = await node.capture()
    assert image is not None
    original = image.data
    node.faults.drop_link_after_bytes = len(original) // 2
    gateway = make_gateway()
    await gateway.start()
    await eventually(lambda: gateway.stats.sessions_ok >= 1, what="a completed session")
    assert gateway.stats.sessions_failed >= 1, "the link should have dropped once"
    report = gateway.session_reports[node.mac][-1]
    assert report.images == [image.image_id]
    assert report.resumed_from
    assert report.resumed_from[0] >= len(original) // 2
    rows = await image_rows(store, node.mac)
    assert len(rows) == 1
    assert rows[0]["sha256"] == hashlib.sha256(original).hexdigest()
    assert rows[0]["node_image_id"] == image.image_id
    assert node.flash.images == {}, "the hub deletes a photo from the node once stored"


async def test_a_corrupted_chunk_fails_the_crc_and_the_image_is_refetched(
    garden: EmulatedGarden, store: HubStore, make_gateway: Callable[..., Gateway]
) -> None:
    node = garden.nodes[0]
    await pair(store, [node.mac], garden.bindkeys)
    await garden.start()
    image = await node.capture()
    assert image is not None
    node.faults.corrupt_next_chunk = True
    gateway = make_gateway()
    await gateway.start()
    await eventually(lambda: gateway.stats.sessions_ok >= 1, what="a completed session")
    report = gateway.session_reports[node.mac][-1]
    assert report.crc_failures == 1
    assert report.images == [image.image_id]
    rows = await image_rows(store, node.mac)
    assert [r["sha256"] for r in rows] == [hashlib.sha256(image.data).hexdigest()]


class CommitWatch:
    """The real store; ``committed`` waits until a reading of a node reached a seq."""

    def __init__(self, store: HubStore) -> None:
        self._store = store
        self._highest: dict[str, int] = {}
        self._changed = asyncio.Event()

    def __getattr__(self, name: str) -> object:
        return getattr(self._store, name)

    async def store_readings(self, readings: Sequence[DecodedReading]) -> object:
        refused = await self._store.store_readings(readings)  # returns once committed
        for r in readings:
            if r.seq is not None:
                self._highest[r.node_mac] = max(self._highest.get(r.node_mac, -1), r.seq)
        event, self._changed = self._changed, asyncio.Event()
        event.set()
        return refused

    async def committed(self, mac: str, seq: int) -> None:
        while self._highest.get(mac, -1) < seq:
            await self._changed.wait()


async def test_connecting_to_an_absent_node_times_out_without_stopping_the_rest(
    garden: EmulatedGarden, store: HubStore
) -> None:
    # Driven by the gateway's session notifications and the store's commits, never by
    # wall-clock deadlines: under load only the test's overall timeout bounds it.
    from tests.hub.ble.conftest import FAST

    absent, present = garden.nodes
    await pair(store, [absent.mac, present.mac], garden.bindkeys)
    watch = CommitWatch(store)
    gateway = Gateway(watch, FAST, garden.backends(), now=garden.clock.now)  # type: ignore[arg-type]
    await garden.start()
    await gateway.start()
    try:
        for node in (absent, present):
            first = await gateway.session_outcome(node.mac, 0)
            assert first.error is None, f"first session with {node.mac} failed: {first.error}"

        await absent.go_silent()
        # A session that connected before the node went silent may still end well; an attempt
        # after that must fail to connect, within the gateway's bounded connect timeout.
        number = gateway.sessions_ended(absent.mac)
        while True:
            await gateway.request_session(absent.mac)
            outcome = await gateway.session_outcome(absent.mac, number)
            number += 1
            if outcome.error is not None:
                break
        assert not outcome.connected, f"expected a connect failure, got {outcome.error!r}"
        assert isinstance(outcome.error, ConnectFailed)
        assert gateway.stats.sessions_failed >= 1

        # The other node is still heard and stored after the absent one timed out: a
        # measurement it takes from now on (two wakes ahead) gets committed.
        await watch.committed(present.mac, present.counter + 2)
    finally:
        await gateway.stop()


async def test_watchdog_restarts_a_stalled_scanner(
    garden: EmulatedGarden, store: HubStore, make_gateway: Callable[..., Gateway]
) -> None:
    node = garden.nodes[0]
    await pair(store, [node.mac], garden.bindkeys)
    gateway = make_gateway()
    await garden.start()
    await gateway.start()
    await eventually(lambda: gateway.stats.readings_stored >= 1, what="first readings")
    # Counted from the stall on: under load a long first session (no adverts while the node
    # is connected) can already have tripped the watchdog once, and the restart it counts
    # starts the new scan only after stopping the old one.
    restarts = gateway.stats.watchdog_restarts
    starts = garden.radio.scan_starts
    garden.radio.stalled = True
    await eventually(
        lambda: (
            gateway.stats.watchdog_restarts > restarts
            and garden.radio.scan_starts > starts
            and not garden.radio.stalled
        ),
        within=30,
        what="the watchdog restarting the scan",
    )
    stored = gateway.stats.readings_stored
    await eventually(
        lambda: gateway.stats.readings_stored > stored, within=30, what="readings again"
    )


async def test_a_sleeping_garden_is_quiet_not_stalled(store: HubStore) -> None:
    # In real time, a node sampling every 10 minutes advertises for a second and sleeps: the
    # silence is longer than the watchdog's, but no node is overdue, so no restart (serve
    # --emulate 55 logged one every 35 s while its nodes slept).
    garden = EmulatedGarden(1, speed=1.0, photo_every_s=None, connectable_window_s=1)
    gateway = Gateway(store, FAST, garden.backends(), now=garden.clock.now)
    node = garden.nodes[0]
    await pair(store, [node.mac], garden.bindkeys)
    try:
        await garden.start()
        await gateway.start()
        await eventually(lambda: gateway.stats.readings_stored >= 1, what="the first reading")
        # The first session sets the node's clock; then its connectable window closes.
        await eventually(lambda: gateway.stats.sessions_ok >= 1, what="the first session")
        await asyncio.sleep(2.0)
        quiet_since = gateway.stats.adverts
        await asyncio.sleep(4 * FAST.watchdog_s)
        assert gateway.stats.adverts == quiet_since, "the node advertised while asleep"
        assert gateway.stats.watchdog_restarts == 0
        # Once the node has missed its cadence (the garden's clock jumps past 1.5 intervals),
        # the same silence is a stalled scanner and is restarted.
        starts = garden.radio.scan_starts
        garden.radio.stalled = True
        garden.clock.advance(1.6 * node.flash.config.sampling_interval_s)
        await eventually(
            lambda: gateway.stats.watchdog_restarts == 1 and garden.radio.scan_starts > starts,
            within=30,
            what="the watchdog restarting the scan of an overdue garden",
        )
    finally:
        await gateway.stop()
        await garden.stop()


async def test_adapter_errors_are_retried_with_backoff(
    garden: EmulatedGarden, store: HubStore, make_gateway: Callable[..., Gateway]
) -> None:
    node = garden.nodes[0]
    await pair(store, [node.mac], garden.bindkeys)
    garden.radio.scan_start_failures = 3
    gateway = make_gateway()
    await garden.start()
    await gateway.start()
    await eventually(lambda: gateway.stats.readings_stored >= 1, what="readings after errors")
    assert gateway.stats.scanner_errors == 3
    assert gateway.stats.scanner_starts == 1


async def test_reboot_with_the_counter_kept_continues_and_gets_its_clock_set(
    garden: EmulatedGarden, store: HubStore, make_gateway: Callable[..., Gateway]
) -> None:
    node = garden.nodes[0]
    await pair(store, [node.mac], garden.bindkeys)
    gateway = make_gateway()
    await garden.start()
    await gateway.start()
    await eventually(lambda: gateway.stats.sessions_ok >= 1 and node.time_set, what="a session")
    before = node.counter
    await node.reboot(keep_counter=True)
    assert not node.time_set
    # TIME_UNSET in the scan response makes the hub connect and write Time again.
    await eventually(lambda: node.time_set, what="the clock set again after the reboot")
    await eventually(lambda: node.counter >= before + 2, what="measurements after the reboot")
    await gateway.flush()
    assert gateway.drops(node.mac).replayed == 0
    seqs = [r.seq for r in await stored_readings(store, node.mac)]
    assert max(s for s in seqs if s is not None) > before


class RecordingStore:
    """The real store, remembering every reading handed to it."""

    def __init__(self, store: HubStore) -> None:
        self._store = store
        self.readings: list[DecodedReading] = []

    def __getattr__(self, name: str) -> object:
        return getattr(self._store, name)

    async def store_readings(self, readings: Sequence[DecodedReading]) -> None:
        self.readings.extend(readings)
        await self._store.store_readings(readings)


async def test_lost_counter_then_re_pairing_with_a_new_key_while_the_hub_runs(
    garden: EmulatedGarden, store: HubStore
) -> None:
    from tests.hub.ble.conftest import FAST

    node = garden.nodes[0]
    await pair(store, [node.mac], garden.bindkeys)
    recording = RecordingStore(store)
    gateway = Gateway(recording, FAST, garden.backends(), now=garden.clock.now)  # type: ignore[arg-type]
    await garden.start()
    await gateway.start()
    try:
        await eventually(lambda: node.counter >= 4, what="measurements")
        await node.reboot(keep_counter=False)  # flash lost: counter restarts at 1
        await eventually(lambda: gateway.drops(node.mac).replayed >= 1, what="replay drops")
        await gateway.flush()
        handed = len(recording.readings)
        assert all(r.seq is not None and r.seq >= 4 for r in recording.readings[-1:])

        # Factory reset gave the node a new bindkey; the gardener re-pairs it.
        node.bindkey = bytes(reversed(node.bindkey))
        await store.pair_node(node.mac, bindkey=node.bindkey)
        await gateway.reload_nodes()
        restart = node.counter
        await eventually(lambda: len(recording.readings) > handed, what="readings after re-pair")
        fresh = recording.readings[handed:]
        assert all(r.seq is not None and r.seq >= restart for r in fresh if r.source == "advert")
    finally:
        await gateway.stop()
