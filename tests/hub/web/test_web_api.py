"""The web UI's own endpoints over HTTP (no browser): pages and assets, the overview, settings."""

from __future__ import annotations

from datetime import timedelta

import httpx

from hub.app import create_app
from hub.hub_store import HubStore
from hub.settings import HubSettings
from hub.store.types import utcnow
from hub.web.router import ASSETS, PAGES
from shared.metrics import PLANT_METRICS
from tests.hub.factories import create_readings
from tests.lifespan import LifespanManager

MAC = "AA:BB:CC:DD:EE:07"
KEY = "00112233445566778899aabbccddeeff"


def store_of(client: httpx.AsyncClient) -> HubStore:
    return client.app.state.store  # type: ignore[attr-defined,no-any-return]


async def test_pages_and_assets_ship_in_the_package_with_revalidation(
    app_client: httpx.AsyncClient,
) -> None:
    for path in [*PAGES, "/plants/any-id"]:
        page = await app_client.get(path)
        assert page.status_code == 200, path
        assert page.headers["content-type"].startswith("text/html")
        assert "default-src 'self'" in page.headers["content-security-policy"]
        # No asset from outside the hub: the UI works with no internet.
        assert "http://" not in page.text
        assert "https://" not in page.text
    for name in ("css/theme.css", "js/overview.js", "js/chart.js", "js/status.js", "favicon.svg"):
        assert name in ASSETS
    script = await app_client.get("/static/js/overview.js")
    assert script.headers["content-type"].startswith("text/javascript")
    again = await app_client.get(
        "/static/js/overview.js", headers={"If-None-Match": script.headers["etag"]}
    )
    assert again.status_code == 304
    assert again.content == b""
    missing = await app_client.get("/static/../pyproject.toml")
    assert missing.status_code == 404
    assert (await app_client.get("/static/js/nope.js")).json()["error"]["code"] == "not_found"


async def test_overview_follows_readings_and_its_version_changes(
    admin_client: httpx.AsyncClient,
) -> None:
    empty = (await admin_client.get("/api/v1/web/overview")).json()
    assert empty["cards"] == []
    assert (await admin_client.post("/api/v1/nodes", json={"mac": MAC, "bindkey": KEY})).is_success
    plant = await admin_client.post(
        "/api/v1/plants",
        json={"name": "Fern", "node_mac": MAC, "overrides": {"moisture_min": 40}},
    )
    assert plant.status_code == 201
    before = (await admin_client.get("/api/v1/web/overview")).json()
    assert before["version"] != empty["version"]
    card = before["cards"][0]
    assert card["plant"]["name"] == "Fern"
    assert {m["metric"] for m in card["metrics"]} == set(PLANT_METRICS)
    assert all(m["status"] == "unknown" for m in card["metrics"])

    await store_of(admin_client).store_readings(
        create_readings(MAC, 3, start=utcnow() - timedelta(minutes=5))
    )
    after = (await admin_client.get("/api/v1/web/overview")).json()
    assert after["version"] != before["version"]
    moisture = next(m for m in after["cards"][0]["metrics"] if m["metric"] == "moisture")
    assert moisture["value"] == 32.0
    assert moisture["status"] == "low"  # 32 % under the plant's own 40 % minimum
    assert moisture["minimum"] == 40


async def test_settings_need_the_admin_and_the_ui_gets_no_basic_challenge(
    app_client: httpx.AsyncClient,
) -> None:
    settings = (await app_client.get("/api/v1/web/settings")).json()
    assert settings["temperature_unit"] == "C"
    assert settings["disk_used_bytes"] > 0
    assert (
        await app_client.post("/api/v1/auth/password", json={"password": "pw-123456"})
    ).status_code == 204
    refused = await app_client.patch("/api/v1/web/settings", json={"temperature_unit": "F"})
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"].startswith("Basic")
    from_ui = await app_client.patch(
        "/api/v1/web/settings",
        json={"temperature_unit": "F"},
        headers={"X-Requested-With": "plantvita-ui"},
    )
    assert from_ui.status_code == 401
    assert "www-authenticate" not in from_ui.headers
    assert from_ui.json()["error"]["code"] == "unauthorized"
    bad = await app_client.patch(
        "/api/v1/web/settings", json={"temperature_unit": "K"}, auth=("admin", "pw-123456")
    )
    assert bad.status_code == 422
    assert bad.json()["error"]["code"] == "validation_error"


async def test_a_disk_budget_set_in_the_ui_survives_a_restart(hub_settings: HubSettings) -> None:
    app = create_app(hub_settings, run_scheduler=False)
    async with (
        LifespanManager(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hub") as http,
    ):
        assert (await http.post("/api/v1/auth/password", json={"password": "pw-123456"})).is_success
        changed = await http.patch(
            "/api/v1/web/settings",
            json={"disk_budget_mb": 300, "temperature_unit": "F"},
            auth=("admin", "pw-123456"),
        )
        assert changed.json()["disk_budget_mb"] == 300
        assert app.state.store.settings.disk_budget_bytes == 300 * 1024 * 1024
    fresh = hub_settings.model_copy()
    fresh.disk_budget_mb = 2048.0
    app = create_app(fresh, run_scheduler=False)
    async with (
        LifespanManager(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hub") as http,
    ):
        settings = (await http.get("/api/v1/web/settings")).json()
        assert settings["disk_budget_mb"] == 300
        assert settings["temperature_unit"] == "F"
        assert app.state.store.settings.disk_budget_mb == 300
