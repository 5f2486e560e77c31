"""The diagnosis job, registered on the worker's procrastinate app."""

from __future__ import annotations

import uuid
from typing import cast

import procrastinate

from cloud.diagnosis.service import DIAGNOSE_TASK, PipelineDeps, run_diagnosis
from cloud.jobs.queue import QUEUE, QueueRetryStrategy

DEPS_KEY = "deps"  # where cloud.worker puts the worker's dependencies in the job context


async def diagnose_image(context: procrastinate.JobContext, diagnosis_id: str) -> str:
    """Diagnose one image (see ``cloud.diagnosis.service.run_diagnosis``)."""
    deps = cast(PipelineDeps, context.additional_context[DEPS_KEY])
    return await run_diagnosis(deps, uuid.UUID(diagnosis_id))


def register_tasks(app: procrastinate.App) -> None:
    """Register the diagnosis task on ``app`` (retried when it raises ``RetryLater``)."""
    app.task(name=DIAGNOSE_TASK, queue=QUEUE, pass_context=True, retry=QueueRetryStrategy())(
        diagnose_image
    )
