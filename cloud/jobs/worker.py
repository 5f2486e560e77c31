"""A standalone job worker process (``plantvita cloud worker``)."""

from __future__ import annotations

import os
import socket

import structlog
from prometheus_client import CollectorRegistry, start_http_server

import cloud.models  # noqa: F401 - every table on the metadata, so foreign keys resolve
from cloud.db.engine import build_engine
from cloud.diagnosis.factory import open_diagnoser
from cloud.egress import Egress, EgressPolicy
from cloud.images.metrics import PipelineCounters
from cloud.jobs.queue import WorkerDeps, build_job_app, run_worker
from cloud.settings import CloudSettings
from cloud.storage.factory import build_object_store

_log = structlog.get_logger("cloud.jobs")


async def serve_worker(settings: CloudSettings, database_url: str, *, wait: bool = True) -> None:
    """Run diagnosis, purge and webhook jobs until SIGINT/SIGTERM (or the queue empties).

    With ``wait=False`` the worker stops once the queue is empty.

    On SIGTERM procrastinate stops fetching and lets running jobs finish; a worker killed
    outright leaves its jobs to ``recover_stalled_jobs`` in the other workers.
    """
    registry = CollectorRegistry(auto_describe=True)
    counters = PipelineCounters.create(registry)
    if settings.worker_metrics_port is not None:
        start_http_server(settings.worker_metrics_port, registry=registry)
    engine = build_engine(database_url, pool_size=settings.worker_concurrency + 1, max_overflow=2)
    store = build_object_store(settings)
    egress = Egress(policy=EgressPolicy.from_strings(settings.egress_allowed_networks))
    try:
        async with (
            open_diagnoser(settings) as diagnoser,
            egress.client() as http,
        ):
            deps = WorkerDeps(
                engine=engine,
                store=store,
                diagnoser=diagnoser,
                settings=settings,
                counters=counters,
                egress=egress,
                http=http,
            )
            job_app = build_job_app(database_url, max_connections=settings.worker_concurrency + 2)
            name = f"{socket.gethostname()}-{os.getpid()}"
            _log.info("worker_started", name=name, diagnoser=diagnoser.model, storage=store.backend)
            async with job_app.open_async():
                await run_worker(job_app, deps, name=name, wait=wait, install_signal_handlers=True)
    finally:
        await engine.dispose()
