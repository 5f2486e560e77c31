"""``GroupCommit`` on its own: who shares a group, in what order, and what a failure does."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from cloud.ingest.group import GroupCommit


@dataclass
class FakeConn:
    """Stands in for a psycopg connection: records the transactions it was asked for."""

    transactions: int = 0
    log: list[list[str]] = field(default_factory=list)

    @contextlib.asynccontextmanager
    async def pipeline(self) -> AsyncIterator[None]:
        yield

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        self.transactions += 1
        yield


@dataclass(frozen=True)
class Batch:
    name: str
    hub: str
    size: int = 1
    fails: bool = False  # its apply raises: the whole group's transaction fails


def grouping(
    conn: FakeConn, gate: asyncio.Event, held: str | None = None, **options: Any
) -> GroupCommit[Batch, str]:
    """Groups whose transactions wait for ``gate`` (only the one that starts with batch
    ``held``, when given)."""

    @contextlib.asynccontextmanager
    async def connect() -> AsyncIterator[Any]:
        yield conn

    async def apply(_: Any, members: list[Batch]) -> list[str | Exception]:
        conn.log.append([m.name for m in members])
        if held is None or members[0].name == held:
            await gate.wait()
        if any(m.fails for m in members) and len(members) > 1:
            raise RuntimeError("the group's transaction failed")
        return [ValueError(m.name) if m.fails else f"ack {m.name}" for m in members]

    return GroupCommit(
        connect,
        apply,
        lambda batch: [batch.hub],
        weight=lambda batch: batch.size,
        **{"transactions": 1, "max_batches": 3, **options},
    )


async def settle() -> None:
    """Let the tasks started so far run up to their next real wait."""
    for _ in range(20):
        await asyncio.sleep(0)


async def submit_all(groups: GroupCommit[Batch, str], batches: list[Batch]) -> list[Any]:
    tasks = [asyncio.create_task(groups.submit(batch)) for batch in batches]
    return await asyncio.gather(*tasks, return_exceptions=True)


async def test_queued_batches_share_groups_by_hub_size_and_weight() -> None:
    conn, gate = FakeConn(), asyncio.Event()
    groups = grouping(conn, gate, max_weight=10)
    first = asyncio.create_task(groups.submit(Batch("a1", "a")))
    await settle()  # a1's group is running: the rest queue behind it
    assert conn.log == [["a1"]]
    rest = [
        Batch("a2", "a"),
        Batch("b1", "b"),
        Batch("a3", "a"),
        Batch("c1", "c", size=9),
        Batch("d1", "d"),
        Batch("e1", "e", size=50),
    ]
    pending = asyncio.ensure_future(submit_all(groups, rest))
    await settle()
    assert groups.queued == 6
    gate.set()
    results = [await first, *await pending]
    assert results == ["ack a1", *(f"ack {b.name}" for b in rest)]
    # One hub per group, at most 3 batches and 10 readings each (a heavier batch alone), in
    # the order they came.
    assert conn.log == [["a1"], ["a2", "b1", "d1"], ["a3", "c1"], ["e1"]]
    assert conn.transactions == 4
    assert (groups.stats.groups, groups.stats.batches, groups.stats.largest) == (4, 7, 3)


async def test_a_failed_group_is_applied_again_one_batch_per_transaction() -> None:
    conn, gate = FakeConn(), asyncio.Event()
    fallbacks: list[int] = []
    groups = grouping(conn, gate, on_fallback=lambda: fallbacks.append(1))
    first = asyncio.create_task(groups.submit(Batch("a1", "a")))
    await settle()
    pending = asyncio.ensure_future(
        submit_all(groups, [Batch("b1", "b"), Batch("c1", "c", fails=True), Batch("d1", "d")])
    )
    await settle()
    gate.set()
    assert await first == "ack a1"
    b1, c1, d1 = await pending
    assert (b1, d1) == ("ack b1", "ack d1")
    assert isinstance(c1, ValueError)  # its own error, not the group's
    assert conn.log == [["a1"], ["b1", "c1", "d1"], ["b1"], ["c1"], ["d1"]]
    assert fallbacks == [1]
    assert groups.stats.fallbacks == 1


async def test_a_request_that_goes_away_leaves_its_batch_to_the_group() -> None:
    conn, gate = FakeConn(), asyncio.Event()
    groups = grouping(conn, gate)
    first = asyncio.create_task(groups.submit(Batch("a1", "a")))
    await settle()
    gone = asyncio.create_task(groups.submit(Batch("b1", "b")))
    await settle()
    gone.cancel()
    with pytest.raises(asyncio.CancelledError):
        await gone
    gate.set()
    assert await first == "ack a1"
    await groups.close()
    assert conn.log == [["a1"], ["b1"]]  # applied all the same: the hub's retry is a replay


async def test_a_cancelled_group_leaves_no_request_waiting() -> None:
    conn, gate = FakeConn(), asyncio.Event()
    groups = grouping(conn, gate)
    first = asyncio.create_task(groups.submit(Batch("a1", "a")))
    await settle()
    queued = asyncio.create_task(groups.submit(Batch("b1", "b")))
    await settle()
    for task in list(groups._tasks):  # the event loop shutting down under a running group
        task.cancel()
    for request in (first, queued):
        with pytest.raises(asyncio.CancelledError):
            await request
    assert groups.queued == 0


async def test_a_batch_alone_does_not_wait_for_company() -> None:
    conn, gate = FakeConn(), asyncio.Event()
    gate.set()
    groups = grouping(conn, gate, transactions=2, max_batches=16, linger_s=60)
    for name in ("a1", "b1", "c1"):  # one request after another, as one hub catching up
        assert await asyncio.wait_for(groups.submit(Batch(name, name[0])), 5) == f"ack {name}"
    assert conn.log == [["a1"], ["b1"], ["c1"]]


async def test_while_a_group_runs_the_next_waits_for_company() -> None:
    conn, gate = FakeConn(), asyncio.Event()
    groups = grouping(conn, gate, "a1", transactions=2, max_batches=16, linger_s=0.2)
    first = asyncio.create_task(groups.submit(Batch("a1", "a")))
    await settle()
    second = asyncio.create_task(groups.submit(Batch("b1", "b")))
    await settle()
    assert conn.log == [["a1"]]  # b1 has the second transaction, and waits
    later = [asyncio.create_task(groups.submit(Batch(n, n[0]))) for n in ("c1", "d1")]
    await asyncio.wait_for(asyncio.gather(second, *later), 5)
    assert conn.log == [["a1"], ["b1", "c1", "d1"]]  # one group, while a1's still ran
    gate.set()
    assert await first == "ack a1"


async def test_batches_that_come_seldom_do_not_wait_for_company() -> None:
    conn, gate = FakeConn(), asyncio.Event()
    groups = grouping(conn, gate, "a1", transactions=2, max_batches=16, linger_s=0.4)
    first = asyncio.create_task(groups.submit(Batch("a1", "a")))
    await asyncio.sleep(0.3)  # more than half the linger: the next is not worth waiting for
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await groups.submit(Batch("b1", "b")) == "ack b1"
    assert loop.time() - started < 0.4
    assert conn.log == [["a1"], ["b1"]]
    gate.set()
    assert await first == "ack a1"


async def test_a_full_group_queued_ends_the_wait() -> None:
    conn, gate = FakeConn(), asyncio.Event()
    groups = grouping(conn, gate, "a1", transactions=2, max_batches=3, linger_s=60)
    first = asyncio.create_task(groups.submit(Batch("a1", "a")))
    await settle()
    rest = [asyncio.create_task(groups.submit(Batch(n, n[0]))) for n in ("b1", "c1", "d1")]
    acks = await asyncio.wait_for(asyncio.gather(*rest), 5)  # not 60 s
    assert acks == ["ack b1", "ack c1", "ack d1"]
    assert conn.log == [["a1"], ["b1", "c1", "d1"]]
    gate.set()
    assert await first == "ack a1"
