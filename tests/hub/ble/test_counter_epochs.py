"""Node counter restarts over the emulated radio: readings after a counter-lost reboot are
stored in a new sequence epoch (decided over the bonded GATT link, or by re-pairing with a new
key) and backfilled, a kept counter stays in its epoch, and replayed adverts stay dropped."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import text

from hub.ble.emulator import EmulatedGarden
from hub.ble.emulator.node import EmulatedNode, Measurement
from hub.ble.gateway import Gateway
from hub.hub_store import HubStore
from shared import gatt as pv
from shared.metrics import Metric
from tests.hub.ble.conftest import eventually, eventually_async, node_row, pair

pytestmark = pytest.mark.timeout(90)  # a hung radio fails fast

Row = tuple[int, int, float, str]  # seq_epoch, seq, moisture, source


async def epoch_rows(store: HubStore, mac: str) -> list[Row]:
    """The node's stored readings as (epoch, seq, moisture, source)."""
    sql = (
        "SELECT r.seq_epoch, r.seq, r.moisture, r.source FROM readings r "
        "JOIN nodes n ON n.id = r.node_id WHERE n.mac = :mac ORDER BY r.seq_epoch, r.seq"
    )
    async with store.read() as session:
        return [tuple(r) for r in (await session.execute(text(sql), {"mac": mac})).all()]  # type: ignore[misc]


def since_boot(node: EmulatedNode, first: int) -> list[Measurement]:
    """The node's measurements from log index ``first`` on (its own ground truth)."""
    return node.log[first:]


async def wait_stored(
    store: HubStore, node: EmulatedNode, epoch: int, wanted: list[Measurement]
) -> list[Row]:
    """Wait until each measurement in ``wanted`` is stored once in ``epoch`` with its values."""

    async def all_there() -> bool:
        stored = {(e, s) for e, s, _m, _src in await epoch_rows(store, node.mac)}
        return all((epoch, m.seq) in stored for m in wanted)

    await eventually_async(all_there, what=f"measurements {[m.seq for m in wanted]} in {epoch}")
    rows = await epoch_rows(store, node.mac)
    by_key = {(e, s): moisture for e, s, moisture, _src in rows}
    for m in wanted:
        assert by_key[(epoch, m.seq)] == m.values[Metric.MOISTURE], f"seq {m.seq} values differ"
    keys = [(e, s) for e, s, _m, _src in rows]
    assert len(keys) == len(set(keys)), "a measurement was stored twice in one epoch"
    return rows


async def test_counter_lost_with_the_same_key_is_confirmed_over_gatt_and_stored_in_a_new_epoch(
    garden: EmulatedGarden, store: HubStore, make_gateway: Callable[..., Gateway]
) -> None:
    node = garden.nodes[0]
    await pair(store, [node.mac], garden.bindkeys)
    gateway = make_gateway()
    await garden.start()
    await gateway.start()
    await eventually(lambda: gateway.stats.sessions_ok >= 1, what="a first session")
    await eventually(lambda: node.counter >= 8, what="measurements before the power loss")
    old = await wait_stored(store, node, 0, node.log[:-1])
    booted = len(node.log)

    await node.reboot(keep_counter=False)  # power loss without NVS: counter restarts at 1
    await eventually(lambda: gateway.stats.counter_restarts == 1, what="the restart confirmed")
    # Adverts below the last accepted counter were dropped as replays until the node answered.
    assert gateway.drops(node.mac).replayed >= 1
    reports = gateway.session_reports[node.mac]
    report = next(r for r in reports if r.seq_epoch is not None)
    assert report.seq_epoch == 1
    assert report.records >= 1, "the records of the new boot were backfilled"
    # Taken before the hub set the rebooted node's clock: held until timed records follow,
    # then acked by a later session.
    after = reports.index(report)
    await eventually(
        lambda: any(r.acked_upto is not None for r in reports[after:]), what="the records acked"
    )

    await eventually(lambda: len(since_boot(node, booted)) >= 5, what="measurements after it")
    new = await wait_stored(store, node, 1, since_boot(node, booted)[:-1])
    # The old epoch keeps its readings and gains none of the new boot's; the same seqs now
    # exist in both epochs.
    assert set(old) <= {r for r in new if r[0] == 0}
    before = {m.seq: m.values[Metric.MOISTURE] for m in node.log[:booted]}
    assert all(before[s] == m for e, s, m, _src in new if e == 0)
    assert {s for e, s, _m, _src in new if e == 1} & {s for e, s, _m, _src in old}
    row = await node_row(store, node.mac)
    assert (row["seq_epoch"], row["counter_resets"]) == (1, 1)
    assert gateway.stats.counter_restarts == 1, "one restart, not one per dropped advert"


