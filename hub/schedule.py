"""The hub's scheduler: interval jobs that follow elapsed (monotonic) time, with a ledger.

A Pi has no battery-backed clock: NTP steps the wall clock at boot or after an outage, by hours.
APScheduler's asyncio scheduler waited on timers computed from the wall clock, so a backward step
stopped sync, alert checks and pruning for the size of the step. Here every wait is on the event
loop's clock (``time.monotonic``), so steps either way change nothing about when jobs run; they
are detected (wall-clock progress against monotonic progress) and counted. Each job keeps a
ledger (runs, last start and end, last error, how late it is, whether a run hangs) that the sync
status, ``/readyz`` and the metrics show.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import structlog

log = structlog.get_logger(__name__)

# A wall clock that moved this much more or less than elapsed time between two ticks stepped.
CLOCK_STEP_THRESHOLD_S = 2.0
TICK_S = 1.0  # the loop wakes at least this often to check the clock and the jobs


@dataclass(slots=True)
class ClockStep:
    """One detected wall-clock step: positive when the clock jumped forward."""

    at: datetime  # wall clock after the step
    seconds: float


@dataclass(slots=True)
class Job:
    """One interval job and its ledger."""

    id: str
    func: Callable[..., Awaitable[Any]]
    interval_s: float
    args: tuple[Any, ...] = ()
    stall_after_s: float = 0.0  # a run longer than this hangs; a job this overdue is late
    next_due: float = 0.0  # monotonic
    runs: int = 0
    failures: int = 0
    skipped: int = 0  # due while the previous run was still going (coalesced)
    last_started_at: datetime | None = None
    last_finished_at: datetime | None = None
    last_duration_s: float | None = None
    last_error: str | None = None
    task: asyncio.Task[None] | None = field(default=None, repr=False)
    _started_mono: float = 0.0

    @property
    def running(self) -> bool:
        """A run is in progress."""
        return self.task is not None and not self.task.done()

    def running_for_s(self, now: float) -> float:
        """How long the current run has been going (0 when idle)."""
        return now - self._started_mono if self.running else 0.0

    def late_by_s(self, now: float) -> float:
        """How far past its due time the job is without having started (0 when on time)."""
        return max(0.0, now - self.next_due) if not self.running else 0.0

    def problem(self, now: float) -> str | None:
        """Why this job is not doing its work, or None."""
        if self.running and self.running_for_s(now) > self.stall_after_s:
            return f"{self.id} hung: running for {self.running_for_s(now):.0f}s"
        if self.late_by_s(now) > self.stall_after_s:
            return f"{self.id} late by {self.late_by_s(now):.0f}s"
        return None


class MonotonicScheduler:
    """Runs interval jobs on elapsed time; one run of a job at a time (late runs coalesce)."""

    def __init__(
        self,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        tick_s: float = TICK_S,
        on_clock_step: Callable[[ClockStep], None] | None = None,
    ) -> None:
        self._monotonic = monotonic
        self._wall = wall
        self._tick_s = tick_s
        self._on_clock_step = on_clock_step
        self._jobs: dict[str, Job] = {}
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self.clock_steps: list[ClockStep] = []  # the most recent ones (bounded)
        self.clock_steps_total = 0
        self._last_tick: tuple[float, float] | None = None  # (monotonic, wall)
        self.started_at: float | None = None  # monotonic

    def add_job(
        self,
        func: Callable[..., Awaitable[Any]],
        *,
        id: str,
        seconds: float,
        args: tuple[Any, ...] = (),
        stall_after_s: float | None = None,
    ) -> Job:
        """Run ``func(*args)`` every ``seconds`` of elapsed time, the first time after one interval.

        ``stall_after_s`` (default: three intervals, at least a minute) is how long a run may take
        and how overdue a job may be before health reports it.
        """
        if id in self._jobs:
            raise ValueError(f"job {id} already scheduled")
        job = Job(
            id=id,
            func=func,
            interval_s=seconds,
            args=args,
            stall_after_s=stall_after_s if stall_after_s is not None else max(60.0, 3 * seconds),
            next_due=self._monotonic() + seconds,
        )
        self._jobs[id] = job
        self._wake.set()
        return job

    def get_jobs(self) -> list[Job]:
        """The scheduled jobs, in the order they were added."""
        return list(self._jobs.values())

    def get_job(self, job_id: str) -> Job:
        """One job by id."""
        return self._jobs[job_id]

    @property
    def running(self) -> bool:
        """The scheduling loop runs."""
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        """Start the loop on the running event loop; jobs are due one interval from now."""
        if self.running:
            return
        now = self._monotonic()
        self.started_at = now
        for job in self._jobs.values():
            job.next_due = now + job.interval_s
        self._last_tick = None
        self._task = asyncio.get_running_loop().create_task(self._loop(), name="hub-scheduler")

    async def shutdown(self) -> None:
        """Stop the loop and cancel runs in progress."""
        tasks = [t for t in (self._task, *(j.task for j in self._jobs.values())) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._task = None

    def problems(self) -> list[str]:
        """Why scheduled work is not being done (stopped loop, late or hung jobs)."""
        if not self.running:
            return ["stopped"]
        now = self._monotonic()
        return [p for p in (job.problem(now) for job in self._jobs.values()) if p]

    def last_clock_step(self) -> ClockStep | None:
        """The most recent wall-clock step seen, if any."""
        return self.clock_steps[-1] if self.clock_steps else None

    def now_monotonic(self) -> float:
        """The scheduler's clock (for status views)."""
        return self._monotonic()

    # --- the loop ---------------------------------------------------------------------------

    async def _loop(self) -> None:
        while True:
            self._check_clock()
            now = self._monotonic()
            for job in self._jobs.values():
                if now >= job.next_due:
                    self._fire(job, now)
            upcoming = min((j.next_due for j in self._jobs.values()), default=now + self._tick_s)
            wait = max(0.0, min(self._tick_s, upcoming - self._monotonic()))
            self._wake.clear()
            # The event loop's timers are monotonic: a wall-clock step cannot stretch this wait.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)

    def _fire(self, job: Job, now: float) -> None:
        # Coalesce: however many intervals passed, one run; the next is an interval after it.
        job.next_due = now + job.interval_s
        if job.running:
            job.skipped += 1
            return
        job._started_mono = now
        job.last_started_at = datetime.now(UTC)
        job.task = asyncio.get_running_loop().create_task(self._run(job), name=f"job-{job.id}")

    async def _run(self, job: Job) -> None:
        try:
            await job.func(*job.args)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            job.failures += 1
            job.last_error = f"{type(exc).__name__}: {exc}"
            log.exception("scheduled_job_failed", job=job.id)
        else:
            job.last_error = None
        finally:
            job.runs += 1
            job.last_finished_at = datetime.now(UTC)
            job.last_duration_s = self._monotonic() - job._started_mono

    def _check_clock(self) -> None:
        mono, wall = self._monotonic(), self._wall()
        previous, self._last_tick = self._last_tick, (mono, wall)
        if previous is None:
            return
        drift = (wall - previous[1]) - (mono - previous[0])
        if abs(drift) < CLOCK_STEP_THRESHOLD_S:
            return
        step = ClockStep(at=datetime.fromtimestamp(wall, UTC), seconds=drift)
        self.clock_steps_total += 1
        self.clock_steps = [*self.clock_steps[-9:], step]
        log.warning("clock_stepped", seconds=round(drift, 1), scheduled_work="unaffected")
        if self._on_clock_step is not None:
            self._on_clock_step(step)
