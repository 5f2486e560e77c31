"""The hub on a real mosquitto, checked with a real MQTT client: Home Assistant's discovery
schema, states that follow new readings, availability, a broker restart, health."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from hub.app import create_app
from hub.ble.ports import DecodedReading, NodeStatus
from hub.hub_store import HubStore
from hub.settings import HubSettings
from shared.metrics import PLANT_METRICS, REGISTRY, Metric
from shared.sync import NodeKind
from tests.hub.conftest import ADMIN_PASSWORD
from tests.hub.mqtt.broker import Mosquitto, make_tls
from tests.hub.mqtt.conftest import WAIT_S, Watcher, watching
from tests.hub.mqtt.ha_schema import check_config, check_state, state_of
from tests.lifespan import LifespanManager

MAC = "A4:C1:38:00:00:01"
MAC_KEY = MAC.replace(":", "").lower()
MIFLORA = "C4:7C:8D:6A:00:01"
MIFLORA_KEY = MIFLORA.replace(":", "").lower()


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


@contextlib.asynccontextmanager
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
    async with start_hub(mqtt_settings(hub_settings, broker)) as client:
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
    client: httpx.AsyncClient, path: str, condition: Callable[[httpx.Response], bool], what: str
) -> httpx.Response:
    """Poll the hub's API until ``condition`` holds (a ceiling, not a speed target)."""
    deadline = asyncio.get_running_loop().time() + WAIT_S
    while asyncio.get_running_loop().time() < deadline:
        response = await client.get(path)
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
        # ``measure`` stores the reading, then the node's status: the bridge may publish
        # between the two, so wait for the state that carries both.
        await watcher.until(
            lambda: (
                node_state(watcher, hid)["moisture"] == 41.0
                and node_state(watcher, hid)["rssi"] is not None
                and check_everything(watcher)
            ),
            "the node's first reading and status, every config and state",
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
        plant = await watcher.until(
            lambda: watcher.json(plant_topic)["moisture"] == 41.0 and watcher.json(plant_topic),
            "the plant's first reading",
        )
        assert {m.value for m in PLANT_METRICS} <= set(plant)

        # A new reading: the node's and the plant's states follow.
        await measure(store, 23.0, 2)
        await watcher.until(lambda: node_state(watcher, hid)["moisture"] == 23.0, "new reading")
        await watcher.until(lambda: watcher.json(plant_topic)["moisture"] == 23.0, "plant state")
        check_everything(watcher)

        # A second soil probe and a second thermometer on the node (channel 1, bthome-ble's
        # ``moisture_2``): entities of their own on the node, named by their sensor index.
        second = DecodedReading(
            MAC,
            datetime.now(UTC) - timedelta(seconds=2),
            {Metric.MOISTURE: 64.0, Metric.TEMPERATURE: 12.5},
            3,
            channel=1,
        )
        await store.store_readings([second])
        await watcher.until(
            lambda: node_state(watcher, hid)["moisture_2"] == 64.0, "the second probe's reading"
        )
        probe = watcher.json(
            f"homeassistant/sensor/plantvita_{hid}/plantvita_node_{MAC_KEY}_moisture_2/config"
        )
        assert probe["name"] == "Soil moisture 2"
        assert probe["device_class"] == "moisture"
        assert node_state(watcher, hid)["temperature_2"] == 12.5
        assert node_state(watcher, hid)["moisture"] == 23.0  # the first probe's stays
        await watcher.until(lambda: check_everything(watcher), "every state fits")

        # A Xiaomi plant sensor (MiFlora) paired on the same hub: its soil conductivity (the
        # "fertility") is an entity in µS/cm like every registry metric, without a camera button.
        await store.pair_node(MIFLORA, kind=NodeKind.XIAOMI, name="Flower care")
        flora = {
            Metric.MOISTURE: 35.0,
            Metric.TEMPERATURE: 21.4,
            Metric.ILLUMINANCE: 1200.0,
            Metric.CONDUCTIVITY: 640.0,
            Metric.BATTERY: 97.0,
        }
        await store.store_readings(
            [DecodedReading(MIFLORA, datetime.now(UTC) - timedelta(seconds=1), flora, None)]
        )
        flora_state = f"plantvita/{hid}/node/{MIFLORA_KEY}/state"
        await watcher.until(
            lambda: watcher.json(flora_state)["conductivity"] == 640.0, "the MiFlora's values"
        )
        conductivity = watcher.json(
            f"homeassistant/sensor/plantvita_{hid}/plantvita_node_{MIFLORA_KEY}_conductivity/config"
        )
        assert conductivity["device_class"] == "conductivity"
        assert conductivity["unit_of_measurement"] == "µS/cm"
        assert conductivity["device"]["manufacturer"] == "Xiaomi"
        assert "humidity" not in watcher.json(flora_state)  # it has no such sensor
        assert (
            watcher.json(
                f"homeassistant/button/plantvita_{hid}/plantvita_node_{MIFLORA_KEY}_photo/config"
            )
            is None
        )
        await watcher.until(lambda: check_everything(watcher), "every state fits")

    ready = await hub.get("/readyz")
    assert ready.json()["checks"]["mqtt"] == "ok"
    assert "hub_mqtt_connected 1.0" in (await hub.get("/metrics")).text
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
        hub, "/readyz", lambda r: r.json()["checks"]["mqtt"] != "ok", "disconnect"
    )
    body = ready.json()
    assert ready.status_code == 503
    assert "hub_mqtt_connected 0.0" in (await hub.get("/metrics")).text
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


