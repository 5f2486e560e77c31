"""Sequence numbers are scoped to a node's counter epoch: a node whose counter restarted (lost
flash, re-flashed and re-paired) reuses seqs, and its new readings must be stored, synced and
backfilled next to the old ones, while replays of the old epoch's adverts stay refused."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from sqlalchemy import text

from hub.ble.ports import RefusedReplays
from hub.hub_store import HubStore, open_store
from hub.settings import HubSettings
from hub.store.migrations import LATEST_VERSION, current_version, migrate
from shared.sync import ReadingSource
from tests.hub.cloudlink import cloud_scalar, linked_hub
from tests.hub.conftest import Cloud
from tests.hub.factories import T0, create_readings

MAC = "AA:BB:CC:DD:EE:01"
KEY = bytes(range(16))
NEW_KEY = bytes(range(16, 32))


async def rows(store: HubStore) -> list[tuple[int, int, float, str]]:
    async with store.read() as session:
        result = await session.execute(
            text("select seq_epoch, seq, moisture, source from readings order by seq_epoch, seq")
        )
        return [tuple(r) for r in result.all()]  # type: ignore[misc]


async def node(store: HubStore) -> dict[str, object]:
    async with store.read() as session:
        result = await session.execute(
            text("select seq_epoch, last_seq, counter_resets from nodes where mac = :m"),
            {"m": MAC},
        )
        return dict(result.mappings().one())


async def test_a_counter_restart_stores_reused_seqs_in_a_new_epoch(store: HubStore) -> None:
    await store.pair_node(MAC, bindkey=KEY)
    await store.store_readings(create_readings(MAC, 5, start_seq=1))
    assert await node(store) == {"seq_epoch": 0, "last_seq": 5, "counter_resets": 0}

    assert await store.start_counter_epoch(MAC) == 1
    assert await node(store) == {"seq_epoch": 1, "last_seq": None, "counter_resets": 1}
    # The restarted node measures again from seq 1, later, with other values.
    later = [
        replace(r, values={**r.values, next(iter(r.values)): 70.0})
        for r in create_readings(MAC, 3, start_seq=1, start=T0 + timedelta(days=1))
    ]
    assert await store.store_readings(later) == {}

    stored = await rows(store)
    assert [(e, s) for e, s, _m, _src in stored] == [
        (0, 1), (0, 2), (0, 3), (0, 4), (0, 5), (1, 1), (1, 2), (1, 3)
    ]  # fmt: skip
    # The backfill position is the new epoch's, not the old epoch's 5.
    assert (await node(store))["last_seq"] == 3
    # Burst repeats in the new epoch are still stored once.
    await store.store_readings(later)
    assert len(await rows(store)) == 8


async def test_readings_of_a_left_epoch_do_not_move_the_backfill_position(
    store: HubStore,
) -> None:
    await store.pair_node(MAC, bindkey=KEY)
    await store.store_readings(create_readings(MAC, 2, start_seq=1))
    await store.start_counter_epoch(MAC)
    late = [
        replace(r, seq_epoch=0)
        for r in create_readings(MAC, 3, start_seq=50, start=T0 + timedelta(hours=1))
    ]
    await store.store_readings(late)  # queued before the restart was detected, committed after
    assert (await node(store))["last_seq"] is None
    assert {(e, s) for e, s, _m, _src in await rows(store)} >= {(0, 50), (0, 51), (0, 52)}


async def test_a_replay_of_an_earlier_epoch_is_refused_but_not_a_backfilled_record(
    store: HubStore,
) -> None:
    await store.pair_node(MAC, bindkey=KEY)
    old = create_readings(MAC, 10, start_seq=1)
    await store.store_readings(old)
    await store.start_counter_epoch(MAC)
    fresh = create_readings(MAC, 2, start_seq=1, start=T0 + timedelta(days=2), step_s=7)
    fresh = [replace(r, values={**r.values, next(iter(r.values)): 12.5}) for r in fresh]
    await store.store_readings(fresh)

    # Someone re-broadcasts the old epoch's advert of seq 8: same key, so it authenticates.
    replayed = replace(old[7], measured_at=T0 + timedelta(days=3))
    refused = await store.store_readings([replayed])
    assert refused == {MAC: RefusedReplays(count=1, last_seq=2)}
    assert (1, 8) not in {(e, s) for e, s, _m, _src in await rows(store)}

    # The node itself reaching seq 8 with its own values is stored.
    own = replace(replayed, values={**replayed.values, next(iter(replayed.values)): 13.0})
    assert await store.store_readings([own]) == {}
    # A record fetched over the bonded link is authentic even if its values repeat.
    record = replace(old[8], measured_at=T0 + timedelta(days=3, hours=1))
    record = replace(record, source=ReadingSource.BACKFILL)
    assert await store.store_readings([record]) == {}
    assert {(1, 8), (1, 9)} <= {(e, s) for e, s, _m, _src in await rows(store)}


async def test_re_pairing_with_a_new_key_opens_an_epoch_and_the_same_key_does_not(
    store: HubStore,
) -> None:
    await store.pair_node(MAC, bindkey=KEY)
    await store.store_readings(create_readings(MAC, 3, start_seq=1))
    await store.pair_node(MAC, bindkey=KEY)  # idempotent: replay position kept
    assert await node(store) == {"seq_epoch": 0, "last_seq": 3, "counter_resets": 0}
    [paired] = await store.paired_nodes()
    assert (paired.seq_epoch, paired.last_seq) == (0, 3)

    await store.pair_node(MAC, bindkey=NEW_KEY)  # re-flashed node, fresh key
    assert await node(store) == {"seq_epoch": 1, "last_seq": None, "counter_resets": 1}
    [paired] = await store.paired_nodes()
    assert (paired.seq_epoch, paired.last_seq) == (1, None)
    await store.store_readings(create_readings(MAC, 3, start_seq=1, start=T0 + timedelta(days=1)))
    assert len(await rows(store)) == 6


async def test_v3_database_upgrades_to_sequence_epochs_keeping_its_readings(
    hub_settings: HubSettings,
) -> None:
    path = hub_settings.database_path
    assert migrate(path, target=3) == 3
    conn = sqlite3.connect(path)
    conn.execute(
        "insert into nodes (id, mac, kind, bindkey, last_seq, created_at) "
        "values (1, ?, 'plantvita', ?, 2, 0)",
        (MAC, KEY),
    )
    conn.executemany(
        "insert into readings (node_id, measured_at, seq, source, moisture) "
        "values (1, ?, ?, 'advert', ?)",
        [(1_700_000_000_000 + i * 60_000, i, 40.0 + i) for i in range(3)],
    )
    conn.commit()
    # v3 refused a second reading with a seq the node already used.
    try:
        conn.execute(
            "insert into readings (node_id, measured_at, seq, source) values (1, 1, 1, 'advert')"
        )
        raise AssertionError("v3 should refuse a repeated (node, seq)")
    except sqlite3.IntegrityError:
        pass
    conn.close()

    async with open_store(hub_settings) as store:
        conn = sqlite3.connect(path)
        assert current_version(conn) == LATEST_VERSION >= 4
        conn.close()
        assert await rows(store) == [
            (0, 0, 40.0, "advert"),
            (0, 1, 41.0, "advert"),
            (0, 2, 42.0, "advert"),
        ]
        assert await node(store) == {"seq_epoch": 0, "last_seq": 2, "counter_resets": 0}
        # Still one reading per (node, epoch, seq) in the old epoch...
        await store.store_readings(create_readings(MAC, 3, start_seq=0))
        assert len(await rows(store)) == 3
        # ...and the same seqs are welcome in the next one.
        await store.start_counter_epoch(MAC)
        await store.store_readings(create_readings(MAC, 3, start_seq=0))
        assert len(await rows(store)) == 6


def test_the_old_seq_index_is_gone_after_the_upgrade(tmp_path: Path) -> None:
    path = tmp_path / "hub.sqlite3"
    migrate(path)
    conn = sqlite3.connect(path)
    indexes = {r[0] for r in conn.execute("select name from sqlite_master where type = 'index'")}
    conn.close()
    assert "ux_readings_node_seq" not in indexes
    # (node, seq_epoch, seq), since v11 with the channel too.
    assert {n for n in indexes if n.startswith("ux_readings_node_epoch_seq")}


async def test_the_same_seq_in_two_epochs_reaches_the_cloud_twice(
    cloud: Cloud, hub_settings: HubSettings
) -> None:
    # The cloud keys readings by (node, measured_at); seq travels along but identifies nothing.
    async with linked_hub(cloud, hub_settings) as hub:
        paired = await hub.http.post("/api/v1/nodes", json={"mac": MAC, "bindkey": KEY.hex()})
        assert paired.status_code == 201
        await hub.store.store_readings(create_readings(MAC, 5, start_seq=1))
        await hub.store.start_counter_epoch(MAC)
        later = create_readings(MAC, 5, start_seq=1, start=T0 + timedelta(days=1))
        later = [replace(r, values={**r.values, next(iter(r.values)): 55.5}) for r in later]
        assert await hub.store.store_readings(later) == {}
        result = await hub.http.post("/api/v1/sync/now")
        assert result.status_code == 200, result.text
        assert result.json()["sent"]["readings"] == 10
        assert cloud_scalar(cloud, "select count(*) from readings") == 10
        assert cloud_scalar(cloud, "select count(*) from readings where seq = 3") == 2


async def test_readings_heard_after_an_undetected_restart_move_to_the_new_epoch(
    store: HubStore,
) -> None:
    await store.pair_node(MAC, bindkey=KEY)
    await store.store_readings(create_readings(MAC, 5, start_seq=1))
    # Seqs 6 and 7 were the restarted node's, accepted in the old epoch before it was found.
    heard = create_readings(MAC, 2, start_seq=6, start=T0 + timedelta(days=1))
    await store.store_readings(heard)
    assert set((await store.stored_values(MAC, [1, 6, 7, 99])).keys()) == {1, 6, 7}

    assert await store.start_counter_epoch(MAC, moved=[6, 7]) == 1
    assert [(e, s) for e, s, _m, _src in await rows(store)] == [
        (0, 1), (0, 2), (0, 3), (0, 4), (0, 5), (1, 6), (1, 7)
    ]  # fmt: skip
    assert (await node(store))["last_seq"] == 7  # backfill resumes after the moved readings
    assert await store.stored_values(MAC, [1, 2]) == {}  # the old epoch is no longer current
    values = await store.stored_values(MAC, [6])
    assert values[6] == dict(heard[0].values)
