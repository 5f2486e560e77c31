"""Read routing: history, latest readings and CSV exports read a streaming replica when one is
configured and fresh enough; everything else, and a user's reads right after their own write,
reads the primary.

A background task asks the replica its replay lag every ``replica_lag_check_s``; reads go to
the primary while the lag is above ``replica_max_lag_s`` or the replica does not answer, so
what a replica-served read misses is at most that bound old. A user who wrote through this
process (a plant edited) reads the primary for ``ryow_window_s`` after, longer than a fresh
replica can lag, so they see their edit. Responses of routed endpoints say which server
answered (``X-Read-Source``) and ``/readyz`` shows the replica's state.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Final, TypeVar

import psycopg
import psycopg.errors
import structlog
from fastapi import Depends, Request

from cloud.db.session import ReadDatabase, open_read_database

_log = structlog.get_logger("cloud.db.replica")

READ_SOURCE_HEADER: Final = "X-Read-Source"
# A replica read waits this long for a pooled connection before it is read on the primary.
REPLICA_CONNECT_TIMEOUT_S: Final = 2.0

T = TypeVar("T")

# The primary's WAL position: sampled at every check, on this process's clock.
PRIMARY_LSN_SQL: Final = "SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::int8"
# The standby's replay position, and the age of its last replayed commit (used only when no
# sample is old enough to place the replay position: right after start-up, or far behind).
REPLICA_SQL: Final = """
    SELECT pg_is_in_recovery(),
           (pg_last_wal_replay_lsn() - '0/0'::pg_lsn)::int8,
           EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())::float8
"""


@dataclass(slots=True)
class ReplicaState:
    """What the last lag check found."""

    lag_s: float | None = None  # None: not measured yet, or the replica did not answer
    error: str | None = None

    def describe(self, max_lag_s: float) -> str:
        """``/readyz``'s words for it."""
        if self.lag_s is None:
            return f"unreachable ({self.error or 'not checked yet'}): reads on the primary"
        # Rounded up to the hundredth: a lag just past the bound never reads as within it.
        shown = math.ceil(self.lag_s * 100) / 100
        if self.lag_s > max_lag_s:
            return f"lagging {shown:.2f} s > {max_lag_s:g} s: reads on the primary"
        return f"ok (lag {shown:.2f} s)"


def replay_lag(
    samples: deque[tuple[float, int]], replay_lsn: int, now: float, age_s: float | None
) -> float:
    """How old the oldest write the replica has not replayed can be, in seconds.

    ``samples`` are (time, primary WAL position), oldest first, the newest taken just before
    the replica was asked. A replica at or past the newest sample has everything: lag 0, even
    on an idle primary (the age of the last replayed commit would grow there without any lag).
    Otherwise it has replayed all that was written up to the newest sample at or below its
    position, so writes since that sample's time may be missing. With no such sample, the
    larger of the sampled span and the age of the last replayed commit (``age_s``) bounds it.
    """
    if not samples or replay_lsn >= samples[-1][1]:
        return 0.0
    for at, lsn in reversed(samples):
        if lsn <= replay_lsn:
            return now - at
    return max(now - samples[0][0], age_s if age_s is not None else float("inf"))


