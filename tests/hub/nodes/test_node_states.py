"""Honest node states over the API: wrong key at the first failed advert, stale by the node's
own interval, light judged by the daily light integral, no adapter in /readyz."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from hub.app import create_app
from hub.ble.ports import DecodedReading, DropCounters, NodeStatus, SeenDevice
from hub.hub_store import HubStore
from hub.settings import HubSettings
from hub.store.types import utcnow
from shared.metrics import DLI, Metric
from tests.lifespan import LifespanManager

pytestmark = pytest.mark.pi

MAC = "AA:BB:CC:DD:EE:21"
KEY = "00112233445566778899aabbccddeeff"


def store_of(client: httpx.AsyncClient) -> HubStore:
    return client.app.state.store  # type: ignore[attr-defined,no-any-return]


async def _plant(client: httpx.AsyncClient, **extra: object) -> str:
    assert (
        await client.post("/api/v1/nodes", json={"mac": MAC, "bindkey": KEY})
    ).status_code == 201
    body = {"name": "Basil", "node_mac": MAC, **extra}
    created = await client.post("/api/v1/plants", json=body)
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def _reading(at: datetime, **values: float) -> DecodedReading:
    return DecodedReading(
        node_mac=MAC, measured_at=at, values={Metric(k): v for k, v in values.items()}, seq=None
    )


async def test_a_wrong_key_shows_at_the_first_failed_advert_and_re_pairing_clears_it(
    admin_client: httpx.AsyncClient,
) -> None:
    store = store_of(admin_client)
    plant_id = await _plant(admin_client)
    now = utcnow()
    await store.store_readings([_reading(now - timedelta(seconds=20), moisture=40.0)])
    await store.update_node_status([NodeStatus(MAC, now - timedelta(seconds=20))])
    node = (await admin_client.get(f"/api/v1/nodes/{MAC}")).json()
    assert node["state"] == "ok"
    await store.update_node_status(
        [NodeStatus(MAC, None, wrong_key_at=now, drops=DropCounters(wrong_key=1))]
    )
    node = (await admin_client.get(f"/api/v1/nodes/{MAC}")).json()
    assert node["state"] == "wrong_key"
    assert node["last_seen"] is not None  # the last good advert, not "now"
    card = (await admin_client.get("/api/v1/web/overview")).json()["cards"][0]
    assert card["node_state"] == "wrong_key"
    moisture = next(m for m in card["metrics"] if m["metric"] == "moisture")
    assert moisture["value"] == 40.0
    assert moisture["status"] == "stale"
    status = (await admin_client.get(f"/api/v1/plants/{plant_id}/status")).json()
    assert {m["status"] for m in status["metrics"] if m["value"] is not None} == {"stale"}
    other = "ffeeddccbbaa99887766554433221100"
    repaired = await admin_client.post("/api/v1/nodes", json={"mac": MAC, "bindkey": other})
    assert repaired.status_code == 201
    assert repaired.json()["state"] == "ok"
    assert repaired.json()["wrong_key_at"] is None


async def test_stale_follows_the_nodes_sampling_interval(admin_client: httpx.AsyncClient) -> None:
    store = store_of(admin_client)
    await _plant(admin_client)
    heard = utcnow() - timedelta(minutes=45)
    await store.store_readings([_reading(heard, moisture=40.0)])
    await store.update_node_status([NodeStatus(MAC, heard)])
    node = (await admin_client.get(f"/api/v1/nodes/{MAC}")).json()
    assert node["state"] == "stale"
    assert node["stale_after_s"] == 31 * 60
    card = (await admin_client.get("/api/v1/web/overview")).json()["cards"][0]
    assert next(m for m in card["metrics"] if m["metric"] == "moisture")["status"] == "stale"
    # An hourly node is not late after 45 minutes.
    changed = await admin_client.patch(
        f"/api/v1/nodes/{MAC}/config", json={"sampling_interval_s": 3600}
    )
    assert changed.status_code == 200
    assert changed.json()["state"] == "ok"
    card = (await admin_client.get("/api/v1/web/overview")).json()["cards"][0]
    assert next(m for m in card["metrics"] if m["metric"] == "moisture")["status"] == "ok"


async def test_light_at_a_tenth_of_its_needs_is_low_by_the_daily_integral(
    admin_client: httpx.AsyncClient,
) -> None:
    store = store_of(admin_client)
    plant_id = await _plant(admin_client, overrides={"dli_min": 12.0, "dli_max": 30.0})
    now = utcnow()
    midnight = datetime.combine(now.date(), datetime.min.time(), UTC)
    yesterday = midnight - timedelta(days=1)
    # Yesterday: a dim room, 500 lx all day long -> 0.8 mol/m²/day.
    await store.store_readings(
        [_reading(yesterday + timedelta(minutes=30 * i), illuminance=500.0) for i in range(48)]
    )
    await store.store_readings([_reading(now - timedelta(minutes=1), illuminance=20000.0)])
    await store.update_node_status([NodeStatus(MAC, now - timedelta(minutes=1))])
    status = (await admin_client.get(f"/api/v1/plants/{plant_id}/status")).json()
    light = next(m for m in status["metrics"] if m["metric"] == "illuminance")
    assert light["status"] == "low"  # bright right now, yet far too little over the day
    daily = light["daily"]
    assert daily["unit"] == DLI.unit
    assert daily["minimum"] == 12.0
    assert daily["maximum"] == 30.0
    assert daily["yesterday"] == {"dli": 0.8, "samples": 48, "hours": 24.0, "status": "low"}
    assert daily["today"]["samples"] == 1
    assert daily["today"]["dli"] is None


class _NoAdapterGateway:
    radio_problem = "no Bluetooth adapter available (BleakError: No Bluetooth adapters found.)"

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    def seen_devices(self) -> Sequence[SeenDevice]:
        return []

    async def reload_nodes(self) -> None:
        return None

    async def request_session(self, node_mac: str) -> None:
        return None


async def test_no_bluetooth_adapter_is_one_clear_status(hub_settings: HubSettings) -> None:
    hub_settings.ble_enabled = True
    app = create_app(hub_settings, gateway_factory=lambda _s, _h: _NoAdapterGateway())
    async with (
        LifespanManager(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hub") as http,
    ):
        ready = await http.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["gateway"] == _NoAdapterGateway.radio_problem
        overview = (await http.get("/api/v1/web/overview")).json()
        assert overview["radio_problem"] == _NoAdapterGateway.radio_problem
        # The Nodes page says it too, instead of a bare "no devices in range".
        radio = (await http.get("/api/v1/nodes/radio")).json()
        assert radio == {"problem": _NoAdapterGateway.radio_problem}


async def test_bluetooth_turned_off_names_the_setting(admin_client: httpx.AsyncClient) -> None:
    radio = (await admin_client.get("/api/v1/nodes/radio")).json()
    assert "PLANTVITA_HUB_BLE_ENABLED" in radio["problem"]


async def test_alert_texts_follow_a_rename_and_the_temperature_unit(
    admin_client: httpx.AsyncClient,
) -> None:
    from hub.app import evaluate_alerts

    store = store_of(admin_client)
    plant_id = await _plant(admin_client, overrides={"temperature_max": 30.0})
    now = utcnow()
    await store.store_readings(
        [_reading(now - timedelta(minutes=20 - m), temperature=31.0) for m in range(20)]
    )
    await store.update_node_status([NodeStatus(MAC, now)])
    assert await evaluate_alerts(store) >= 1
    renamed = await admin_client.patch(f"/api/v1/plants/{plant_id}", json={"name": "Sweet basil"})
    assert renamed.status_code == 200
    changed = await admin_client.patch("/api/v1/web/settings", json={"temperature_unit": "F"})
    assert changed.status_code == 200
    alerts = (await admin_client.get("/api/v1/alerts", params={"open_only": True})).json()
    (high,) = [a for a in alerts if a["kind"] == "high"]
    assert high["message"] == "Sweet basil: temperature 87.8 °F above 86.0 °F"
    card = (await admin_client.get("/api/v1/web/overview")).json()["cards"][0]
    assert card["open_alerts"][0]["message"] == high["message"]


async def test_no_watering_forecast_from_a_node_whose_readings_are_not_current(
    admin_client: httpx.AsyncClient,
) -> None:
    store = store_of(admin_client)
    plant_id = await _plant(admin_client, overrides={"moisture_min": 30})
    now = utcnow()
    # Two days drying 10 points a day from 75 %: a forecast of "in about 2 days".
    await store.store_readings(
        [
            DecodedReading(
                node_mac=MAC,
                measured_at=now - timedelta(hours=hours),
                values={Metric.MOISTURE: 75 - (48 - hours) / 24 * 10},
                seq=index,
            )
            for index, hours in enumerate(range(48, 0, -1))
        ]
    )
    await store.update_node_status([NodeStatus(MAC, now - timedelta(minutes=1))])

    async def forecasts() -> tuple[dict[str, object], dict[str, object]]:
        card = (await admin_client.get("/api/v1/web/overview")).json()["cards"][0]
        page = (await admin_client.get(f"/api/v1/plants/{plant_id}/watering")).json()
        assert page["events"] == []  # no watering in these two days, nothing withheld there
        return card["watering"], page["forecast"]

    card, page = await forecasts()
    assert card["status"] == page["status"] == "in_days"
    await store.update_node_status(
        [NodeStatus(MAC, None, wrong_key_at=now, drops=DropCounters(wrong_key=1))]
    )
    card, page = await forecasts()
    assert card == page
    assert page["status"] == "unknown"
    assert page["moisture"] is None
    assert "wrong key" in str(page["text"])


async def test_a_plant_without_a_node_has_no_forecast_because_no_node_watches_it(
    admin_client: httpx.AsyncClient,
) -> None:
    created = await admin_client.post("/api/v1/plants", json={"name": "Seedling tray"})
    assert created.status_code == 201
    page = (await admin_client.get(f"/api/v1/plants/{created.json()['id']}/watering")).json()
    assert page["forecast"]["status"] == "unknown"
    assert page["forecast"]["text"] == "No watering forecast: no node watches this plant yet"
