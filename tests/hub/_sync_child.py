"""Child process for the kill -9 during sync test: syncs the hub store at argv[1] in a loop."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import httpx

from hub.hub_store import open_store
from hub.settings import Environment, HubSettings
from hub.sync.client import CloudClient
from hub.sync.service import SyncEngine


async def main(data_dir: Path, batch_items: int) -> None:
    settings = HubSettings(
        environment=Environment.TEST,
        data_dir=data_dir,
        ble_enabled=False,
        sync_batch_items=batch_items,
    )
    async with open_store(settings) as store, httpx.AsyncClient(timeout=30) as http:
        engine = SyncEngine(store, settings, lambda url, token: CloudClient(http, url, token))
        print("ready", flush=True)
        while True:
            report = await engine.run(force=True)
            print(f"run {report.sent} {report.error}", flush=True)


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), int(sys.argv[2])))
