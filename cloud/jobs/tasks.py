"""The queue's own periodic tasks: stalled-job recovery and pruning of finished jobs.

Tasks are registered on each ``procrastinate.App`` by a ``register_tasks`` function (no
module-level app or blueprint: a blueprint's tasks are renamed in place when added to an app,
so one shared blueprint could not serve the several apps a test session builds).
"""

from __future__ import annotations

from typing import cast

import procrastinate

from cloud.jobs.queue import QUEUE, SETTINGS_KEY, WorkerSettings, recover_stalled_jobs, task_name


def _settings(context: procrastinate.JobContext) -> WorkerSettings:
    return cast(WorkerSettings, context.additional_context[SETTINGS_KEY])


async def recover_stalled(context: procrastinate.JobContext, timestamp: int) -> int:
    """Every minute: requeue the jobs of workers that stopped sending heartbeats."""
    return await recover_stalled_jobs(context.app, _settings(context).worker_stalled_after_s)


async def prune_finished_jobs(context: procrastinate.JobContext, timestamp: int) -> None:
    """Daily: forget finished jobs older than the retention (domain tables keep the history)."""
    hours = _settings(context).job_retention_days * 24
    await context.app.job_manager.delete_old_jobs(nb_hours=hours, queue=QUEUE, include_failed=True)


def register_tasks(app: procrastinate.App) -> None:
    """Register the periodic stalled-job recovery and job pruning on ``app``."""
    recover = app.task(
        name=task_name("recover_stalled_jobs"),
        queue=QUEUE,
        pass_context=True,
        queueing_lock="recover_stalled_jobs",
    )(recover_stalled)
    app.periodic(cron="* * * * *", periodic_id="recover_stalled_jobs")(recover)
    prune = app.task(
        name=task_name("prune_finished_jobs"),
        queue=QUEUE,
        pass_context=True,
        queueing_lock="prune_finished_jobs",
    )(prune_finished_jobs)
    app.periodic(cron="17 3 * * *", periodic_id="prune_finished_jobs")(prune)
