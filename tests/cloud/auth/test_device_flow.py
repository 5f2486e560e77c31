"""Hub linking with the RFC 8628 device authorization grant, end to end."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from cloud.security import USER_CODE_ALPHABET
from shared.sync import (
    DEVICE_APPROVE_PATH,
    DEVICE_CODE_GRANT,
    DEVICE_CODE_PATH,
    DEVICE_TOKEN_PATH,
    SYNC_CONFIG_PATH,
    DeviceAuthorization,
    HubToken,
    OAuthError,
)
from tests.cloud.factories import create_user


async def poll(client: httpx.AsyncClient, device_code: str) -> httpx.Response:
    return await client.post(
        DEVICE_TOKEN_PATH, data={"grant_type": DEVICE_CODE_GRANT, "device_code": device_code}
    )


def oauth_error(response: httpx.Response) -> str:
    assert response.status_code == 400, response.text
    return OAuthError.model_validate(response.json()).error


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"device_poll_interval_s": 5}


async def test_device_flow_pending_slow_down_approve_token_revoke(
    client: httpx.AsyncClient,
) -> None:
    user = await create_user(client)
    started = await client.post(DEVICE_CODE_PATH, data={"hub_name": "Greenhouse"})
    assert started.status_code == 200
    grant = DeviceAuthorization.model_validate(started.json())
    letters = grant.user_code.replace("-", "")
    assert len(letters) == 8
    assert set(letters) <= set(USER_CODE_ALPHABET)
    assert grant.interval == 5
    assert grant.verification_uri_complete is not None
    assert grant.user_code in grant.verification_uri_complete

    assert oauth_error(await poll(client, grant.device_code)) == "authorization_pending"
    # Polling again at once is faster than the interval: slow_down, and the interval grows.
    assert oauth_error(await poll(client, grant.device_code)) == "slow_down"
    assert oauth_error(await poll(client, grant.device_code)) == "slow_down"

    approved = await client.post(
        DEVICE_APPROVE_PATH,
        json={"user_code": grant.user_code.lower().replace("-", " ")},
        headers=user.headers,
    )
    assert approved.status_code == 200
    hub_id = approved.json()["hub_id"]
    assert approved.json()["hub_name"] == "Greenhouse"

    token_response = await poll(client, grant.device_code)
    assert token_response.status_code == 200
    assert token_response.headers["cache-control"] == "no-store"
    token = HubToken.model_validate(token_response.json())
    assert str(token.hub_id) == hub_id
    hub_headers = {"Authorization": f"Bearer {token.access_token}"}

    # The device code is single-use.
    assert oauth_error(await poll(client, grant.device_code)) == "invalid_grant"

    hubs = (await client.get("/api/v1/hubs", headers=user.headers)).json()
    assert [(h["id"], h["linked"]) for h in hubs] == [(hub_id, True)]

    # A hub token works on sync routes only; a user token never works on them.
    assert (await client.get(SYNC_CONFIG_PATH, headers=hub_headers)).status_code == 200
    assert (await client.get(SYNC_CONFIG_PATH, headers=user.headers)).status_code == 401
    assert (await client.get("/api/v1/hubs", headers=hub_headers)).status_code == 401

    # Unlinking revokes the hub token at once.
    assert (await client.delete(f"/api/v1/hubs/{hub_id}", headers=user.headers)).status_code == 204
    assert (await client.get(SYNC_CONFIG_PATH, headers=hub_headers)).status_code == 401
    hub = (await client.get(f"/api/v1/hubs/{hub_id}", headers=user.headers)).json()
    assert hub["linked"] is False
    assert hub["revoked_at"] is not None


async def test_denied_and_unknown_codes(client: httpx.AsyncClient) -> None:
    user = await create_user(client)
    grant = (await client.post(DEVICE_CODE_PATH, json={"hub_name": "Shed"})).json()
    denied = await client.post(
        DEVICE_APPROVE_PATH,
        json={"user_code": grant["user_code"], "approve": False},
        headers=user.headers,
    )
    assert denied.json() == {"status": "denied", "hub_id": None, "hub_name": None}
    assert oauth_error(await poll(client, grant["device_code"])) == "access_denied"
    again = await client.post(
        DEVICE_APPROVE_PATH, json={"user_code": grant["user_code"]}, headers=user.headers
    )
    assert again.status_code == 404
    assert oauth_error(await poll(client, "not-a-device-code")) == "invalid_grant"
    wrong_grant = await client.post(
        DEVICE_TOKEN_PATH, data={"grant_type": "password", "device_code": grant["device_code"]}
    )
    assert oauth_error(wrong_grant) == "unsupported_grant_type"
    anonymous = await client.post(DEVICE_APPROVE_PATH, json={"user_code": grant["user_code"]})
    assert anonymous.status_code == 401


async def test_expired_device_code(client: httpx.AsyncClient, database_url: str) -> None:
    import psycopg

    from cloud.db.engine import libpq_url

    user = await create_user(client)
    grant = (await client.post(DEVICE_CODE_PATH, json={})).json()
    with psycopg.connect(libpq_url(database_url), autocommit=True) as conn:
        conn.execute("UPDATE device_authorizations SET expires_at = now() - interval '1 second'")
    assert oauth_error(await poll(client, grant["device_code"])) == "expired_token"
    late = await client.post(
        DEVICE_APPROVE_PATH, json={"user_code": grant["user_code"]}, headers=user.headers
    )
    assert late.status_code == 404