async def test_counter_lost_and_re_paired_with_a_new_key_backfills_into_a_new_epoch(
    garden: EmulatedGarden, store: HubStore, make_gateway: Callable[..., Gateway]
) -> None:
    node = garden.nodes[0]
    await pair(store, [node.mac], garden.bindkeys)
    gateway = make_gateway()
    await garden.start()
    await gateway.start()
    await eventually(lambda: node.counter >= 6, what="measurements")
    old = await wait_stored(store, node, 0, node.log[:-1])
    await gateway.stop()  # the hub is away while the node is re-flashed

    node.bindkey = bytes(reversed(node.bindkey))  # factory reset: a fresh bindkey
    booted = len(node.log)
    await node.reboot(keep_counter=False)
    await eventually(lambda: node.counter >= 4, what="measurements of the re-flashed node")
    await store.pair_node(node.mac, bindkey=node.bindkey)  # the gardener re-pairs it
    row = await node_row(store, node.mac)
    assert (row["seq_epoch"], row["last_seq"]) == (1, None)

    gateway = make_gateway()
    await gateway.start()
    await eventually(lambda: gateway.stats.sessions_ok >= 1, what="a session after re-pairing")
    taken = len(since_boot(node, booted))
    assert taken >= 4
    new = await wait_stored(store, node, 1, since_boot(node, booted)[: taken - 1])
    assert any(src == "backfill" for e, _s, _m, src in new if e == 1)
    assert set(old) <= {r for r in new if r[0] == 0}
    before = {m.seq: m.values[Metric.MOISTURE] for m in node.log[:booted]}
    assert all(before[s] == m for e, s, m, _src in new if e == 0)
    assert gateway.drops(node.mac).replayed == 0
    assert gateway.stats.counter_restarts == 0  # the new key opened the epoch, not a check
    await eventually(lambda: len(since_boot(node, booted)) > taken + 1, what="live readings")
    await wait_stored(store, node, 1, since_boot(node, booted)[taken : taken + 1])


async def test_counter_kept_stays_in_its_epoch(
    garden: EmulatedGarden, store: HubStore, make_gateway: Callable[..., Gateway]
) -> None:
    node = garden.nodes[0]
    await pair(store, [node.mac], garden.bindkeys)
    gateway = make_gateway()
    await garden.start()
    await gateway.start()
    await eventually(lambda: gateway.stats.sessions_ok >= 1, what="a first session")
    await eventually(lambda: node.counter >= 4, what="measurements")
    sessions = gateway.stats.sessions_ok
    await node.reboot(keep_counter=True)
    # TIME_UNSET makes the hub connect; its COUNT shows the counter went on.
    await eventually(lambda: gateway.stats.sessions_ok > sessions, what="a session after reboot")
    await eventually(lambda: node.counter >= 8, what="measurements after the reboot")
    await wait_stored(store, node, 0, node.log[:-1])
    after = gateway.session_reports[node.mac][-1]
    assert after.counter_checked
    assert after.seq_epoch is None
    assert gateway.stats.counter_restarts == 0
    assert gateway.drops(node.mac).replayed == 0
    assert (await node_row(store, node.mac))["seq_epoch"] == 0


