"""The read path of "latest readings": token checks without the user row, one autocommit
statement on the read-only pool, ownership in the same statement."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import psycopg
import pytest
from fastapi import FastAPI
from starlette.types import ASGIApp

from cloud.auth import service
from cloud.db.engine import libpq_url
from cloud.errors import UnauthorizedError
from cloud.security import (
    NOT_CACHED,
    AccessClaims,
    AccessTokenMemo,
    encode_access_token,
)
from cloud.settings import CloudSettings
from tests.cloud.factories import create_hub, create_node, create_plant, create_user

LATEST = "/api/v1/readings/latest"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def error_code(response: httpx.Response) -> str:
    code: str = response.json()["error"]["code"]
    return code


async def test_read_endpoints_refuse_what_current_user_refuses(
    client: httpx.AsyncClient, settings: CloudSettings
) -> None:
    user = await create_user(client)
    assert (await client.get(LATEST, headers=user.headers)).status_code == 200
    missing = await client.get(LATEST)
    assert (missing.status_code, error_code(missing)) == (401, "unauthorized")
    forged = encode_access_token(user.id, "another-secret-of-enough-length-000000", "HS256", 600)
    assert (await client.get(LATEST, headers=bearer(forged))).status_code == 401
    expired = encode_access_token(user.id, settings.jwt_secret, "HS256", -10)
    response = await client.get(LATEST, headers=bearer(expired))
    assert response.status_code == 401
    assert "expired" in response.json()["error"]["message"]
    wrong_type = jwt.encode(
        {"sub": str(user.id), "typ": "refresh", "iat": 0, "exp": 2**40},
        settings.jwt_secret,
        algorithm="HS256",
    )
    assert (await client.get(LATEST, headers=bearer(wrong_type))).status_code == 401
    ghost = encode_access_token(uuid.uuid4(), settings.jwt_secret, "HS256", 600)
    assert (await client.get(LATEST, headers=bearer(ghost))).status_code == 401
    # Asked twice: the memoised "no such user" refuses as well.
    assert (await client.get(LATEST, headers=bearer(ghost))).status_code == 401
    hub = await create_hub(client, user)
    assert (await client.get(LATEST, headers=hub.headers)).status_code == 401
    history = await client.get(f"/api/v1/plants/{uuid.uuid4()}/readings", headers=hub.headers)
    assert history.status_code == 401


async def test_password_change_revokes_older_tokens_on_reads_at_once(
    client: httpx.AsyncClient, settings: CloudSettings, database_url: str
) -> None:
    user = await create_user(client)
    now = datetime.now(UTC)
    # An account from ten minutes ago, so a token from five minutes ago predates the change.
    async with await psycopg.AsyncConnection.connect(libpq_url(database_url)) as conn:
        await conn.execute(
            "UPDATE users SET password_changed_at = %s WHERE id = %s",
            (now - timedelta(minutes=10), user.id),
        )
    older = jwt.encode(
        {
            "sub": str(user.id),
            "typ": "access",
            "iat": int((now - timedelta(minutes=5)).timestamp()),
            "exp": int((now + timedelta(minutes=5)).timestamp()),
        },
        settings.jwt_secret,
        algorithm="HS256",
    )
    # Accepted once, so its claims and the user's floor are memoised...
    assert (await client.get(LATEST, headers=bearer(older))).status_code == 200
    changed = await client.post(
        "/api/v1/auth/password",
        json={"current_password": user.password, "new_password": "a brand new passphrase"},
        headers=user.headers,
    )
    assert changed.status_code == 204
    # ...and refused right after the change, although the memo's time to live has not passed.
    refused = await client.get(LATEST, headers=bearer(older))
    assert refused.status_code == 401
    assert "password changed" in refused.json()["error"]["message"]
    fresh = (
        await client.post(
            "/api/v1/auth/token",
            data={"username": user.email, "password": "a brand new passphrase"},
        )
    ).json()["access_token"]
    assert (await client.get(LATEST, headers=bearer(fresh))).status_code == 200


async def test_a_memoised_token_still_expires(
    app: FastAPI, running_app: ASGIApp, settings: CloudSettings, client: httpx.AsyncClient
) -> None:
    user = await create_user(client)
    memo = AccessTokenMemo(floor_ttl_s=60)
    past = datetime.now(UTC) - timedelta(seconds=1)
    claims = AccessClaims(user.id, issued_at=past - timedelta(minutes=15), expires_at=past)
    memo.remember_claims("a-token-verified-earlier", claims)
    with pytest.raises(UnauthorizedError, match="expired"):
        await service.authenticate_user_id(
            app.state.read_database, memo, settings, "a-token-verified-earlier"
        )
    live = AccessClaims(user.id, issued_at=datetime.now(UTC), expires_at=past + timedelta(60))
    memo.remember_claims("a-live-token", live)
    user_id = await service.authenticate_user_id(
        app.state.read_database, memo, settings, "a-live-token"
    )
    assert user_id == user.id
    assert isinstance(memo.floor(user.id), int)


def test_floor_memo_ttl_and_invalidation() -> None:
    user = uuid.uuid4()
    off = AccessTokenMemo(floor_ttl_s=0)
    off.remember_floor(user, 1_700_000_000)
    assert off.floor(user) is NOT_CACHED

    memo = AccessTokenMemo(floor_ttl_s=60)
    memo.remember_floor(user, 1_700_000_000)
    assert memo.floor(user) == 1_700_000_000
    memo.invalidate(user)
    assert memo.floor(user) is NOT_CACHED
    # A read that looked the floor up before the change committed must not re-cache it.
    memo.remember_floor(user, 1_700_000_000)
    assert memo.floor(user) is NOT_CACHED
    ghost = uuid.uuid4()
    memo.remember_floor(ghost, None)
    assert memo.floor(ghost) is None


def test_memo_size_is_bounded() -> None:
    memo = AccessTokenMemo(floor_ttl_s=60, max_entries=3)
    users = [uuid.uuid4() for _ in range(4)]
    for user in users:
        memo.remember_floor(user, 1)
    assert sum(memo.floor(user) == 1 for user in users) <= 3
    assert memo.floor(users[-1]) == 1


async def test_read_database_refuses_writes(app: FastAPI, running_app: ASGIApp) -> None:
    async with app.state.read_database.connection() as conn:
        assert (await (await conn.execute("SELECT 1")).fetchone()) == (1,)
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            await conn.execute("UPDATE users SET email = email")


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"db_read_pool_size": 1}


async def test_latest_of_one_plant_checks_ownership_in_the_same_statement(
    client: httpx.AsyncClient,
) -> None:
    user = await create_user(client)
    stranger = await create_user(client)
    node = await create_node(client, user)
    silent = await create_plant(client, user, "Fern", node=node)
    potted = await create_plant(client, user, "Cactus")
    for plant in (silent, potted):
        path = f"/api/v1/plants/{plant['id']}/readings/latest"
        mine = await client.get(path, headers=user.headers)
        assert (mine.status_code, mine.json()) == (200, [])
        theirs = await client.get(path, headers=stranger.headers)
        assert (theirs.status_code, error_code(theirs)) == (404, "not_found")
    unknown = await client.get(
        f"/api/v1/plants/{uuid.uuid4()}/readings/latest", headers=user.headers
    )
    assert unknown.status_code == 404
    assert (await client.get(LATEST, headers=user.headers)).json() == []
