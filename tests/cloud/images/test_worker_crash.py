"""A worker process killed in the middle of a diagnosis: the job is recovered and done once."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from cloud.diagnosis.service import DIAGNOSE_TASK
from cloud.jobs.queue import recover_stalled_jobs
from cloud.settings import CloudSettings
from cloud.worker import build_job_app
from tests.cloud.diagnosis.gemini_fakes import gemini_body, good_text
from tests.cloud.images.conftest import Garden, RunJobs, photo, upload_photo


class FakeGemini:
    """A Gemini API stand-in on a local port: holds the first call until released."""

    def __init__(self) -> None:
        self.calls = 0
        self.held = threading.Event()
        self.release = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                fake.calls += 1
                if fake.calls == 1:
                    fake.held.set()
                    fake.release.wait(30)
                body = json.dumps(gemini_body(good_text())).encode()
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass  # the caller was killed

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)


@pytest.fixture
def fake_gemini() -> Iterator[FakeGemini]:
    fake = FakeGemini()
    fake.thread.start()
    try:
        yield fake
    finally:
        fake.release.set()
        fake.server.shutdown()
        fake.server.server_close()


@pytest.fixture
def settings_overrides(tmp_path: Path, fake_gemini: FakeGemini) -> dict[str, Any]:
    """Gemini pointed at the fake; jobs run by the test."""
    return {
        "storage_dir": tmp_path / "objects",
        "public_base_url": "http://cloud.test",
        "worker_inline": False,
        "gemini_api_key": "test-gemini-key",
        "gemini_base_url": fake_gemini.url,
        "worker_poll_s": 0.1,
    }


def _worker_env(settings: CloudSettings, fake: FakeGemini) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLANTVITA_")}
    env.update(
        {
            "PLANTVITA_CLOUD_DATABASE_URL": settings.database_url or "",
            "PLANTVITA_CLOUD_STORAGE_DIR": str(settings.storage_dir),
            "PLANTVITA_CLOUD_GEMINI_API_KEY": "test-gemini-key",
            "PLANTVITA_CLOUD_GEMINI_BASE_URL": fake.url,
            "PLANTVITA_CLOUD_WORKER_HEARTBEAT_S": "0.2",
            "PLANTVITA_CLOUD_WORKER_POLL_S": "0.2",
            "PLANTVITA_CLOUD_WORKER_SCHEDULE": str(settings.worker_schedule).lower(),
            "PLANTVITA_CLOUD_LOG_LEVEL": "WARNING",
        }
    )
    return env


_DIAGNOSE_JOB_STATUS = (
    f"SELECT status::text FROM procrastinate_jobs WHERE task_name = '{DIAGNOSE_TASK}'"
)


async def _scalar(app: FastAPI, sql: str) -> Any:
    async with app.state.engine.connect() as conn:
        return await conn.scalar(text(sql))


@pytest.mark.slow
async def test_killed_worker_job_is_recovered_and_completes_once(
    client: httpx.AsyncClient,
    garden: Garden,
    app: FastAPI,
    settings: CloudSettings,
    run_jobs: RunJobs,
    fake_gemini: FakeGemini,
    tmp_path: Path,
) -> None:
    ack = await upload_photo(client, garden, photo(40))
    assert ack["diagnosis_queued"] is True

    log_path = tmp_path / "worker.log"
    with log_path.open("wb") as log:
        worker = subprocess.Popen(  # noqa: ASYNC220 - started once, killed below
            [sys.executable, "-c", "from plantvita.cli import main; main()", "cloud", "worker"],
            env=_worker_env(settings, fake_gemini),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        held = await asyncio.to_thread(fake_gemini.held.wait, 60)
        assert held, log_path.read_text()[-3000:]
        assert await _scalar(app, "SELECT status FROM diagnoses") == "running"
        assert await _scalar(app, _DIAGNOSE_JOB_STATUS) == "doing"
    finally:
        worker.send_signal(signal.SIGKILL)
        await asyncio.to_thread(worker.wait, 30)
    fake_gemini.release.set()

    job_app = build_job_app(settings.database_url or "", max_connections=2)
    async with job_app.open_async():
        recovered = 0
        for _ in range(150):  # the dead worker's heartbeat ages past one second
            recovered = await recover_stalled_jobs(job_app, stalled_after_s=1.0)
            if recovered:
                break
            await asyncio.sleep(0.2)
    assert recovered == 1
    assert await _scalar(app, _DIAGNOSE_JOB_STATUS) == "todo"

    await run_jobs()
    await run_jobs()  # nothing left: a second pass must not diagnose again

    rows = (
        await client.get(
            f"/api/v1/plants/{garden.plant['id']}/diagnoses", headers=garden.user.headers
        )
    ).json()
    assert len(rows) == 1
    (diagnosis,) = rows
    assert diagnosis["status"] == "succeeded"
    assert diagnosis["attempts"] == 2  # the killed attempt, then the recovered one
    assert diagnosis["tokens"]["total"] == 1474  # billed once: the killed call never answered
    assert fake_gemini.calls == 2
    assert await _scalar(app, _DIAGNOSE_JOB_STATUS) == "succeeded"
