"""The one place that wires the job worker: every domain's tasks, and what they need.

``cloud.jobs`` is plumbing that knows no domain; each domain owns its ``tasks.py``. The
standalone worker (``plantvita cloud worker``) and the API's inline worker are both built here.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import cached_property

import httpx
import procrastinate
import structlog
from fastapi import FastAPI
from prometheus_client import CollectorRegistry, start_http_server
from py_vapid import Vapid
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

import cloud.models  # noqa: F401 - every table on the metadata, so foreign keys resolve
from cloud.alerts.service import alert_subject
from cloud.db.engine import build_engine
from cloud.diagnosis import tasks as diagnosis_tasks
from cloud.diagnosis.factory import open_diagnoser
from cloud.diagnosis.metrics import PipelineCounters
from cloud.diagnosis.ports import Diagnoser
from cloud.diagnosis.service import diagnosis_subject
from cloud.digest import tasks as digest_tasks
from cloud.digest.service import digest_subject
from cloud.egress import Egress, EgressPolicy
from cloud.images import tasks as image_tasks
from cloud.jobs import queue
from cloud.jobs import tasks as job_tasks
from cloud.notifications import tasks as notification_tasks
from cloud.notifications.channels import build_channels
from cloud.notifications.ports import Channel, ChannelResources, SubjectLoader
from cloud.notifications.vapid import vapid_or_none
from cloud.registry.service import hub_subject
from cloud.settings import CloudSettings
from cloud.settings.images import ImageSettings
from cloud.storage.factory import build_object_store
from cloud.storage.ports import ObjectStore
from cloud.telemetry import tasks as telemetry_tasks
from cloud.wiring import wire

_log = structlog.get_logger("cloud.jobs")


@dataclass(frozen=True)
class WorkerDeps:
    """What the tasks need, built once per worker process (or per API process, inline)."""

    engine: AsyncEngine
    store: ObjectStore
    diagnoser: Diagnoser
    settings: ImageSettings
    counters: PipelineCounters | None = None  # None in tests that do not look at metrics
    # Notifications: the vetting egress (its resolver is a seam for tests) and, in long-running
    # workers, one client from ``egress.client()``; None: one client per delivery.
    egress: Egress = field(default_factory=Egress)
    http: httpx.AsyncClient | None = None
    vapid: Vapid | None = None  # the Web Push signing key (None: no push channel)
    # PostgreSQL itself (``database_direct_url``) for work that sets session state (storage
    # maintenance); None: the engine's URL, which may be a transaction pooler.
    direct_url: str | None = None

    @property
    def database_url(self) -> str:
        """The URL for connections that hold session state (never a transaction pooler)."""
        return self.direct_url or self.engine.url.render_as_string(hide_password=False)

    def session(self) -> AsyncSession:
        """A new session; the task owns its transactions."""
        return AsyncSession(self.engine, expire_on_commit=False)

    @cached_property
    def channels(self) -> Mapping[str, Channel]:
        """Every notification channel, built on this worker's engine and egress."""
        settings = self.settings if isinstance(self.settings, CloudSettings) else None
        return build_channels(
            ChannelResources(self.engine, self.egress, self.http, settings, self.vapid)
        )

    @property
    def subjects(self) -> Mapping[str, SubjectLoader]:
        """How notifications load what an event is about, by the event's first part."""
        return {
            "alert": alert_subject,
            "diagnosis": diagnosis_subject,
            "hub": hub_subject,
            "digest": digest_subject,
        }

    @property
    def digest_hour(self) -> int | None:
        """When the daily e-mail digests go out; None without an SMTP relay."""
        settings = self.settings
        if not isinstance(settings, CloudSettings) or not settings.smtp_host:
            return None
        return settings.digest_hour


def register_tasks(app: procrastinate.App) -> None:
    """The queue's own and every domain's tasks, on ``app``."""
    job_tasks.register_tasks(app)
    diagnosis_tasks.register_tasks(app)
    image_tasks.register_tasks(app)
    notification_tasks.register_tasks(app)
    digest_tasks.register_tasks(app)
    telemetry_tasks.register_tasks(app)


def build_job_app(
    database_url: str, *, max_connections: int = 4, schedule: bool = True
) -> procrastinate.App:
    """A procrastinate app on ``database_url`` with every Plant-Vita task registered (and,
    unless ``schedule`` is off, the periodic ones scheduled)."""
    return queue.build_job_app(
        database_url, register_tasks, max_connections=max_connections, schedule=schedule
    )


async def run_worker(
    app: procrastinate.App,
    deps: WorkerDeps,
    *,
    name: str,
    wait: bool = True,
    install_signal_handlers: bool = False,
) -> None:
    """Run a worker with ``deps`` until cancelled (or, ``wait=False``, the queue is empty)."""
    wire()
    context = {
        diagnosis_tasks.DEPS_KEY: deps,
        notification_tasks.DEPS_KEY: deps,
        digest_tasks.DEPS_KEY: deps,
        telemetry_tasks.DEPS_KEY: deps,
        image_tasks.STORE_KEY: deps.store,
    }
    await queue.run_worker(
        app,
        deps.settings,
        context,
        name=name,
        wait=wait,
        install_signal_handlers=install_signal_handlers,
    )


async def serve_worker(settings: CloudSettings, database_url: str, *, wait: bool = True) -> None:
    """Run diagnosis, purge and notification jobs until SIGINT/SIGTERM (or the queue empties).

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
                vapid=vapid_or_none(settings),
                direct_url=database_url,
            )
            job_app = build_job_app(
                database_url,
                max_connections=settings.worker_concurrency + 2,
                schedule=settings.worker_schedule,
            )
            name = f"{socket.gethostname()}-{os.getpid()}"
            _log.info("worker_started", name=name, diagnoser=diagnoser.model, storage=store.backend)
            async with job_app.open_async():
                await run_worker(job_app, deps, name=name, wait=wait, install_signal_handlers=True)
    finally:
        await engine.dispose()


@asynccontextmanager
async def inline_worker(
    app: FastAPI, settings: CloudSettings, database_url: str
) -> AsyncIterator[None]:
    """Unless ``worker_inline`` is off, run a worker inside the API process while the context
    is open (the embedded default needs no second process), on the app's engine and clients."""
    if not settings.worker_inline:
        yield
        return
    deps = WorkerDeps(
        engine=app.state.engine,
        store=app.state.object_store,
        diagnoser=app.state.diagnoser,
        settings=settings,
        counters=app.state.pipeline_counters,
        egress=app.state.egress,
        vapid=app.state.vapid,
        direct_url=database_url,
    )
    job_app = build_job_app(
        database_url,
        max_connections=settings.worker_concurrency + 2,
        schedule=settings.worker_schedule,
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
