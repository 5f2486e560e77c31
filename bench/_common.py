"""Small helpers shared by the ``python -m bench.NAME`` benchmarks."""

from __future__ import annotations

import json
import os
import platform
import random
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import httpx


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


def history_latency(
    http: httpx.Client,
    windows: Mapping[str, timedelta],
    nodes: Sequence[uuid.UUID],
    headers: Callable[[uuid.UUID], dict[str, str]],
    span: tuple[datetime, timedelta],
    requests: int,
    rng: random.Random,
    warmup: int = 5,
) -> tuple[dict[str, float], dict[str, float], dict[str, str]]:
    """p50 and p95 (ms) of ``GET /api/v1/nodes/{id}/readings`` with ``max_points=1000`` per
    window, and the resolution it answered with: ``requests`` requests (after ``warmup``
    unmeasured ones) for random ``nodes``, each window ending at random inside ``span``
    (its start and length; windows longer than the span are skipped, except the shortest
    when none fits: it is measured with the span inside it, so that a short span still has
    a figure). ``headers(node)`` is the node's owner's auth. Every answer must hold between 1
    and 1,000 points."""
    start, length = span
    p50: dict[str, float] = {}
    p95: dict[str, float] = {}
    resolutions: dict[str, str] = {}
    measured = {name: window for name, window in windows.items() if window <= length}
    if not measured:
        shortest = min(windows, key=windows.__getitem__)
        measured = {shortest: windows[shortest]}
    for name, window in measured.items():
        samples = []
        for attempt in range(requests + warmup):
            node = rng.choice(nodes)
            end = start + window + (length - window) * rng.random()
            params: dict[str, str | int] = {
                "start": (end - window).isoformat(),
                "end": end.isoformat(),
                "max_points": 1000,
            }
            began = time.perf_counter()
            response = http.get(
                f"/api/v1/nodes/{node}/readings", params=params, headers=headers(node)
            )
            elapsed = time.perf_counter() - began
            response.raise_for_status()
            body = response.json()
            if not 0 < len(body["points"]) <= 1000:
                raise RuntimeError(f"{len(body['points'])} points for {name} of node {node}")
            resolutions[name] = body["resolution"]
            if attempt >= warmup:
                samples.append(elapsed)
        p50[name], p95[name] = percentiles(samples)
        say(f"history {name}: p50 {p50[name]} ms, p95 {p95[name]} ms ({resolutions[name]})")
    return p50, p95, resolutions
