"""The local API over HTTP: health, admin, plants, nodes, status and history."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from hub.app import create_app, evaluate_alerts
from hub.ble.ports import DropCounters, NodeStatus
from hub.hub_store import HubStore
from hub.settings import HubSettings
from shared.metrics import METRIC_NAMES, PLANT_METRICS
from tests.hub.factories import T0, create_readings
from tests.lifespan import LifespanManager

pytestmark = pytest.mark.pi  # also runs under aarch64 in `make pi-check`

MAC = "AA:BB:CC:DD:EE:01"
KEY = "00112233445566778899aabbccddeeff"


def store_of(client: httpx.AsyncClient) -> HubStore:
    return client.app.state.store  # type: ignore[attr-defined,no-any-return]


async def test_health_ready_and_metrics(app_client: httpx.AsyncClient) -> None:
    assert (await app_client.get("/healthz")).json() == {"status": "ok"}
    ready = await app_client.get("/readyz")
    # The scheduler is not started in this fixture, so the hub says it is not ready.
    assert ready.status_code == 503
    assert ready.json()["checks"] == {
        "database": "ok",
        "scheduler": "stopped",
        "gateway": "disabled",
        "mqtt": "disabled",  # no broker configured: Home Assistant publishing is off
    }
    metrics = await app_client.get("/metrics")
    assert metrics.status_code == 200
    assert "hub_readings_stored 0.0" in metrics.text
    assert "hub_mqtt_connected -1.0" in metrics.text  # no broker set
    assert metrics.headers["x-request-id"]


async def test_request_context_tags_counts_and_answers_500_in_the_error_format(
    app_client: httpx.AsyncClient,
) -> None:
    async def boom() -> None:
        raise RuntimeError("a bug")

    app_client.app.add_api_route("/boom", boom)  # type: ignore[attr-defined]
    failed = await app_client.get("/boom", headers={"x-request-id": "req-42"})
    assert failed.status_code == 500
    assert failed.json() == {
        "error": {"code": "internal_error", "message": "internal error", "details": None}
    }
    assert failed.headers["x-request-id"] == "req-42"
    assert (await app_client.get("/healthz")).headers["x-request-id"] != "req-42"
    missing = await app_client.get("/no-such-page")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    metrics = (await app_client.get("/metrics")).text
    assert 'hub_http_requests_total{method="GET",route="/boom",status="500"} 1.0' in metrics
    assert 'hub_http_requests_total{method="GET",route="/healthz",status="200"} 1.0' in metrics
    assert 'route="unmatched",status="404"} 1.0' in metrics


async def test_metric_list_comes_from_the_registry(app_client: httpx.AsyncClient) -> None:
    listed = (await app_client.get("/api/v1/metrics")).json()
    assert [m["name"] for m in listed] == list(METRIC_NAMES)
    assert [m["name"] for m in listed if m["thresholds"]] == list(PLANT_METRICS)
    schema = (await app_client.get("/openapi.json")).json()
    assert "/api/v1/metrics" in schema["paths"]
    assert "MetricPublic" in schema["components"]["schemas"]


async def test_changes_need_the_admin_password(app_client: httpx.AsyncClient) -> None:
    body = {"mac": MAC, "bindkey": KEY}
    first = await app_client.post("/api/v1/nodes", json=body)
    assert first.status_code == 401
    assert first.json()["error"]["code"] == "setup_required"
    assert (await app_client.get("/api/v1/auth")).json() == {
        "password_set": False,
        "authenticated": False,
    }
    short = await app_client.post("/api/v1/auth/password", json={"password": "short"})
    assert short.status_code == 422
    assert short.json()["error"]["code"] == "validation_error"
    ok = await app_client.post("/api/v1/auth/password", json={"password": "a long password"})
    assert ok.status_code == 204
    # Once set, setting it again needs the current one.
    again = await app_client.post("/api/v1/auth/password", json={"password": "another one!"})
    assert again.status_code == 401
    wrong = await app_client.post(
        "/api/v1/nodes", json=body, auth=httpx.BasicAuth("admin", "not it at all")
    )
    assert wrong.status_code == 401
    # A session cookie works too (what the browser UI uses).
    bad_login = await app_client.post("/api/v1/auth/login", json={"password": "nope nope"})
    assert bad_login.status_code == 401
    login = await app_client.post("/api/v1/auth/login", json={"password": "a long password"})
    assert login.status_code == 204
    assert "httponly" in login.headers["set-cookie"].lower()
    paired = await app_client.post("/api/v1/nodes", json=body)
    assert paired.status_code == 201, paired.text
    assert (await app_client.get("/api/v1/auth")).json()["authenticated"] is True


async def test_basic_credentials_verified_once_stop_working_when_the_password_changes(
    app_client: httpx.AsyncClient,
) -> None:
    # Basic credentials that passed scrypt are remembered (a client sending them with every
    # request no longer pays it each time); a changed password ends that at once.
    old, new = httpx.BasicAuth("admin", "the first password"), "the second password"
    body = {"mac": MAC, "bindkey": KEY}
    assert (
        await app_client.post("/api/v1/auth/password", json={"password": "the first password"})
    ).status_code == 204
    assert (await app_client.post("/api/v1/nodes", json=body, auth=old)).status_code == 201
    assert (await app_client.get("/api/v1/auth", auth=old)).json()["authenticated"] is True
    changed = await app_client.post(
        "/api/v1/auth/password",
        json={"password": new, "current_password": "the first password"},
    )
    assert changed.status_code == 204
    refused = await app_client.delete(f"/api/v1/nodes/{MAC}", auth=old)
    assert refused.status_code == 401
    assert (await app_client.get("/api/v1/auth", auth=old)).json()["authenticated"] is False
    unpaired = await app_client.delete(f"/api/v1/nodes/{MAC}", auth=httpx.BasicAuth("admin", new))
    assert unpaired.status_code == 204, unpaired.text


@pytest.mark.parametrize("bindkey", ["0011", "zz112233445566778899aabbccddeeff", KEY + "00"])
async def test_pairing_validates_the_bindkey(admin_client: httpx.AsyncClient, bindkey: str) -> None:
    response = await admin_client.post("/api/v1/nodes", json={"mac": MAC, "bindkey": bindkey})
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"


async def test_pair_configure_and_unpair_a_node(admin_client: httpx.AsyncClient) -> None:
    bad_mac = await admin_client.post("/api/v1/nodes", json={"mac": "not a mac", "bindkey": KEY})
    assert bad_mac.status_code == 422
    node = (
        await admin_client.post("/api/v1/nodes", json={"mac": "aa-bb-cc-dd-ee-01", "bindkey": KEY})
    ).json()
    assert node["mac"] == MAC
    assert node["has_bindkey"] is True
    assert "bindkey" not in node
    first = await admin_client.patch(
        f"/api/v1/nodes/{MAC}/config", json={"sampling_interval_s": 300}
    )
    second = await admin_client.patch(f"/api/v1/nodes/{MAC}/config", json={"advert_burst": 5})
    assert first.json()["config_revision"] == 1
    body = second.json()
    assert body["config_revision"] == 2
    assert body["config"]["sampling_interval_s"] == 300
    assert body["config"]["advert_burst"] == 5
    assert body["config_pending"] is True
    paired = await store_of(admin_client).paired_nodes()
    assert paired[0].config is not None
    assert paired[0].config.revision == 2
    out_of_bounds = await admin_client.patch(
        f"/api/v1/nodes/{MAC}/config", json={"advert_burst": 99}
    )
    assert out_of_bounds.status_code == 422
    assert (await admin_client.delete(f"/api/v1/nodes/{MAC}")).status_code == 204
    assert (await admin_client.get("/api/v1/nodes")).json() == []
    assert (await admin_client.delete(f"/api/v1/nodes/{MAC}")).status_code == 404
    assert await store_of(admin_client).paired_nodes() == []


async def test_plants_status_and_history(admin_client: httpx.AsyncClient) -> None:
    store = store_of(admin_client)
    await admin_client.post("/api/v1/nodes", json={"mac": MAC, "bindkey": KEY})
    created = await admin_client.post(
        "/api/v1/plants",
        json={
            "name": "Basil",
            "node_mac": MAC,
            "overrides": {"moisture_min": 35, "moisture_max": 60},
        },
    )
    assert created.status_code == 201, created.text
    plant = created.json()
    assert plant["thresholds"]["moisture_min"] == 35
    clash = await admin_client.post("/api/v1/plants", json={"name": "Mint", "node_mac": MAC})
    assert clash.status_code == 409
    readings = create_readings(MAC, 3 * 24 * 60)  # three days, one a minute
    await store.store_readings(readings)
    last = readings[-1].measured_at

    status = await admin_client.get(f"/api/v1/plants/{plant['id']}/status")
    by_metric = {m["metric"]: m for m in status.json()["metrics"]}
    # The factory's readings are days old, so they are stale now.
    assert by_metric["moisture"]["status"] == "stale"
    assert by_metric["humidity"]["status"] == "unknown"

    raw = await admin_client.get(
        f"/api/v1/plants/{plant['id']}/history",
        params={
            "metric": "moisture",
            "start": (last - timedelta(hours=2)).isoformat(),
            "end": last.isoformat(),
        },
    )
    assert raw.json()["resolution"] == "raw"
    assert len(raw.json()["points"]) == 120
    hourly = await admin_client.get(
        f"/api/v1/plants/{plant['id']}/history",
        params={
            "metric": "moisture",
            "start": T0.isoformat(),
            "end": (T0 + timedelta(days=3)).isoformat(),
        },
    )
    body = hourly.json()
    assert body["resolution"] == "hourly"
    assert len(body["points"]) == 72
    assert sum(p["count"] for p in body["points"]) == 3 * 24 * 60
    capped = await admin_client.get(
        f"/api/v1/plants/{plant['id']}/history",
        params={
            "metric": "moisture",
            "start": T0.isoformat(),
            "end": (T0 + timedelta(days=3)).isoformat(),
            "max_points": 10,
        },
    )
    assert capped.json()["resolution"] == "daily"
    assert 1 <= len(capped.json()["points"]) <= 10
    naive = await admin_client.get(
        f"/api/v1/plants/{plant['id']}/history",
        params={"metric": "moisture", "start": "2026-05-01T00:00:00", "end": "2026-05-02T00:00:00"},
    )
    assert naive.status_code == 400
    bad_metric = await admin_client.get(
        f"/api/v1/plants/{plant['id']}/history", params={"metric": "x"}
    )
    assert bad_metric.status_code == 422

    renamed = await admin_client.patch(f"/api/v1/plants/{plant['id']}", json={"name": "Thai basil"})
    assert renamed.json()["name"] == "Thai basil"
    assert (await admin_client.delete(f"/api/v1/plants/{plant['id']}")).status_code == 204
    missing = await admin_client.get(f"/api/v1/plants/{plant['id']}")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"


async def test_ready_when_the_scheduler_runs(hub_settings: HubSettings) -> None:
    app = create_app(hub_settings)  # scheduler started by the lifespan
    async with (
        LifespanManager(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hub") as http,
    ):
        ready = await http.get("/readyz")
        assert ready.status_code == 200
        jobs = {job.id for job in app.state.scheduler.get_jobs()}
        assert jobs == {"sync", "alerts", "budget"}
        status = (await http.get("/api/v1/sync/status")).json()
        assert {job["id"] for job in status["schedule"]} == jobs
        assert all(job["problem"] is None for job in status["schedule"])
        assert status["clock"]["steps"] == 0


async def test_alerts_api_and_drop_metrics(admin_client: httpx.AsyncClient) -> None:
    store = store_of(admin_client)
    await admin_client.post("/api/v1/nodes", json={"mac": MAC, "bindkey": KEY})
    await store.update_node_status(
        [NodeStatus(MAC, T0, battery=5.0, drops=DropCounters(wrong_key=4, replayed=1))]
    )
    changed = await evaluate_alerts(store)
    assert changed == 2  # stale (T0 is long ago) and low battery
    alerts = (await admin_client.get("/api/v1/alerts", params={"open_only": True})).json()
    assert sorted(a["kind"] for a in alerts) == ["low_battery", "stale"]
    acked = await admin_client.post(f"/api/v1/alerts/{alerts[0]['id']}/acknowledge")
    assert acked.status_code == 200
    assert acked.json()["acknowledged_at"] is not None
    anonymous = await admin_client.post(
        f"/api/v1/alerts/{alerts[1]['id']}/acknowledge", auth=httpx.BasicAuth("admin", "wrong!!")
    )
    assert anonymous.status_code == 401
    assert (await admin_client.post("/api/v1/alerts/nope/acknowledge")).status_code == 404
    metrics = (await admin_client.get("/metrics")).text
    assert f'hub_adverts_dropped{{node="{MAC}",reason="wrong_key"}} 4.0' in metrics
    assert 'hub_sync_pending{kind="alerts"} 2.0' in metrics
    node = (await admin_client.get(f"/api/v1/nodes/{MAC}")).json()
    assert node["drops"]["total"] == 5
    assert node["battery"] == 5.0


async def test_link_with_the_cloud_unreachable_is_a_502(admin_client: httpx.AsyncClient) -> None:
    response = await admin_client.post(
        "/api/v1/link/start", json={"cloud_url": "http://127.0.0.1:9"}
    )
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "cloud_error"
    assert (await admin_client.post("/api/v1/link/poll")).status_code == 409
    status = (await admin_client.get("/api/v1/link")).json()
    assert status == {"linked": False, "cloud_url": None, "hub_id": None, "pending": None}
    not_linked = (await admin_client.post("/api/v1/sync/now")).json()
    assert not_linked["skipped"] == "not linked"
