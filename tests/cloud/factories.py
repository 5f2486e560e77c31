"""Plain ``create_*`` factories that build cloud data through the real HTTP API."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from shared.sync import DEVICE_APPROVE_PATH, DEVICE_CODE_GRANT, DEVICE_CODE_PATH, DEVICE_TOKEN_PATH

DEFAULT_PASSWORD = "correct horse battery staple"


@dataclass
class UserAuth:
    """A registered, signed-in user."""

    id: uuid.UUID
    email: str
    password: str
    access_token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        """Authorization header for user routes."""
        return {"Authorization": f"Bearer {self.access_token}"}


@dataclass
class HubAuth:
    """A hub linked through the device flow, with its hub token."""

    id: uuid.UUID
    token: str
    owner: UserAuth

    @property
    def headers(self) -> dict[str, str]:
        """Authorization header for sync routes."""
        return {"Authorization": f"Bearer {self.token}"}


def random_mac() -> str:
    """A random locally administered MAC in normal form."""
    octets = [secrets.randbelow(256) for _ in range(6)]
    octets[0] = (octets[0] | 0x02) & 0xFE
    return ":".join(f"{octet:02X}" for octet in octets)


async def login(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    """POST the OAuth2 password form."""
    return await client.post("/api/v1/auth/token", data={"username": email, "password": password})


async def create_user(
    client: httpx.AsyncClient, email: str | None = None, password: str = DEFAULT_PASSWORD
) -> UserAuth:
    """Register and sign in a user."""
    email = email or f"gardener-{uuid.uuid4().hex[:10]}@example.org"
    response = await client.post(
        "/api/v1/auth/register", json={"email": email, "password": password}
    )
    assert response.status_code == 201, response.text
    user_id = uuid.UUID(response.json()["id"])
    tokens = await login(client, email, password)
    assert tokens.status_code == 200, tokens.text
    body = tokens.json()
    return UserAuth(user_id, email, password, body["access_token"], body["refresh_token"])


async def create_hub(
    client: httpx.AsyncClient, user: UserAuth, name: str = "Balcony hub"
) -> HubAuth:
    """Link a hub for ``user`` with the RFC 8628 device flow."""
    grant = await client.post(DEVICE_CODE_PATH, json={"hub_name": name})
    assert grant.status_code == 200, grant.text
    codes = grant.json()
    approved = await client.post(
        DEVICE_APPROVE_PATH, json={"user_code": codes["user_code"]}, headers=user.headers
    )
    assert approved.status_code == 200, approved.text
    token = await client.post(
        DEVICE_TOKEN_PATH,
        data={"grant_type": DEVICE_CODE_GRANT, "device_code": codes["device_code"]},
    )
    assert token.status_code == 200, token.text
    body = token.json()
    return HubAuth(uuid.UUID(body["hub_id"]), body["access_token"], user)


async def create_node(
    client: httpx.AsyncClient,
    user: UserAuth,
    mac: str | None = None,
    hub: HubAuth | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """Register a node for ``user`` through the nodes API."""
    payload: dict[str, Any] = {"mac": mac or random_mac(), **fields}
    if hub is not None:
        payload["hub_id"] = str(hub.id)
    response = await client.post("/api/v1/nodes", json=payload, headers=user.headers)
    assert response.status_code == 201, response.text
    node: dict[str, Any] = response.json()
    return node


async def create_plant(
    client: httpx.AsyncClient,
    user: UserAuth,
    name: str = "Basil",
    node: dict[str, Any] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """Create a plant for ``user`` (optionally on ``node``)."""
    payload: dict[str, Any] = {"name": name, **fields}
    if node is not None:
        payload["node_id"] = node["id"]
    response = await client.post("/api/v1/plants", json=payload, headers=user.headers)
    assert response.status_code == 201, response.text
    plant: dict[str, Any] = response.json()
    return plant
