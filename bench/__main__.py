"""``python -m bench``: run every benchmark in quick mode and write docs/benchmarks.md.

Each benchmark is ``python -m bench.NAME --quick`` in its own process; its last stdout line
is one JSON object of figures. The report records the machine, the date, every figure, its
target and whether the target was met. Figures from a shared machine are noisy: the ratios
measured within one run are what to compare.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
REPORT = ROOT / "docs" / "benchmarks.md"


@dataclass(frozen=True)
class Target:
    """One figure's goal: ``key`` (dotted for nested objects) compared with ``limit``."""

    key: str
    op: str  # ">=", "<=" or "<"
    limit: float

    def met(self, value: float) -> bool:
        """Whether ``value`` meets this target."""
        if self.op == ">=":
            return value >= self.limit
        if self.op == "<=":
            return value <= self.limit
        return value < self.limit


WINDOWS = ("1d", "1w", "1mo", "1y")

# What each benchmark measures and against what; the issues set these targets.
BENCHMARKS: dict[str, tuple[str, list[Target]]] = {
    "ingest": (
        "readings/s through POST /api/v1/sync/readings vs raw psycopg COPY → staging → "
        "INSERT … ON CONFLICT (baseline), same table, same run",
        [Target("readings_per_s", ">=", 100_000), Target("ratio", ">=", 0.8)],
    ),
    "history": (
        "history API latency over 50 nodes × 1 year of 1-minute readings loaded in arrival "
        "order vs the naive date_bin query over raw rows (baseline); stored bytes per reading",
        [Target(f"p95_ms.{w}", "<", 20) for w in WINDOWS]
        + [Target("stored_bytes_per_reading", "<=", 150)],
    ),
    "hub_ble": (
        "adverts/s from bleak's detection callback to rows committed in SQLite vs bthome-ble "
        "decoding alone (baseline); hub RSS with 50 emulated nodes",
        [Target("adverts_per_s", ">=", 5_000), Target("rss_mb", "<=", 150)],
    ),
    "green": (
        "green-pixel metrics per 12 MP JPEG (DCT-scaled decode, integer math) vs full-resolution "
        "float reference (baseline)",
        [
            Target("speedup", ">=", 20),
            Target("ms_per_image", "<=", 60),
            Target("max_cover_diff", "<=", 0.01),
        ],
    ),
    "sync": (
        "readings/s from hub store to cloud database over loopback; catch-up after a 50-node "
        "outage; hub RSS",
        [
            Target("readings_per_s", ">=", 50_000),
            Target("catchup_s", "<", 60),
            Target("rss_mb", "<=", 150),
            # The hub alone while it catches up after an outage (the Pi budget).
            Target("catchup_rss_mb", "<=", 150),
        ],
    ),
    "hub_ui": (
        "hub garden overview in one request vs the same facts through the per-plant domain "
        "endpoints (baseline); the live stream's once-a-second change check",
        [Target("ratio", ">=", 2), Target("overview_ms", "<", 100), Target("version_ms", "<", 5)],
    ),
    "pi_budget": (
        "the hub with 50 emulated sensor + 5 camera nodes in a 400 MB memory cgroup and 25 % of "
        "one core (the emulated nodes share the hub's process and CPU quota; their own RSS is "
        "taken off rss_mb); overview page while 12 MP photos are analysed; green metrics per "
        "12 MP photo under the quota vs unlimited (baseline)",
        [
            Target("rss_mb", "<=", 150),
            Target("oom_killed", "<=", 0),
            Target("readings_lost", "<=", 0),
            Target("photos_lost", "<=", 0),
            Target("overview_p95_ms", "<", 300),
        ],
    ),
    "watering": (
        "watering forecast (shared.watering) on emulated soil with sensor noise and an irregular "
        "gardener: mean absolute error in hours until the soil reaches the plant's minimum vs "
        "'same as the last interval' (baseline); emulated soil, not field data",
        [Target("mae_hours", "<=", 8)],
    ),
    "cloud_app": (
        "the cloud app: p95 of the plant page's API calls with a year of readings (quick: "
        "hourly) vs GET /api/v1/auth/me interleaved on the same server (baseline, api_ratio), "
        "the service worker's app shell over the wire, first render of the garden from the "
        "worker's cache with the network cut vs with the network on (baseline, render_ratio; "
        "chromium)",
        [
            Target("api_p95_ms", "<", 50),
            Target("shell_kb", "<=", 150),
            Target("cached_first_render_ms", "<", 1000),
        ],
    ),
    "api": (
        "authenticated 'latest readings of my plants' under concurrent load on loopback (wrk, "
        "32 connections, 2 uvicorn workers) vs GET /healthz on the same server (baseline)",
        [Target("requests_per_s", ">=", 1_500), Target("p99_ms", "<", 50)],
    ),
}


