"""Small helpers shared by the ``python -m bench.NAME`` benchmarks."""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any


def machine_info() -> dict[str, Any]:
    """Interpreter, CPU count and platform, for the human-readable header."""
    return {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "platform": platform.platform(terse=True),
    }


def say(*parts: object) -> None:
    """A human-readable line (always before the final JSON line)."""
    print(*parts, flush=True)


def emit_result(figures: dict[str, Any]) -> None:
    """Print the benchmark's figures as the single JSON object on the last stdout line."""
    sys.stdout.flush()
    print(json.dumps(figures, sort_keys=False), flush=True)


def time_ms(fn: Callable[[], object], repeats: int) -> float:
    """Median wall time of ``fn`` in ms over ``repeats`` runs (the median resists a busy CPU)."""
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000.0)
    return statistics.median(samples)


def percentiles(samples: list[float]) -> tuple[float, float]:
    """(p50, p95) in ms of samples in seconds."""
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return round(statistics.median(ordered) * 1000, 2), round(p95 * 1000, 2)
