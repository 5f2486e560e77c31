"""Process helpers shared by the end-to-end tests (the tiers themselves start through
``plantvita.demo.run.start_tiers``, the same code ``plantvita demo`` runs)."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


def process_alive(pid: int) -> bool:
    """True while ``pid`` is a running (not zombie) process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    state = stat.rsplit(")", 1)[1].split()[0]
    return state not in ("Z", "X")


def processes_mentioning(text: str) -> list[int]:
    """Live processes whose command line contains ``text`` (other than this one)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmdline and process_alive(int(entry.name)):
            found.append(int(entry.name))
    return found


def postmaster_pid(pgdata: Path) -> int | None:
    """The PostgreSQL server's pid from its ``postmaster.pid`` (None when not running)."""
    try:
        return int((pgdata / "postmaster.pid").read_text().splitlines()[0])
    except (OSError, ValueError, IndexError):
        return None


async def eventually(
    probe: Callable[[], Awaitable[T | None]], deadline_s: float, what: str, every_s: float = 1.0
) -> T:
    """Await ``probe`` until it returns something truthy; fail with ``what`` at the deadline."""
    deadline = time.monotonic() + deadline_s
    last: T | None = None
    while time.monotonic() < deadline:
        last = await probe()
        if last:
            return last
        await asyncio.sleep(every_s)
    raise AssertionError(f"{what} did not happen within {deadline_s:.0f}s (last: {last!r})")
