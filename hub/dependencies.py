"""FastAPI dependencies every domain's routes share: the store, settings, read sessions, the
gateway. A domain's own dependencies live with it (the admin in ``hub.auth.dependencies``, the
sync engine in ``hub.sync.router``), so this module imports no domain."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from hub.ble.ports import GatewayControl
from hub.settings import HubSettings
from hub.store.database import Database


def get_store(request: Request) -> Database:
    """The store built in the lifespan."""
    store: Database = request.app.state.store
    return store


StoreDep = Annotated[Database, Depends(get_store)]


def get_settings(request: Request) -> HubSettings:
    """The app's settings."""
    settings: HubSettings = request.app.state.settings
    return settings


SettingsDep = Annotated[HubSettings, Depends(get_settings)]


async def read_session(store: StoreDep) -> AsyncIterator[AsyncSession]:
    """A read-only session for the request (one WAL snapshot)."""
    async with store.read() as session:
        yield session


ReadSessionDep = Annotated[AsyncSession, Depends(read_session)]


def get_gateway(request: Request) -> GatewayControl | None:
    """The BLE gateway, or None when the hub runs without radio."""
    gateway: GatewayControl | None = request.app.state.gateway
    return gateway


GatewayDep = Annotated[GatewayControl | None, Depends(get_gateway)]
