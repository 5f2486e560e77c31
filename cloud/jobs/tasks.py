"""The job tasks. Each reads its dependencies from the worker's context (``WorkerDeps``)."""

from __future__ import annotations

import uuid
from typing import cast

import procrastinate

from cloud.jobs.queue import QUEUE, QueueRetryStrategy, WorkerDeps, recover_stalled_jobs

blueprint = procrastinate.Blueprint()


def _deps(context: procrastinate.JobContext) -> WorkerDeps:
    return cast(WorkerDeps, context.additional_context["deps"])


@blueprint.task(name="diagnose_image", queue=QUEUE, pass_context=True, retry=QueueRetryStrategy())
async def diagnose_image(context: procrastinate.JobContext, diagnosis_id: str) -> str:
    """Diagnose one image (see ``cloud.diagnosis.service.run_diagnosis``)."""
    from cloud.diagnosis.service import run_diagnosis

    return await run_diagnosis(_deps(context), uuid.UUID(diagnosis_id))


@blueprint.task(
    name="purge_objects",
    queue=QUEUE,
    pass_context=True,
    retry=procrastinate.RetryStrategy(max_attempts=10, exponential_wait=5),
)
async def purge_objects(context: procrastinate.JobContext, prefix: str) -> int:
    """Delete every object under ``prefix`` (a deleted plant's photos)."""
    from cloud.images.service import purge_prefix

    return await purge_prefix(_deps(context).store, prefix)


@blueprint.periodic(cron="* * * * *", periodic_id="recover_stalled_jobs")
@blueprint.task(
    name="recover_stalled_jobs",
    queue=QUEUE,
    pass_context=True,
    queueing_lock="recover_stalled_jobs",
)
async def recover_stalled(context: procrastinate.JobContext, timestamp: int) -> int:
    """Every minute: requeue the jobs of workers that stopped sending heartbeats."""
    return await recover_stalled_jobs(context.app, _deps(context).settings.worker_stalled_after_s)
