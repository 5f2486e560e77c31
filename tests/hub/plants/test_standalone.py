"""A standalone hub (never linked, ``plantvita hub serve --emulate N``): the species catalogue
shipped with the hub, readings of the emulated garden stamped now."""

from __future__ import annotations

import asyncio
import importlib.util
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from hub.app import create_app
from hub.gateways import emulated_gateway_factory
from hub.plants.service import catalogue_snapshot
from hub.settings import HubSettings
from hub.store.types import from_ms, utcnow
from tests.lifespan import LifespanManager

ROOT = Path(__file__).resolve().parents[3]


def _migration(name: str) -> Any:
    path = ROOT / "cloud" / "migrations" / "versions" / name
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_shipped_catalogue_is_the_clouds_seed_catalogue() -> None:
    seed = _migration("20261126_seed_species.py")
    conductivity = _migration("20261203_conductivity.py").RANGES
    snapshot = catalogue_snapshot()
    assert [s.id for s in snapshot] == list(range(1, len(seed.SPECIES) + 1))
    for entry, row in zip(snapshot, seed.SPECIES, strict=True):
        values = dict(zip(seed._COLUMNS, row, strict=True))
        values["conductivity_min"], values["conductivity_max"] = conductivity[entry.common_name]
        assert entry.common_name == values["common_name"]
        assert entry.scientific_name == values["scientific_name"]
        for field, value in entry.thresholds.model_dump().items():
            assert value == pytest.approx(values[field]), (entry.common_name, field)


@pytest.mark.slow
async def test_an_emulated_hub_has_species_and_readings_stamped_now(
    hub_settings: HubSettings,
) -> None:
    settings = hub_settings.model_copy(update={"ble_enabled": True})
    factory = emulated_gateway_factory(2, speed=60.0, photo_every_s=None)
    app = create_app(settings, gateway_factory=factory, run_scheduler=False)
    async with (
        LifespanManager(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hub") as http,
    ):
        species = (await http.get("/api/v1/species")).json()
        assert len(species) == len(catalogue_snapshot())
        assert any(s["common_name"] == "Basil" for s in species)
        store = app.state.store
        newest = None
        for _ in range(600):  # up to ~2 min: the garden catches up within its first minute
            await app.state.gateway.gateway.flush()
            async with store.read() as session:
                newest = (
                    await session.execute(text("select max(measured_at) from readings"))
                ).scalar_one()
            if newest is not None and utcnow() - from_ms(newest) < timedelta(minutes=3):
                break
            await asyncio.sleep(0.2)
        assert newest is not None, "no readings"
        assert utcnow() - from_ms(newest) < timedelta(minutes=3), from_ms(newest)
        assert from_ms(newest) <= utcnow() + timedelta(seconds=5)  # never in the future

        # Like the demo's garden: a plant of its own species on each node, the week each node
        # held in its flash backfilled into the charts, its photos in the plant's gallery.
        plants = (await http.get("/api/v1/plants")).json()
        assert sorted(p["node_mac"] for p in plants) == sorted(
            n.mac for n in app.state.gateway.garden.nodes
        )
        assert len({p["species_id"] for p in plants}) == len(plants)
        assert all(p["species_id"] is not None and p["origin"] == "local" for p in plants)

        async def week_and_photos() -> bool:
            await app.state.gateway.gateway.flush()
            async with store.read() as session:
                oldest = (
                    await session.execute(text("select min(measured_at) from readings"))
                ).scalar_one()
            photos = [
                len((await http.get(f"/api/v1/plants/{p['id']}/images")).json()) for p in plants
            ]
            return (
                oldest is not None
                and utcnow() - from_ms(oldest) > timedelta(days=6, hours=12)
                and min(photos) >= 5
            )

        for _ in range(300):
            if await week_and_photos():
                break
            await asyncio.sleep(0.2)
        assert await week_and_photos(), "no seeded week of readings and photos"
