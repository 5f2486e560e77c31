"""Fixtures of the notification tests: a push service and an SMTP server run by the tests, a
cloud app that sends to them, and a worker run on demand."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from cloud.egress import Egress, EgressPolicy
from cloud.settings import CloudSettings
from cloud.worker import WorkerDeps, build_job_app, run_worker
from tests.cloud.notifications.receivers import MailServer, PushService, push_service, smtp_server

RunJobs = Callable[[], Awaitable[None]]


@pytest.fixture(scope="module")
def push() -> Iterator[PushService]:
    with push_service() as service:
        yield service


@pytest.fixture(scope="module")
def mail() -> Iterator[MailServer]:
    with smtp_server() as server:
        yield server


@pytest.fixture
def settings_overrides(tmp_path: Path, mail: MailServer) -> dict[str, Any]:
    return {
        "worker_inline": False,  # jobs run when the test says so
        "smtp_host": mail.host,
        "smtp_port": mail.port,
        "smtp_starttls": False,
        "smtp_from": "Plant-Vita <garden@plantvita.test>",
        "vapid_key_file": tmp_path / "vapid.pem",
        "public_base_url": "http://cloud.test",
        "egress_allowed_networks": ["127.0.0.0/8"],  # the test's push service is on loopback
        "storage_dir": tmp_path / "objects",
    }


@pytest.fixture
def egress(settings: CloudSettings) -> Egress:
    return Egress(policy=EgressPolicy.from_strings(settings.egress_allowed_networks))


@pytest.fixture
def run_jobs(app: FastAPI, settings: CloudSettings) -> RunJobs:
    async def run() -> None:
        job_app = build_job_app(settings.database_url or "", max_connections=3)
        deps = WorkerDeps(
            engine=app.state.engine,
            store=app.state.object_store,
            diagnoser=app.state.diagnoser,
            settings=settings,
            egress=app.state.egress,
            vapid=app.state.vapid,
        )
        async with job_app.open_async():
            await run_worker(job_app, deps, name=f"test-{uuid.uuid4().hex[:6]}", wait=False)

    return run