def lookup(figures: dict[str, Any], dotted: str) -> Any:
    """``figures["a"]["b"]`` for ``"a.b"``; None when absent."""
    value: Any = figures
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def run_one(name: str, timeout_s: float) -> tuple[dict[str, Any] | None, str, float]:
    """Run ``bench.NAME --quick``; return (figures or None, error text, seconds taken)."""
    started = time.monotonic()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", f"bench.{name}", "--quick"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return None, f"timed out after {timeout_s:.0f} s", time.monotonic() - started
    took = time.monotonic() - started
    sys.stderr.write(proc.stderr[-4000:])
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    if proc.returncode != 0 or not lines:
        return None, f"exit {proc.returncode}: {proc.stderr.strip()[-500:]}", took
    try:
        figures = json.loads(lines[-1])
    except json.JSONDecodeError:
        return None, f"last line is not JSON: {lines[-1][:200]!r}", took
    if not isinstance(figures, dict):
        return None, "last line is not a JSON object", took
    return figures, "", took


def machine() -> str:
    """One line describing this machine."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{cpu}, {os.cpu_count()} cores, {mem_gib:.0f} GiB RAM, {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}"
    )


def render(
    results: dict[str, tuple[dict[str, Any] | None, str, float]], load: tuple[float, float]
) -> str:
    """The Markdown report."""
    out = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`python -m bench`), which runs every `python -m bench.NAME "
        "--quick` and reads the JSON object on its last line. Quick mode scales some workloads "
        "down; each benchmark says how in its own output. This machine is shared and noisy: "
        "compare the ratios measured within one run, not absolute times across runs.",
        "",
        f"- Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"- Machine: {machine()}",
        f"- Load average (1 min) when the run started / ended: {load[0]:.1f} / {load[1]:.1f} "
        f"on {os.cpu_count()} cores (other work on the machine slows every figure alike)",
        "",
    ]
    for name, (what, targets) in BENCHMARKS.items():
        figures, error, took = results.get(name, (None, "not run", 0.0))
        out += [f"## bench.{name}", "", what + ".", ""]
        if figures is None:
            out += [f"**Did not produce figures:** {error}", ""]
            continue
        out += ["| target | measured | met |", "|---|---|---|"]
        for target in targets:
            value = lookup(figures, target.key)
            if isinstance(value, int | float):
                verdict = "yes" if target.met(float(value)) else "**no**"
                goal = f"`{target.key}` {target.op} {target.limit:g}"
                out.append(f"| {goal} | {value:g} | {verdict} |")
            else:
                out.append(f"| `{target.key}` {target.op} {target.limit:g} | missing | **no** |")
        out += ["", f"All figures ({took:.0f} s): `{json.dumps(figures, sort_keys=True)}`", ""]
    return "\n".join(out)


def main() -> int:
    """Run the selected benchmarks and write the report."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("names", nargs="*", help="benchmarks to run (default: all)")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per benchmark")
    args = parser.parse_args()
    names = args.names or list(BENCHMARKS)
    results = {}
    load_at_start = os.getloadavg()[0]
    for name in names:
        print(f"== bench.{name} --quick", flush=True)
        results[name] = run_one(name, args.timeout)
        figures, error, _ = results[name]
        print(json.dumps(figures) if figures is not None else f"FAILED: {error}", flush=True)
    REPORT.parent.mkdir(exist_ok=True)
    REPORT.write_text(render(results, (load_at_start, os.getloadavg()[0])) + "\n")
    print(f"wrote {REPORT.relative_to(ROOT)}")
    failed = [name for name in names if results[name][0] is None]
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
