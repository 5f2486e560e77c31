"""Hub fixtures: real SQLite files in a temp dir, the real writer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from hub.app import create_app
from hub.hub_store import HubStore, open_store
from hub.settings import Environment, HubSettings
from tests.lifespan import LifespanManager


@pytest.fixture
def hub_settings(tmp_path: Path) -> HubSettings:
    """Settings for a hub living in a temp dir, no cloud, no BLE."""
    return HubSettings(
        environment=Environment.TEST,
        data_dir=tmp_path / "hub",
        cloud_url=None,
        ble_enabled=False,
        image_upload_bytes_per_s=None,
        sync_backoff_base_s=0.01,
        sync_backoff_max_s=0.05,
    )


@pytest.fixture
async def store(hub_settings: HubSettings) -> AsyncIterator[HubStore]:
    """An open store (migrated database, running writer)."""
    async with open_store(hub_settings) as opened:
        yield opened


ADMIN_PASSWORD = "correct horse battery"


@pytest.fixture
async def app_client(hub_settings: HubSettings) -> AsyncIterator[httpx.AsyncClient]:
    """The hub app (lifespan run, scheduler not started) behind an in-process client."""
    app = create_app(hub_settings, run_scheduler=False)
    async with (
        LifespanManager(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://hub.test"
        ) as client,
    ):
        client.app = app  # type: ignore[attr-defined]
        yield client


@pytest.fixture
async def admin_client(app_client: httpx.AsyncClient) -> httpx.AsyncClient:
    """The same client after first-run setup, sending the admin password (HTTP Basic)."""
    response = await app_client.post("/api/v1/auth/password", json={"password": ADMIN_PASSWORD})
    assert response.status_code == 204, response.text
    app_client.auth = httpx.BasicAuth("admin", ADMIN_PASSWORD)
    return app_client


@dataclass
class Cloud:
    """The real cloud app (lifespan running) on a fresh PostgreSQL database."""

    app: Any
    http: httpx.AsyncClient
    database_url: str
    state: Any = None  # the FastAPI app's state (engine, object store, diagnoser, settings)

    def transport(self) -> httpx.AsyncBaseTransport:
        """A transport that routes the hub's cloud calls to this app in-process."""
        return httpx.ASGITransport(app=self.app)


@pytest.fixture
async def cloud(database_url: str, tmp_path: Path) -> AsyncIterator[Cloud]:
    """The cloud app on its own migrated database, photos in a local object store."""
    from cloud.app import create_app as create_cloud_app
    from cloud.settings import CloudSettings

    settings = CloudSettings(
        database_url=database_url,
        stale_check_enabled=False,
        device_poll_interval_s=0,
        log_level="WARNING",
        db_pool_size=5,
        storage_dir=tmp_path / "objects",
        public_base_url="http://cloud.test",
        worker_inline=False,
    )
    app = create_cloud_app(settings)
    async with (
        LifespanManager(app) as manager,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=manager.app), base_url="http://cloud.test"
        ) as http,
    ):
        yield Cloud(manager.app, http, database_url, app.state)
