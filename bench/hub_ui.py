"""``python -m bench.hub_ui [--quick]``: what the gardener's pages cost the hub.

A hub store with N plants, each watched by a node with readings every 10 minutes, an open alert
and a photo record; the full hub app answers in-process (httpx ASGI transport, no sockets):

* ``overview_ms``: the garden page's one request (``GET /api/v1/web/overview``) after a new
  reading, so the overview is computed afresh, vs the same facts gathered through the domain
  endpoints a page would otherwise call — plants, then per plant its status and latest image,
  plus nodes and open alerts (baseline) — ratio reported;
* ``overview_unchanged_ms``: the same request while the garden is unchanged (the JSON computed
  for that version), and ``overview_not_modified_ms`` with its ETag in ``If-None-Match`` (304);
* ``version_ms``: the query the live event stream runs once a second per open page;
* ``plant_page_ms``: the plant page's four 1-year history requests.

Medians over repeats. Last stdout line: one JSON object of figures.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from asgi_lifespan import LifespanManager

from bench._common import emit_result, machine_info, say
from hub.app import create_app
from hub.ble.ports import DecodedReading
from hub.hub_store import HubStore, open_store
from hub.settings import Environment, HubSettings
from hub.store.types import utcnow
from hub.web import service
from shared.metrics import Metric

PASSWORD = "bench-admin-pw"


async def median_ms(fn: Callable[[], Awaitable[object]], repeats: int) -> float:
    """Median wall time of ``await fn()`` in ms."""
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        await fn()
        samples.append((time.perf_counter() - start) * 1000.0)
    return statistics.median(samples)


async def median_ms_after(
    prepare: Callable[[], Awaitable[object]], fn: Callable[[], Awaitable[object]], repeats: int
) -> float:
    """Median wall time of ``await fn()`` in ms, each after an untimed ``await prepare()``."""
    samples = []
    for _ in range(repeats):
        await prepare()
        start = time.perf_counter()
        await fn()
        samples.append((time.perf_counter() - start) * 1000.0)
    return statistics.median(samples)


def mac_of(i: int) -> str:
    return f"24:6F:28:10:{i >> 8:02X}:{i & 0xFF:02X}"


async def seed(store: HubStore, plants: int, days: int) -> int:
    """Pair ``plants`` nodes and give each ``days`` of 10-minute readings."""
    now = utcnow()
    total = 0
    for i in range(plants):
        mac = mac_of(i)
        await store.pair_node(mac, bindkey=bytes(16), name=f"Node {i}")
        batch = [
            DecodedReading(
                node_mac=mac,
                measured_at=now - timedelta(minutes=10 * k),
                values={
                    Metric.MOISTURE: 20.0 + (k % 50),
                    Metric.TEMPERATURE: 18.0 + (k % 9),
                    Metric.HUMIDITY: 50.0 + (k % 20),
                    Metric.ILLUMINANCE: float(100 * (k % 80)),
                    Metric.BATTERY: 90.0,
                },
                seq=None,
            )
            for k in range(1, days * 144)
        ]
        await store.store_readings(batch)
        total += len(batch)
    return total


async def run(plants: int, days: int, repeats: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="bench-hub-ui-") as tmp:
        settings = HubSettings(
            environment=Environment.TEST, data_dir=Path(tmp), ble_enabled=False, cloud_url=None
        )
        async with open_store(settings) as store:
            started = time.perf_counter()
            readings = await seed(store, plants, days)
            took = time.perf_counter() - started
            say(f"seeded {plants} plants, {readings} readings in {took:.1f} s")
        app = create_app(settings, run_scheduler=False)
        async with (
            LifespanManager(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://hub.bench"
            ) as http,
        ):
            assert (
                await http.post("/api/v1/auth/password", json={"password": PASSWORD})
            ).is_success
            http.auth = httpx.BasicAuth("admin", PASSWORD)
            plant_ids = []
            for i in range(plants):
                created = await http.post(
                    "/api/v1/plants",
                    json={
                        "name": f"Plant {i}",
                        "node_mac": mac_of(i),
                        "overrides": {"moisture_min": 30, "moisture_max": 60},
                    },
                )
                plant_ids.append(created.json()["id"])
            store = app.state.store
            from hub.app import evaluate_alerts

            await evaluate_alerts(store)

            async def overview() -> None:
                response = await http.get("/api/v1/web/overview")
                assert len(response.json()["cards"]) == plants

            async def new_reading() -> None:
                reading = DecodedReading(
                    node_mac=mac_of(0),
                    measured_at=utcnow(),
                    values={Metric.MOISTURE: 35.0},
                    seq=None,
                )
                await store.store_readings([reading])

            etag = ""

            async def not_modified() -> None:
                nonlocal etag
                response = await http.get("/api/v1/web/overview", headers={"If-None-Match": etag})
                if response.status_code != 304:  # the minute turned: the version moved
                    assert response.is_success
                    etag = response.headers["etag"]

            async def baseline() -> None:
                listed = (await http.get("/api/v1/plants")).json()
                await http.get("/api/v1/nodes")
                await http.get("/api/v1/alerts", params={"open_only": True})
                for plant in listed:
                    await http.get(f"/api/v1/plants/{plant['id']}/status")
                    await http.get(f"/api/v1/plants/{plant['id']}/images", params={"limit": 1})

            async def version() -> None:
                async with store.read() as session:
                    await service.overview_version(session, datetime.now(UTC))

            end = datetime.now(UTC)
            start = end - timedelta(days=365)

            async def plant_page() -> None:
                for metric in ("moisture", "temperature", "humidity", "illuminance"):
                    response = await http.get(
                        f"/api/v1/plants/{plant_ids[0]}/history",
                        params={
                            "metric": metric,
                            "start": start.isoformat(),
                            "end": end.isoformat(),
                            "max_points": 300,
                        },
                    )
                    assert response.json()["points"]

            await overview()
            await baseline()
            overview_ms = await median_ms_after(new_reading, overview, repeats)
            unchanged_ms = await median_ms(overview, repeats)
            await not_modified()  # takes the current ETag
            not_modified_ms = await median_ms(not_modified, repeats)
            baseline_ms = await median_ms(baseline, repeats)
            version_ms = await median_ms(version, repeats * 5)
            plant_page_ms = await median_ms(plant_page, repeats)
    return {
        "plants": plants,
        "readings": readings,
        "overview_ms": round(overview_ms, 2),
        "overview_unchanged_ms": round(unchanged_ms, 2),
        "overview_not_modified_ms": round(not_modified_ms, 2),
        "baseline_ms": round(baseline_ms, 2),
        "ratio": round(baseline_ms / overview_ms, 2),
        "version_ms": round(version_ms, 3),
        "plant_page_ms": round(plant_page_ms, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.hub_ui", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="10 plants x 14 days (< 60 s)")
    args = parser.parse_args()
    say("bench.hub_ui:", machine_info())
    plants, days, repeats = (10, 14, 15) if args.quick else (30, 60, 30)
    figures = asyncio.run(run(plants, days, repeats))
    say(
        f"overview {figures['overview_ms']} ms vs {figures['baseline_ms']} ms through the domain "
        f"endpoints (x{figures['ratio']}); unchanged {figures['overview_unchanged_ms']} ms, "
        f"304 {figures['overview_not_modified_ms']} ms; "
        f"live-stream check {figures['version_ms']} ms; "
        f"plant page histories {figures['plant_page_ms']} ms"
    )
    emit_result(figures)


if __name__ == "__main__":
    main()
