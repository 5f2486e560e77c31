"""The hub on a real mosquitto, checked with a real MQTT client: Home Assistant's discovery
schema, states that follow new readings, availability, a broker restart, health."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager

from hub.app import create_app
from hub.ble.ports import DecodedReading, NodeStatus
from hub.settings import HubSettings
from hub.store.hub_store import HubStore
from shared.metrics import PLANT_METRICS, REGISTRY, Metric
from tests.hub.conftest import ADMIN_PASSWORD
from tests.hub.mqtt.broker import Mosquitto
from tests.hub.mqtt.conftest import WAIT_S, Watcher, watching
from tests.hub.mqtt.ha_schema import check_config, check_state, state_of

MAC = "A4:C1:38:00:00:01"
MAC_KEY = MAC.replace(":", "").lower()


def mqtt_settings(hub_settings: HubSettings, broker: Mosquitto, **extra: Any) -> HubSettings:
    return hub_settings.model_copy(
        update={
            "mqtt_host": "127.0.0.1",
            "mqtt_port": broker.port,
            "mqtt_poll_s": 0.1,
            "mqtt_backoff_max_s": 0.3,
            **extra,
        }
    )


async def start_hub(settings: HubSettings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, run_scheduler=False)
    async with (
        LifespanManager(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://hub.test",
            auth=httpx.BasicAuth("admin", ADMIN_PASSWORD),
        ) as client,
    ):
        client.app = app  # type: ignore[attr-defined]
        response = await client.post("/api/v1/auth/password", json={"password": ADMIN_PASSWORD})
        assert response.status_code == 204, response.text
        yield client


@pytest.fixture
async def hub(hub_settings: HubSettings, broker: Mosquitto) -> AsyncIterator[httpx.AsyncClient]:
    """A hub publishing to ``broker``, with one paired node watching one plant."""
    async for client in start_hub(mqtt_settings(hub_settings, broker)):
        store: HubStore = client.app.state.store  # type: ignore[attr-defined]
        await store.pair_node(MAC, bindkey=bytes(16), name="Basil probe")
        created = await client.post(
            "/api/v1/plants", json={"name": "Basil", "node_mac": MAC, "location": "Kitchen"}
        )
        assert created.status_code == 201, created.text
        yield client


def store_of(client: httpx.AsyncClient) -> HubStore:
    return client.app.state.store  # type: ignore[attr-defined,no-any-return]


def hub_id(client: httpx.AsyncClient) -> str:
    return str(client.app.state.mqtt.hub_id)  # type: ignore[attr-defined]


async def measure(
    store: HubStore, moisture: float, seq: int, *, at: datetime | None = None
) -> None:
    at = at or datetime.now(UTC) - timedelta(seconds=5)
    values = {spec.metric: spec.minimum + (spec.maximum - spec.minimum) / 4 for spec in REGISTRY}
    values[Metric.MOISTURE] = moisture
    await store.store_readings([DecodedReading(MAC, at, values, seq, rssi=-61)])
    await store.update_node_status([NodeStatus(MAC, last_seen=at, rssi=-61, battery=88.0)])


async def eventually(
    get: Callable[[], Awaitable[httpx.Response]],
    condition: Callable[[httpx.Response], bool],
    what: str,
) -> httpx.Response:
    """Poll the hub's API until ``condition`` holds (a ceiling, not a speed target)."""
    deadline = asyncio.get_running_loop().time() + WAIT_S
    while asyncio.get_running_loop().time() < deadline:
        response = await get()
        if condition(response):
            return response
        await asyncio.sleep(0.05)
    raise AssertionError(f"never happened: {what}")


def node_state(watcher: Watcher, hub: str) -> Any:
    return watcher.json(f"plantvita/{hub}/node/{MAC_KEY}/state")


def check_everything(watcher: Watcher) -> dict[str, int]:
    """Every config against the documented schema, every entity's state against its config;
    the platforms seen, counted."""
    configs = watcher.configs()
    assert configs
    unique_ids = [config["unique_id"] for config in configs.values()]
    assert len(unique_ids) == len(set(unique_ids))
    platforms: dict[str, int] = {}
    for topic, config in configs.items():
        component = check_config(topic, config)
        platforms[component] = platforms.get(component, 0) + 1
        for availability in config["availability"]:
            assert watcher.messages[availability["topic"]] == b"online"
        if component == "button":
            continue
        state = watcher.json(config["state_topic"])
        assert state is not None, f"no state for {topic}"
        check_state(component, config, state_of(config, state))
        if "json_attributes_topic" in config:
            assert config["json_attributes_topic"] == config["state_topic"]
    return platforms


