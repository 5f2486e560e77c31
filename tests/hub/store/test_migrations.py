"""Schema upgrades in place: a v1 database keeps every row when the hub starts on v2."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text

from hub.hub_store import open_store
from hub.settings import HubSettings
from hub.store.migrations import LATEST_VERSION, current_version, migrate
from tests.hub.factories import create_readings

pytestmark = pytest.mark.pi  # also runs under aarch64 in `make pi-check`

FIXTURE = Path(__file__).parents[1] / "fixtures" / "hub_v1.sql"


def load_v1_fixture(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path)
    conn.executescript(FIXTURE.read_text())
    conn.close()


async def test_v1_fixture_upgrades_in_place_without_losing_data(hub_settings: HubSettings) -> None:
    load_v1_fixture(hub_settings.database_path)
    conn = sqlite3.connect(hub_settings.database_path)
    assert current_version(conn) == 1
    conn.close()

    async with open_store(hub_settings) as store:
        async with store.read() as session:
            readings = (
                await session.execute(
                    text("select seq, moisture, sync_state from readings order by seq")
                )
            ).all()
            rollup = (
                await session.execute(
                    text("select count, moisture_sum, moisture_n from readings_hourly")
                )
            ).one()
            plant = (await session.execute(text("select name, node_mac from plants"))).one()
            alerts = (await session.execute(text("select count(*) from alerts"))).scalar_one()
        assert [tuple(r) for r in readings] == [(0, 40.0, 1), (1, 41.0, 0), (2, 42.0, 0)]
        assert tuple(rollup) == (3, 123.0, 3)  # v2 derived rollups from the v1 rows
        assert tuple(plant) == ("Basil", "AA:BB:CC:DD:EE:01")
        assert alerts == 1
        nodes = await store.paired_nodes()
        assert nodes[0].bindkey == bytes(range(16))
        assert nodes[0].last_seq == 2
        # The upgraded store keeps working: new readings dedup against the old ones.
        await store.store_readings(create_readings("AA:BB:CC:DD:EE:01", 5, start_seq=0))
        async with store.read() as session:
            total = (await session.execute(text("select count(*) from readings"))).scalar_one()
        assert total == 5


def test_migration_path_from_v1_matches_a_fresh_database(tmp_path: Path) -> None:
    upgraded, fresh = tmp_path / "old.sqlite3", tmp_path / "new.sqlite3"
    assert migrate(upgraded, target=1) == 1
    assert migrate(upgraded) == LATEST_VERSION
    assert migrate(fresh) == LATEST_VERSION

    def schema(path: Path) -> list[tuple[str, str]]:
        conn = sqlite3.connect(path)
        rows = conn.execute(
            "select name, sql from sqlite_master where sql is not null order by name"
        ).fetchall()
        conn.close()
        return rows

    assert schema(upgraded) == schema(fresh)
    assert migrate(upgraded) == LATEST_VERSION  # re-running is a no-op


def test_a_newer_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.sqlite3"
    migrate(path)
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {LATEST_VERSION + 1}")
    conn.close()
    with pytest.raises(RuntimeError, match="newer"):
        migrate(path)


def test_v11_keeps_readings_as_channel_0_and_folds_plaintext_drops_into_wrong_key(
    tmp_path: Path,
) -> None:
    path = tmp_path / "v10.sqlite3"
    assert migrate(path, target=10) == 10
    conn = sqlite3.connect(path)
    conn.execute(
        "insert into nodes (id, mac, kind, created_at, drops_wrong_key, drops_plaintext) "
        "values (1, 'AA:BB:CC:DD:EE:01', 'bthome', 0, 2, 3)"
    )
    conn.execute(
        "insert into readings (node_id, measured_at, seq, source, temperature) "
        "values (1, 3600000, 7, 'advert', 21.5)"
    )
    conn.execute(
        "insert into readings_hourly (node_id, hour, count, temperature_sum, temperature_n, "
        "temperature_min, temperature_max) values (1, 3600000, 1, 21.5, 1, 21.5, 21.5)"
    )
    conn.commit()
    conn.close()
    assert migrate(path) == LATEST_VERSION
    conn = sqlite3.connect(path)
    assert conn.execute("select channel, seq, temperature from readings").fetchall() == [
        (0, 7, 21.5)
    ]
    assert conn.execute(
        "select node_id, channel, hour, count, temperature_sum from readings_hourly"
    ).fetchall() == [(1, 0, 3600000, 1, 21.5)]
    assert conn.execute("select drops_wrong_key, drops_plaintext from nodes").fetchall() == [(5, 0)]
    # A second sensor of the kind at the same instant is a reading of its own.
    conn.execute(
        "insert into readings (node_id, channel, measured_at, seq, source, temperature) "
        "values (1, 1, 3600000, 7, 'advert', 18.0)"
    )
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute(
            "insert into readings (node_id, channel, measured_at, source, temperature) "
            "values (1, 1, 3600000, 'advert', 18.0)"
        )
    conn.close()
