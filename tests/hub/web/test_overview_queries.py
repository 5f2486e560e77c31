"""The garden overview's cost does not grow with the garden: a fixed number of SQL statements
whatever the number of plants, the species catalogue kept loaded until it changes, and an
unchanged garden answered with 304 from its ETag."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncSession

from hub.ble.ports import ReceivedImage
from hub.hub_store import HubStore
from hub.store.types import utcnow
from hub.sync.service import apply_snapshot
from shared.sync import ConfigSnapshot, SpeciesThresholds, Thresholds
from tests.hub.factories import T0, create_readings
from tests.hub.images.test_images import create_jpeg, store_of

OVERVIEW = "/api/v1/web/overview"


def mac_of(i: int) -> str:
    return f"AA:BB:CC:DD:{i >> 8:02X}:{i & 0xFF:02X}"


async def plant_garden(client: httpx.AsyncClient, first: int, count: int) -> None:
    """``count`` plants of catalogue species, each watched by a node with readings and a photo."""
    store = store_of(client)
    for i in range(first, first + count):
        mac = mac_of(i)
        await store.pair_node(mac)
        created = await client.post(
            "/api/v1/plants",
            json={"name": f"Plant {i:02d}", "node_mac": mac, "species_id": 1 + i % 3},
        )
        assert created.status_code == 201, created.text
        await store.store_readings(create_readings(mac, 5, start=utcnow() - timedelta(hours=2)))
        await store.store_image(ReceivedImage(mac, 1, T0, create_jpeg(size=100 + i)))


@contextmanager
def counted_statements(store: HubStore) -> Iterator[list[str]]:
    """Every SQL statement the store's engines run inside the block."""
    statements: list[str] = []

    def record(*args: Any) -> None:
        statements.append(str(args[2]))

    engines = [store.reader_engine.sync_engine, store.writer_engine.sync_engine]
    for engine in engines:
        event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", record)


async def counted_overview(client: httpx.AsyncClient, plants: int) -> list[str]:
    with counted_statements(store_of(client)) as statements:
        response = await client.get(OVERVIEW)
    assert response.status_code == 200, response.text
    cards = response.json()["cards"]
    assert len(cards) == plants
    assert all(card["thumbnail_url"] for card in cards), [
        (c["plant"]["name"], c["thumbnail_url"]) for c in cards
    ]
    assert all(
        m["value"] is not None for c in cards for m in c["metrics"] if m["metric"] == "moisture"
    )
    return statements


async def test_the_overview_runs_as_many_queries_for_twelve_plants_as_for_two(
    admin_client: httpx.AsyncClient,
) -> None:
    await plant_garden(admin_client, 0, 2)
    assert (await admin_client.get(OVERVIEW)).status_code == 200  # the catalogue loaded once
    await store_of(admin_client).store_readings(
        create_readings(mac_of(0), 1, start=utcnow(), start_seq=100)
    )
    two = await counted_overview(admin_client, 2)

    await plant_garden(admin_client, 2, 10)
    twelve = await counted_overview(admin_client, 12)

    assert len(twelve) == len(two), "\n".join(twelve)


def _snapshot(species: list[SpeciesThresholds]) -> ConfigSnapshot:
    return ConfigSnapshot(
        revision=7,
        hub_id=UUID("00000000-0000-4000-8000-0000000000cd"),
        generated_at=datetime(2026, 6, 1, tzinfo=UTC),
        species=species,
    )


def _moisture(overview: dict[str, Any]) -> dict[str, Any]:
    card = overview["cards"][0]
    found: dict[str, Any] = next(m for m in card["metrics"] if m["metric"] == "moisture")
    return found


async def test_a_catalogue_refresh_from_the_cloud_shows_in_the_next_overview(
    admin_client: httpx.AsyncClient,
) -> None:
    store = store_of(admin_client)
    await plant_garden(admin_client, 0, 1)  # species 1 (Pothos): moisture 20-50 %
    species = (await admin_client.get("/api/v1/species")).json()[0]
    assert species["id"] == 1
    before = (await admin_client.get(OVERVIEW)).json()
    assert _moisture(before)["minimum"] == species["thresholds"]["moisture_min"]

    limits = Thresholds.model_validate(species["thresholds"] | {"moisture_min": 44.0})
    refreshed = SpeciesThresholds(
        id=1, common_name="Golden pothos", scientific_name="Epipremnum aureum", thresholds=limits
    )
    await store.write(lambda session: apply_snapshot(session, _snapshot([refreshed])))

    after = (await admin_client.get(OVERVIEW)).json()
    assert after["version"] != before["version"]
    assert _moisture(after)["minimum"] == 44.0
    assert after["cards"][0]["plant"]["species_name"] == "Golden pothos"
    assert after["cards"][0]["plant"]["thresholds"]["moisture_min"] == 44.0


async def test_the_catalogue_is_read_again_only_after_it_changed(
    admin_client: httpx.AsyncClient,
) -> None:
    store = store_of(admin_client)
    await plant_garden(admin_client, 0, 1)
    assert (await admin_client.get(OVERVIEW)).status_code == 200
    await store.store_readings(create_readings(mac_of(0), 1, start=utcnow(), start_seq=100))
    with counted_statements(store) as unchanged:
        assert (await admin_client.get(OVERVIEW)).status_code == 200
    assert not [s for s in unchanged if "FROM species" in s]

    await store.write(lambda session: apply_snapshot(session, _snapshot([])))  # no species
    await store.store_readings(
        create_readings(mac_of(0), 1, start=utcnow() + timedelta(seconds=1), start_seq=101)
    )
    with counted_statements(store) as still:
        assert (await admin_client.get(OVERVIEW)).status_code == 200
    assert not [s for s in still if "FROM species" in s]

    async def rename(session: AsyncSession) -> None:
        await session.execute(text("update species set common_name = 'Devil''s ivy' where id = 1"))

    await store.write(rename)  # any write to the table, not only the known paths
    with counted_statements(store) as changed:
        overview = (await admin_client.get(OVERVIEW)).json()
    assert [s for s in changed if "FROM species" in s]
    assert overview["cards"][0]["plant"]["species_name"] == "Devil's ivy"


async def test_an_unchanged_garden_answers_304_and_a_new_reading_a_new_body(
    admin_client: httpx.AsyncClient,
) -> None:
    store = store_of(admin_client)
    await plant_garden(admin_client, 0, 1)
    for _ in range(3):  # the version also moves each minute: retry across a minute's turn
        first = await admin_client.get(OVERVIEW)
        again = await admin_client.get(OVERVIEW, headers={"If-None-Match": first.headers["etag"]})
        if again.status_code == 304:
            break
    assert first.status_code == 200
    assert first.headers["etag"] == f'"{first.json()["version"]}"'
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == first.headers["etag"]

    await store.store_readings(create_readings(mac_of(0), 1, start=utcnow(), start_seq=100))
    changed = await admin_client.get(OVERVIEW, headers={"If-None-Match": first.headers["etag"]})
    assert changed.status_code == 200
    assert changed.headers["etag"] != first.headers["etag"]
    assert changed.json()["version"] != first.json()["version"]
    assert _moisture(changed.json())["measured_at"] != _moisture(first.json())["measured_at"]