async def test_discovery_follows_the_documented_schema_and_states_follow_readings(
    hub: httpx.AsyncClient, broker: Mosquitto
) -> None:
    store = store_of(hub)
    await measure(store, 41.0, 1)
    hid = hub_id(hub)
    async with watching(broker.port) as watcher:
        await watcher.until(
            lambda: node_state(watcher, hid)["moisture"] == 41.0 and check_everything(watcher),
            "the node's first reading, every config and state",
        )
        state = node_state(watcher, hid)
        # Every registry metric the node reported is an entity of the node, with the unit,
        # device class and precision from the registry.
        for spec in REGISTRY:
            config = watcher.json(
                f"homeassistant/sensor/plantvita_{hid}/plantvita_node_{MAC_KEY}_{spec.name}/config"
            )
            assert config["unit_of_measurement"] == spec.unit
            assert config["device_class"] == spec.bthome[0].key
            assert config["state_class"] == "measurement"
            assert config["suggested_display_precision"] == spec.decimals
            assert config["device"]["name"] == "Basil probe"
            assert config["device"]["connections"] == [["bluetooth", MAC]]
            assert state[spec.name] is not None
        assert state["rssi"] == -61
        platforms = check_everything(watcher)
        assert platforms["button"] >= 1  # sync now
        assert platforms["binary_sensor"] >= 4
        # The plant is a device of its own, in its room, with the plant's view of the metrics.
        plants = [
            c for c in watcher.configs().values() if c["unique_id"].startswith("plantvita_plant_")
        ]
        assert {c["device"]["name"] for c in plants} == {"Basil"}
        assert {c["device"]["suggested_area"] for c in plants} == {"Kitchen"}
        keys = {c["value_template"].split(".")[1].split()[0] for c in plants if "state_topic" in c}
        assert {"status", "canopy_cover", "dli", "dli_today", "watering", "needs_water_at"} <= keys
        plant_topic = plants[0]["state_topic"]
        # The node's and the plant's states are separate messages: the plant's retained state
        # from before the reading may still be the newest one seen.
        await watcher.until(lambda: watcher.json(plant_topic)["moisture"] == 41.0, "plant state")
        plant = watcher.json(plant_topic)
        assert {m.value for m in PLANT_METRICS} <= set(plant)

        # A new reading: the node's and the plant's states follow.
        await measure(store, 23.0, 2)
        await watcher.until(lambda: node_state(watcher, hid)["moisture"] == 23.0, "new reading")
        await watcher.until(lambda: watcher.json(plant_topic)["moisture"] == 23.0, "plant state")
        check_everything(watcher)

    ready = await hub.get("/readyz")
    assert ready.json()["checks"]["mqtt"] == "ok"
    status = (await hub.get("/api/v1/mqtt")).json()
    assert status["status"]["state"] == "connected"
    assert status["host"] == "127.0.0.1"
    assert status["password_set"] is False


async def test_broker_restart_loses_nothing_and_health_says_disconnected(
    hub: httpx.AsyncClient, broker: Mosquitto
) -> None:
    store = store_of(hub)
    hid = hub_id(hub)
    await measure(store, 50.0, 1)
    async with watching(broker.port) as watcher:
        await watcher.until(lambda: node_state(watcher, hid)["moisture"] == 50.0, "connected")
    broker.stop()
    # While the broker is away the hub keeps storing; health names the broker and the reason.
    await measure(store, 33.0, 2)

    ready = await eventually(
        lambda: hub.get("/readyz"), lambda r: r.json()["checks"]["mqtt"] != "ok", "disconnect"
    )
    body = ready.json()
    assert ready.status_code == 503
    assert body["checks"]["mqtt"].startswith(
        f"not connected to MQTT broker 127.0.0.1:{broker.port}"
    )
    assert (await hub.get("/api/v1/mqtt")).json()["status"]["state"] != "connected"

    broker.start()  # nothing retained: it lost every config and state
    async with watching(broker.port) as watcher:
        await watcher.until(
            lambda: node_state(watcher, hid)["moisture"] == 33.0, "caught up after the restart"
        )
        state = node_state(watcher, hid)
        assert state["rssi"] == -61
        await watcher.until(lambda: check_everything(watcher), "discovery republished")
        assert len(watcher.configs()) > 20
    assert (await hub.get("/readyz")).json()["checks"]["mqtt"] == "ok"
