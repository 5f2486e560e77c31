"""Alert logic."""

from __future__ import annotations

import asyncio

from sqlalchemy.ext.asyncio import AsyncEngine

from cloud.observability import CloudMetrics
from cloud.settings import CloudSettings


async def run_stale_node_checks(
    engine: AsyncEngine, settings: CloudSettings, metrics: CloudMetrics
) -> None:
    """Periodically open stale-node alerts (runs in the app's lifespan)."""
    while True:  # noqa: ASYNC110 - a periodic task; cancellation ends it
        await asyncio.sleep(settings.stale_check_interval_s)
