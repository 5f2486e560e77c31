"""The digest schedule: every ten minutes, queue the digests that came due. Registered on the
worker's app by ``cloud.worker``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol, cast

import procrastinate
from sqlalchemy.ext.asyncio import AsyncEngine

from cloud.digest.service import queue_due_digests
from cloud.jobs.queue import QUEUE, task_name

DEPS_KEY = "deps"  # where cloud.worker puts the worker's dependencies in the job context


class DigestDeps(Protocol):
    """What the schedule needs (``cloud.worker.WorkerDeps`` provides it)."""

    @property
    def engine(self) -> AsyncEngine: ...
    @property
    def digest_hour(self) -> int | None: ...  # None: no e-mail, so no digest


async def queue_email_digests(context: procrastinate.JobContext, timestamp: int) -> int:
    """Every few minutes: queue the daily digests that came due (each (gardener, day) once);
    nothing without an SMTP relay."""
    deps = cast(DigestDeps, context.additional_context[DEPS_KEY])
    if deps.digest_hour is None:
        return 0
    return await queue_due_digests(deps.engine, deps.digest_hour, datetime.now(UTC))


def register_tasks(app: procrastinate.App) -> None:
    """Register the digest schedule on ``app``."""
    digests = app.task(
        name=task_name("queue_email_digests"),
        queue=QUEUE,
        pass_context=True,
        queueing_lock="queue_email_digests",
    )(queue_email_digests)
    app.periodic(cron="*/10 * * * *", periodic_id="queue_email_digests")(digests)
