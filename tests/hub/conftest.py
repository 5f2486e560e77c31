"""Hub fixtures: real SQLite files in a temp dir, the real writer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from hub.settings import Environment, HubSettings
from hub.store.hub_store import HubStore, open_store


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
