"""Home Assistant's buttons do the hub's own actions: "Sync now" sends to the real cloud,
"Take a photo" has an emulated node take one over GATT, which reaches the plant's canopy cover."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy import text

from hub.app import create_app
from hub.ble.emulator import EmulatedGarden
from hub.ble.gateway import Gateway
from hub.gateways import EmulatedHubGateway
from hub.hub_store import HubStore
from hub.settings import HubSettings
from shared.sync import NodeKind
from tests.hub.ble.conftest import FAST, SPEED
from tests.hub.cloudlink import cloud_scalar, linked_hub
from tests.hub.conftest import ADMIN_PASSWORD, Cloud
from tests.hub.factories import create_readings
from tests.hub.mqtt.broker import Mosquitto
from tests.hub.mqtt.conftest import WAIT_S, watching
from tests.hub.mqtt.test_bridge import check_everything, mqtt_settings
from tests.lifespan import LifespanManager

MAC = "AA:BB:CC:DD:EE:01"


async def images_of(store: HubStore) -> int:
    async with store.read() as session:
        return int((await session.execute(text("select count(*) from images"))).scalar_one())


async def test_sync_now_button_sends_the_readings_to_the_cloud(
    cloud: Cloud, hub_settings: HubSettings, broker: Mosquitto
) -> None:
    async with linked_hub(cloud, mqtt_settings(hub_settings, broker)) as hub:
        await hub.store.pair_node(MAC, bindkey=bytes(16))
        await hub.store.store_readings(create_readings(MAC, 30))
        assert cloud_scalar(cloud, "select count(*) from readings") == 0
        hid = hub.http.app.state.mqtt.hub_id  # type: ignore[attr-defined]
        async with watching(broker.port) as watcher:
            config = await watcher.until(
                lambda: watcher.json(
                    f"homeassistant/button/plantvita_{hid}/plantvita_hub_{hid}_sync/config"
                ),
                "the Sync now button",
            )
            await watcher.client.publish(config["command_topic"], config["payload_press"])
            deadline = asyncio.get_running_loop().time() + WAIT_S
            while cloud_scalar(cloud, "select count(*) from readings") < 30:
                assert asyncio.get_running_loop().time() < deadline, "no sync after the press"
                await asyncio.sleep(0.1)
            # Something else on the topic is no press.
            await watcher.client.publish(config["command_topic"], "RELEASE")
        assert cloud_scalar(cloud, "select count(*) from readings") == 30


@pytest.mark.slow
async def test_take_a_photo_button_fetches_a_new_photo_from_the_node(
    hub_settings: HubSettings, broker: Mosquitto
) -> None:
    settings = mqtt_settings(hub_settings, broker, ble_enabled=True)
    # No photos on a schedule: the only one is the one the button asks for.
    garden = EmulatedGarden(1, speed=SPEED, photo_every_s=None, photo_size=(160, 120))

    def factory(store: HubStore, settings: HubSettings) -> EmulatedHubGateway:
        emulated = EmulatedHubGateway(store, settings, garden, pair=True)
        # The gateway's fast test settings: the garden runs 600 times faster than real time.
        emulated.gateway = Gateway(store, FAST, garden.backends(), now=garden.clock.now)
        return emulated

    app = create_app(settings, gateway_factory=factory, run_scheduler=False)
    async with (
        LifespanManager(app, startup_timeout=60, shutdown_timeout=60),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://hub.test",
            auth=httpx.BasicAuth("admin", ADMIN_PASSWORD),
        ) as http,
    ):
        assert (
            await http.post("/api/v1/auth/password", json={"password": ADMIN_PASSWORD})
        ).status_code == 204
        gateway: EmulatedHubGateway = app.state.gateway
        mac = next(iter(gateway.garden.bindkeys))
        # The emulated garden comes planted: each node watches a plant.
        plants = (await http.get("/api/v1/plants")).json()
        plant = next(p for p in plants if p["node_mac"] == mac)
        plant_topic = f"plantvita/{app.state.mqtt.hub_id}/plant/{plant['id']}/state"
        store: HubStore = app.state.store
        hid = app.state.mqtt.hub_id
        key = mac.replace(":", "").lower()
        async with watching(broker.port) as watcher:
            button = await watcher.until(
                lambda: watcher.json(
                    f"homeassistant/button/plantvita_{hid}/plantvita_node_{key}_photo/config"
                ),
                "the node's Take a photo button",
            )
            assert button["device"]["identifiers"] == [f"plantvita_node_{key}"]
            await watcher.until(lambda: watcher.json(plant_topic), "the plant's state")
            before = await images_of(store)
            assert watcher.json(plant_topic)["canopy_cover"] is None
            await watcher.client.publish(button["command_topic"], button["payload_press"])
            deadline = asyncio.get_running_loop().time() + WAIT_S * 2
            while await images_of(store) <= before:
                assert asyncio.get_running_loop().time() < deadline, "no photo after the press"
                await asyncio.sleep(0.2)
            state = await watcher.until(
                lambda: (
                    watcher.json(plant_topic)["canopy_cover"] is not None
                    and watcher.json(plant_topic)
                ),
                "the photo's canopy cover in Home Assistant",
            )
            assert 0 <= state["canopy_cover"] <= 100
            await watcher.until(lambda: check_everything(watcher), "every state fits")
        # The hub's own API does the same; a third-party sensor has no camera.
        assert (await http.post(f"/api/v1/nodes/{mac}/photo")).status_code == 202
        await store.pair_node("AA:BB:CC:00:00:09", kind=NodeKind.BTHOME)
        third_party = await http.post("/api/v1/nodes/AA:BB:CC:00:00:09/photo")
        assert third_party.status_code == 409
        assert (await http.post("/api/v1/nodes/AA:BB:CC:00:00:0A/photo")).status_code == 404
