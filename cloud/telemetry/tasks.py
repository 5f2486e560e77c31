"""The storage maintenance job: partitions ahead, retention, pruning. Registered on the
worker's app by ``cloud.worker``; every step is idempotent, so overlapping or missed runs
are harmless (the next run catches up)."""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, cast

import procrastinate
import psycopg

from cloud.alerts.service import prune_resolved_alerts
from cloud.db.engine import libpq_url
from cloud.db.partitions import RetentionPolicy, maintain
from cloud.ingest.batches import prune_batches
from cloud.jobs.queue import QUEUE, SETTINGS_KEY, task_name

DEPS_KEY = "deps"  # where cloud.worker puts the worker's dependencies in the job context
MAINTAIN_TASK = task_name("maintain_storage")


class StorageDeps(Protocol):
    """What the job needs of ``cloud.worker.WorkerDeps``."""

    @property
    def database_url(self) -> str: ...


class RetentionSettings(Protocol):
    """The windows the job keeps (``CloudSettings`` has them)."""

    @property
    def ingest_batch_dedup_days(self) -> int: ...
    @property
    def resolved_alert_retention_days(self) -> int: ...
    def retention_policy(self) -> RetentionPolicy: ...


async def maintain_storage_now(
    url: str, settings: RetentionSettings, now: datetime | None = None
) -> dict[str, Any]:
    """One maintenance run on the database at ``url``: what it did."""
    now = now or datetime.now(UTC)
    report = await asyncio.to_thread(maintain, libpq_url(url), settings.retention_policy(), now)
    async with await psycopg.AsyncConnection.connect(libpq_url(url), autocommit=True) as conn:
        batches = await prune_batches(conn, now - timedelta(days=settings.ingest_batch_dedup_days))
        alerts = await prune_resolved_alerts(
            conn, now - timedelta(days=settings.resolved_alert_retention_days)
        )
    return {**asdict(report), "ingest_batches_pruned": batches, "alerts_pruned": alerts}


async def maintain_storage(context: procrastinate.JobContext, timestamp: int) -> dict[str, Any]:
    """Hourly: partitions for the months ahead, expired partitions dropped, closed months
    compacted, old batch ids and resolved alerts forgotten."""
    deps = cast(StorageDeps, context.additional_context[DEPS_KEY])
    settings = cast(RetentionSettings, context.additional_context[SETTINGS_KEY])
    # Direct, not through a transaction pooler: maintenance SETs lock_timeout for its session.
    return await maintain_storage_now(deps.database_url, settings)


def register_tasks(app: procrastinate.App) -> None:
    """Register the periodic storage maintenance on ``app``."""
    task = app.task(
        name=MAINTAIN_TASK, queue=QUEUE, pass_context=True, queueing_lock="maintain_storage"
    )(maintain_storage)
    app.periodic(cron="41 * * * *", periodic_id="maintain_storage")(task)
