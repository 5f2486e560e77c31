"""An app developer's journey: a typed Python client generated from the live OpenAPI with
openapi-python-client (into a temporary folder; nothing generated is committed), then, with
that client only, register, sign in, link a hub through the device flow, list plants page by
page, read a week of history and acknowledge an alert. The hub's own side of the story (asking
for a code, polling, pushing readings and an alert) is plain HTTP, as a hub would do it."""

from __future__ import annotations

import importlib
import json
import shutil
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from starlette.types import ASGIApp

from shared.sync import (
    DEVICE_CODE_GRANT,
    DEVICE_CODE_PATH,
    DEVICE_TOKEN_PATH,
    SYNC_ALERTS_PATH,
    SYNC_READINGS_PATH,
)
from tests.cloud.conftest import asgi_client

pytestmark = pytest.mark.slow
PACKAGE = "plantvita_client"


def generate_client(document: dict[str, Any], folder: Path) -> None:
    """Run openapi-python-client on the document; the package lands in ``folder/PACKAGE``."""
    spec = folder / "openapi.json"
    spec.write_text(json.dumps(document))
    config = folder / "config.yml"
    config.write_text(
        f"package_name_override: {PACKAGE}\nproject_name_override: plantvita-client\n"
    )
    bin_dir = Path(sys.executable).parent
    generator = shutil.which("openapi-python-client", path=str(bin_dir)) or "openapi-python-client"
    done = subprocess.run(
        [
            generator,
            "generate",
            "--path",
            str(spec),
            "--config",
            str(config),
            "--meta",
            "none",
            "--output-path",
            str(folder / PACKAGE),
        ],
        capture_output=True,
        text=True,
        timeout=240,
        env={"PATH": f"{bin_dir}:/usr/bin:/bin"},  # its ruff post-hook: the project's ruff
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Warning" not in done.stdout, done.stdout  # every operation and model generated


def load(name: str) -> ModuleType:
    return importlib.import_module(f"{PACKAGE}.{name}")


@pytest.fixture
def generated(tmp_path: Path, app: Any, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    generate_client(app.openapi(), tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    for module in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
        del sys.modules[module]
    return importlib.import_module(PACKAGE)


async def test_app_developer_journey_with_a_generated_client(
    generated: ModuleType, running_app: ASGIApp
) -> None:
    models = load("models")
    register = load("api.auth.register")
    login = load("api.auth.login")
    device_approve = load("api.auth.device_approve")
    create_node = load("api.nodes.create_node")
    create_plant = load("api.plants.create_plant")
    list_plants = load("api.plants.list_plants")
    plant_history = load("api.telemetry.plant_history")
    list_alerts = load("api.alerts.list_alerts")
    acknowledge = load("api.alerts.acknowledge")

    anonymous = generated.Client(base_url="http://cloud.test")
    anonymous.set_async_httpx_client(asgi_client(running_app))
    email = f"dev-{uuid.uuid4().hex[:8]}@example.org"
    password = "an app developer's passphrase"

    # Register and sign in.
    created = await register.asyncio_detailed(
        client=anonymous, body=models.UserCreate(email=email, password=password)
    )
    assert created.status_code == 201, created.content
    assert created.headers["location"] == "/api/v1/auth/me"
    assert created.parsed.email == email
    tokens = await login.asyncio(
        client=anonymous,
        body=models.BodyLogin(username=email, password=password, grant_type="password"),
    )
    assert isinstance(tokens, models.TokenPair), tokens
    app_client = generated.AuthenticatedClient(
        base_url="http://cloud.test", token=tokens.access_token
    )
    http = asgi_client(running_app)
    http.headers["Authorization"] = f"Bearer {tokens.access_token}"  # what the client would set
    app_client.set_async_httpx_client(http)
    # A wrong password is the one documented error body, typed.
    refused = await login.asyncio(
        client=anonymous,
        body=models.BodyLogin(username=email, password="wrong", grant_type="password"),
    )
    assert isinstance(refused, models.ErrorBody), refused
    assert refused.error.code == "unauthorized"

    # Link a hub: the hub asks for a code, the app approves it, the hub collects its token.
    async with asgi_client(running_app, "192.0.2.7") as hub_http:
        grant = (await hub_http.post(DEVICE_CODE_PATH, json={"hub_name": "Balcony hub"})).json()
        approved = await device_approve.asyncio(
            client=app_client, body=models.DeviceApproval(user_code=grant["user_code"])
        )
        assert isinstance(approved, models.DeviceApprovalResult), approved
        assert approved.status.value == "approved"
        token = await hub_http.post(
            DEVICE_TOKEN_PATH,
            data={"grant_type": DEVICE_CODE_GRANT, "device_code": grant["device_code"]},
        )
        assert token.status_code == 200, token.text
        hub_id = token.json()["hub_id"]
        hub_headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        assert str(approved.hub_id) == hub_id

        # The app registers a node on the hub and two plants, one on the node.
        node = await create_node.asyncio_detailed(
            client=app_client, body=models.NodeCreate(mac="AA:BB:CC:44:55:66", hub_id=hub_id)
        )
        assert node.status_code == 201, node.content
        basil = await create_plant.asyncio(
            client=app_client, body=models.PlantCreate(name="Basil", node_id=node.parsed.id)
        )
        assert isinstance(basil, models.PlantPublic), basil
        await create_plant.asyncio(client=app_client, body=models.PlantCreate(name="Aloe"))

        # A week of hourly readings and one alert arrive from the hub.
        now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        readings = [
            {
                "node_mac": "AA:BB:CC:44:55:66",
                "measured_at": (now - timedelta(hours=h)).isoformat(),
                "moisture": 40.0 + h % 5,
                "temperature": 21.0,
            }
            for h in range(7 * 24)
        ]
        pushed = await hub_http.post(
            SYNC_READINGS_PATH,
            json={"batch_id": str(uuid.uuid4()), "readings": readings},
            headers=hub_headers,
        )
        assert pushed.json()["accepted"] == 7 * 24
        alert = {
            "local_id": str(uuid.uuid4()),
            "node_mac": "AA:BB:CC:44:55:66",
            "kind": "low",
            "metric": "moisture",
            "message": "Basil is dry",
            "opened_at": now.isoformat(),
        }
        sent = await hub_http.post(
            SYNC_ALERTS_PATH,
            json={"batch_id": str(uuid.uuid4()), "alerts": [alert]},
            headers=hub_headers,
        )
        assert sent.status_code == 200, sent.text

    # List plants a page at a time, following the Link header the client hands back.
    first = await list_plants.asyncio_detailed(client=app_client, limit=1)
    assert [p.name for p in first.parsed] == ["Aloe"]
    next_url = httpx.Response(200, headers=dict(first.headers)).links["next"]["url"]
    cursor = httpx.URL(next_url).params["cursor"]
    second = await list_plants.asyncio_detailed(client=app_client, limit=1, cursor=cursor)
    assert [p.name for p in second.parsed] == ["Basil"]
    assert "link" not in second.headers

    # A week of history: typed points at an automatic resolution.
    week = await plant_history.asyncio(
        basil.id, client=app_client, start=now - timedelta(days=7), end=now + timedelta(hours=1)
    )
    assert isinstance(week, models.History), week
    assert week.resolution.value == "raw"
    assert len(week.points) == 7 * 24
    assert week.points[-1].moisture is not None

    # The alert is there; acknowledging it says so.
    alerts = await list_alerts.asyncio(client=app_client)
    assert [a.message for a in alerts] == ["Basil is dry"]
    acknowledged = await acknowledge.asyncio(alerts[0].id, client=app_client)
    assert isinstance(acknowledged, models.AlertPublic), acknowledged
    assert acknowledged.status.value == "acknowledged"
    missing = await acknowledge.asyncio(uuid.uuid4(), client=app_client)
    assert isinstance(missing, models.ErrorBody)
    assert missing.error.code == "not_found"
