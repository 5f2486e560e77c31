"""The sync engine against the real cloud app (embedded PostgreSQL), in-process over ASGI."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import text

from hub.settings import HubSettings
from hub.store.types import utcnow
from shared.metrics import Metric
from tests.hub.cloudlink import cloud_scalar, linked_hub
from tests.hub.conftest import Cloud
from tests.hub.factories import T0, create_readings

MAC = "AA:BB:CC:DD:EE:01"
KEY = "00112233445566778899aabbccddeeff"

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Any, Any], Awaitable[None]]


async def hub_scalar(hub: Any, sql: str) -> int:
    async with hub.store.read() as session:
        return int((await session.execute(text(sql))).scalar_one())


def small_batches(settings: HubSettings) -> HubSettings:
    return settings.model_copy(update={"sync_batch_items": 1000})


async def test_readings_nodes_alerts_and_config_reach_the_cloud(
    cloud: Cloud, hub_settings: HubSettings
) -> None:
    async with linked_hub(cloud, small_batches(hub_settings)) as hub:
        paired = await hub.http.post("/api/v1/nodes", json={"mac": MAC, "bindkey": KEY})
        assert paired.status_code == 201
        await hub.store.store_readings(create_readings(MAC, 2500))
        result = await hub.http.post("/api/v1/sync/now")
        assert result.status_code == 200, result.text
        body = result.json()
        assert body["error"] is None, body
        assert body["sent"]["readings"] == 2500
        assert cloud_scalar(cloud, "select count(*) from readings") == 2500
        assert await hub_scalar(hub, "select count(*) from readings where sync_state = 0") == 0
        assert await hub_scalar(hub, "select count(*) from sync_batches") == 3
        status = (await hub.http.get("/api/v1/sync/status")).json()
        ledger = {e["kind"]: e for e in status["ledger"]}
        assert status["linked"] is True
        assert ledger["readings"]["pending"] == 0
        assert ledger["readings"]["items_sent"] == 2500
        assert ledger["readings"]["bytes_sent"] > 0
        assert ledger["readings"]["last_success_at"] is not None
        assert ledger["nodes"]["pending"] == 0

        # The gardener configures the plant and the node in the cloud; the hub mirrors both.
        nodes = (await cloud.http.get("/api/v1/nodes", headers=hub.user.headers)).json()
        assert [n["mac"] for n in nodes] == [MAC]
        plant = await cloud.http.post(
            "/api/v1/plants",
            json={"name": "Basil", "node_id": nodes[0]["id"], "species_id": 1},
            headers=hub.user.headers,
        )
        assert plant.status_code == 201, plant.text
        config = await cloud.http.put(
            f"/api/v1/nodes/{nodes[0]['id']}/config",
            json={"sampling_interval_s": 120},
            headers=hub.user.headers,
        )
        assert config.status_code == 200, config.text
        second = (await hub.http.post("/api/v1/sync/now")).json()
        assert second["error"] is None, second
        assert "readings" not in second["sent"]  # nothing new to send
        plants = (await hub.http.get("/api/v1/plants")).json()
        assert [(p["name"], p["origin"], p["node_mac"]) for p in plants] == [
            ("Basil", "cloud", MAC)
        ]
        assert plants[0]["thresholds"] != {}  # species thresholds came along
        node_config = (await hub.store.paired_nodes())[0].config
        assert node_config is not None
        assert node_config.sampling_interval_s == 120
        # While linked, plants are managed in the cloud.
        local = await hub.http.post("/api/v1/plants", json={"name": "Mint"})
        assert local.status_code == 409

        # An alert raised on the hub reaches the cloud too.
        from hub.alerts import service as alerts

        await hub.store.write(
            lambda s: alerts.open_alert(
                s, alerts.AlertKind.STALE, "Basil: no data", utcnow(), node_mac=MAC
            )
        )
        third = (await hub.http.post("/api/v1/sync/now")).json()
        assert third["sent"].get("alerts") == 1, third


async def test_partial_rejects_are_kept_with_their_reason(
    cloud: Cloud, hub_settings: HubSettings
) -> None:
    async with linked_hub(cloud, hub_settings) as hub:
        await hub.http.post("/api/v1/nodes", json={"mac": MAC, "bindkey": KEY})
        good = create_readings(MAC, 10)
        future = replace(good[0], measured_at=utcnow() + timedelta(days=2), seq=999)
        await hub.store.store_readings([*good, future])
        body = (await hub.http.post("/api/v1/sync/now")).json()
        assert body["sent"]["readings"] == 10
        assert body["rejected"]["readings"] == 1
        async with hub.store.read() as session:
            rows = (
                await session.execute(
                    text("select seq, reject_reason from readings where sync_state = 2")
                )
            ).all()
        assert len(rows) == 1
        assert rows[0][0] == 999
        assert rows[0][1].startswith("future")
        status = (await hub.http.get("/api/v1/sync/status")).json()
        assert {e["kind"]: e["rejected"] for e in status["ledger"]}["readings"] == 1
        shown = (await hub.http.get("/api/v1/sync/rejected", params={"kind": "readings"})).json()
        assert [(r["node_mac"], r["reason"][:6]) for r in shown] == [(MAC, "future")]
        assert cloud_scalar(cloud, "select count(*) from readings") == 10


class FlakyCloud:
    """ASGI middleware in front of the real cloud: fails the next requests on demand, or lets
    the cloud handle a request and then loses its answer (a crash before the ack landed)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.fail: list[tuple[int, dict[str, str]]] = []
        self.lose_answers = 0
        self.down = False
        self.calls: list[str] = []

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self.calls.append(scope["path"])
        if self.fail and "/sync/readings" in scope["path"]:
            status, headers = self.fail.pop(0)
            await send(
                {
                    "type": "http.response.start",
                    "status": status,
                    "headers": [(k.encode(), v.encode()) for k, v in headers.items()],
                }
            )
            await send({"type": "http.response.body", "body": b"{}"})
            return
        if self.lose_answers and "/sync/readings" in scope["path"]:
            self.lose_answers -= 1

            async def swallow(message: Any) -> None:
                return None

            await self.app(scope, receive, swallow)
            raise ConnectionResetError("the hub died before reading the ack")
        await self.app(scope, receive, send)


