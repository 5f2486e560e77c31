"""Group commit of hub batches: the batches that arrive while a transaction is in flight are
applied together in the next one, so their claims, node locks, reads, insert, rollups, acks
and commit cost one statement each and a few round trips for the group, not per batch.

A process runs at most ``transactions`` groups at a time. A batch that finds the process idle
starts its own group at once (an idle server, or one hub catching up batch after batch, answers
as fast as without groups); a group that starts while another is running, when batches have
been arriving more often than two per ``linger_s``, first waits ``linger_s`` for company (or
until ``max_batches`` have queued): each batch more in the group shares its statements and its
commit. A few clients each waiting for its ack (whose next batch comes only after it) are not
waited for. Under load the batches queue behind the running groups and the next group takes up
to ``max_batches`` of them (and of at most ``max_weight`` readings, unless one batch weighs
more on its own: it goes alone). Two batches of one hub, or of one node, never share a group
(each batch is judged on what the one before it left); the later waits for the next group. A
group that fails as a whole (a deadlock, a lost connection) is applied again one batch per
transaction, so each request gets its own answer: applying a batch again is harmless, its claim
in the ledger makes it a replay once it has been committed. Each request still waits for its
own ack, which the group's commit makes durable.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections import deque
from collections.abc import Awaitable, Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import psycopg
import structlog

Conn = psycopg.AsyncConnection[Any]
M = TypeVar("M")
R = TypeVar("R")

_log = structlog.get_logger("cloud.ingest")

_GAP_WEIGHT = 0.1  # of the newest gap between two submits in their moving average
_LONGEST_GAP = 1.0  # seconds: a pause counts as this long in the average
_SCAN_FACTOR = 4  # how far past a held-back batch the next group looks, in group sizes


@dataclass(slots=True)
class _Waiting(Generic[M, R]):
    member: M
    keys: frozenset[Hashable]
    weight: int
    future: asyncio.Future[R]


@dataclass(slots=True)
class GroupStats:
    """Counters for metrics and tests."""

    groups: int = 0
    batches: int = 0
    largest: int = 0
    fallbacks: int = 0  # groups applied again one batch per transaction


class GroupCommit(Generic[M, R]):
    """Runs ``apply(conn, members)`` inside one transaction per group; ``apply`` returns one
    result or exception per member, in order. ``keys(member)`` names what two members of one
    group must not share, ``weight(member)`` what counts against ``max_weight``. Used as an
    ``async with`` block for the app's lifetime: leaving it lets the running groups finish.
    ``atomic=False`` leaves the connection in autocommit (no pipeline, no transaction), for an
    ``apply`` of one statement."""

    def __init__(
        self,
        connect: Callable[[], contextlib.AbstractAsyncContextManager[Conn]],
        apply: Callable[[Conn, list[M]], Awaitable[list[R | Exception]]],
        keys: Callable[[M], Iterable[Hashable]],
        *,
        transactions: int,
        max_batches: int,
        weight: Callable[[M], int] = lambda _: 1,
        max_weight: int | None = None,
        on_group: Callable[[int], None] | None = None,
        on_fallback: Callable[[], None] | None = None,
        name: str = "ingest",
        atomic: bool = True,
        linger_s: float = 0.0,
    ) -> None:
        self.name = name  # what the groups are of, in the log
        self._atomic = atomic  # False: ``apply`` runs in autocommit (one statement is atomic)
        self._connect = connect
        self._weight = weight
        self.max_weight = max_weight
        self._on_group = on_group
        self._on_fallback = on_fallback
        self._apply = apply
        self._keys = keys
        self.transactions = transactions
        self.max_batches = max_batches
        self.stats = GroupStats()
        self._queue: deque[_Waiting[M, R]] = deque()
        self._running = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._linger = linger_s
        self._lingering: list[asyncio.Future[None]] = []  # groups waiting for company
        self._last_arrival: float | None = None
        self._arrival_gap = math.inf  # moving average of the time between two submits

    @property
    def queued(self) -> int:
        """Batches waiting for a group."""
        return len(self._queue)

    async def submit(self, member: M) -> R:
        """Apply ``member`` in the next group and return its result (or raise its error)."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        if self._last_arrival is not None:
            gap = min(now - self._last_arrival, _LONGEST_GAP)
            self._arrival_gap = (
                gap
                if math.isinf(self._arrival_gap)
                else self._arrival_gap + _GAP_WEIGHT * (gap - self._arrival_gap)
            )
        self._last_arrival = now
        waiting: _Waiting[M, R] = _Waiting(
            member, frozenset(self._keys(member)), self._weight(member), loop.create_future()
        )
        self._queue.append(waiting)
        if self._lingering and len(self._queue) >= self.max_batches:
            for company in self._lingering:  # a full group's worth is here: no more waiting
                _resolve(company)
        if self._running < self.transactions:
            self._running += 1
            task = asyncio.create_task(self._drain(), name=f"{self.name}-group")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        # A request that goes away leaves its batch to the group (the hub will get a replay).
        return await asyncio.shield(waiting.future)

    async def close(self) -> None:
        """Let the running groups finish (the server stopped taking requests before this)."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def __aenter__(self) -> GroupCommit[M, R]:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def _drain(self) -> None:
        group: list[_Waiting[M, R]] = []
        try:
            while self._queue:
                if self._company_expected():
                    await self._wait_for_company()
                group = self._take()
                await self._run(group)
        except asyncio.CancelledError:
            # The loop is going away: no waiting request may hang on a group never applied.
            for waiting in [*group, *self._queue]:
                if not waiting.future.done():
                    waiting.future.cancel()
            self._queue.clear()
            raise
        finally:
            self._running -= 1

    def _company_expected(self) -> bool:
        """Whether waiting ``linger_s`` is likely to bring this group more batches: another
        group is running (so this one does not start on an idle process), batches have been
        arriving at least two per ``linger_s`` (not a few clients each waiting for its ack,
        whose next batch comes only after it), and no full group is queued yet."""
        return (
            self._linger > 0
            and self._running > 1
            and self._arrival_gap * 2 < self._linger
            and len(self._queue) < self.max_batches
        )

    async def _wait_for_company(self) -> None:
        """Another group is running, so batches are arriving: wait ``linger_s`` (or until a
        full group is queued) for more to share this group's statements and commit."""
        loop = asyncio.get_running_loop()
        company: asyncio.Future[None] = loop.create_future()
        timer = loop.call_later(self._linger, _resolve, company)
        self._lingering.append(company)
        try:
            await company
        finally:
            timer.cancel()
            self._lingering.remove(company)

    def _take(self) -> list[_Waiting[M, R]]:
        group: list[_Waiting[M, R]] = []
        held: list[_Waiting[M, R]] = []
        used: set[Hashable] = set()
        weight = scanned = 0
        while self._queue and len(group) < self.max_batches:
            if scanned >= _SCAN_FACTOR * self.max_batches:
                break
            scanned += 1
            waiting = self._queue.popleft()
            heavy = (
                self.max_weight is not None
                and bool(group)
                and weight + waiting.weight > self.max_weight
            )
            if heavy or waiting.keys & used:
                held.append(waiting)
                continue
            group.append(waiting)
            used |= waiting.keys
            weight += waiting.weight
        self._queue.extendleft(reversed(held))
        return group

    async def _run(self, group: list[_Waiting[M, R]]) -> None:
        try:
            results = await self._transaction([waiting.member for waiting in group])
        except Exception as error:
            if len(group) == 1:
                _settle(group[0], error)
                return
            self.stats.fallbacks += 1
            if self._on_fallback is not None:
                self._on_fallback()
            _log.warning(
                f"{self.name}_group_failed",
                batches=len(group),
                error=type(error).__name__,
                detail=str(error)[:200],
                note="applying its members one per transaction",
            )
            for waiting in group:
                await self._run([waiting])
            return
        self.stats.groups += 1
        self.stats.batches += len(group)
        self.stats.largest = max(self.stats.largest, len(group))
        if self._on_group is not None:
            self._on_group(len(group))
        for waiting, result in zip(group, results, strict=True):
            _settle(waiting, result)

    async def _transaction(self, members: list[M]) -> list[R | Exception]:
        async with self._connect() as conn:
            if not self._atomic:
                return await self._apply(conn, members)
            # BEGIN goes out with the group's first statements, COMMIT with its last ones.
            async with conn.pipeline(), conn.transaction():
                return await self._apply(conn, members)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _settle(waiting: _Waiting[M, R], result: R | Exception) -> None:
    if waiting.future.done():
        return
    if isinstance(result, Exception):
        waiting.future.set_exception(result)
    else:
        waiting.future.set_result(result)
