"""Helpers for hub tests against the real cloud: link a hub app through the device flow."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
import psycopg

from cloud.db.engine import libpq_url
from hub.app import create_app
from hub.hub_store import HubStore
from hub.settings import HubSettings
from hub.sync.service import SyncEngine
from shared.sync import DEVICE_APPROVE_PATH
from tests.cloud.factories import UserAuth, create_user
from tests.hub.conftest import ADMIN_PASSWORD, Cloud
from tests.lifespan import LifespanManager


@dataclass
class LinkedHub:
    """A hub app linked to a cloud user."""

    http: httpx.AsyncClient
    user: UserAuth

    @property
    def store(self) -> HubStore:
        return self.http.app.state.store  # type: ignore[attr-defined,no-any-return]

    @property
    def engine(self) -> SyncEngine:
        return self.http.app.state.sync  # type: ignore[attr-defined,no-any-return]


@asynccontextmanager
async def linked_hub(
    cloud: Cloud,
    settings: HubSettings,
    transport: httpx.AsyncBaseTransport | None = None,
    user: UserAuth | None = None,
) -> AsyncIterator[LinkedHub]:
    """Start a hub app whose cloud calls go to ``cloud`` and link it with the device flow."""
    settings = settings.model_copy(update={"cloud_url": "http://cloud.test"})
    app = create_app(settings, cloud_transport=transport or cloud.transport(), run_scheduler=False)
    user = user or await create_user(cloud.http)
    async with (
        LifespanManager(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://hub.test",
            auth=httpx.BasicAuth("admin", ADMIN_PASSWORD),
        ) as http,
    ):
        http.app = app  # type: ignore[attr-defined]
        assert (
            await http.post("/api/v1/auth/password", json={"password": ADMIN_PASSWORD})
        ).status_code == 204
        status = await http.get("/api/v1/link")
        if not status.json()["linked"]:
            started = await http.post("/api/v1/link/start", json={})
            assert started.status_code == 200, started.text
            code = started.json()["pending"]["user_code"]
            pending = await http.post("/api/v1/link/poll")
            assert pending.json()["linked"] is False
            approved = await cloud.http.post(
                DEVICE_APPROVE_PATH, json={"user_code": code}, headers=user.headers
            )
            assert approved.status_code == 200, approved.text
            done = await http.post("/api/v1/link/poll")
            assert done.json()["linked"] is True, done.text
        yield LinkedHub(http, user)


def cloud_scalar(cloud: Cloud, sql: str) -> int:
    """One integer from the cloud's database."""
    with psycopg.connect(libpq_url(cloud.database_url)) as conn:
        row = conn.execute(sql).fetchone()  # type: ignore[arg-type]
        assert row is not None
        return int(row[0])