async def test_a_replayed_advert_is_dropped_and_counted_even_after_a_counter_restart(
    garden: EmulatedGarden, store: HubStore, make_gateway: Callable[..., Gateway]
) -> None:
    node = garden.nodes[0]
    await pair(store, [node.mac], garden.bindkeys)
    gateway = make_gateway()
    await garden.start()
    await gateway.start()
    await eventually(lambda: gateway.stats.sessions_ok >= 1, what="a first session")
    await eventually(lambda: node.counter >= 12, what="measurements")
    await wait_stored(store, node, 0, node.log[:-1])

    # A recorded advert re-broadcast: its counter is behind, so it is dropped. The node is
    # asked over GATT and, being ahead, proves it was a replay: no new epoch.
    await node.replay(3)
    await eventually(lambda: gateway.drops(node.mac).replayed >= 1, what="the replay counted")
    checks = gateway.stats.sessions_ok
    await eventually(lambda: gateway.stats.sessions_ok > checks, what="the counter check")
    assert gateway.stats.counter_restarts == 0
    assert (await node_row(store, node.mac))["seq_epoch"] == 0

    # Now a genuine restart with the same key; then the old epoch's seq 11 is replayed, which
    # still authenticates and is above the new counter: refused by its values, and counted.
    booted = len(node.log)
    await node.reboot(keep_counter=False)
    # A wake every 2 s from now on, so the new counter stays well below 11 for this test.
    node.flash.config = pv.Config(sampling_interval_s=1200, alert_interval_s=1200)
    await eventually(lambda: gateway.stats.counter_restarts == 1, what="the restart")
    await eventually(lambda: len(since_boot(node, booted)) >= 3, what="new measurements")
    await wait_stored(store, node, 1, since_boot(node, booted)[:2])
    assert node.counter < 11
    replayed = gateway.drops(node.mac).replayed
    await node.replay(11)  # the first measurement with seq 11 in the log: the old epoch's
    await eventually(lambda: gateway.drops(node.mac).replayed > replayed, what="refused")
    await gateway.flush()
    assert (1, 11) not in {(e, s) for e, s, _m, _src in await epoch_rows(store, node.mac)}
    # The node's own next adverts are stored again.
    await eventually(lambda: len(since_boot(node, booted)) >= 5, what="more measurements")
    await wait_stored(store, node, 1, since_boot(node, booted)[:4])
    assert gateway.stats.counter_restarts == 1


async def test_a_restart_the_node_outran_while_the_hub_was_away_is_found_by_its_records(
    garden: EmulatedGarden, store: HubStore, make_gateway: Callable[..., Gateway]
) -> None:
    # The node lost its counter while the hub was away and then measured past the hub's last
    # seq: counters alone cannot tell. Its records, fetched over the bonded link, carry other
    # values than the hub stored for the same seqs: that decides.
    node = garden.nodes[0]
    await pair(store, [node.mac], garden.bindkeys)
    gateway = make_gateway()
    await garden.start()
    await gateway.start()
    await eventually(lambda: gateway.stats.sessions_ok >= 1, what="a first session")
    await eventually(lambda: node.counter >= 5, what="measurements")
    await wait_stored(store, node, 0, node.log[:-1])
    await gateway.stop()
    last = int((await node_row(store, node.mac))["last_seq"])  # type: ignore[call-overload]

    booted = len(node.log)
    await node.reboot(keep_counter=False)
    await eventually(lambda: node.counter >= last + 3, what="the node outrunning the hub")

    gateway = make_gateway()
    await gateway.start()
    await eventually(lambda: gateway.stats.counter_restarts == 1, what="the restart found")
    report = next(r for r in gateway.session_reports[node.mac] if r.seq_epoch is not None)
    assert report.seq_epoch == 1
    await eventually(lambda: len(since_boot(node, booted)) >= last + 5, what="more measurements")
    rows = await wait_stored(store, node, 1, since_boot(node, booted)[:-1])
    # Every measurement of the new boot is in the new epoch, none was left in the old one.
    before = {m.seq: m.values[Metric.MOISTURE] for m in node.log[:booted]}
    assert all(before[s] == m for e, s, m, _src in rows if e == 0)
    assert (await node_row(store, node.mac))["seq_epoch"] == 1
