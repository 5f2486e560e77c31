"""Child processes for the demo and the end-to-end tests: spawn, watch, stop leaving nothing.

Each child gets its own session (process group) so a terminal's Ctrl-C reaches only the
supervisor, which then stops the children in reverse start order: SIGTERM to the group, a
bounded wait, SIGKILL for stragglers.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def plantvita_command() -> list[str]:
    """How to run the ``plantvita`` CLI with this interpreter."""
    script = Path(sys.executable).with_name("plantvita")
    if script.exists():
        return [str(script)]
    found = shutil.which("plantvita")
    if found:
        return [found]
    return [
        sys.executable,
        "-c",
        "import sys; from plantvita.cli import main; sys.argv[0] = 'plantvita'; main()",
    ]


@dataclass
class Child:
    """One supervised process and its log file."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path
    log: IO[bytes]

    @property
    def pid(self) -> int:
        """The child's process id (also its process group id)."""
        return self.process.pid

    def alive(self) -> bool:
        """Still running."""
        return self.process.poll() is None

    def tail(self, lines: int = 30) -> str:
        """The end of the child's log (for error reports)."""
        with contextlib.suppress(OSError):
            text = self.log_path.read_text(errors="replace")
            return "\n".join(text.splitlines()[-lines:])
        return ""


@dataclass
class Supervisor:
    """Starts children with logs under ``log_dir`` and stops them all on ``stop``."""

    log_dir: Path
    children: list[Child] = field(default_factory=list)

    def spawn(self, name: str, argv: Sequence[str], env: Mapping[str, str]) -> Child:
        """Start ``argv`` in its own process group, output to ``<log_dir>/<name>.log``."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / f"{name}.log"
        log = log_path.open("ab")
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and CLI
            list(argv),
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        child = Child(name, process, log_path, log)
        self.children.append(child)
        return child

    def dead(self) -> list[Child]:
        """Children that exited."""
        return [c for c in self.children if not c.alive()]

    def stop(self, timeout_s: float = 20.0) -> None:
        """SIGTERM every child's group (newest first), wait, SIGKILL what is left."""
        for child in reversed(self.children):
            if child.alive():
                _signal_group(child.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        for child in reversed(self.children):
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        for child in self.children:
            # The group too: a grandchild must not outlive its parent.
            _signal_group(child.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.process.wait(timeout=5)
            child.log.close()


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)
