"""What the image archive and the diagnosis pipeline need while the app runs.

Built in the app's lifespan: the object store, the diagnoser and, unless turned off, an
inline job worker so the embedded default diagnoses photos without a second process.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from cloud.diagnosis.factory import open_diagnoser
from cloud.images.metrics import PipelineCounters
from cloud.images.settings import ImageSettings
from cloud.jobs.queue import WorkerDeps, build_job_app, run_worker
from cloud.storage.factory import build_object_store

_log = structlog.get_logger("cloud.images")


@asynccontextmanager
async def image_runtime(
    app: FastAPI, settings: ImageSettings, engine: AsyncEngine, database_url: str
) -> AsyncIterator[None]:
    """Set ``app.state.object_store`` and ``app.state.diagnoser``; run the inline worker."""
    store = build_object_store(settings)
    app.state.object_store = store
    counters = PipelineCounters.create(app.state.metrics.registry)
    app.state.pipeline_counters = counters
    async with open_diagnoser(settings) as diagnoser:
        app.state.diagnoser = diagnoser
        _log.info(
            "image_pipeline_ready",
            storage=store.backend,
            diagnoser=diagnoser.model,
            inline_worker=settings.worker_inline,
        )
        if not settings.worker_inline:
            yield
            return
        job_app = build_job_app(database_url, max_connections=settings.worker_concurrency + 2)
        deps = WorkerDeps(
            engine=engine,
            store=store,
            diagnoser=diagnoser,
            settings=settings,
            counters=counters,
            egress=app.state.egress,
        )
        async with job_app.open_async():
            worker = asyncio.create_task(
                run_worker(job_app, deps, name=f"api-inline-{os.getpid()}"),
                name="inline-job-worker",
            )
            try:
                yield
            finally:
                worker.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await worker