class DownTransport(httpx.AsyncBaseTransport):
    """The cloud unreachable until ``up`` is set."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.up = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if not self.up:
            raise httpx.ConnectError("connection refused", request=request)
        return await self.inner.handle_async_request(request)


async def test_cloud_down_500_and_429_back_off_then_catch_up(
    cloud: Cloud, hub_settings: HubSettings
) -> None:
    flaky = FlakyCloud(cloud.app)
    transport = DownTransport(httpx.ASGITransport(app=flaky))
    transport.up = True
    # One batch in flight so which batch meets the injected failure is deterministic.
    settings = small_batches(hub_settings).model_copy(update={"sync_concurrency": 1})
    async with linked_hub(cloud, settings, transport=transport) as hub:
        await hub.http.post("/api/v1/nodes", json={"mac": MAC, "bindkey": KEY})
        await hub.store.store_readings(create_readings(MAC, 1500))

        transport.up = False
        calls_before = len(flaky.calls)
        down = (await hub.http.post("/api/v1/sync/now")).json()
        assert "unreachable" in down["error"]
        assert len(flaky.calls) == calls_before
        assert hub.engine.backoff_remaining_s >= 0
        skipped = await hub.engine.run()  # a scheduled run inside the backoff does nothing
        # Under load the few-ms test backoff may have passed before run(): then it tried the
        # (still down) cloud and failed again, which restarts the backoff.
        assert skipped.skipped == "backoff" or "unreachable" in (skipped.error or "")

        transport.up = True
        flaky.fail = [(500, {})]
        failed = (await hub.http.post("/api/v1/sync/now")).json()
        assert "500" in failed["error"]
        flaky.fail = [(429, {"Retry-After": "0.05"})]
        throttled = (await hub.http.post("/api/v1/sync/now")).json()
        assert "429" in throttled["error"]
        assert hub.engine.backoff_remaining_s > 0
        status = (await hub.http.get("/api/v1/sync/status")).json()
        ledger = {e["kind"]: e for e in status["ledger"]}
        assert "429" in ledger["readings"]["last_error"]
        assert ledger["readings"]["pending"] == 1500
        assert ledger["nodes"]["last_success_at"] is not None

        ok = (await hub.http.post("/api/v1/sync/now")).json()
        assert ok["error"] is None, ok
        assert cloud_scalar(cloud, "select count(*) from readings") == 1500
        assert hub.engine.backoff_remaining_s == 0
        # The batch persisted before the first failed send was the one finally acked.
        batches = await hub_scalar(hub, "select count(*) from sync_batches where kind='readings'")
        assert batches == 2


async def test_lost_ack_resends_the_same_batch_without_duplicates(
    cloud: Cloud, hub_settings: HubSettings
) -> None:
    flaky = FlakyCloud(cloud.app)
    async with linked_hub(
        cloud, small_batches(hub_settings), transport=httpx.ASGITransport(app=flaky)
    ) as hub:
        await hub.http.post("/api/v1/nodes", json={"mac": MAC, "bindkey": KEY})
        await hub.store.store_readings(create_readings(MAC, 1000))
        flaky.lose_answers = 1
        lost = (await hub.http.post("/api/v1/sync/now")).json()
        assert lost["error"] is not None
        assert cloud_scalar(cloud, "select count(*) from readings") == 1000  # stored, not acked
        assert await hub_scalar(hub, "select count(*) from readings where sync_state = 0") == 1000
        # New readings meanwhile must not change what the open batch holds.
        await hub.store.store_readings(
            create_readings(MAC, 10, start_seq=5000, start=T0 + timedelta(days=10))
        )
        again = (await hub.http.post("/api/v1/sync/now")).json()
        assert again["error"] is None, again
        assert cloud_scalar(cloud, "select count(*) from readings") == 1010
        assert await hub_scalar(hub, "select count(*) from readings where sync_state = 0") == 0
        assert await hub_scalar(hub, "select count(*) from sync_batches") == 2
        assert cloud_scalar(cloud, "select count(*) from ingest_batches") == 2


async def test_the_hub_reports_its_pending_items_and_the_garden_shows_them(
    cloud: Cloud, hub_settings: HubSettings
) -> None:
    flaky = FlakyCloud(cloud.app)
    settings = small_batches(hub_settings).model_copy(update={"sync_concurrency": 1})
    async with linked_hub(cloud, settings, transport=httpx.ASGITransport(app=flaky)) as hub:
        await hub.http.post("/api/v1/nodes", json={"mac": MAC, "bindkey": KEY})
        await hub.store.store_readings(create_readings(MAC, 2500))

        async def hub_health() -> dict[str, Any]:
            garden = await cloud.http.get("/api/v1/garden", headers=hub.user.headers)
            assert garden.status_code == 200, garden.text
            (only,) = garden.json()["hubs"]
            return dict(only)

        before = await hub_health()
        assert (before["pending"], before["pending_total"]) == (None, None)

        # One batch of 1000 this pass: 1500 readings are left, the oldest the 1001st.
        partial_pass = await hub.engine.run(max_batches=1)
        assert partial_pass.error is None
        health = await hub_health()
        assert health["pending"]["readings"] == 1500
        assert health["pending_total"] == 1500
        assert health["last_sync_error"] is None
        oldest = T0 + timedelta(minutes=1000)
        assert health["oldest_pending_reading_at"].replace("Z", "+00:00") == oldest.isoformat()
        assert health["pending_reported_at"] is not None

        # A failed phase is reported with what it left pending.
        flaky.fail = [(503, {})]
        failed = await hub.engine.run(force=True)
        assert failed.error is not None
        assert "503" in failed.error
        health = await hub_health()
        assert health["pending"]["readings"] == 1500
        assert "503" in health["last_sync_error"]

        done = await hub.engine.run(force=True)
        assert done.error is None, done
        health = await hub_health()
        assert health["pending_total"] == 0
        assert health["oldest_pending_reading_at"] is None
        assert health["last_sync_error"] is None


async def test_alerts_reach_the_cloud_with_the_value_they_opened_on(
    cloud: Cloud, hub_settings: HubSettings
) -> None:
    """The cloud writes a hub's alert in its reader's units: it needs the value and limit."""
    async with linked_hub(cloud, hub_settings) as hub:
        await hub.http.post("/api/v1/nodes", json={"mac": MAC, "bindkey": KEY})
        assert (await hub.http.post("/api/v1/sync/now")).json()["error"] is None
        from hub.alerts import service as alerts

        await hub.store.write(
            lambda s: alerts.open_alert(
                s,
                alerts.AlertKind.HIGH,
                "temperature high",
                utcnow(),
                node_mac=MAC,
                metric=Metric.TEMPERATURE,
                value=31.0,
                bound=25.0,
                subject="Sill node",
            )
        )
        synced = (await hub.http.post("/api/v1/sync/now")).json()
        assert synced["sent"].get("alerts") == 1, synced
        me = await cloud.http.patch(
            "/api/v1/auth/me", json={"temperature_unit": "F"}, headers=hub.user.headers
        )
        assert me.status_code == 200
        (alert,) = (await cloud.http.get("/api/v1/alerts", headers=hub.user.headers)).json()
        assert (alert["source"], alert["metric"]) == ("hub", "temperature")
        assert (alert["value"], alert["threshold"]) == (31.0, 25.0)
        assert alert["message"] == "Sill node: temperature 31.0 °C above 25.0 °C"


async def test_both_tiers_judge_light_by_the_same_days(
    cloud: Cloud, hub_settings: HubSettings
) -> None:
    """The same readings on the hub and (synced) in the cloud: the same light status and the
    same daily light integrals, from the one rule in shared.plant_status."""
    from hub.ble.ports import DecodedReading

    async with linked_hub(cloud, hub_settings) as hub:
        await hub.http.post("/api/v1/nodes", json={"mac": MAC, "bindkey": KEY})
        assert (await hub.http.post("/api/v1/sync/now")).json()["error"] is None
        nodes = (await cloud.http.get("/api/v1/nodes", headers=hub.user.headers)).json()
        limits = {"light_lux_min": 2000, "light_lux_max": 60000, "dli_min": 8, "dli_max": 30}
        plant = await cloud.http.post(
            "/api/v1/plants",
            json={"name": "Fig", "node_id": nodes[0]["id"], "overrides": limits},
            headers=hub.user.headers,
        )
        assert plant.status_code == 201, plant.text
        now = utcnow()
        today = datetime.combine(now.date(), datetime.min.time(), UTC)
        dim_day = [
            DecodedReading(
                node_mac=MAC,
                measured_at=today - timedelta(days=1) + timedelta(minutes=20 + 60 * h),
                values={Metric.ILLUMINANCE: 150.0 + 10 * h},
                seq=h,
            )
            for h in range(24)
        ]
        bright_now = DecodedReading(
            node_mac=MAC,
            measured_at=now - timedelta(minutes=1),
            values={Metric.ILLUMINANCE: 20000.0},
            seq=24,
        )
        await hub.store.store_readings([*dim_day, bright_now])
        synced = (await hub.http.post("/api/v1/sync/now")).json()
        assert synced["error"] is None, synced
        assert synced["sent"]["readings"] == 25

        def light(status: dict[str, Any]) -> dict[str, Any]:
            return dict(next(m for m in status["metrics"] if m["metric"] == "illuminance"))

        hub_plants = (await hub.http.get("/api/v1/plants")).json()
        (hub_plant,) = [p for p in hub_plants if p["name"] == "Fig"]
        on_hub = light((await hub.http.get(f"/api/v1/plants/{hub_plant['id']}/status")).json())
        in_cloud = light(
            (
                await cloud.http.get(
                    f"/api/v1/plants/{plant.json()['id']}/status", headers=hub.user.headers
                )
            ).json()
        )
        assert on_hub["status"] == in_cloud["status"] == "low"  # 20000 lx now; a dim day
        assert on_hub["daily"]["yesterday"] == in_cloud["daily"]["yesterday"]
        assert on_hub["daily"]["yesterday"]["samples"] == 24
        assert on_hub["daily"]["today"]["dli"] == in_cloud["daily"]["today"]["dli"] is None
        for key in ("unit", "minimum", "maximum"):
            assert on_hub["daily"][key] == in_cloud["daily"][key]
