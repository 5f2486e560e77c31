"""A hub killed with SIGKILL loses no reading it had acknowledged."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hub.store.migrations import migrate

ROOT = Path(__file__).resolve().parents[3]


def run_and_kill(data_dir: Path, start_seq: int, acks_before_kill: int) -> set[int]:
    """Start the writer child, read acks until ``acks_before_kill``, SIGKILL it mid-stream."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.hub._writer_child", str(data_dir), str(start_seq)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    acked: set[int] = set()
    assert child.stdout is not None
    deadline = time.monotonic() + 60
    try:
        for line in child.stdout:
            if line.startswith("ack "):
                acked.add(int(line.split()[1]))
                if len(acked) >= acks_before_kill:
                    break
            assert time.monotonic() < deadline, "child too slow"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    # Acks already in the pipe were acknowledged before the kill too.
    acked.update(
        int(line.split()[1]) for line in child.stdout.read().splitlines() if line.startswith("ack ")
    )
    return acked


@pytest.mark.slow
def test_sigkill_at_random_points_loses_no_acknowledged_reading(tmp_path: Path) -> None:
    rng = random.Random(os.getpid())
    data_dir = tmp_path / "hub"
    all_acked: set[int] = set()
    start = 0
    for _ in range(4):
        acked = run_and_kill(data_dir, start, rng.randint(1, 3000))
        assert acked, "the child acknowledged nothing"
        all_acked |= acked
        db = data_dir / "hub.sqlite3"
        migrate(db)  # reopening runs the start-up path, which must not lose rows
        conn = sqlite3.connect(db)
        stored = {row[0] for row in conn.execute("select seq from readings")}
        conn.close()
        missing = all_acked - stored
        assert not missing, f"{len(missing)} acknowledged readings lost, e.g. {sorted(missing)[:5]}"
        start = max(stored) + 1_000
