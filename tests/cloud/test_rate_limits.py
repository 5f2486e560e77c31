"""Limits beyond login: registration, refresh, password change and hub linking answer 429 with
``Retry-After`` and ``RateLimit-*`` (the device-token poll answers RFC 8628 ``slow_down``), from
one helper whose counters live in PostgreSQL."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from starlette.types import ASGIApp

from cloud.ratelimit import RateRule
from cloud.settings import CloudSettings
from shared.sync import DEVICE_APPROVE_PATH, DEVICE_CODE_GRANT, DEVICE_CODE_PATH, DEVICE_TOKEN_PATH
from tests.cloud.conftest import asgi_client
from tests.cloud.factories import DEFAULT_PASSWORD, create_user


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {
        "rate_limit_register": "3/3600",
        "rate_limit_refresh": "3/60",
        "rate_limit_password_change": "2/900",
        "rate_limit_device_code": "2/3600",
        "rate_limit_device_token": "3/60",
        "rate_limit_device_approve": "2/900",
    }


def assert_limited(response: httpx.Response, limit: int, window_s: int) -> None:
    assert response.status_code == 429, response.text
    assert response.json()["error"]["code"] == "rate_limited"
    assert_headers(response, limit, window_s, remaining=0)
    assert 0 < int(response.headers["Retry-After"]) <= window_s
    assert response.headers["Retry-After"] == response.headers["RateLimit-Reset"]


def assert_headers(response: httpx.Response, limit: int, window_s: int, remaining: int) -> None:
    assert response.headers["RateLimit-Limit"] == str(limit)
    assert response.headers["RateLimit-Remaining"] == str(remaining)
    assert 0 < int(response.headers["RateLimit-Reset"]) <= window_s
    assert response.headers["RateLimit-Policy"] == f"{limit};w={window_s}"


def new_account() -> dict[str, str]:
    return {"email": f"new-{uuid.uuid4().hex[:8]}@example.org", "password": DEFAULT_PASSWORD}


async def test_registration_is_limited_per_address(
    client: httpx.AsyncClient, running_app: ASGIApp
) -> None:
    for remaining in (2, 1, 0):
        created = await client.post("/api/v1/auth/register", json=new_account())
        assert created.status_code == 201
        assert_headers(created, 3, 3600, remaining)
    assert_limited(await client.post("/api/v1/auth/register", json=new_account()), 3, 3600)
    async with asgi_client(running_app, "198.51.100.30") as elsewhere:
        assert (
            await elsewhere.post("/api/v1/auth/register", json=new_account())
        ).status_code == 201


async def test_refresh_is_limited_per_address_and_guesses_count(
    client: httpx.AsyncClient, running_app: ASGIApp
) -> None:
    async with asgi_client(running_app, "198.51.100.31") as owner_address:
        user = await create_user(owner_address)
    for n in range(3):
        guess = await client.post("/api/v1/auth/refresh", json={"refresh_token": f"pvr_guess{n}"})
        assert guess.status_code == 401
    refused = await client.post("/api/v1/auth/refresh", json={"refresh_token": user.refresh_token})
    assert_limited(refused, 3, 60)
    async with asgi_client(running_app, "198.51.100.31") as owner_address:
        rotated = await owner_address.post(
            "/api/v1/auth/refresh", json={"refresh_token": user.refresh_token}
        )
        assert rotated.status_code == 200
        assert_headers(rotated, 3, 60, remaining=2)  # its first refresh there


async def test_password_change_is_limited_per_user(client: httpx.AsyncClient) -> None:
    user = await create_user(client)
    other = await create_user(client)
    wrong = {"current_password": "not the password", "new_password": "a new long passphrase"}
    for _ in range(2):
        response = await client.post("/api/v1/auth/password", json=wrong, headers=user.headers)
        assert response.status_code == 401
    right = {"current_password": DEFAULT_PASSWORD, "new_password": "a new long passphrase"}
    assert_limited(
        await client.post("/api/v1/auth/password", json=right, headers=user.headers), 2, 900
    )
    changed = await client.post("/api/v1/auth/password", json=right, headers=other.headers)
    assert changed.status_code == 204
    assert_headers(changed, 2, 900, remaining=1)


async def test_device_code_requests_are_limited_per_address(client: httpx.AsyncClient) -> None:
    for remaining in (1, 0):
        grant = await client.post(DEVICE_CODE_PATH, json={"hub_name": "Balcony"})
        assert grant.status_code == 200
        assert_headers(grant, 2, 3600, remaining)
    assert_limited(await client.post(DEVICE_CODE_PATH, json={"hub_name": "Balcony"}), 2, 3600)


async def test_device_token_guessing_answers_slow_down_with_retry_after(
    client: httpx.AsyncClient, running_app: ASGIApp
) -> None:
    async with asgi_client(running_app, "198.51.100.32") as hub:
        grant = (await hub.post(DEVICE_CODE_PATH, json={"hub_name": "Balcony"})).json()
    for n in range(3):
        guess = await client.post(
            DEVICE_TOKEN_PATH, data={"grant_type": DEVICE_CODE_GRANT, "device_code": f"guess{n}"}
        )
        assert guess.json()["error"] == "invalid_grant"
    # Past the budget even the real code is answered slow_down (RFC 8628 §3.5), with the wait.
    refused = await client.post(
        DEVICE_TOKEN_PATH,
        data={"grant_type": DEVICE_CODE_GRANT, "device_code": grant["device_code"]},
    )
    assert refused.status_code == 400
    assert refused.json()["error"] == "slow_down"
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    assert_headers(refused, 3, 60, remaining=0)
    # The hub polling from its own address is unaffected.
    async with asgi_client(running_app, "198.51.100.32") as hub:
        pending = await hub.post(
            DEVICE_TOKEN_PATH,
            data={"grant_type": DEVICE_CODE_GRANT, "device_code": grant["device_code"]},
        )
        assert pending.json()["error"] == "authorization_pending"


async def test_user_code_guessing_is_limited_per_user(client: httpx.AsyncClient) -> None:
    user = await create_user(client)
    for guess in ("BCDF-GHJK", "BCDF-GHJL"):
        response = await client.post(
            DEVICE_APPROVE_PATH, json={"user_code": guess}, headers=user.headers
        )
        assert response.status_code == 404
    limited = await client.post(
        DEVICE_APPROVE_PATH, json={"user_code": "BCDF-GHJM"}, headers=user.headers
    )
    assert_limited(limited, 2, 900)


def test_rate_rules_are_written_count_per_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLANTVITA_CLOUD_RATE_LIMIT_REFRESH", "30/120")
    assert CloudSettings().rate_limit_refresh == RateRule(limit=30, window_s=120)
    for bad in ("30", "0/60", "ten/60", "5/0"):
        monkeypatch.setenv("PLANTVITA_CLOUD_RATE_LIMIT_REFRESH", bad)
        with pytest.raises(ValueError, match="rate_limit_refresh"):
            CloudSettings()
