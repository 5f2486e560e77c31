"""Deferring jobs inside the caller's transaction, and running workers: plumbing only.

No domain is known here: each domain names its tasks and registers them in its own
``tasks.py``; ``cloud.worker`` is the one place that wires them and their dependencies.

Jobs are inserted with procrastinate's own SQL function in the request's transaction, so an
image and its diagnosis job commit together or not at all. Workers are procrastinate workers
with a heartbeat; jobs of a worker that stopped beating (killed, lost) are put back in the
queue by ``recover_stalled_jobs``, run at worker start and every minute.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, Final, Protocol

import procrastinate
import structlog
from procrastinate import retry as procrastinate_retry
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.db.engine import libpq_url

_log = structlog.get_logger("cloud.jobs")

NAMESPACE: Final = "plantvita"
QUEUE: Final = "plantvita"
# The key of the worker settings in a job's ``additional_context`` (see ``run_worker``).
SETTINGS_KEY: Final = "worker_settings"

_DEFER_SQL: Final = text(
    "SELECT unnest(procrastinate_defer_jobs_v1(ARRAY[CAST(ROW(:queue, :task, 0, NULL, "
    ":queueing_lock, CAST(:args AS jsonb), NULL) AS procrastinate_job_to_defer_v1)])) AS id"
)


class RetryLater(Exception):
    """Ask the queue to run this job again at ``retry_at`` (backoff, rate limit)."""

    def __init__(self, retry_at: datetime, reason: str) -> None:
        super().__init__(f"retry at {retry_at.isoformat()}: {reason}")
        self.retry_at = retry_at
        self.reason = reason


class QueueRetryStrategy(procrastinate_retry.BaseRetryStrategy):
    """Retry exactly when a task raised ``RetryLater``; the task itself counts attempts."""

    def get_retry_decision(
        self, *, exception: BaseException, job: procrastinate.jobs.Job
    ) -> procrastinate_retry.RetryDecision | None:
        """A decision for ``RetryLater``, none (the job fails) for anything else."""
        if isinstance(exception, RetryLater):
            return procrastinate_retry.RetryDecision(retry_at=exception.retry_at)
        return None


def backoff(attempt: int, base_s: float, max_s: float, floor_s: float | None = None) -> timedelta:
    """Exponential backoff with ±20 % jitter, never under ``floor_s`` (a server's Retry-After)."""
    delay = min(max_s, base_s * 2 ** max(0, attempt - 1)) * random.uniform(0.8, 1.2)
    return timedelta(seconds=max(delay, floor_s or 0.0))


async def defer(
    session: AsyncSession,
    task: str,
    args: Mapping[str, Any],
    *,
    queueing_lock: str | None = None,
) -> int | None:
    """Insert a job in the session's transaction; None when ``queueing_lock`` already waits."""
    try:
        async with session.begin_nested():
            result = await session.execute(
                _DEFER_SQL,
                {
                    "queue": QUEUE,
                    "task": task,
                    "queueing_lock": queueing_lock,
                    "args": json.dumps(dict(args)),
                },
            )
            job_id: int = result.scalar_one()
    except IntegrityError:
        return None  # a job with this queueing lock is already waiting: deduplicated
    return job_id


async def job_status(session: AsyncSession, job_id: int) -> str | None:
    """procrastinate's status of a job (todo, doing, succeeded, failed, …), None if purged."""
    result = await session.execute(
        text("SELECT status::text FROM procrastinate_jobs WHERE id = :id"), {"id": job_id}
    )
    status: str | None = result.scalar_one_or_none()
    return status


class WorkerSettings(Protocol):
    """The knobs a worker runs by (``CloudSettings`` has them)."""

    @property
    def worker_concurrency(self) -> int: ...
    @property
    def worker_heartbeat_s(self) -> float: ...
    @property
    def worker_stalled_after_s(self) -> float: ...
    @property
    def worker_poll_s(self) -> float: ...
    @property
    def job_retention_days(self) -> int: ...


def task_name(name: str) -> str:
    """A task's name in the Plant-Vita namespace (``plantvita:NAME``)."""
    return f"{NAMESPACE}:{name}"


def build_job_app(
    database_url: str,
    register: Callable[[procrastinate.App], None],
    *,
    max_connections: int = 4,
    schedule: bool = True,
) -> procrastinate.App:
    """A procrastinate app on ``database_url``; ``register`` adds the tasks to it. Its
    workers queue the periodic tasks unless ``schedule`` is off.

    The worker LISTENs for new jobs and holds session state: ``database_url`` is PostgreSQL
    itself or a session-mode pool, never a transaction-mode one (``database_direct_url``).
    """
    connector = procrastinate.PsycopgConnector(
        conninfo=libpq_url(database_url),
        min_size=1,
        max_size=max_connections,
    )
    app = procrastinate.App(connector=connector)
    register(app)
    if not schedule:
        app.periodic_registry.periodic_tasks.clear()
    return app


async def recover_stalled_jobs(app: procrastinate.App, stalled_after_s: float) -> int:
    """Put back in the queue the jobs of workers silent for ``stalled_after_s``; count them."""
    stalled = await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=stalled_after_s)
    count = 0
    for job in stalled:
        await app.job_manager.retry_job(job)
        _log.warning("stalled_job_requeued", job_id=job.id, task=job.task_name)
        count += 1
    return count


async def run_worker(
    app: procrastinate.App,
    settings: WorkerSettings,
    context: Mapping[str, Any],
    *,
    name: str,
    wait: bool = True,
    install_signal_handlers: bool = False,
) -> None:
    """Run a worker until cancelled (or, with ``wait=False``, until the queue is empty).

    Tasks find ``context`` (what their domain needs) and ``settings`` in their job context.
    """
    await recover_stalled_jobs(app, settings.worker_stalled_after_s)
    await app.run_worker_async(
        queues=[QUEUE],
        name=name,
        concurrency=settings.worker_concurrency,
        wait=wait,
        fetch_job_polling_interval=settings.worker_poll_s,
        update_heartbeat_interval=settings.worker_heartbeat_s,
        stalled_worker_timeout=max(
            settings.worker_stalled_after_s, settings.worker_heartbeat_s * 3
        ),
        additional_context={SETTINGS_KEY: settings, **context},
        install_signal_handlers=install_signal_handlers,
        delete_jobs="never",
    )
