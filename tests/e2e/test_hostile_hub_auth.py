"""Bad admin credentials on every hub route that changes something, enumerated from the hub's
OpenAPI schema: no credentials, a wrong or malformed Basic password, forged and expired session
cookies, and a cookie from before the password changed all answer 401 in the error body, while
a valid session gets past authentication. A new write route that forgets the admin dependency
fails here. (Reads are open to the LAN by design.)"""

from __future__ import annotations

import base64
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager

from hub.app import create_app
from hub.auth.service import COOKIE_NAME, make_cookie, password_hash
from hub.settings import Environment, HubSettings
from shared.errors import ErrorBody

pytestmark = pytest.mark.timeout(120)

PASSWORD = "hub auth abuse password"
SECRET = "a session secret known to the test only"
# Routes that authenticate by the password in their body, or need none.
OWN_RULES = {
    ("POST", "/api/v1/auth/password"),
    ("POST", "/api/v1/auth/login"),
    ("POST", "/api/v1/auth/logout"),
}


@pytest.fixture
async def hub(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    settings = HubSettings(
        environment=Environment.TEST,
        data_dir=tmp_path / "hub",
        cloud_url=None,
        ble_enabled=False,
        session_secret=SECRET,
    )
    app = create_app(settings, run_scheduler=False)
    async with (
        LifespanManager(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
            base_url="http://hub.test",
        ) as http,
    ):
        assert (
            await http.post("/api/v1/auth/password", json={"password": PASSWORD})
        ).status_code == 204
        yield http, app.state


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