class ReadRouting:
    """Chooses the server of each routed read (see the module docstring)."""

    def __init__(
        self,
        primary: ReadDatabase,
        replica: ReadDatabase | None = None,
        *,
        max_lag_s: float = 5.0,
        check_s: float = 1.0,
    ) -> None:
        self.primary = primary
        self.replica = replica
        self.max_lag_s = max_lag_s
        self.check_s = check_s
        self.state = ReplicaState()
        self._writes: dict[uuid.UUID, float] = {}
        # Enough primary positions to place a replica up to twice the bound behind.
        self._samples: deque[tuple[float, int]] = deque(
            maxlen=math.ceil(2 * max_lag_s / check_s) + 2
        )

    @property
    def ryow_window_s(self) -> float:
        """How long a writer reads the primary: a replica within bound has replayed by then."""
        return self.max_lag_s + self.check_s + 1.0

    def replica_fresh(self) -> bool:
        """A replica is configured and its last measured lag is within bound."""
        lag = self.state.lag_s
        return self.replica is not None and lag is not None and lag <= self.max_lag_s

    def wrote(self, user_id: uuid.UUID) -> None:
        """``user_id`` changed something: their next reads go to the primary."""
        now = time.monotonic()
        self._writes[user_id] = now
        if len(self._writes) > 10_000:  # forget writers whose window has passed
            cutoff = now - self.ryow_window_s
            self._writes = {user: at for user, at in self._writes.items() if at > cutoff}

    def for_reader(self, user_id: uuid.UUID) -> ReadDatabase | None:
        """The replica for this reader, or None: read the primary."""
        if not self.replica_fresh():
            return None
        wrote_at = self._writes.get(user_id)
        if wrote_at is not None and time.monotonic() - wrote_at < self.ryow_window_s:
            return None
        return self.replica

    def failed(self, exc: BaseException) -> None:
        """A read on the replica failed on the connection: read the primary until the next
        check finds it answering again."""
        self.state = ReplicaState(error=type(exc).__name__)

    async def read(
        self, user_id: uuid.UUID, reading: Callable[[ReadDatabase | None], Awaitable[T]]
    ) -> tuple[T, ReadDatabase | None]:
        """``reading`` on this reader's server (None: the primary) and the replica if it
        answered; a read the replica fails (down between checks, or cancelled by a conflict
        with its recovery) is read again on the primary."""
        replica = self.for_reader(user_id)
        if replica is not None:
            try:
                return await reading(replica), replica
            except (psycopg.OperationalError, psycopg.errors.SerializationFailure) as exc:
                if isinstance(exc, psycopg.OperationalError):
                    self.failed(exc)
                _log.warning("replica_read_failed", error=type(exc).__name__)
        return await reading(None), None

    async def check(self) -> None:
        """Measure the replica's lag once (the state says unreachable when it fails)."""
        if self.replica is None:
            return
        try:
            async with asyncio.timeout(max(2.0, self.check_s)):
                async with self.primary.connection() as conn:
                    row = await (await conn.execute(PRIMARY_LSN_SQL)).fetchone()
                if row is not None:
                    self._samples.append((time.monotonic(), int(row[0])))
                async with self.replica.connection() as conn:
                    found = await (await conn.execute(REPLICA_SQL)).fetchone()
        except Exception as exc:  # any failure means: do not read there
            self.state = ReplicaState(error=type(exc).__name__)
            return
        if found is None or found[1] is None:
            self.state = ReplicaState(error="no replay position")
        elif not found[0]:
            self.state = ReplicaState(lag_s=0.0)  # promoted, or the primary itself
        else:
            lag = replay_lag(self._samples, int(found[1]), time.monotonic(), found[2])
            self.state = ReplicaState(lag_s=lag)

    async def monitor(self) -> None:
        """Check the lag every ``check_s`` until cancelled."""
        while True:
            was_fresh = self.replica_fresh()
            await self.check()
            if was_fresh != self.replica_fresh():
                _log.warning(
                    "replica_state_changed",
                    state=self.state.describe(self.max_lag_s),
                    max_lag_s=self.max_lag_s,
                )
            await asyncio.sleep(self.check_s)


@asynccontextmanager
async def open_read_routing(
    primary: ReadDatabase,
    replica_url: str | None,
    size: int,
    *,
    transaction_pooler: bool,
    max_lag_s: float,
    check_s: float,
) -> AsyncIterator[ReadRouting]:
    """The routing for the app's lifetime: with ``replica_url``, its pool and lag monitor."""
    if replica_url is None:
        yield ReadRouting(primary)
        return
    async with open_read_database(
        replica_url,
        size,
        transaction_pooler=transaction_pooler,
        name="replica",
        guard_read_only=False,  # a standby refuses writes by itself
        timeout_s=REPLICA_CONNECT_TIMEOUT_S,
    ) as replica:
        routing = ReadRouting(primary, replica, max_lag_s=max_lag_s, check_s=check_s)
        await routing.check()
        task = asyncio.create_task(routing.monitor(), name="replica-lag-monitor")
        try:
            yield routing
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def get_read_routing(request: Request) -> ReadRouting:
    """The routing the lifespan built."""
    routing: ReadRouting = request.app.state.read_routing
    return routing


ReadRoutingDep = Annotated[ReadRouting, Depends(get_read_routing)]
