"""The local API driving the real BLE gateway over an emulated garden (Bumble, in-process):
unpaired devices are listed, pairing through the API makes the gateway store their readings,
unpairing stops it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import text

from hub.app import create_app
from hub.gateways import EmulatedHubGateway, emulated_gateway_factory
from hub.hub_store import HubStore
from hub.settings import HubSettings
from tests.hub.conftest import ADMIN_PASSWORD
from tests.lifespan import LifespanManager


@pytest.fixture
async def radio_hub(hub_settings: HubSettings) -> AsyncIterator[httpx.AsyncClient]:
    settings = hub_settings.model_copy(update={"ble_enabled": True})
    factory = emulated_gateway_factory(2, speed=600.0, pair=False, photo_every_s=None)
    app = create_app(settings, gateway_factory=factory, run_scheduler=False)
    async with (
        LifespanManager(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hub") as http,
    ):
        http.app = app  # type: ignore[attr-defined]
        await http.post("/api/v1/auth/password", json={"password": ADMIN_PASSWORD})
        http.auth = httpx.BasicAuth("admin", ADMIN_PASSWORD)
        yield http


async def wait_for(predicate: object, timeout_s: float = 60.0) -> None:
    """Poll an async predicate until true (a wait, not a timing assertion)."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not await predicate():  # type: ignore[operator]
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.2)


async def readings_of(store: HubStore, mac: str) -> int:
    async with store.read() as session:
        return int(
            (
                await session.execute(
                    text(
                        "select count(*) from readings r join nodes n on n.id = r.node_id "
                        "where n.mac = :m"
                    ),
                    {"m": mac},
                )
            ).scalar_one()
        )


@pytest.mark.slow
async def test_pair_through_the_api_then_readings_flow(radio_hub: httpx.AsyncClient) -> None:
    app = radio_hub.app  # type: ignore[attr-defined]
    gateway: EmulatedHubGateway = app.state.gateway
    store: HubStore = app.state.store
    ready = await radio_hub.get("/readyz")
    assert ready.json()["checks"]["gateway"] == "ok"

    async def both_seen() -> bool:
        seen = (await radio_hub.get("/api/v1/nodes/seen")).json()
        return len(seen) == 2

    await wait_for(both_seen)
    seen = (await radio_hub.get("/api/v1/nodes/seen")).json()
    assert all(d["encrypted"] for d in seen)
    assert await readings_of(store, seen[0]["mac"]) == 0  # unpaired: never stored

    mac = seen[0]["mac"]
    key = gateway.garden.bindkeys[mac].hex()
    paired = await radio_hub.post("/api/v1/nodes", json={"mac": mac, "bindkey": key})
    assert paired.status_code == 201, paired.text

    async def has_readings() -> bool:
        return await readings_of(store, mac) > 0

    await wait_for(has_readings)
    remaining = [d["mac"] for d in (await radio_hub.get("/api/v1/nodes/seen")).json()]
    assert mac not in remaining
    assert await readings_of(store, seen[1]["mac"]) == 0

    node = (await radio_hub.get(f"/api/v1/nodes/{mac}")).json()
    assert node["paired"] is True
    assert node["has_bindkey"] is True
    assert (await radio_hub.delete(f"/api/v1/nodes/{mac}")).status_code == 204
    assert all(n.mac != mac for n in await gateway.store.paired_nodes())
