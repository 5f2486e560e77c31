"""HTTP conventions of the whole cloud API (cloud/conventions.py): Location on 201, ETag and
If-None-Match -> 304, Cache-Control, security headers, OPTIONS/405 Allow, and CORS."""

from __future__ import annotations

import uuid

import httpx
from fastapi import FastAPI

from cloud.app import create_app
from cloud.settings import CloudSettings
from shared.sync import SYNC_CONFIG_PATH, config_etag
from tests.cloud.conftest import asgi_client
from tests.cloud.factories import create_hub, create_node, create_plant, create_user
from tests.lifespan import LifespanManager


def test_every_201_documents_its_location(app: FastAPI) -> None:
    created = [
        (method, path, operation["responses"]["201"])
        for path, item in app.openapi()["paths"].items()
        for method, operation in item.items()
        if "201" in operation["responses"]
    ]
    assert len(created) >= 3
    missing = [
        f"{m} {p}" for m, p, answer in created if "Location" not in answer.get("headers", {})
    ]
    assert not missing, missing


async def test_201_says_where_the_new_resource_lives(client: httpx.AsyncClient) -> None:
    email = f"loc-{uuid.uuid4().hex[:8]}@example.org"
    registered = await client.post(
        "/api/v1/auth/register", json={"email": email, "password": "a long enough password"}
    )
    assert registered.status_code == 201
    assert registered.headers["location"] == "/api/v1/auth/me"
    user = await create_user(client)
    for path, body in (
        ("/api/v1/nodes", {"mac": "AA:BB:CC:00:11:22"}),
        ("/api/v1/plants", {"name": "Basil"}),
    ):
        made = await client.post(path, json=body, headers=user.headers)
        assert made.status_code == 201, made.text
        assert made.headers["location"] == f"{path}/{made.json()['id']}"
        fetched = await client.get(made.headers["location"], headers=user.headers)
        assert fetched.json() == made.json()


async def test_single_resources_answer_304_to_their_etag(client: httpx.AsyncClient) -> None:
    user = await create_user(client)
    hub = await create_hub(client, user)
    node = await create_node(client, user, hub=hub)
    plant = await create_plant(client, user, node=node)
    for path in (
        f"/api/v1/plants/{plant['id']}",
        f"/api/v1/nodes/{node['id']}",
        f"/api/v1/nodes/{node['id']}/config",
        f"/api/v1/hubs/{hub.id}",
        "/api/v1/auth/me",
        "/api/v1/species/1",
    ):
        first = await client.get(path, headers=user.headers)
        etag = first.headers["etag"]
        assert first.status_code == 200, path
        assert etag.startswith('"'), path
        again = await client.get(path, headers={**user.headers, "If-None-Match": etag})
        assert (again.status_code, again.content, again.headers["etag"]) == (304, b"", etag), path
        listed = f'"other", W/{etag}'  # a list, and a weak form of the same tag, match too
        assert (
            await client.get(path, headers={**user.headers, "If-None-Match": listed})
        ).status_code == 304
        stale = await client.get(path, headers={**user.headers, "If-None-Match": '"stale"'})
        assert stale.status_code == 200
        assert stale.json() == first.json()

    path = f"/api/v1/plants/{plant['id']}"
    before = (await client.get(path, headers=user.headers)).headers["etag"]
    renamed = await client.patch(path, json={"name": "Thai basil"}, headers=user.headers)
    assert renamed.status_code == 200
    after = await client.get(path, headers={**user.headers, "If-None-Match": before})
    assert after.status_code == 200
    assert after.json()["name"] == "Thai basil"
    assert after.headers["etag"] != before


async def test_hub_config_pull_honours_if_none_match(client: httpx.AsyncClient) -> None:
    user = await create_user(client)
    hub = await create_hub(client, user)
    first = await client.get(SYNC_CONFIG_PATH, headers=hub.headers)
    assert first.status_code == 200
    revision = first.json()["revision"]
    assert first.headers["etag"] == config_etag(revision)
    assert first.headers["cache-control"] == "private, no-cache"
    held = {**hub.headers, "If-None-Match": config_etag(revision)}
    unchanged = await client.get(SYNC_CONFIG_PATH, headers=held)
    assert (unchanged.status_code, unchanged.content) == (304, b"")
    # The revision named in If-None-Match is the hub's confirmation that it holds it.
    state = (await client.get(f"/api/v1/hubs/{hub.id}", headers=user.headers)).json()
    assert (state["config_pending"], state["config_revision_acked"]) == (False, revision)
    await create_plant(client, user, "Mint")  # a new plant: a new revision for every hub
    changed = await client.get(SYNC_CONFIG_PATH, headers=held)
    assert changed.status_code == 200
    assert changed.json()["revision"] > revision
    assert changed.headers["etag"] == config_etag(changed.json()["revision"])