async def test_tls_and_password_and_a_refused_login_shown_in_health(
    hub_settings: HubSettings, tmp_path: Path
) -> None:
    directory = tmp_path / "tls-broker"
    directory.mkdir()
    tls = make_tls(directory)
    broker = Mosquitto(directory, tls=tls, users={"plantvita": "s3cret-hub", "ha": "ha-pass"})
    broker.start()
    try:
        wrong = mqtt_settings(
            hub_settings,
            broker,
            mqtt_tls=True,
            mqtt_ca_file=tls.ca_file,
            mqtt_username="plantvita",
            mqtt_password="not-the-password",
        )
        async with start_hub(wrong) as client:
            ready = await eventually(
                client,
                "/readyz",
                lambda r: (
                    "not authorised" in r.json()["checks"]["mqtt"].lower()
                    or "not authorized" in r.json()["checks"]["mqtt"].lower()
                ),
                "a refused login in /readyz",
            )
            assert ready.status_code == 503
            # The gardener fixes the password on the hub: it reconnects at once, over TLS.
            fixed = await client.put(
                "/api/v1/mqtt",
                json={
                    "host": "127.0.0.1",
                    "port": broker.port,
                    "tls": True,
                    "ca_file": str(tls.ca_file),
                    "username": "plantvita",
                    "password": "s3cret-hub",
                },
            )
            assert fixed.status_code == 200, fixed.text
            assert fixed.json()["password_set"] is True
            assert "s3cret" not in fixed.text
            await eventually(
                client,
                "/readyz",
                lambda r: r.json()["checks"]["mqtt"] == "ok",
                "connected over TLS",
            )
            hid = hub_id(client)
            ssl_context = ssl.create_default_context(cafile=str(tls.ca_file))
            async with watching(
                broker.port, username="ha", password="ha-pass", tls_context=ssl_context
            ) as watcher:
                await watcher.until(lambda: check_everything(watcher), "discovery over TLS")
                assert watcher.messages[f"plantvita/{hid}/status"] == b"online"
        # The saved broker (password included) survives a restart of the hub.
        async with start_hub(hub_settings) as client:
            await eventually(
                client,
                "/readyz",
                lambda r: r.json()["checks"]["mqtt"] == "ok",
                "the saved broker after a restart",
            )
            # A broker that is not there: no 500, a clear 400.
            missing = await client.put(
                "/api/v1/mqtt",
                json={"host": "127.0.0.1", "tls": True, "ca_file": str(tmp_path / "nope.pem")},
            )
            assert missing.status_code == 400
            assert "nope.pem" in missing.json()["error"]["message"]
            bad_host = await client.put("/api/v1/mqtt", json={"host": "mqtt://x y"})
            assert bad_host.status_code == 422
            off = await client.put("/api/v1/mqtt", json={"host": ""})
            assert off.json()["status"]["state"] == "off"
            assert (await client.get("/readyz")).json()["checks"]["mqtt"] == "disabled"
    finally:
        broker.stop()


async def test_home_assistant_birth_and_entities_that_are_gone(
    hub: httpx.AsyncClient, broker: Mosquitto
) -> None:
    store = store_of(hub)
    hid = hub_id(hub)
    await measure(store, 44.0, 1)
    node_config = f"homeassistant/sensor/plantvita_{hid}/plantvita_node_{MAC_KEY}_moisture/config"
    # A config an earlier run left behind (a node unpaired while the hub was off).
    leftover = f"homeassistant/sensor/plantvita_{hid}/plantvita_node_0000000000aa_moisture/config"
    async with watching(broker.port) as watcher:
        await watcher.until(lambda: node_state(watcher, hid)["moisture"] == 44.0, "first state")
        await watcher.client.publish(leftover, b'{"name": "old"}', qos=1, retain=True)
        await watcher.until(lambda: leftover not in watcher.messages, "the leftover cleared")

        # Home Assistant restarted with a broker that kept nothing: its birth message brings
        # every state again (the hub does not wait for a change).
        state_topic = f"plantvita/{hid}/node/{MAC_KEY}/state"
        await watcher.client.publish(state_topic, b"", qos=1, retain=True)
        await watcher.until(lambda: state_topic not in watcher.messages, "state wiped")
        await watcher.client.publish("homeassistant/status", "online", qos=1)
        await watcher.until(
            lambda: node_state(watcher, hid)["moisture"] == 44.0, "states after the birth"
        )

        # The gardener unpairs the node: its entities leave Home Assistant.
        assert watcher.json(node_config) is not None
        assert (await hub.delete(f"/api/v1/nodes/{MAC}")).status_code == 204
        await watcher.until(
            lambda: not any(f"plantvita_node_{MAC_KEY}_" in t for t in watcher.configs()),
            "the node's configs cleared",
        )
        await watcher.until(lambda: check_everything(watcher), "the rest still fits")
