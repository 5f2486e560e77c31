"""A MiFlora in Home Assistant through the hub's MQTT discovery: its captured MiBeacon adverts
(shared/vectors/mibeacon.json) go through the gateway's advert path into the store, and a real
MQTT client on a real mosquitto sees an entity for each of its values, conductivity included,
with the registry's unit and the documented schema."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from bleak.backends.scanner import AdvertisementData

from hub.ble.bumble_backend import ble_device
from hub.ble.gateway import Gateway
from hub.ble.settings import GatewaySettings
from hub.settings import HubSettings
from shared.metrics import SPECS, Metric
from shared.vectors import Vector, load_mibeacon
from tests.hub.mqtt.broker import Mosquitto
from tests.hub.mqtt.conftest import watching
from tests.hub.mqtt.test_bridge import check_everything, hub_id, mqtt_settings, start_hub

FLORA = [v for v in load_mibeacon() if v.fields["mac"] == "C4:7C:8D:6A:3E:7A"]
MAC = FLORA[0].fields["mac"]
MAC_KEY = MAC.replace(":", "").lower()


def _advert(vector: Vector) -> AdvertisementData:
    return AdvertisementData(
        local_name=None,
        manufacturer_data={},
        service_data={vector.fields["uuid"]: vector.data},
        service_uuids=[vector.fields["uuid"]],
        tx_power=None,
        rssi=-70,
        platform_data=(),
    )


async def test_a_miflora_is_a_home_assistant_device_with_an_entity_per_value(
    hub_settings: HubSettings, broker: Mosquitto
) -> None:
    async with start_hub(mqtt_settings(hub_settings, broker)) as hub:
        paired = await hub.post(
            "/api/v1/nodes", json={"mac": MAC, "kind": "xiaomi", "name": "Fern sensor"}
        )
        assert paired.status_code == 201, paired.text
        store = hub.app.state.store  # type: ignore[attr-defined]
        # A MiFlora sends its frames seconds apart: each advert its own reading time.
        times = iter(datetime.now(UTC) - timedelta(seconds=60 - i) for i in range(1000))
        gateway = Gateway(store, GatewaySettings(sessions_enabled=False), now=lambda: next(times))
        await gateway.reload_nodes()
        for vector in FLORA:
            gateway.on_advertisement(ble_device(MAC), _advert(vector))
        await gateway.flush()
        await gateway.push_statuses()
        expected = {
            name: value
            for vector in FLORA
            for name, value in vector.fields["channels"].get("0", {}).items()
        }
        assert set(expected) == {"illuminance", "conductivity", "moisture", "temperature"}

        hid = hub_id(hub)
        state_topic = f"plantvita/{hid}/node/{MAC_KEY}/state"
        async with watching(broker.port) as watcher:

            def every_value() -> bool:
                state = watcher.json(state_topic)
                return bool(state) and all(state.get(k) == v for k, v in expected.items())

            await watcher.until(every_value, "the MiFlora's four values as entity states")
            await watcher.until(lambda: check_everything(watcher), "every config and state fits")
            for name in expected:
                spec = SPECS[Metric(name)]
                config = watcher.json(
                    f"homeassistant/sensor/plantvita_{hid}/plantvita_node_{MAC_KEY}_{name}/config"
                )
                assert config["unit_of_measurement"] == spec.unit
                assert config["device"]["name"] == "Fern sensor"
                assert config["device"]["connections"] == [["bluetooth", MAC]]
        assert isinstance(hub, httpx.AsyncClient)