async def test_cache_control_keeps_user_data_private(client: httpx.AsyncClient) -> None:
    user = await create_user(client)
    plant = await create_plant(client, user)
    for path in ("/api/v1/plants", f"/api/v1/plants/{plant['id']}", "/api/v1/auth/me"):
        answer = await client.get(path, headers=user.headers)
        assert answer.headers["cache-control"] == "private, no-cache", path
    refused = await client.get("/api/v1/plants")
    assert refused.status_code == 401
    assert "private" in refused.headers["cache-control"]
    tokens = await client.post(
        "/api/v1/auth/token", data={"username": user.email, "password": user.password}
    )
    assert tokens.headers["cache-control"] == "no-store"
    catalogue = await client.get("/api/v1/species")
    assert catalogue.headers["cache-control"].startswith("public")


async def test_security_headers_and_hsts_only_over_https(
    running_app: object, client: httpx.AsyncClient
) -> None:
    plain = await client.get("/healthz")
    assert plain.headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'none'" in plain.headers["content-security-policy"]
    assert plain.headers["x-frame-options"] == "DENY"
    assert "strict-transport-security" not in plain.headers
    missing = await client.get("/api/v1/no-such-route")
    assert missing.status_code == 404
    assert missing.headers["x-content-type-options"] == "nosniff"
    transport = httpx.ASGITransport(app=running_app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="https://cloud.test") as tls:
        secure = await tls.get("/healthz")
    assert secure.headers["strict-transport-security"].startswith("max-age=")


async def test_options_and_405_name_every_method_of_the_path(client: httpx.AsyncClient) -> None:
    user = await create_user(client)
    plant = await create_plant(client, user)
    cases = {
        "/api/v1/plants": "GET, HEAD, POST, OPTIONS",
        f"/api/v1/plants/{plant['id']}": "GET, HEAD, PATCH, DELETE, OPTIONS",
        "/api/v1/alerts/webhook": "GET, HEAD, PUT, DELETE, OPTIONS",
        "/api/v1/auth/token": "POST, OPTIONS",
    }
    for path, allow in cases.items():
        options = await client.options(path)
        assert (options.status_code, options.headers["allow"]) == (204, allow), path
        wrong = await client.request("TRACE", path, headers=user.headers)
        assert wrong.status_code == 405, path
        assert wrong.headers["allow"] == allow, path
        assert wrong.json()["error"]["code"] == "method_not_allowed"
    assert (await client.options("/api/v1/no-such-route")).status_code == 404


async def test_cors_is_off_by_default(client: httpx.AsyncClient) -> None:
    simple = await client.get("/api/v1/species", headers={"Origin": "https://app.example"})
    assert "access-control-allow-origin" not in simple.headers
    preflight = await client.options(
        "/api/v1/plants",
        headers={"Origin": "https://app.example", "Access-Control-Request-Method": "GET"},
    )
    assert "access-control-allow-origin" not in preflight.headers


async def test_cors_allows_only_the_listed_origins(settings: CloudSettings) -> None:
    allowed = "https://app.example"
    app = create_app(settings.model_copy(update={"cors_allowed_origins": [allowed]}))
    async with LifespanManager(app) as manager, asgi_client(manager.app) as client:
        user = await create_user(client)
        preflight = await client.options(
            "/api/v1/plants",
            headers={
                "Origin": allowed,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization, content-type",
            },
        )
        assert preflight.status_code == 200, preflight.text
        assert preflight.headers["access-control-allow-origin"] == allowed
        assert "POST" in preflight.headers["access-control-allow-methods"]
        listed = await client.get("/api/v1/plants", headers={**user.headers, "Origin": allowed})
        assert listed.headers["access-control-allow-origin"] == allowed
        exposed = listed.headers["access-control-expose-headers"].lower()
        assert {"link", "etag", "location", "retry-after"} <= set(
            exposed.replace(" ", "").split(",")
        )
        assert "access-control-allow-credentials" not in listed.headers
        other = await client.get(
            "/api/v1/plants", headers={**user.headers, "Origin": "https://evil.example"}
        )
        assert "access-control-allow-origin" not in other.headers
        refused = await client.options(
            "/api/v1/plants",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
        )
        assert "access-control-allow-origin" not in refused.headers


def test_cors_setting_takes_origins_only() -> None:
    parsed = CloudSettings(cors_allowed_origins="https://a.example, http://localhost:5173")
    assert parsed.cors_allowed_origins == ["https://a.example", "http://localhost:5173"]
    for bad in ("a.example", "https://a.example/path", "ftp://a.example"):
        try:
            CloudSettings(cors_allowed_origins=bad)
        except ValueError:
            continue
        raise AssertionError(f"accepted {bad!r}")
