"""The job tasks. Each reads its dependencies from the worker's context (``WorkerDeps``).

Tasks are registered on each ``procrastinate.App`` by ``register_tasks`` (no module-level app
or blueprint: a blueprint's tasks are renamed in place when added to an app, so one shared
blueprint could not serve the several apps a test session builds).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import cast

import procrastinate

from cloud.jobs.queue import (
    DIAGNOSE_TASK,
    NAMESPACE,
    PURGE_TASK,
    QUEUE,
    WEBHOOK_TASK,
    QueueRetryStrategy,
    RetryLater,
    WorkerDeps,
    recover_stalled_jobs,
)


def _deps(context: procrastinate.JobContext) -> WorkerDeps:
    return cast(WorkerDeps, context.additional_context["deps"])


async def diagnose_image(context: procrastinate.JobContext, diagnosis_id: str) -> str:
    """Diagnose one image (see ``cloud.diagnosis.service.run_diagnosis``)."""
    from cloud.diagnosis.service import run_diagnosis

    return await run_diagnosis(_deps(context), uuid.UUID(diagnosis_id))


async def purge_objects(
    context: procrastinate.JobContext, prefix: str, keys: list[str] | None = None
) -> int:
    """Delete every object under ``prefix`` and the listed ``keys`` (a deleted plant's photos)."""
    from cloud.images.service import purge_prefix

    return await purge_prefix(_deps(context).store, prefix, keys or ())


async def deliver_alert_webhook(
    context: procrastinate.JobContext, alert_id: str, event: str, event_id: str, at: str
) -> str:
    """POST one alert event to its owner's webhook; retried with backoff while it fails."""
    from cloud.alerts.service import deliver_webhook

    deps = _deps(context)
    attempt = (context.job.attempts if context.job else 0) + 1
    retry_at = await deliver_webhook(
        deps.engine,
        deps.egress,
        deps.http,
        alert_id=uuid.UUID(alert_id),
        event="alert.resolved" if event == "alert.resolved" else "alert.opened",
        event_id=uuid.UUID(event_id),
        event_at=datetime.fromisoformat(at),
        attempt=attempt,
    )
    if retry_at is not None:
        raise RetryLater(retry_at, "webhook delivery failed")
    return "done"


async def recover_stalled(context: procrastinate.JobContext, timestamp: int) -> int:
    """Every minute: requeue the jobs of workers that stopped sending heartbeats."""
    return await recover_stalled_jobs(context.app, _deps(context).settings.worker_stalled_after_s)


async def prune_finished_jobs(context: procrastinate.JobContext, timestamp: int) -> None:
    """Daily: forget finished jobs older than the retention (diagnosis rows keep the history)."""
    hours = _deps(context).settings.job_retention_days * 24
    await context.app.job_manager.delete_old_jobs(nb_hours=hours, queue=QUEUE, include_failed=True)


def register_tasks(app: procrastinate.App) -> None:
    """Register the Plant-Vita tasks (and the periodic stalled-job recovery) on ``app``."""
    app.task(name=DIAGNOSE_TASK, queue=QUEUE, pass_context=True, retry=QueueRetryStrategy())(
        diagnose_image
    )
    app.task(name=WEBHOOK_TASK, queue=QUEUE, pass_context=True, retry=QueueRetryStrategy())(
        deliver_alert_webhook
    )
    app.task(
        name=PURGE_TASK,
        queue=QUEUE,
        pass_context=True,
        retry=procrastinate.RetryStrategy(max_attempts=10, exponential_wait=5),
    )(purge_objects)
    recover = app.task(
        name=f"{NAMESPACE}:recover_stalled_jobs",
        queue=QUEUE,
        pass_context=True,
        queueing_lock="recover_stalled_jobs",
    )(recover_stalled)
    app.periodic(cron="* * * * *", periodic_id="recover_stalled_jobs")(recover)
    prune = app.task(
        name=f"{NAMESPACE}:prune_finished_jobs",
        queue=QUEUE,
        pass_context=True,
        queueing_lock="prune_finished_jobs",
    )(prune_finished_jobs)
    app.periodic(cron="17 3 * * *", periodic_id="prune_finished_jobs")(prune)
