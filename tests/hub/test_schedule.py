"""Scheduled work follows elapsed time across wall-clock steps (issue 17).

APScheduler's asyncio scheduler waited on timers computed from the wall clock: with the hub's
clock stepped back an hour, sync, alert checks and pruning stopped for about an hour, and putting
the clock right did not help, while ``/readyz`` stayed green.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from hub.schedule import MonotonicScheduler

LIBFAKETIME = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1")


class FakeClocks:
    """A monotonic clock the test advances and a wall clock it can step."""

    def __init__(self) -> None:
        self.mono = 1000.0
        self.wall = 1_800_000_000.0

    def advance(self, seconds: float) -> None:
        self.mono += seconds
        self.wall += seconds


async def _spin(clocks: FakeClocks, seconds: float, step: float = 0.5) -> None:
    # Elapsed time passes in small steps; the real loop gets a turn each time.
    for _ in range(int(seconds / step)):
        clocks.advance(step)
        await asyncio.sleep(0.005)


async def test_jobs_follow_elapsed_time_across_steps_both_ways() -> None:
    clocks = FakeClocks()
    steps: list[float] = []
    scheduler = MonotonicScheduler(
        monotonic=lambda: clocks.mono,
        wall=lambda: clocks.wall,
        tick_s=0.001,
        on_clock_step=lambda s: steps.append(s.seconds),
    )
    runs: list[float] = []

    async def job() -> None:
        runs.append(clocks.mono)

    scheduler.add_job(job, id="sync", seconds=5.0)
    scheduler.start()
    try:
        await _spin(clocks, 20.0)
        before = len(runs)
        assert before >= 3
        clocks.wall -= 3600  # NTP steps the clock back an hour
        await _spin(clocks, 20.0)
        assert len(runs) >= before + 3, "a backward step stopped the job"
        clocks.wall += 7200  # and forward past the truth
        await _spin(clocks, 20.0)
        assert len(runs) >= before + 6
        gaps = [b - a for a, b in itertools.pairwise(runs)]
        assert max(gaps) <= 6.0, "runs stay one interval apart in elapsed time"
        assert min(gaps) >= 4.9, "a forward step does not fire a burst of catch-up runs"
        assert [round(s) for s in steps] == [-3600, 7200]
        assert scheduler.clock_steps_total == 2
        assert scheduler.problems() == []
    finally:
        await scheduler.shutdown()


async def test_a_hung_job_and_a_stopped_loop_are_reported() -> None:
    clocks = FakeClocks()
    scheduler = MonotonicScheduler(monotonic=lambda: clocks.mono, wall=lambda: clocks.wall)
    release = asyncio.Event()

    async def hangs() -> None:
        await release.wait()

    job = scheduler.add_job(hangs, id="budget", seconds=10.0, stall_after_s=60.0)
    assert scheduler.problems() == ["stopped"]
    scheduler.start()
    try:
        clocks.advance(10.0)
        scheduler._wake.set()
        for _ in range(50):
            await asyncio.sleep(0.01)
            if job.running:
                break
        assert job.running
        assert scheduler.problems() == []
        clocks.advance(61.0)
        assert scheduler.problems() == ["budget hung: running for 61s"]
        release.set()
        await asyncio.sleep(0.01)
        assert job.runs == 1
        # A loop that stopped waking (blocked, crashed) leaves due jobs late.
        await scheduler.shutdown()
        scheduler._task = asyncio.get_running_loop().create_task(asyncio.sleep(3600))
        clocks.advance(200.0)
        assert scheduler.problems() == [f"budget late by {job.late_by_s(clocks.mono):.0f}s"]
    finally:
        release.set()
        await scheduler.shutdown()


async def test_a_failing_job_keeps_its_schedule_and_records_the_error() -> None:
    clocks = FakeClocks()
    scheduler = MonotonicScheduler(
        monotonic=lambda: clocks.mono, wall=lambda: clocks.wall, tick_s=0.001
    )

    async def fails() -> None:
        raise OSError("database or disk is full")

    job = scheduler.add_job(fails, id="alerts", seconds=2.0)
    scheduler.start()
    try:
        await _spin(clocks, 10.0)
        assert job.failures >= 3
        assert job.runs == job.failures
        assert job.last_error == "OSError: database or disk is full"
    finally:
        await scheduler.shutdown()


# --- a hub process whose wall clock really steps (libfaketime) -------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def stepping_hub(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """``plantvita hub serve`` under libfaketime; write an offset to the file to step its clock."""
    if not LIBFAKETIME.exists():
        if os.environ.get("CI"):
            pytest.fail("libfaketime is missing (apt-get install faketime)")
        pytest.skip("libfaketime is not installed (Debian package faketime)")
    offset = tmp_path / "faketime"
    offset.write_text("+0\n")
    port = _free_port()
    env = {
        **os.environ,
        "LD_PRELOAD": str(LIBFAKETIME),
        "FAKETIME_TIMESTAMP_FILE": str(offset),
        "FAKETIME_NO_CACHE": "1",
        # Only the wall clock steps, as NTP does; the monotonic clock runs on.
        "FAKETIME_DONT_FAKE_MONOTONIC": "1",
        "FAKETIME_FORCE_MONOTONIC_FIX": "0",
        "PLANTVITA_HUB_DATA_DIR": str(tmp_path / "hub"),
        "PLANTVITA_HUB_HOST": "127.0.0.1",
        "PLANTVITA_HUB_PORT": str(port),
        "PLANTVITA_HUB_ENVIRONMENT": "test",
        "PLANTVITA_HUB_BLE_ENABLED": "false",
        "PLANTVITA_HUB_SYNC_INTERVAL_S": "1",
        "PLANTVITA_HUB_ALERT_INTERVAL_S": "1",
    }
    plantvita = shutil.which("plantvita", path=str(Path(sys.executable).parent))
    assert plantvita is not None
    log = (tmp_path / "hub.log").open("wb")
    process = subprocess.Popen(
        [plantvita, "hub", "serve"], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, (tmp_path / "hub.log").read_text()[-3000:]
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the hub did not become ready"
            time.sleep(0.2)
        yield url, offset
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _runs(url: str) -> dict[str, int]:
    status = httpx.get(f"{url}/api/v1/sync/status", timeout=5).json()
    return {job["id"]: job["runs"] for job in status["schedule"]}


def _wait_for_more_runs(url: str, job: str, more: int, within: float) -> None:
    start = _runs(url)[job]
    deadline = time.monotonic() + within
    while _runs(url)[job] < start + more:
        assert time.monotonic() < deadline, f"{job} stopped running ({_runs(url)})"
        time.sleep(0.2)


@pytest.mark.timeout(120)
def test_a_hub_whose_clock_steps_back_an_hour_keeps_its_schedule(
    stepping_hub: tuple[str, Path],
) -> None:
    url, offset = stepping_hub
    _wait_for_more_runs(url, "alerts", 2, within=15)
    before = httpx.get(f"{url}/api/v1/sync/status", timeout=5).json()["clock"]
    offset.write_text("-3600\n")  # NTP steps the clock back an hour
    _wait_for_more_runs(url, "alerts", 3, within=15)
    _wait_for_more_runs(url, "sync", 3, within=15)
    status = httpx.get(f"{url}/api/v1/sync/status", timeout=5).json()
    assert status["clock"]["steps"] == before["steps"] + 1
    assert status["clock"]["last_step_s"] == pytest.approx(-3600, abs=5)
    assert all(job["problem"] is None for job in status["schedule"])
    ready = httpx.get(f"{url}/readyz", timeout=5)
    assert ready.status_code == 200, ready.text
    metrics = httpx.get(f"{url}/metrics", timeout=5).text
    assert 'hub_clock_steps_total{direction="backward"} 1.0' in metrics

    offset.write_text("+0\n")  # the clock is put right again
    _wait_for_more_runs(url, "alerts", 3, within=15)
    _wait_for_more_runs(url, "budget", 0, within=1)
    metrics = httpx.get(f"{url}/metrics", timeout=5).text
    assert 'hub_clock_steps_total{direction="forward"} 1.0' in metrics
