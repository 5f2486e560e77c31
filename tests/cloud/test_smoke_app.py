"""The app starts on a migrated database and answers health probes."""

from __future__ import annotations

import httpx

from shared.metrics import METRIC_NAMES
from tests.cloud.factories import create_hub, create_user


async def test_health_and_readiness(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["database"] == "ok"


async def test_metrics_exposes_request_histogram(client: httpx.AsyncClient) -> None:
    await client.get("/healthz")
    text = (await client.get("/metrics")).text
    assert 'plantvita_cloud_request_duration_seconds_count{method="GET",route="/healthz"' in text


async def test_user_and_hub_factories(client: httpx.AsyncClient) -> None:
    user = await create_user(client)
    me = await client.get("/api/v1/auth/me", headers=user.headers)
    assert me.json()["email"] == user.email
    hub = await create_hub(client, user)
    assert hub.token.startswith("pvh_")


async def test_metric_list_is_public_and_in_the_openapi(client: httpx.AsyncClient) -> None:
    listed = (await client.get("/api/v1/metrics")).json()
    assert [m["name"] for m in listed] == list(METRIC_NAMES)
    moisture = listed[0]
    assert moisture["label"] == "Soil moisture"
    assert moisture["unit"] == "%"
    schema = (await client.get("/openapi.json")).json()
    operation = schema["paths"]["/api/v1/metrics"]["get"]
    assert operation["responses"]["200"]["content"]["application/json"]["schema"]["items"] == {
        "$ref": "#/components/schemas/MetricPublic"
    }
    points = schema["components"]["schemas"]["SeriesPoint"]["properties"]
    assert {f"{name}_max" for name in METRIC_NAMES} <= set(points)
