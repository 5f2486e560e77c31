"""The store as the gateway sees it: durable, deduplicated readings, statuses, pairing."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from hub.ble.ports import DecodedReading, DropCounters, NodeStatus
from hub.hub_store import HubStore
from hub.store.writer import WriterStopped
from shared.metrics import Metric
from tests.hub.factories import T0, create_readings

pytestmark = pytest.mark.pi  # also runs under aarch64 in `make pi-check`

MAC = "AA:BB:CC:DD:EE:01"


async def count(store: HubStore, sql: str) -> int:
    async with store.read() as session:
        return int((await session.execute(text(sql))).scalar_one())


async def test_readings_are_deduplicated_by_seq_and_by_time(store: HubStore) -> None:
    await store.pair_node(MAC, bindkey=bytes(16))
    batch = create_readings(MAC, 10)
    await store.store_readings(batch)
    await store.store_readings(batch)  # resent as-is
    # Same seq, different time (e.g. an advert heard again later) is the same reading.
    await store.store_readings([replace(batch[0], measured_at=T0 + timedelta(days=1))])
    # Same time, no seq (plaintext sensor) is the same reading.
    await store.store_readings([replace(batch[1], seq=None)])
    assert await count(store, "select count(*) from readings") == 10
    assert await count(store, "select sum(count) from readings_hourly") == 10
    nodes = await store.paired_nodes()
    assert [n.last_seq for n in nodes] == [9]


async def test_unpaired_nodes_and_out_of_range_values_are_not_stored(store: HubStore) -> None:
    await store.pair_node(MAC)
    stranger = create_readings("AA:BB:CC:DD:EE:99", 3)
    bad = DecodedReading(MAC, T0, {Metric.MOISTURE: 250.0, Metric.TEMPERATURE: 20.0}, seq=1)
    await store.store_readings([*stranger, bad])
    async with store.read() as session:
        rows = (await session.execute(text("select moisture, temperature from readings"))).all()
    assert [tuple(r) for r in rows] == [(None, 20.0)]


async def test_concurrent_writers_are_folded_and_each_sees_its_commit(store: HubStore) -> None:
    await store.pair_node(MAC)
    batches = [
        create_readings(MAC, 20, start_seq=i * 20, start=T0 + timedelta(days=i)) for i in range(30)
    ]
    await asyncio.gather(*(store.store_readings(b) for b in batches))
    assert await count(store, "select count(*) from readings") == 600
    assert store.writer.transactions < store.writer.units  # several units shared a commit


async def test_a_failing_unit_does_not_sink_the_others(store: HubStore) -> None:
    await store.pair_node(MAC)

    async def broken(session: AsyncSession) -> None:
        await session.execute(text("insert into hub_settings(key, value) values ('x', '1')"))
        raise RuntimeError("boom")

    results = await asyncio.gather(
        store.write(broken), store.store_readings(create_readings(MAC, 5)), return_exceptions=True
    )
    assert isinstance(results[0], RuntimeError)
    assert results[1] == {}  # stored, nothing refused
    assert await count(store, "select count(*) from readings") == 5
    assert await count(store, "select count(*) from hub_settings") == 0


async def test_node_status_is_recorded(store: HubStore) -> None:
    await store.pair_node(MAC)
    await store.update_node_status(
        [
            NodeStatus(
                MAC,
                T0,
                rssi=-70,
                battery=55.0,
                firmware_version="1.2.0",
                config_revision_applied=3,
                drops=DropCounters(malformed=2, wrong_key=1),
            ),
            NodeStatus("11:22:33:44:55:66", T0),  # unknown: ignored
        ]
    )
    async with store.read() as session:
        row = (
            await session.execute(
                text(
                    "select rssi, battery, firmware_version, config_revision_applied, "
                    "drops_malformed + drops_wrong_key from nodes"
                )
            )
        ).one()
    assert tuple(row) == (-70, 55.0, "1.2.0", 3, 3)
    nodes = await store.paired_nodes()
    assert nodes[0].config_revision_applied == 3


@pytest.mark.parametrize("mac", ["aa-bb-cc-dd-ee-01", "aabbccddee01"])
async def test_pairing_normalises_the_mac_and_is_idempotent(store: HubStore, mac: str) -> None:
    await store.pair_node(mac, bindkey=bytes(16))
    await store.pair_node(MAC, bindkey=bytes(range(16)))
    nodes = await store.paired_nodes()
    assert [(n.mac, n.bindkey) for n in nodes] == [(MAC, bytes(range(16)))]


async def test_writes_after_stop_are_refused_not_lost_silently(store: HubStore) -> None:
    await store.pair_node(MAC)
    pending = asyncio.ensure_future(store.store_readings(create_readings(MAC, 3)))
    await asyncio.sleep(0)  # queued before the stop: committed
    await store.writer.stop()
    await pending
    assert await count(store, "select count(*) from readings") == 3
    with pytest.raises(WriterStopped):
        await store.store_readings(create_readings(MAC, 3, start_seq=10))
    store.writer.start()  # the fixture stops it again
