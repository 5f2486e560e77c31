"""Bad admin credentials on every hub route that changes something, enumerated from the hub's
OpenAPI schema: no credentials, a wrong or malformed Basic password, forged and expired session
cookies, and a cookie from before the password changed all answer 401 in the error body, while
a valid session gets past authentication. A new write route that forgets the admin dependency
fails here. (Reads are open to the LAN by design.)"""

from __future__ import annotations

import base64
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from hub.app import create_app
from hub.auth.service import COOKIE_NAME, make_cookie, password_hash
from hub.settings import Environment, HubSettings
from shared.errors import ErrorBody
from tests.lifespan import LifespanManager

pytestmark = pytest.mark.timeout(120)

PASSWORD = "hub auth abuse password"
SECRET = "a session secret known to the test only"
# Routes that authenticate by the password in their body, or need none.
OWN_RULES = {
    ("POST", "/api/v1/auth/password"),
    ("POST", "/api/v1/auth/login"),
    ("POST", "/api/v1/auth/logout"),
}


@asynccontextmanager
async def running_hub(tmp_path: Path, **overrides: Any) -> AsyncIterator[tuple[Any, Any]]:
    """The hub (in-process, admin password set) and its app."""
    settings = HubSettings(
        environment=Environment.TEST,
        data_dir=tmp_path / "hub",
        cloud_url=None,
        ble_enabled=False,
        session_secret=SECRET,
        **overrides,
    )
    app = create_app(settings, run_scheduler=False)
    async with LifespanManager(app):
        async with client_from(app, "127.0.0.1") as http:
            first = await http.post("/api/v1/auth/password", json={"password": PASSWORD})
            assert first.status_code == 204
        yield app, app.state


def client_from(app: Any, address: str) -> httpx.AsyncClient:
    """A client of the in-process hub, as if from ``address``."""
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, raise_app_exceptions=False, client=(address, 50000)),
        base_url="http://hub.test",
    )


@pytest.fixture
async def hub(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    # Hundreds of wrong passwords below: the guessing limit has its own test.
    async with running_hub(tmp_path, login_max_failures=100_000) as (app, state):
        http = client_from(app, "127.0.0.1")
        async with http:
            yield http, state


def fill(path: str) -> str:
    return path.replace("{mac}", "02:00:00:00:00:09").replace("{", "").replace("}", "")


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


async def test_every_write_route_refuses_bad_admin_credentials(
    hub: tuple[httpx.AsyncClient, Any],
) -> None:
    http, state = hub
    stored = await password_hash(state.store)
    assert stored is not None
    # A cookie signed for the password before a change, then the change.
    login = await http.post("/api/v1/auth/login", json={"password": PASSWORD})
    old_cookie = login.cookies[COOKIE_NAME]
    http.cookies.clear()
    changed = await http.post(
        "/api/v1/auth/password",
        json={"password": PASSWORD + " v2", "current_password": PASSWORD},
    )
    assert changed.status_code == 204
    stored = await password_hash(state.store)
    assert stored is not None
    expired = make_cookie(SECRET.encode(), -10, stored)
    forged = make_cookie(b"not the hub's secret at all", 3600, stored)
    bad: dict[str, tuple[dict[str, str], dict[str, str]]] = {
        "none": ({}, {}),
        "wrong password": (basic("admin", "not the password"), {}),
        "old password": (basic("admin", PASSWORD), {}),
        "malformed basic": ({"Authorization": "Basic !!!not-base64!!!"}, {}),
        "bearer scheme": ({"Authorization": "Bearer " + PASSWORD}, {}),
        "expired cookie": ({}, {COOKIE_NAME: expired}),
        "forged cookie": ({}, {COOKIE_NAME: forged}),
        "cookie from before the change": ({}, {COOKIE_NAME: old_cookie}),
        "unsigned cookie": ({}, {COOKIE_NAME: f"{int(time.time()) + 3600}."}),
    }
    good = basic("admin", PASSWORD + " v2")
    document = (await http.get("/openapi.json")).json()
    writes = [
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if method in ("post", "put", "patch", "delete") and (method.upper(), path) not in OWN_RULES
    ]
    assert len(writes) >= 10
    failures = []
    for method, path in writes:
        for label, (headers, cookies) in bad.items():
            http.cookies.clear()
            http.cookies.update(cookies)
            response = await http.request(method, fill(path), headers=headers)
            if response.status_code != 401:
                failures.append(f"{method} {path} [{label}]: {response.status_code}")
            elif ErrorBody.model_validate_json(response.content).error.code != "unauthorized":
                failures.append(f"{method} {path} [{label}]: {response.text[:100]}")
        http.cookies.clear()
        passed = await http.request(method, fill(path), headers=good)
        if passed.status_code in (401, 403) or passed.status_code >= 500:
            failures.append(f"{method} {path}: the admin password got {passed.status_code}")
    assert not failures, "\n".join(failures)


async def test_admin_password_guessing_is_rate_limited_per_address(tmp_path: Path) -> None:
    async with running_hub(tmp_path, login_max_failures=3, login_failure_window_s=300) as (
        app,
        _state,
    ):
        async with client_from(app, "192.0.2.10") as guesser:
            assert (
                await guesser.post("/api/v1/auth/login", json={"password": "guess 1"})
            ).status_code == 401
            wrong_basic = await guesser.post(
                "/api/v1/nodes", json={}, headers=basic("admin", "guess 2")
            )
            assert wrong_basic.status_code == 401
            wrong_current = await guesser.post(
                "/api/v1/auth/password",
                json={"password": "a new password!", "current_password": "guess 3"},
            )
            assert wrong_current.status_code == 401
            # Three wrong passwords by any route: the address waits, even with the right one.
            for attempt in (
                guesser.post("/api/v1/auth/login", json={"password": PASSWORD}),
                guesser.post("/api/v1/nodes", json={}, headers=basic("admin", PASSWORD)),
                guesser.post(
                    "/api/v1/auth/password",
                    json={"password": "a new password!", "current_password": PASSWORD},
                ),
            ):
                locked = await attempt
                assert locked.status_code == 429, locked.text
                assert ErrorBody.model_validate_json(locked.content).error.code == "rate_limited"
                assert 0 < int(locked.headers["Retry-After"]) <= 300
        # The owner on another device is not locked out by the guesser.
        async with client_from(app, "192.0.2.20") as owner:
            assert (
                await owner.post("/api/v1/auth/login", json={"password": PASSWORD})
            ).status_code == 204
            assert (await owner.get("/api/v1/auth")).json()["authenticated"] is True
