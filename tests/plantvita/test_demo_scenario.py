"""The demo's status loop outlives the cloud's access token (it lives 15 minutes)."""

from __future__ import annotations

import httpx
import pytest

from plantvita.demo import scenario


async def test_the_status_report_signs_in_again_when_the_token_expired() -> None:
    tokens = iter(["fresh"])
    seen: list[str] = []

    def cloud(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v1/auth/token":
            return httpx.Response(200, json={"access_token": next(tokens)})
        seen.append(request.headers["authorization"])
        if request.headers["authorization"] != "Bearer fresh":
            return httpx.Response(401, json={"error": {"code": "unauthorized"}})
        if request.url.path == "/api/v1/plants":
            return httpx.Response(200, json=[{"id": "p1"}])
        if request.url.path == "/api/v1/readings/latest":
            return httpx.Response(200, json=[{"plant_id": "p1"}])
        return httpx.Response(200, json=[])

    user = scenario.CloudUser("gardener@example.com", "pw", "expired")
    async with httpx.AsyncClient(
        transport=httpx.MockTransport(cloud), base_url="http://cloud"
    ) as http:
        summary = await scenario.cloud_summary(http, user)
    assert summary.plants == summary.plants_with_readings == 1
    assert user.access_token == "fresh"
    assert seen[0] == "Bearer expired"
    assert set(seen[1:]) == {"Bearer fresh"}


async def test_a_refused_sign_in_still_stops_the_report() -> None:
    def cloud(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"error": {"code": "unauthorized"}})

    async with httpx.AsyncClient(
        transport=httpx.MockTransport(cloud), base_url="http://cloud"
    ) as http:
        with pytest.raises(scenario.ScenarioError, match="sign in"):
            await scenario.cloud_summary(http, scenario.CloudUser("g@example.com", "pw", "x"))
