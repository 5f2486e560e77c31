"""Accounts, password login, JWT access tokens, refresh rotation and reuse detection."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
from starlette.types import ASGIApp

from cloud.security import encode_access_token
from cloud.settings import CloudSettings
from tests.cloud.conftest import asgi_client, both_database_routes
from tests.cloud.factories import DEFAULT_PASSWORD, create_hub, create_user, login

# Each test runs straight to PostgreSQL and once through PgBouncer in transaction mode.
database_route = both_database_routes

ME = "/api/v1/auth/me"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_register_rejects_duplicate_email_and_weak_password(
    client: httpx.AsyncClient,
) -> None:
    user = await create_user(client)
    again = await client.post(
        "/api/v1/auth/register", json={"email": user.email.upper(), "password": DEFAULT_PASSWORD}
    )
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "conflict"
    weak = await client.post(
        "/api/v1/auth/register", json={"email": "new@example.org", "password": "short"}
    )
    assert weak.status_code == 422
    assert weak.json()["error"]["code"] == "validation_error"
    assert "password_hash" not in str((await client.get(ME, headers=user.headers)).json())


async def test_login_with_wrong_password_is_401_in_error_body(client: httpx.AsyncClient) -> None:
    user = await create_user(client)
    response = await login(client, user.email, "not the password")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"
    unknown = await login(client, "nobody@example.org", "whatever password")
    assert unknown.status_code == 401


async def test_missing_forged_expired_and_hub_tokens_are_refused(
    client: httpx.AsyncClient, settings: CloudSettings
) -> None:
    user = await create_user(client)
    assert (await client.get(ME)).status_code == 401
    forged = encode_access_token(user.id, "another-secret-of-enough-length-000000", "HS256", 600)
    assert (await client.get(ME, headers=bearer(forged))).status_code == 401
    expired = encode_access_token(user.id, settings.jwt_secret, "HS256", -10)
    response = await client.get(ME, headers=bearer(expired))
    assert response.status_code == 401
    assert "expired" in response.json()["error"]["message"]
    wrong_type = jwt.encode(
        {"sub": str(user.id), "typ": "refresh", "iat": 0, "exp": 2**40},
        settings.jwt_secret,
        algorithm="HS256",
    )
    assert (await client.get(ME, headers=bearer(wrong_type))).status_code == 401
    ghost = encode_access_token(uuid.uuid4(), settings.jwt_secret, "HS256", 600)
    assert (await client.get(ME, headers=bearer(ghost))).status_code == 401
    hub = await create_hub(client, user)
    assert (await client.get(ME, headers=hub.headers)).status_code == 401
    assert (await client.get(ME, headers=user.headers)).status_code == 200


async def test_refresh_rotates_and_reuse_revokes_the_family(client: httpx.AsyncClient) -> None:
    user = await create_user(client)
    first = await client.post("/api/v1/auth/refresh", json={"refresh_token": user.refresh_token})
    assert first.status_code == 200
    rotated: dict[str, Any] = first.json()
    assert rotated["refresh_token"] != user.refresh_token
    assert (await client.get(ME, headers=bearer(rotated["access_token"]))).status_code == 200

    reuse = await client.post("/api/v1/auth/refresh", json={"refresh_token": user.refresh_token})
    assert reuse.status_code == 401
    assert "already used" in reuse.json()["error"]["message"]
    # The reuse revoked the whole family, including the token issued by the rotation.
    after = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": rotated["refresh_token"]}
    )
    assert after.status_code == 401


async def test_logout_revokes_refresh_token_but_not_other_logins(
    client: httpx.AsyncClient,
) -> None:
    user = await create_user(client)
    other_login = (await login(client, user.email, user.password)).json()
    assert (
        await client.post("/api/v1/auth/logout", json={"refresh_token": user.refresh_token})
    ).status_code == 204
    refused = await client.post("/api/v1/auth/refresh", json={"refresh_token": user.refresh_token})
    assert refused.status_code == 401
    still = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": other_login["refresh_token"]}
    )
    assert still.status_code == 200


async def test_change_password_revokes_refresh_tokens_and_older_access_tokens(
    client: httpx.AsyncClient, settings: CloudSettings
) -> None:
    user = await create_user(client)
    wrong = await client.post(
        "/api/v1/auth/password",
        json={"current_password": "not it at all", "new_password": "a brand new passphrase"},
        headers=user.headers,
    )
    assert wrong.status_code == 401
    changed = await client.post(
        "/api/v1/auth/password",
        json={"current_password": user.password, "new_password": "a brand new passphrase"},
        headers=user.headers,
    )
    assert changed.status_code == 204
    refresh = await client.post("/api/v1/auth/refresh", json={"refresh_token": user.refresh_token})
    assert refresh.status_code == 401
    old_claims = {
        "sub": str(user.id),
        "typ": "access",
        "iat": int((datetime.now(UTC) - timedelta(minutes=5)).timestamp()),
        "exp": int((datetime.now(UTC) + timedelta(minutes=5)).timestamp()),
    }
    old = jwt.encode(old_claims, settings.jwt_secret, algorithm="HS256")
    assert (await client.get(ME, headers=bearer(old))).status_code == 401
    assert (await login(client, user.email, user.password)).status_code == 401
    assert (await login(client, user.email, "a brand new passphrase")).status_code == 200


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"login_max_failures": 3}


async def test_login_brute_force_is_limited_per_account_and_address(
    client: httpx.AsyncClient, running_app: ASGIApp
) -> None:
    user = await create_user(client)
    for _ in range(3):
        assert (await login(client, user.email, "wrong guess 123")).status_code == 401
    blocked = await login(client, user.email, user.password)
    assert blocked.status_code == 429
    assert int(blocked.headers["Retry-After"]) > 0
    async with asgi_client(running_app, "198.51.100.7") as elsewhere:
        assert (await login(elsewhere, user.email, user.password)).status_code == 200
