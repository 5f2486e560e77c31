"""The caller's address behind proxies: X-Forwarded-For is believed only from configured trusted
proxies, and then only the entries they added, so guesses from forged addresses are limited as
the one address they really come from -- in the app and in the image's own start command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.types import ASGIApp

from cloud.proxies import client_address, parse_networks
from cloud.settings import CloudSettings
from tests.cloud.conftest import asgi_client
from tests.cloud.factories import DEFAULT_PASSWORD, create_user, login
from tests.deploy.test_cloud import CLOUD, env_of, stages
from tests.hub.loopback import free_port

LOOPBACK = parse_networks(["127.0.0.1"])


def test_forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy() -> None:
    assert client_address("203.0.113.5", "198.51.100.1", ()) == "203.0.113.5"
    assert client_address("203.0.113.5", "198.51.100.1", LOOPBACK) == "203.0.113.5"
    # The proxy appended the caller; what the caller wrote before that is ignored.
    assert client_address("127.0.0.1", "6.6.6.6, 198.51.100.1", LOOPBACK) == "198.51.100.1"
    # Two trusted hops: the rightmost address no trusted proxy added.
    chain = parse_networks(["127.0.0.1", "10.0.0.0/8"])
    assert client_address("127.0.0.1", "6.6.6.6, 198.51.100.1, 10.1.2.3", chain) == "198.51.100.1"
    # Garbage is the caller's own text: stop at the last address a proxy vouched for.
    assert client_address("127.0.0.1", "nonsense, 10.1.2.3", chain) == "10.1.2.3"
    assert client_address("127.0.0.1", "[2001:db8::7]:443", LOOPBACK) == "2001:db8::7"


def test_trusting_every_peer_is_refused() -> None:
    with pytest.raises(ValueError, match="name the proxies"):
        CloudSettings(trusted_proxies=["*"])
    with pytest.raises(ValueError, match="does not appear to be an IPv4 or IPv6 network"):
        CloudSettings(trusted_proxies=["not-an-address"])


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"login_max_failures": 3, "trusted_proxies": ["127.0.0.1"]}


async def test_behind_a_trusted_proxy_the_address_it_vouches_for_is_counted(
    client: httpx.AsyncClient, running_app: ASGIApp
) -> None:
    user = await create_user(client)

    async def attempt(forwarded: str, password: str) -> httpx.Response:
        return await client.post(
            "/api/v1/auth/token",
            data={"username": user.email, "password": password},
            headers={"X-Forwarded-For": forwarded},
        )

    # The attacker rotates the address it writes; the proxy appends the real one.
    for n in range(3):
        assert (await attempt(f"192.0.2.{n}, 198.51.100.20", "wrong guess")).status_code == 401
    assert (await attempt("192.0.2.99, 198.51.100.20", DEFAULT_PASSWORD)).status_code == 429
    # The owner, behind the same proxy at another address, is not affected.
    assert (await attempt("192.0.2.99, 198.51.100.21", DEFAULT_PASSWORD)).status_code == 200
    # A peer that is not a trusted proxy cannot claim the owner's address either.
    async with asgi_client(running_app, "203.0.113.5") as direct:
        for _ in range(3):
            forged = await direct.post(
                "/api/v1/auth/token",
                data={"username": user.email, "password": "wrong guess"},
                headers={"X-Forwarded-For": "198.51.100.21"},
            )
            assert forged.status_code == 401
    assert (await attempt("192.0.2.99, 198.51.100.21", DEFAULT_PASSWORD)).status_code == 200


# --- the image's command, run as it is -----------------------------------------------------


def image_command_and_env() -> tuple[list[str], dict[str, str]]:
    _, found = stages(CLOUD / "Dockerfile")
    runtime = found[-1]
    (cmd,) = [json.loads(rest) for keyword, rest in runtime if keyword == "CMD"]
    return cmd, env_of(runtime)


@pytest.fixture
def image_server(database_url: str, tmp_path: Path) -> Iterator[str]:
    """The cloud started with the Dockerfile's CMD and ENV (on loopback, one process)."""
    cmd, image_env = image_command_and_env()
    port = free_port()
    env = {
        **os.environ,
        **image_env,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "UVICORN_HOST": "127.0.0.1",
        "UVICORN_PORT": str(port),
        "WEB_CONCURRENCY": "1",
        "DATABASE_URL": database_url,
        "PLANTVITA_CLOUD_JWT_SECRET": uuid.uuid4().hex * 2,
        "PLANTVITA_CLOUD_STORAGE_SIGNING_KEY": uuid.uuid4().hex * 2,
        "PLANTVITA_CLOUD_STORAGE_DIR": str(tmp_path / "objects"),
        "PLANTVITA_CLOUD_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "PLANTVITA_CLOUD_WORKER_INLINE": "false",
        "PLANTVITA_CLOUD_STALE_CHECK_ENABLED": "false",
        "PLANTVITA_CLOUD_ARGON2_TIME_COST": "1",
        "PLANTVITA_CLOUD_ARGON2_MEMORY_KIB": "1024",
        "PLANTVITA_CLOUD_LOG_LEVEL": "WARNING",
    }
    env.pop("PLANTVITA_CLOUD_TRUSTED_PROXIES", None)
    process = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                stderr = process.stderr.read().decode() if process.stderr else ""
                raise RuntimeError(f"the image command did not start: {stderr[-2000:]}")
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_the_image_limits_guesses_from_fifty_forged_addresses_as_one(image_server: str) -> None:
    email = f"owner-{uuid.uuid4().hex[:8]}@example.org"
    with httpx.Client(base_url=image_server, timeout=10) as http:
        assert (
            http.post(
                "/api/v1/auth/register", json={"email": email, "password": DEFAULT_PASSWORD}
            ).status_code
            == 201
        )
        answers = [
            http.post(
                "/api/v1/auth/token",
                data={"username": email, "password": f"guess number {n}"},
                headers={"X-Forwarded-For": f"203.0.113.{n + 1}"},
            ).status_code
            for n in range(50)
        ]
    # The default per-address budget (5), then the one real address is refused.
    assert answers == [401] * 5 + [429] * 45
    # The real owner, from their own address, still gets in.
    owner = httpx.HTTPTransport(local_address="127.0.0.2")
    with httpx.Client(base_url=image_server, transport=owner, timeout=10) as http:
        response = http.post(
            "/api/v1/auth/token", data={"username": email, "password": DEFAULT_PASSWORD}
        )
        assert response.status_code == 200, response.text


async def test_in_process_the_app_ignores_forged_forwarded_for_by_default(
    database_url: str, running_app: ASGIApp
) -> None:
    # (This module trusts 127.0.0.1; a peer outside it is the "default: none" case.)
    async with asgi_client(running_app, "203.0.113.77") as attacker:
        user = await create_user(attacker)
        for n in range(3):
            response = await login(attacker, user.email, f"guess {n}")
            assert response.status_code == 401
        forged = await attacker.post(
            "/api/v1/auth/token",
            data={"username": user.email, "password": DEFAULT_PASSWORD},
            headers={"X-Forwarded-For": "198.51.100.200"},
        )
        assert forged.status_code == 429
