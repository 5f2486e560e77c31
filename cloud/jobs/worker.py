"""A standalone job worker process (``plantvita cloud worker``)."""

from __future__ import annotations

import os
import socket

import structlog

import cloud.models  # noqa: F401 - every table, so the ORM resolves cross-domain foreign keys
from cloud.db.engine import build_engine
from cloud.diagnosis.factory import open_diagnoser
from cloud.jobs.queue import WorkerDeps, build_job_app, run_worker
from cloud.settings import CloudSettings
from cloud.storage.factory import build_object_store

_log = structlog.get_logger("cloud.jobs")


async def serve_worker(settings: CloudSettings, database_url: str, *, wait: bool = True) -> None:
    """Run diagnosis and purge jobs until SIGINT/SIGTERM (or, ``wait=False``, the queue empties).

    On SIGTERM procrastinate stops fetching and lets running jobs finish; a worker killed
    outright leaves its jobs to ``recover_stalled_jobs`` in the other workers.
    """
    engine = build_engine(database_url, pool_size=settings.worker_concurrency + 1, max_overflow=2)
    store = build_object_store(settings)
    try:
        async with open_diagnoser(settings) as diagnoser:
            deps = WorkerDeps(engine=engine, store=store, diagnoser=diagnoser, settings=settings)
            job_app = build_job_app(database_url, max_connections=settings.worker_concurrency + 2)
            name = f"{socket.gethostname()}-{os.getpid()}"
            _log.info("worker_started", name=name, diagnoser=diagnoser.model, storage=store.backend)
            async with job_app.open_async():
                await run_worker(job_app, deps, name=name, wait=wait, install_signal_handlers=True)
    finally:
        await engine.dispose()
