"""The image archive's job: purging a deleted plant's objects."""

from __future__ import annotations

from typing import cast

import procrastinate

from cloud.images.service import PURGE_TASK, purge_prefix
from cloud.jobs.queue import QUEUE
from cloud.storage.ports import ObjectStore

STORE_KEY = "object_store"  # where cloud.worker puts the object store in the job context


async def purge_objects(
    context: procrastinate.JobContext, prefix: str, keys: list[str] | None = None
) -> int:
    """Delete every object under ``prefix`` and the listed ``keys`` (a deleted plant's photos)."""
    store = cast(ObjectStore, context.additional_context[STORE_KEY])
    return await purge_prefix(store, prefix, keys or ())


def register_tasks(app: procrastinate.App) -> None:
    """Register the purge task on ``app`` (retried with procrastinate's exponential wait)."""
    app.task(
        name=PURGE_TASK,
        queue=QUEUE,
        pass_context=True,
        retry=procrastinate.RetryStrategy(max_attempts=10, exponential_wait=5),
    )(purge_objects)
