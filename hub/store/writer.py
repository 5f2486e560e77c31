"""The single writer: every change to the hub's database goes through one asyncio task.

Callers submit a unit of work and await it; the task folds whatever is queued into one
transaction (each unit inside its own SAVEPOINT so one failure does not sink the others),
commits once, and only then resolves the callers. An awaited ``submit`` therefore means
"durably committed".
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

log = structlog.get_logger(__name__)

T = TypeVar("T")
WriteOp = Callable[[AsyncSession], Awaitable[T]]


class WriterStopped(RuntimeError):
    """The writer is not running; nothing was written."""


@dataclass(slots=True)
class _Job:
    op: Callable[[AsyncSession], Awaitable[Any]]
    future: asyncio.Future[Any]


class Writer:
    """Owns the write connection; ``submit`` returns after the unit's transaction committed."""

    def __init__(self, engine: AsyncEngine, *, max_batch: int = 512) -> None:
        self._engine = engine
        self._max_batch = max_batch
        self._queue: asyncio.Queue[_Job | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self.transactions = 0
        self.units = 0
        self.commit_failures = 0  # transactions that could not be committed (full disk, I/O)
        self.last_commit_error: str | None = None  # set while the newest commit failed
        self.failing_since: datetime | None = None  # when the current run of failures began

    @property
    def running(self) -> bool:
        """True while the writer task is alive."""
        return self._task is not None and not self._task.done()

    @property
    def failing(self) -> bool:
        """True while the newest transaction could not be committed (until one commits)."""
        return self.last_commit_error is not None

    def start(self) -> None:
        """Start the writer task on the running loop."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="hub-store-writer")

    async def stop(self) -> None:
        """Finish everything queued so far, then stop."""
        if self._task is None:
            return
        await self._queue.put(None)
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    async def submit(self, op: WriteOp[T]) -> T:
        """Run ``op`` in the writer's transaction; return its result once committed."""
        if not self.running:
            raise WriterStopped("the store writer is not running")
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        await self._queue.put(_Job(op, future))
        return await asyncio.shield(future)

    async def _run(self) -> None:
        stopping = False
        while not stopping:
            first = await self._queue.get()
            if first is None:
                break
            jobs = [first]
            while len(jobs) < self._max_batch and not self._queue.empty():
                nxt = self._queue.get_nowait()
                if nxt is None:
                    stopping = True
                    break
                jobs.append(nxt)
            await self._commit(jobs)
        # Anything queued after the stop request is refused, never left waiting forever.
        while not self._queue.empty():
            job = self._queue.get_nowait()
            if job is not None and not job.future.done():
                job.future.set_exception(WriterStopped("the store writer stopped"))

    async def _commit(self, jobs: list[_Job]) -> None:
        outcomes: list[tuple[_Job, Any, BaseException | None]] = []
        try:
            async with (
                AsyncSession(self._engine, expire_on_commit=False) as session,
                session.begin(),
            ):
                for job in jobs:
                    try:
                        async with session.begin_nested():
                            result = await job.op(session)
                        outcomes.append((job, result, None))
                    except Exception as exc:
                        outcomes.append((job, None, exc))
        except Exception as exc:
            self.commit_failures += 1
            self.last_commit_error = f"{type(exc).__name__}: {exc}"[:300]
            self.failing_since = self.failing_since or datetime.now(UTC)
            log.exception("store_commit_failed", units=len(jobs))
            for job in jobs:
                if not job.future.done():
                    job.future.set_exception(exc)
            return
        self.transactions += 1
        self.units += len(jobs)
        self.last_commit_error = None
        self.failing_since = None
        for job, result, error in outcomes:
            if job.future.done():
                continue
            if error is None:
                job.future.set_result(result)
            else:
                job.future.set_exception(error)
